//! AI code review: a file (or the units a diff touches) split along its syntax,
//! each unit reviewed by the local model under a grammar that only admits the
//! findings' JSON shape, each finding located by the code it quotes.
//!
//! Invariants: findings are placed by their quotes in the real text, never by
//! model line numbers, and dropped when the quote is not there; rule ids come
//! from the catalogue only (the grammar admits no other); reviewed code is
//! tokenized as plain text, so nothing in it can act as a control token or
//! change the answer's shape; results are cached by model, prompt version,
//! language and unit text.

pub mod batch;
pub mod cache;
pub mod diff;
pub mod git;
pub mod locate;
pub mod noise;
pub mod prompt;
pub mod report;
pub mod surprise;
pub mod units;

use std::ops::Range;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ropey::Rope;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use cache::ReviewCache;
use nib_engine::{
    CancelToken, Engine, EngineError, Event, GenerateRequest, ModelState, Priority, PriorityHandle, PromptText,
    ScoreRequest, StopReason, Vocabulary,
};
use nib_plugins::{FileInfo, Hook, Plugins};
use nib_text::syntax::Syntax;
use prompt::{ReviewPrompt, Rule};
use surprise::{LineSurprise, SurpriseCache};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn from_name(name: &str) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Error].into_iter().find(|s| s.name() == name)
    }
}

/// A finding as the model gives it (the grammar's shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawFinding {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub quote: String,
    pub replacement: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    findings: Vec<RawFinding>,
}

/// A place in a file: 0-based line, and the column in UTF-8 bytes and in UTF-16 units (formats differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: u32,
    pub utf8: u32,
    pub utf16: u32,
}

impl Position {
    fn at(rope: &Rope, char_offset: usize) -> Position {
        let line = rope.char_to_line(char_offset);
        let before = rope.slice(rope.line_to_char(line)..char_offset);
        Position { line: line as u32, utf8: before.len_bytes() as u32, utf16: before.len_utf16_cu() as u32 }
    }
}

/// A finding placed in its file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Repository-relative, `/`-separated.
    pub path: String,
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub quote: String,
    pub replacement: Option<String>,
    pub start: Position,
    pub end: Position,
    /// Rule, path and the quoted code with whitespace normalised: stable across line moves.
    pub fingerprint: String,
}

/// A file to review.
pub struct FileToReview<'a> {
    pub path: &'a str,
    pub language: &'a str,
    pub rope: &'a Rope,
    pub syntax: Option<&'a Syntax>,
    /// Review only units that overlap these lines (a diff's hunks); `None`: the whole file.
    pub focus: Option<&'a [Range<usize>]>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ReviewStats {
    pub n_units: usize,
    pub n_cached: usize,
    pub n_reviewed: usize,
    /// Time spent on units the model reviewed (not cached).
    pub reviewed_ms: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0}")]
    ModelUnavailable(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the review was cancelled")]
    Cancelled,
}

/// Tuning for reviews.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A unit's size in chars: a function longer than this is split along its children.
    pub unit_chars: usize,
    /// Tokens the model may write per unit.
    pub max_tokens: usize,
    /// The most findings reported for one file (`keep_most_severe`).
    pub max_findings_per_file: usize,
    /// Review by surprise (`surprise.rs`) at this threshold, in nats; `None`: off.
    pub surprise: Option<f32>,
}

/// Reviews files with one engine; clones share the cache.
#[derive(Clone)]
pub struct Reviewer {
    engine: Engine,
    prompt: Arc<ReviewPrompt>,
    cache: Arc<ReviewCache>,
    limits: Limits,
    priority: Priority,
    grammar: Arc<OnceLock<Arc<str>>>,
    schema: Arc<OnceLock<Arc<serde_json::Value>>>,
    plugins: Arc<Plugins>,
    surprises: Arc<SurpriseCache>,
}

/// A background review that a completion pre-empted tries again after this pause.
const RETRY_AFTER: Duration = Duration::from_millis(250);

impl Reviewer {
    /// `priority`: `Background` in the server (completions go first), `Foreground` in the CLI.
    pub fn new(engine: Engine, limits: Limits, cache: Arc<ReviewCache>, priority: Priority) -> Reviewer {
        let prompt = Arc::new(ReviewPrompt::builtin());
        let (grammar, schema, plugins, surprises) = (Arc::default(), Arc::default(), Arc::default(), Arc::default());
        Reviewer { engine, prompt, cache, limits, priority, grammar, schema, plugins, surprises }
    }

    /// The same reviewer, whose code and findings go through `plugins`.
    pub fn with_plugins(self, plugins: Arc<Plugins>) -> Reviewer {
        Reviewer { plugins, ..self }
    }

    /// The same reviewer (sharing the cache) with other limits.
    pub fn with_limits(&self, limits: Limits) -> Reviewer {
        Reviewer { limits, ..self.clone() }
    }

    pub fn prompt(&self) -> &ReviewPrompt {
        &self.prompt
    }

    fn grammar(&self) -> Arc<str> {
        self.grammar.get_or_init(|| Arc::from(self.prompt.grammar())).clone()
    }

    fn schema(&self) -> Arc<serde_json::Value> {
        self.schema.get_or_init(|| Arc::new(self.prompt.schema())).clone()
    }

    /// Reviews the file's units (those in focus), calling `progress(done, total)` after each; at most
    /// `max_findings_per_file` findings.
    pub async fn review(
        &self,
        file: FileToReview<'_>,
        cancel: &CancelToken,
        progress: impl FnMut(usize, usize),
    ) -> Result<(Vec<Finding>, ReviewStats), ReviewError> {
        let (mut findings, stats) = self.review_all(file, cancel, progress).await?;
        keep_most_severe(&mut findings, self.limits.max_findings_per_file);
        Ok((findings, stats))
    }

    /// Every finding of the file's units: `batch` filters them (diff lines, baseline) before it caps them.
    async fn review_all(
        &self,
        file: FileToReview<'_>,
        cancel: &CancelToken,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<(Vec<Finding>, ReviewStats), ReviewError> {
        let (tokenizer, model_id) = match self.engine.ready().await {
            ModelState::Ready { tokenizer, info } => (tokenizer, info.id),
            ModelState::Failed(message) => return Err(ReviewError::ModelUnavailable(message)),
            ModelState::Loading => return Err(ReviewError::ModelUnavailable("the model is still loading".into())),
        };
        let rope = file.rope;
        let units = self.units(&file);
        let surprise = self.limits.surprise.filter(|_| self.can_score());
        let mut stats = ReviewStats { n_units: units.len(), ..ReviewStats::default() };
        let mut findings = Vec::new();
        for (i, unit) in units.iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(ReviewError::Cancelled);
            }
            let (start, code) = unit_code(rope, unit);
            // What the model is given: the code as the `prompt` hooks leave it (secrets redacted...).
            let Some(sent) = self.code_to_send(&file, &code).await else {
                progress(i + 1, units.len());
                continue;
            };
            let key = ReviewCache::key(&model_id, &self.prompt.version, file.language, &sent);
            let raw = match self.cache.get(&key) {
                Some(hit) => {
                    stats.n_cached += 1;
                    hit
                }
                None => {
                    let started = Instant::now();
                    let user =
                        self.prompt.unit(file.language, file.path, (unit.lines.start, unit.lines.end - 1), &sent);
                    let answer = self.ask(tokenizer.as_ref(), &user, cancel).await?;
                    stats.n_reviewed += 1;
                    stats.reviewed_ms += started.elapsed().as_secs_f64() * 1000.0;
                    // Decoding is greedy: the same unit would get the same answer again.
                    self.cache.put(&key, &answer);
                    answer
                }
            };
            for finding in raw {
                let Some(range) = locate::find(&code, &finding.quote) else { continue };
                if self.prompt.rule(&finding.rule).is_none() {
                    continue;
                }
                let quote: String = code.chars().skip(range.start).take(range.len()).collect();
                findings.push(Finding {
                    path: file.path.to_owned(),
                    fingerprint: fingerprint(&finding.rule, file.path, &quote),
                    start: Position::at(rope, start + range.start),
                    end: Position::at(rope, start + range.end),
                    rule: finding.rule,
                    severity: finding.severity,
                    message: finding.message.trim().to_owned(),
                    // A "replacement" that changes nothing is no fix.
                    replacement: finding.replacement.filter(|r| r.trim() != quote.trim()),
                    quote,
                });
            }
            // Scored only as written: a plugin that changed the code (redaction) would move every position.
            if let Some(threshold) = surprise
                && sent == code
            {
                let lines = self.surprise_unit(&file, (tokenizer.as_ref(), &model_id), (start, &code), cancel).await?;
                let found = lines.into_iter().filter(|s| s.score >= threshold);
                findings.extend(found.map(|s| surprise_finding(&file, start, s)));
            }
            progress(i + 1, units.len());
        }
        findings.dedup_by(|a, b| a.fingerprint == b.fingerprint && a.start == b.start);
        if self.plugins.handles(Hook::Finding) && !findings.is_empty() {
            let (plugins, language) = (self.plugins.clone(), file.language.to_owned());
            findings = tokio::task::spawn_blocking(move || {
                findings.into_iter().filter_map(|f| crate::plugins::finding(&plugins, &language, f)).collect()
            })
            .await
            .unwrap_or_default();
        }
        Ok((findings, stats))
    }

    /// The file's units that are in focus.
    fn units(&self, file: &FileToReview<'_>) -> Vec<units::Unit> {
        units::split(file.rope, file.syntax, self.limits.unit_chars)
            .into_iter()
            .filter(|u| {
                file.focus.is_none_or(|focus| focus.iter().any(|f| f.start < u.lines.end && u.lines.start < f.end))
            })
            .collect()
    }

    /// Whether the engine can score text, which review by surprise needs; logged when it cannot.
    fn can_score(&self) -> bool {
        self.engine.scoring().map_err(|why| tracing::warn!("review by surprise is unavailable: {why}")).is_ok()
    }

    /// The rules reports list: the catalogue's, and `surprise` when it is on.
    pub fn rules(&self) -> Vec<Rule> {
        let mut rules = self.prompt.rules.clone();
        rules.extend(self.limits.surprise.map(|_| surprise::rule()));
        rules
    }

    /// Every line's most surprising token in the file's units (those in focus), whatever the threshold, with
    /// its line in the file: what `nib eval surprise` sweeps thresholds over.
    pub async fn surprises(
        &self,
        file: FileToReview<'_>,
        cancel: &CancelToken,
    ) -> Result<Vec<(usize, LineSurprise)>, ReviewError> {
        let (tokenizer, model_id) = match self.engine.ready().await {
            ModelState::Ready { tokenizer, info } => (tokenizer, info.id),
            ModelState::Failed(message) => return Err(ReviewError::ModelUnavailable(message)),
            ModelState::Loading => return Err(ReviewError::ModelUnavailable("the model is still loading".into())),
        };
        if let Err(why) = self.engine.scoring() {
            return Err(ReviewError::ModelUnavailable(format!("review by surprise is unavailable: {why}")));
        }
        let mut found = Vec::new();
        for unit in self.units(&file) {
            let (start, code) = unit_code(file.rope, &unit);
            let lines = self.surprise_unit(&file, (tokenizer.as_ref(), &model_id), (start, &code), cancel).await?;
            found.extend(lines.into_iter().map(|s| (unit.lines.start + s.line, s)));
        }
        Ok(found)
    }

    /// One unit's line surprises (`surprise.rs`), from the cache when its code and context are unchanged, else
    /// from one scoring of its tokens after the file's head.
    async fn surprise_unit(
        &self,
        file: &FileToReview<'_>,
        (tokenizer, model_id): (&dyn Vocabulary, &str),
        (start, code): (usize, &str),
        cancel: &CancelToken,
    ) -> Result<Vec<LineSurprise>, ReviewError> {
        let context = surprise::head(file.rope, start);
        let key = ReviewCache::key(model_id, surprise::VERSION, file.language, &format!("{context}\0{code}"));
        if let Some(hit) = self.surprises.get(&key) {
            return Ok(hit);
        }
        let mut tokens: Vec<_> = tokenizer.bos().into_iter().collect();
        tokens.extend(tokenizer.tokenize(&context, false));
        // The first token follows nothing: with neither a BOS nor a head, a line break goes first.
        let context = if tokens.is_empty() {
            tokens.extend(tokenizer.tokenize("\n", false));
            "\n".to_owned()
        } else {
            context
        };
        let n_context = tokens.len();
        tokens.extend(tokenizer.tokenize(code, false));
        if tokens.len() > surprise::MAX_TOKENS {
            tracing::debug!(path = file.path, n_tokens = tokens.len(), "a unit too long to score");
            return Ok(Vec::new());
        }
        let scores = loop {
            let request = ScoreRequest {
                tokens: tokens.clone(),
                n_context,
                top_k: surprise::TOP_K,
                text: Some((context.clone(), code.to_owned())),
                owner: Some("nib-surprise".into()),
                priority: PriorityHandle::new(self.priority),
                cancel: cancel.clone(),
            };
            match self.engine.score(request).await {
                Ok(Ok(scores)) => break scores,
                Ok(Err(EngineError::Cancelled)) if cancel.is_cancelled() => return Err(ReviewError::Cancelled),
                // Pre-empted by a completion: the KV cache keeps what was evaluated.
                Ok(Err(EngineError::Cancelled)) => tokio::time::sleep(RETRY_AFTER).await,
                Err(_) => return Err(EngineError::Stopped.into()),
                // A unit the engine cannot score (longer than its context...) costs its findings, not the review's.
                Ok(Err(err)) => {
                    tracing::warn!(path = file.path, "a unit not scored: {err}");
                    return Ok(Vec::new());
                }
            }
        };
        let skip = |c: usize| {
            let byte = file.rope.char_to_byte(start + c);
            file.syntax.is_some_and(|syntax| surprise::in_comment_or_string(syntax, byte))
        };
        let lines = surprise::lines(&context, code, &scores, skip);
        self.surprises.put(&key, lines.clone());
        Ok(lines)
    }

    /// A unit's code as the `prompt` hooks leave it, off the async threads; `None` when a plugin refuses it
    /// (or the hooks failed: the code is never sent unseen by them).
    async fn code_to_send(&self, file: &FileToReview<'_>, code: &str) -> Option<String> {
        if !self.plugins.handles(Hook::Prompt) {
            return Some(code.to_owned());
        }
        let plugins = self.plugins.clone();
        let info = FileInfo { path: file.path.to_owned(), language: file.language.to_owned() };
        let code = code.to_owned();
        match tokio::task::spawn_blocking(move || crate::plugins::review_code(&plugins, info, &code)).await {
            Ok(Ok(sent)) => Some(sent),
            Ok(Err(refusal)) => {
                tracing::info!("{refusal}");
                None
            }
            Err(_) => None,
        }
    }

    /// One unit through the model.
    async fn ask(
        &self,
        tokenizer: &dyn Vocabulary,
        user: &str,
        cancel: &CancelToken,
    ) -> Result<Vec<RawFinding>, ReviewError> {
        let prompt = crate::chat::tokens(tokenizer, &self.prompt.system, user, "JSON:\n");
        let grammar = self.grammar();
        loop {
            let job = GenerateRequest {
                prompt: prompt.clone(),
                max_tokens: self.limits.max_tokens,
                stop: Vec::new(),
                cancel: cancel.clone(),
                owner: Some("nib-review".into()),
                priority: PriorityHandle::new(self.priority),
                grammar: Some(grammar.clone()),
                schema: Some(self.schema()),
                text: PromptText::Chat { system: self.prompt.system.clone(), user: user.to_owned() },
                sampling: None,
            };
            let mut events = self.engine.generate(job);
            let mut text = String::new();
            let reason = loop {
                match events.recv().await {
                    Some(Event::Text(t)) => text.push_str(&t),
                    Some(Event::Started { .. } | Event::Logprob(_)) => {}
                    Some(Event::Done { reason, .. }) => break reason,
                    Some(Event::Failed(err)) => return Err(err.into()),
                    None => return Err(EngineError::Stopped.into()),
                }
            };
            match reason {
                StopReason::Cancelled if cancel.is_cancelled() => return Err(ReviewError::Cancelled),
                // Pre-empted by a completion: the KV cache keeps what was evaluated.
                StopReason::Cancelled => tokio::time::sleep(RETRY_AFTER).await,
                _ => {
                    tracing::debug!(answer = %text, "review answer");
                    return Ok(parse_answer(&text));
                }
            }
        }
    }
}

/// A unit's first char in the file, and its code.
fn unit_code(rope: &Rope, unit: &units::Unit) -> (usize, String) {
    let start = rope.line_to_char(unit.lines.start);
    let end = if unit.lines.end >= rope.len_lines() { rope.len_chars() } else { rope.line_to_char(unit.lines.end) };
    (start, rope.slice(start..end).to_string())
}

/// A line surprise as a finding; its fix puts what the model expected in place when the file still parses.
fn surprise_finding(file: &FileToReview<'_>, unit_start: usize, s: LineSurprise) -> Finding {
    let rope = file.rope;
    let (start, end) = (unit_start + s.chars.start, unit_start + s.chars.end);
    let replacement = file
        .syntax
        .is_some_and(|syntax| surprise::still_parses(rope, syntax, start..end, &s.expected))
        .then(|| s.expected.clone());
    let line = rope.line(rope.char_to_line(start)).to_string();
    Finding {
        path: file.path.to_owned(),
        rule: surprise::RULE.to_owned(),
        severity: Severity::Info,
        message: s.message(),
        // The line and the token: a token alone ("<") is in many places.
        fingerprint: fingerprint(surprise::RULE, file.path, &format!("{} {}", line.trim(), s.actual)),
        quote: s.actual,
        replacement,
        start: Position::at(rope, start),
        end: Position::at(rope, end),
    }
}

/// Keeps the `max` most severe findings (the first in the file among equals), in file order.
fn keep_most_severe(findings: &mut Vec<Finding>, max: usize) {
    if findings.len() <= max {
        return;
    }
    let position = |f: &Finding| (f.start.line, f.start.utf8);
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(position(a).cmp(&position(b))));
    findings.truncate(max);
    findings.sort_by_key(position);
}

/// The findings of an answer; of one cut off at the token limit, those it completed.
fn parse_answer(text: &str) -> Vec<RawFinding> {
    if let Ok(answer) = serde_json::from_str::<Answer>(text) {
        return answer.findings;
    }
    // The grammar fixes the shape, so a cut answer is whole findings and then a partial one.
    text.match_indices('}')
        .rev()
        .find_map(|(i, _)| serde_json::from_str::<Answer>(&format!("{}]}}", &text[..=i])).ok())
        .map(|answer| answer.findings)
        .unwrap_or_default()
}

/// Stable across line moves and whitespace changes; the same key for baseline, SARIF and GitLab.
pub fn fingerprint(rule: &str, path: &str, quote: &str) -> String {
    let normalised: Vec<&str> = quote.split_whitespace().collect();
    let mut digest = Sha256::new();
    for part in [rule, path, &normalised.join(" ")] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    hex::encode(&digest.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity, line: u32) -> Finding {
        let at = Position { line, utf8: 0, utf16: 0 };
        Finding {
            path: "a.py".into(),
            rule: "bug".into(),
            severity,
            message: String::new(),
            quote: String::new(),
            replacement: None,
            start: at,
            end: at,
            fingerprint: String::new(),
        }
    }

    #[test]
    fn a_file_keeps_its_most_severe_findings_then_the_first() {
        use Severity::*;
        let mut findings: Vec<Finding> =
            [(Info, 0), (Error, 9), (Warning, 2), (Error, 5), (Warning, 1)].map(|(s, l)| finding(s, l)).into();
        keep_most_severe(&mut findings, 3);
        let kept: Vec<_> = findings.iter().map(|f| (f.severity, f.start.line)).collect();
        assert_eq!(kept, [(Warning, 1), (Error, 5), (Error, 9)]);
        keep_most_severe(&mut findings, 0);
        assert!(findings.is_empty());
    }

    #[test]
    fn a_cut_answer_keeps_its_complete_findings() {
        let one = r#"{"rule": "bug", "severity": "error", "quote": "a}b", "message": "m", "replacement": null}"#;
        assert_eq!(parse_answer(&format!(r#"{{"findings": [{one}]}}"#)).len(), 1);
        assert_eq!(parse_answer(&format!(r#"{{"findings": [{one},{one},{{"rule": "bu"#)).len(), 2);
        assert_eq!(parse_answer(r#"{"findings": [{"rule": "#).len(), 0);
    }
}
