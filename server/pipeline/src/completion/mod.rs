//! The completion pipeline: document snapshot + cursor -> prompt -> engine ->
//! post-processing -> a plain `Suggestion`. Used by the LSP handlers and the CLI
//! alike, so both take the same code path. Also owns what is reused without
//! the model (`cache.rs`), the per-request deadline, and prefetching the next
//! suggestion.

pub mod cache;
pub mod cold;
pub mod confidence;
pub mod postprocess;
pub mod syntax_check;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use ropey::Rope;
use tokio::sync::watch;

use crate::config::{CompletionConfig, ContextMode};
use crate::plugins;
use cache::{CompletionCache, Place};
use cold::{Cold, Whole};
use confidence::Logprobs;
use nib_engine::{
    CacheHit, CancelToken, CompletionStats, Engine, EngineError, Event, GenerateRequest, Infill, ModelState, Priority,
    PriorityHandle, PromptText, Sampling, StopReason, Vocabulary,
};
use nib_plugins::{Hook, Plugins, Refusal};
use nib_prompt::context::{self, Context, Workspace};
use nib_prompt::{self as prompt, Budget, Prompt, Template, TemplateError, TokenId, Tokenizer};
use nib_text::documents::position::line_len_chars;
use nib_text::indent::indentation;
use nib_text::syntax::{self, Syntax};
use postprocess::{After, Mode};

/// A finished suggestion, to insert at the cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub text: String,
    /// Other suggestions for the same request, distinct from `text` and each other, the most confident first
    /// (`complete_candidates`).
    pub alternatives: Vec<String>,
    /// How sure the model was of `text`, 0 to 1 (`confidence.rs`); `None` when the backend gives no
    /// probabilities or the text did not come from the model (typed through).
    pub confidence: Option<f32>,
    pub reason: StopReason,
    pub stats: CompletionStats,
    pub template: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CompletionError {
    #[error("{0}")]
    ModelUnavailable(String),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// Where to complete.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub rope: &'a Rope,
    /// Char offset of the cursor.
    pub cursor: usize,
    /// The document's URI, if it is one: its KV sequence, snapshot, shown suggestion and context follow it.
    pub document: Option<&'a str>,
    /// The document's tree, in step with `rope`.
    pub syntax: Option<&'a Syntax>,
    pub trigger: Trigger,
}

/// Why a completion is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The editor asks as the user types: answer within `deadline_ms`, with a short suffix.
    Automatic,
    /// The user asked: answer when the suggestion is complete (within `invoked_timeout_ms`), never empty for
    /// lack of time; the cursor rests, so the prompt carries the whole suffix share.
    Invoked,
}

/// Runs completions against one engine, with the caches they share.
#[derive(Clone)]
pub struct Completer {
    engine: Engine,
    /// Replaced whole when the client's settings change; each use reads the current one.
    config: Arc<RwLock<Arc<CompletionConfig>>>,
    cache: Arc<Mutex<CompletionCache>>,
    /// Jobs on the engine, by cache key: every request for the same prompt waits on the same job.
    running: Arc<Mutex<HashMap<u64, Running>>>,
    /// Counts jobs that have ended: `settled` waits on it.
    n_ended: watch::Sender<u64>,
    /// Requests so far: a prefetch starts only if no newer request came while it waited.
    n_requests: Arc<AtomicU64>,
    workspace: Arc<Workspace>,
    /// The model's template, chosen once it has loaded (again when `completion.template` changes).
    template: Arc<Mutex<Option<Result<Template, TemplateError>>>>,
    plugins: Arc<Plugins>,
    /// What each document's KV sequence holds, the prompt rate, the whole windows evaluated behind short ones.
    cold: Arc<Mutex<Cold>>,
}

/// A job on the engine, and what it has produced so far.
#[derive(Clone)]
struct Running {
    owner: Option<String>,
    prompt: Arc<[TokenId]>,
    cancel: CancelToken,
    priority: PriorityHandle,
    progress: watch::Receiver<Progress>,
}

#[derive(Debug, Clone, Default)]
struct Progress {
    raw: String,
    logprobs: Logprobs,
    /// A cold prompt (`COLD_TOKENS` or more to evaluate) is being evaluated.
    evaluating: bool,
    done: Option<Result<(StopReason, CompletionStats), EngineError>>,
}

/// A prompt to generate for, its cache key, and the KV sequence it goes to.
struct Job<'a> {
    prompt: &'a Prompt,
    key: u64,
    owner: Option<&'a str>,
}

/// How generating for a request ended: the model's text, or an answer given without it.
enum Generated {
    Text(StopReason, String, CompletionStats, Logprobs),
    Answered(Suggestion),
}

/// How waiting for a job ended.
enum Waited {
    Done(StopReason, String, CompletionStats),
    Failed(EngineError),
    /// The request was outdated by a newer one or an edit.
    Superseded,
    /// The deadline passed; the text so far.
    OutOfTime(String),
    /// `partial_after_ms` passed with some text: the start of the suggestion.
    Partial(String),
}

/// A prompt with this many tokens to evaluate is cold: it takes longer than a keystroke's wait.
const COLD_TOKENS: usize = 64;

/// A newer prompt carries on an evaluation when it shares all of it but this many tokens at the end:
/// typing changes the tokens at the cursor, and with a prefix-suffix-middle template the short suffix after it.
const CARRY_ON_TOKENS: usize = 64;

/// A prefetch waits this long for the user to stop typing: while typing, its work
/// would only delay the next keystroke's completion (measured with the replay benchmark).
const PREFETCH_IDLE: Duration = Duration::from_millis(300);

/// How often a waiting request looks whether it has been superseded.
const SUPERSEDED_POLL: Duration = Duration::from_millis(20);

/// How alternatives to the greedy suggestion are drawn (the seed varies): warm enough to differ, within the
/// likely tokens so that they stay plausible code.
const ALTERNATIVES: Sampling = Sampling { temperature: 0.8, top_k: 40, top_p: 0.95, seed: 0 };

/// How much of a line on either side of the cursor `Site` looks at.
const MAX_SITE_CHARS: usize = 4096;

/// The cursor's surroundings, which decide the mode and the post-processing.
#[derive(Clone)]
struct Site {
    mode: Mode,
    rest_of_line: String,
    next_line: Option<String>,
    /// The opening line's indentation, when the cursor opens a block with a closer after it.
    closer_indent: Option<String>,
    /// Only indentation precedes the cursor: the model, seeing a prompt end in spaces, often starts
    /// with a space-led token, which would indent the line one space too deep.
    in_indentation: bool,
    /// The document and its tree, to check suggestions against.
    tree: Option<(Rope, Syntax, usize)>,
    /// The `suggestion` hooks, with the file and the cursor (line, column) they are told.
    hook: Option<(Arc<Plugins>, plugins::FileInfo, (usize, usize))>,
}

impl Site {
    fn new(rope: &Rope, cursor: usize, max_lines: usize, syntax: Option<&Syntax>) -> Site {
        let line = rope.char_to_line(cursor);
        // A line of minified code can be megabytes: what decides the mode is near the cursor.
        let line_start = rope.line_to_char(line).max(cursor.saturating_sub(MAX_SITE_CHARS));
        let line_end = (rope.line_to_char(line) + line_len_chars(rope, line)).min(cursor + MAX_SITE_CHARS);
        let before = rope.slice(line_start..cursor).to_string();
        let rest_of_line = rope.slice(cursor..line_end).to_string();
        let opens_block = syntax_check::opens_block(rope, syntax, cursor);
        let has_closer = !rest_of_line.trim().is_empty();
        Site {
            mode: Mode::detect(&before, max_lines, opens_block),
            in_indentation: before.chars().all(|c| c == ' ' || c == '\t') && !before.is_empty(),
            closer_indent: (opens_block && has_closer).then(|| indentation(&before).to_owned()),
            rest_of_line,
            next_line: (line + 1..rope.len_lines().min(line + 50))
                .map(|l| rope.line(l))
                .map(|l| l.slice(..l.len_chars().min(MAX_SITE_CHARS)).to_string())
                .find(|l| !l.trim().is_empty()),
            tree: syntax.map(|s| (rope.clone(), s.clone(), cursor)),
            hook: None,
        }
    }

    /// The suggestion goes through the plugins' `suggestion` hooks too.
    fn with_hook(
        self,
        plugins: &Arc<Plugins>,
        file: impl FnOnce() -> plugins::FileInfo,
        rope: &Rope,
        cursor: usize,
    ) -> Site {
        if !plugins.handles(Hook::Suggestion) {
            return self;
        }
        let line = rope.char_to_line(cursor);
        let hook = Some((plugins.clone(), file(), (line, cursor - rope.line_to_char(line))));
        Site { hook, ..self }
    }

    /// `finish`, off the async threads when it checks the suggestion against the tree (a dozen reparses) or
    /// asks plugins.
    async fn finished(&self, raw: String) -> String {
        if self.tree.is_none() && self.hook.is_none() {
            return self.finish(&raw);
        }
        let site = self.clone();
        tokio::task::spawn_blocking(move || {
            let text = site.finish(&raw);
            match &site.hook {
                Some((plugins, file, cursor)) => plugins::suggestion(plugins, file.clone(), *cursor, text),
                None => text,
            }
        })
        .await
        .unwrap_or_default()
    }

    /// The suggestion from raw model text.
    fn finish(&self, raw: &str) -> String {
        let (text, _) = postprocess::cut(&format!("{raw}\n"), &self.mode);
        let after = After { line: &self.rest_of_line, next_line: self.next_line.as_deref() };
        let mut text = postprocess::dedupe(&text, &self.mode, after);
        if self.in_indentation {
            text = text.trim_start_matches([' ', '\t']).to_owned();
        }
        // `{|}` : the body goes between, and the closer onto its own line.
        if let Some(indent) = self.closer_indent.as_ref().filter(|_| text.contains('\n')) {
            text = format!("{text}\n{indent}");
        }
        match &self.tree {
            Some((rope, syntax, cursor)) => syntax_check::fit(rope, syntax, *cursor, &text),
            None => text,
        }
    }
}

impl Completer {
    pub fn new(engine: Engine, config: CompletionConfig, workspace: Arc<Workspace>) -> Completer {
        let cache = Arc::new(Mutex::new(CompletionCache::new(config.cache_entries as usize)));
        let template = Arc::default();
        let n_ended = watch::Sender::new(0);
        Completer {
            engine,
            config: Arc::new(RwLock::new(Arc::new(config))),
            cache,
            running: Arc::default(),
            n_ended,
            n_requests: Arc::default(),
            workspace,
            template,
            plugins: Arc::default(),
            cold: Arc::default(),
        }
    }

    pub fn plugins(&self) -> &Arc<Plugins> {
        &self.plugins
    }

    /// The same completer, whose prompts and suggestions go through `plugins`.
    pub fn with_plugins(self, plugins: Arc<Plugins>) -> Completer {
        Completer { plugins, ..self }
    }

    pub fn workspace(&self) -> &Arc<Workspace> {
        &self.workspace
    }

    /// The settings in effect.
    pub fn config(&self) -> Arc<CompletionConfig> {
        self.config.read().clone()
    }

    /// New settings, for the requests that start from now on.
    pub fn set_config(&self, config: CompletionConfig) {
        let old = self.config();
        if old.template != config.template {
            *self.template.lock() = None;
        }
        if old.cache_entries != config.cache_entries {
            self.with_cache(|c| c.resize(config.cache_entries as usize));
        }
        *self.config.write() = Arc::new(config);
    }

    /// The template for this model: configured, or chosen from its tokens and name; prefix-only in `prefix` mode.
    fn template(&self, tokenizer: &dyn Vocabulary, model_name: &str) -> Result<Template, TemplateError> {
        let config = self.config();
        if config.context == ContextMode::Prefix {
            return Ok(Template::prefix_only());
        }
        let choose = || Template::choose(config.template.as_deref(), tokenizer, model_name);
        self.template.lock().get_or_insert_with(choose).clone()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn with_cache<T>(&self, f: impl FnOnce(&mut CompletionCache) -> T) -> T {
        f(&mut self.cache.lock())
    }

    /// The completion cache's key for a prompt: the same prompt, stops and length give the same text.
    fn cache_key(&self, prompt: &[TokenId], mode: &Mode) -> u64 {
        cache::key(prompt, &mode.stop_sequences(), self.config().max_tokens as usize)
    }

    fn with_running<T>(&self, f: impl FnOnce(&mut HashMap<u64, Running>) -> T) -> T {
        f(&mut self.running.lock())
    }

    /// Completes at `request.cursor`. `on_partial` sees the suggestion as it grows. `cancel` outdated
    /// (a newer request, an edit) ends the wait at once with an empty answer.
    pub async fn complete(
        &self,
        request: Request<'_>,
        cancel: CancelToken,
        on_partial: impl FnMut(&str),
    ) -> Result<Suggestion, CompletionError> {
        self.suggest(request, cancel, on_partial).await.map(|(suggestion, _)| suggestion)
    }

    /// `complete`, and for an explicit request up to `completion.n_candidates - 1` alternatives: the same prompt
    /// (in the KV cache by then) generated again with sampling, one seed after another, each post-processed as
    /// the first, the empty and repeated ones dropped, those ready within `invoked_timeout_ms` of the request.
    /// The first suggestion is `complete`'s, and is cached as it is; alternatives are not cached.
    pub async fn complete_candidates(
        &self,
        request: Request<'_>,
        cancel: CancelToken,
        on_partial: impl FnMut(&str),
    ) -> Result<Suggestion, CompletionError> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(self.config().invoked_timeout_ms);
        let n_candidates = self.config().n_candidates as usize;
        let (mut suggestion, basis) = self.suggest(request, cancel.clone(), on_partial).await?;
        let complete = !matches!(
            suggestion.reason,
            StopReason::Cancelled | StopReason::Deadline | StopReason::Partial | StopReason::Evaluating
        );
        if request.trigger != Trigger::Invoked || n_candidates < 2 || suggestion.text.trim().is_empty() || !complete {
            return Ok(suggestion);
        }
        // Answered from the suggestion being typed through, before any prompt: the alternatives need one.
        let (prompt, site) = match basis {
            Some(basis) => basis,
            None => match self.basis(request).await {
                Ok(basis) => basis,
                Err(err) => {
                    tracing::debug!("no alternatives: {err}");
                    return Ok(suggestion);
                }
            },
        };
        // The engine refuses an empty prompt, and a refused job clears its cache.
        if prompt.tokens.is_empty() {
            return Ok(suggestion);
        }
        let mut candidates = vec![suggestion.text.clone()];
        let mut confidences = vec![suggestion.confidence];
        // Sampling may repeat a candidate: a few more draws than needed, all within the deadline.
        let n_draws = u32::try_from(n_candidates - 1).unwrap_or(u32::MAX).saturating_mul(2);
        for seed in 1..=n_draws {
            let sampled = self.sample(&prompt, &site.mode, request.document, seed, &cancel, deadline).await;
            let Some((raw, logprobs)) = sampled else { break };
            let text = site.finished(raw.clone()).await;
            confidences.push(logprobs.confidence(&raw, &text));
            candidates.push(text);
            if distinct(&candidates, n_candidates).len() == n_candidates {
                break;
            }
        }
        let confidence_of = |text: &String| candidates.iter().position(|c| c == text).and_then(|i| confidences[i]);
        let alternatives = distinct(&candidates, n_candidates).into_iter().skip(1).map(|text| {
            let confidence = confidence_of(&text);
            (text, confidence)
        });
        suggestion.alternatives = most_confident_first(alternatives.collect());
        Ok(suggestion)
    }

    /// The cursor's surroundings, with the plugins' `suggestion` hooks.
    fn site(&self, request: Request<'_>) -> Site {
        let (rope, cursor) = (request.rope, request.cursor.min(request.rope.len_chars()));
        let file = || {
            plugins::file_info(request.document.map(|d| self.workspace.label(d)).unwrap_or_default(), request.syntax)
        };
        Site::new(rope, cursor, self.config().max_lines as usize, request.syntax).with_hook(
            &self.plugins,
            file,
            rope,
            cursor,
        )
    }

    /// `complete`'s answer, and the prompt and site it was for when it got that far.
    async fn suggest(
        &self,
        request: Request<'_>,
        cancel: CancelToken,
        mut on_partial: impl FnMut(&str),
    ) -> Result<(Suggestion, Option<(Prompt, Site)>), CompletionError> {
        // tokio's clock, which tests pause: deadlines and `partial_after_ms` count from here.
        let started = tokio::time::Instant::now();
        // The short window's suggestion is shown whole once it is done, which its growing text may have been.
        let mut last_partial = String::new();
        let mut on_partial = |text: &str| {
            if text != last_partial {
                last_partial = text.to_owned();
                on_partial(text);
            }
        };
        let serial = self.n_requests.fetch_add(1, Ordering::Relaxed) + 1;
        let (model_name, tokenizer) = self.model().await?;
        let rope = request.rope;
        let cursor = request.cursor.min(rope.len_chars());
        let template = self.template(tokenizer.as_ref(), &model_name)?;
        let site = self.site(request);
        let answer = |text: String, n_prompt_tokens: usize, confidence: Option<f32>| {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let stats = CompletionStats {
                cache: CacheHit::Completion,
                n_prompt_tokens,
                n_reused_tokens: n_prompt_tokens,
                ttft_ms: ms,
                total_ms: ms,
                ..CompletionStats::default()
            };
            self.engine.record_cache_answer(&stats);
            Suggestion {
                text,
                alternatives: Vec::new(),
                confidence,
                reason: StopReason::Cached,
                stats,
                template: template.name.clone(),
            }
        };
        // Answered without the model's text: out of time, superseded, or waiting for an evaluation.
        let early = |text: String, reason: StopReason, confidence: Option<f32>| {
            let stats = CompletionStats { total_ms: started.elapsed().as_secs_f64() * 1000.0, ..Default::default() };
            Suggestion { text, alternatives: Vec::new(), confidence, reason, stats, template: template.name.clone() }
        };

        // Where the cursor is, once per request: for typing through a suggestion, and to remember the one shown.
        let seen = request.document.map(|d| (d, Place::new(rope, cursor)));
        // A short window's suggestion is typed through until the whole window's replaces it.
        let through = |(d, place): &(&str, Place)| {
            let replaced = self.cold.lock().replaced(d);
            self.with_cache(|c| c.typed_through(d, place)).filter(|_| !replaced)
        };
        if let Some(rest) = seen.as_ref().and_then(through) {
            let text = site.finished(rest).await;
            if !text.is_empty() {
                // Shown already, and the user is typing it: it is never held back now.
                return Ok((self.shown(&seen, answer(text, 0, None)), None));
            }
        }
        let prompt = self.prompt(&tokenizer, &template, request).await?;
        // Nothing to continue from (an empty document, with a template that only continues the text before the
        // cursor): nothing to suggest. The engine refuses an empty prompt, and a refused job clears its cache.
        if prompt.tokens.is_empty() {
            return Ok((early(String::new(), StopReason::EndOfGeneration, None), None));
        }
        let key = self.cache_key(&prompt.tokens, &site.mode);
        if let Some((raw, logprobs)) = self.with_cache(|c| c.get(key)) {
            let n_prompt = prompt.tokens.len();
            let text = site.finished(raw.clone()).await;
            let confidence = logprobs.confidence(&raw, &text);
            let suggestion = self.shown(&seen, self.gate(request.trigger, answer(text, n_prompt, confidence)));
            if let Some(document) = request.document {
                self.cold.lock().shown(document, false);
            }
            return Ok((suggestion, Some((prompt, site))));
        }

        // The start of a suggestion is shown, and typing through it goes on from there.
        let shown_if_partial = |s: Suggestion| if s.reason == StopReason::Partial { self.shown(&seen, s) } else { s };

        // A cold place: a short window around the cursor answers first; the whole window is evaluated behind it.
        if let Some((document, short)) = self.short_window(&tokenizer, &template, request, &prompt).await? {
            let owner = cold::short_owner(document);
            let short_job = Job { prompt: &short, key: self.cache_key(&short.tokens, &site.mode), owner: Some(&owner) };
            let whole = Whole { key, prompt: prompt.clone(), mode: site.mode.clone() };
            if request.trigger == Trigger::Automatic {
                self.behind(document, whole);
                let suggestion = match self.with_cache(|c| c.get(short_job.key)) {
                    Some((raw, logprobs)) => {
                        let text = site.finished(raw.clone()).await;
                        let confidence = logprobs.confidence(&raw, &text);
                        answer(text, short.tokens.len(), confidence)
                    }
                    None => match self
                        .generate((request, &short_job, &site, &cancel, started), &mut on_partial, &early)
                        .await?
                    {
                        Generated::Answered(suggestion) => return Ok((shown_if_partial(suggestion), None)),
                        Generated::Text(_, raw, stats, logprobs) => {
                            let text = site.finished(raw.clone()).await;
                            let confidence = logprobs.confidence(&raw, &text);
                            let reason = StopReason::ShortWindow;
                            let template = template.name.clone();
                            Suggestion { text, alternatives: Vec::new(), confidence, reason, stats, template }
                        }
                    },
                };
                let suggestion = Suggestion { reason: StopReason::ShortWindow, ..suggestion };
                tracing::debug!(n_short = short.tokens.len(), n_whole = prompt.tokens.len(), "short window answered");
                self.cold.lock().shown(document, true);
                return Ok((self.shown(&seen, self.gate(request.trigger, suggestion)), None));
            }
            // The user asked and would wait long: the short window's suggestion at once as partial results, then
            // the whole window's as the answer.
            match self.generate((request, &short_job, &site, &cancel, started), &mut on_partial, &early).await? {
                Generated::Answered(suggestion) if suggestion.reason == StopReason::Cancelled => {
                    return Ok((suggestion, None));
                }
                Generated::Answered(_) => {}
                Generated::Text(_, raw, ..) => {
                    let text = site.finished(raw).await;
                    if !text.is_empty() {
                        on_partial(&text);
                    }
                }
            }
        }

        let job = Job { prompt: &prompt, key, owner: request.document };
        let (reason, raw, stats, logprobs) =
            match self.generate((request, &job, &site, &cancel, started), &mut on_partial, &early).await? {
                Generated::Answered(suggestion) => return Ok((shown_if_partial(suggestion), None)),
                Generated::Text(reason, raw, stats, logprobs) => (reason, raw, stats, logprobs),
            };
        let text = site.finished(raw.clone()).await;
        let confidence = logprobs.confidence(&raw, &text);
        tracing::debug!(?raw, ?text, ?confidence, "completion post-processed");
        let suggestion =
            Suggestion { text, alternatives: Vec::new(), confidence, reason, stats, template: template.name.clone() };
        let suggestion = self.shown(&seen, self.gate(request.trigger, suggestion));
        if let Some(document) = request.document {
            self.cold.lock().shown(document, false);
        }
        if self.config().prefetch && !suggestion.text.is_empty() {
            self.prefetch(request, &suggestion.text, serial);
        }
        Ok((suggestion, Some((prompt, site))))
    }

    /// Runs `job` for `request` (or waits on the job already running its prompt) until its text is complete: the
    /// text, or the answer given without it (superseded, out of time, the start of the suggestion). A job
    /// pre-empted before its text was complete is started again (from what it left in the KV cache).
    async fn generate(
        &self,
        (request, job, site, cancel, started): (Request<'_>, &Job<'_>, &Site, &CancelToken, tokio::time::Instant),
        on_partial: &mut impl FnMut(&str),
        early: &impl Fn(String, StopReason, Option<f32>) -> Suggestion,
    ) -> Result<Generated, CompletionError> {
        let wait_ms = match request.trigger {
            Trigger::Automatic => self.config().deadline_ms,
            Trigger::Invoked => self.config().invoked_timeout_ms,
        };
        let deadline = started + Duration::from_millis(wait_ms);
        // A block suggestion takes a keystroke's time per line or two: the user sees its start at once.
        let partial_after = Duration::from_millis(self.config().partial_after_ms);
        let mut partial_by =
            (request.trigger == Trigger::Automatic && !partial_after.is_zero()).then(|| started + partial_after);
        let gate = match request.trigger {
            Trigger::Automatic => self.config().min_confidence,
            Trigger::Invoked => 0.0,
        };
        let answered = |suggestion| Ok(Generated::Answered(suggestion));
        loop {
            if cancel.is_outdated() {
                return answered(early(String::new(), StopReason::Cancelled, None));
            }
            if tokio::time::Instant::now() >= deadline {
                self.engine.record_deadline_answer();
                return answered(early(String::new(), StopReason::Deadline, None));
            }
            let (running, own) = match self.with_running(|r| r.get(&job.key).cloned()) {
                Some(running) => (running, false),
                None => {
                    if request.trigger == Trigger::Automatic
                        && let Some(evaluation) = job.owner.and_then(|d| self.evaluation(d))
                        && carries_on(&evaluation.prompt, &job.prompt.tokens)
                    {
                        // This keystroke waits for nobody: the evaluation goes on for the requests after it,
                        // at full speed, and skips generating for a prompt that is gone.
                        evaluation.priority.set(Priority::Foreground);
                        evaluation.cancel.outdate();
                        self.engine.record_evaluating_answer();
                        return answered(early(String::new(), StopReason::Evaluating, None));
                    }
                    let running = self.start(job.key, job.prompt, &site.mode, job.owner, Priority::Foreground);
                    (running, true)
                }
            };
            if request.trigger == Trigger::Invoked {
                running.priority.set(Priority::Foreground);
            }
            let (waited, logprobs) =
                self.wait(&running, &site.mode, cancel, (partial_by, deadline), (gate, &mut *on_partial)).await;
            match waited {
                // Stopped by another request or by a completion it yielded to: start again unless its text is
                // complete (the KV cache keeps what it evaluated).
                Waited::Done(StopReason::Cancelled, raw, stats) => {
                    if postprocess::cut(&raw, &site.mode).1 {
                        return Ok(Generated::Text(StopReason::Enough, raw, stats, logprobs));
                    }
                }
                Waited::Done(reason, raw, stats) => return Ok(Generated::Text(reason, raw, stats, logprobs)),
                // A job shared with a request that dropped it: this request runs its own.
                Waited::Failed(EngineError::Stopped) if !own => {}
                Waited::Failed(err) => return Err(err.into()),
                Waited::Superseded => {
                    if own {
                        running.cancel.outdate();
                    }
                    return answered(early(String::new(), StopReason::Cancelled, None));
                }
                Waited::OutOfTime(raw) => {
                    // Answer with what there is; the job goes on into the cache, behind any completion.
                    running.priority.set(Priority::Late);
                    self.engine.record_deadline_answer();
                    let text = site.finished(raw.clone()).await;
                    let confidence = logprobs.confidence(&raw, &text);
                    return answered(self.gate(request.trigger, early(text, StopReason::Deadline, confidence)));
                }
                Waited::Partial(raw) => {
                    let text = site.finished(raw.clone()).await;
                    if !text.is_empty() {
                        running.priority.set(Priority::Late);
                        self.engine.record_partial_answer();
                        let confidence = logprobs.confidence(&raw, &text);
                        // Held back, it still answers as partial: `nib/suggestionReady` follows if the whole passes.
                        return answered(self.gate(request.trigger, early(text, StopReason::Partial, confidence)));
                    }
                    // Its start alone would show nothing (it repeats what follows the cursor): wait for the whole.
                    partial_by = None;
                }
            }
        }
    }

    /// Follows `job` until it ends, the request is superseded, `deadline` passes, or `partial_by` passes with
    /// text to show. Text that `gate` (the least confidence shown) holds back is not shown as it grows either.
    /// With the outcome come the tokens' log-probabilities so far.
    async fn wait(
        &self,
        job: &Running,
        mode: &Mode,
        cancel: &CancelToken,
        (partial_by, deadline): (Option<tokio::time::Instant>, tokio::time::Instant),
        (gate, on_partial): (f32, &mut impl FnMut(&str)),
    ) -> (Waited, Logprobs) {
        let mut progress = job.progress.clone();
        let mut shown_so_far = String::new();
        loop {
            let now = progress.borrow_and_update().clone();
            let (so_far, complete) = postprocess::cut(&now.raw, mode);
            let sure = || now.logprobs.confidence(&now.raw, &so_far).is_none_or(|c| c >= gate);
            if so_far != shown_so_far && !so_far.is_empty() && sure() {
                on_partial(&so_far);
                shown_so_far = so_far;
            }
            if complete {
                // Enough text: stop the engine; the job caches what it has.
                job.cancel.enough();
            }
            // Its text is for the document as it was: it answers only a request that is still current.
            if cancel.is_outdated() {
                return (Waited::Superseded, now.logprobs);
            }
            match now.done {
                Some(Ok((reason, stats))) => return (Waited::Done(reason, now.raw, stats), now.logprobs),
                Some(Err(err)) => return (Waited::Failed(err), now.logprobs),
                None => {}
            }
            if let Some(by) = partial_by
                && !complete
                && tokio::time::Instant::now() >= by
            {
                // Whole lines, else whole words: what is shown is never cut mid-word.
                let lines = now.raw.rfind('\n').map(|end| &now.raw[..end]).filter(|l| !l.trim().is_empty());
                let ready = lines.unwrap_or_else(|| postprocess::whole_words(&now.raw));
                if !ready.trim().is_empty() {
                    return (Waited::Partial(ready.to_owned()), now.logprobs);
                }
            }
            let poll = (tokio::time::Instant::now() + SUPERSEDED_POLL).min(deadline);
            match tokio::time::timeout_at(poll, progress.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return (Waited::Failed(EngineError::Stopped), now.logprobs),
                Err(_) if tokio::time::Instant::now() < deadline => {}
                Err(_) => return (Waited::OutOfTime(postprocess::whole_words(&now.raw).to_owned()), now.logprobs),
            }
        }
    }

    /// Starts a job whose events a task of its own collects, so it outlives the request that started it:
    /// its text goes into the completion cache (under `key`), and later requests for the same prompt wait on it.
    fn start(&self, key: u64, prompt: &Prompt, mode: &Mode, owner: Option<&str>, priority: Priority) -> Running {
        let request = GenerateRequest {
            prompt: prompt.tokens.clone(),
            max_tokens: self.config().max_tokens as usize,
            stop: mode.stop_sequences(),
            cancel: CancelToken::default(),
            owner: owner.map(str::to_owned),
            priority: PriorityHandle::new(priority),
            grammar: None,
            schema: None,
            text: PromptText::Completion { text: prompt.text.text.clone(), infill: infill(prompt) },
            sampling: None,
        };
        let mode = mode.clone();
        let (progress_tx, progress) = watch::channel(Progress::default());
        let job = Running {
            owner: request.owner.clone(),
            prompt: prompt.tokens.as_slice().into(),
            cancel: request.cancel.clone(),
            priority: request.priority.clone(),
            progress,
        };
        self.with_running(|r| r.insert(key, job.clone()));
        let mut events = self.engine.generate(request);
        let this = self.clone();
        let (owner, tokens) = (job.owner.clone(), job.prompt.clone());
        // The sequence holds the whole prompt once the job generates, or ends other than pre-empted.
        let evaluated = move |this: &Completer| {
            if let Some(owner) = &owner {
                this.cold.lock().evaluated(owner, &tokens);
            }
        };
        tokio::spawn(async move {
            let (mut now, mut generating) = (Progress::default(), false);
            while now.done.is_none() {
                let event = events.recv().await;
                if !generating && matches!(event, Some(Event::Logprob(_) | Event::Text(_))) {
                    generating = true;
                    evaluated(&this);
                }
                match event {
                    Some(Event::Started { n_evaluate }) => {
                        tracing::debug!(n_evaluate, "job started");
                        now.evaluating = n_evaluate >= COLD_TOKENS;
                    }
                    Some(Event::Logprob(logprob)) => now.logprobs.push(now.raw.len(), logprob),
                    Some(Event::Text(text)) => {
                        now.evaluating = false;
                        now.raw.push_str(&text);
                    }
                    Some(Event::Done { reason, stats }) => {
                        if reason != StopReason::Cancelled && !generating {
                            evaluated(&this);
                        }
                        this.cold.lock().measured(&stats);
                        now.evaluating = false;
                        let finished = matches!(
                            reason,
                            StopReason::EndOfGeneration
                                | StopReason::StopSequence
                                | StopReason::MaxTokens
                                | StopReason::Enough
                        );
                        if finished || postprocess::cut(&now.raw, &mode).1 {
                            this.with_cache(|c| c.put(key, now.raw.clone(), now.logprobs.clone()));
                        }
                        now.done = Some(Ok((reason, stats)));
                    }
                    Some(Event::Failed(err)) => now.done = Some(Err(err)),
                    None => now.done = Some(Err(EngineError::Stopped)),
                }
                progress_tx.send_replace(now.clone());
            }
            tracing::debug!(done = ?now.done, n_chars = now.raw.len(), "job ended");
            this.with_running(|r| r.remove(&key));
            this.n_ended.send_modify(|n| *n += 1);
        });
        job
    }

    /// The prompt and site of `request`, as `complete` would build them.
    async fn basis(&self, request: Request<'_>) -> Result<(Prompt, Site), CompletionError> {
        let (model_name, tokenizer) = self.model().await?;
        let template = self.template(tokenizer.as_ref(), &model_name)?;
        Ok((self.prompt(&tokenizer, &template, request).await?, self.site(request)))
    }

    /// `prompt` generated with sampling from `seed`: the raw text and its tokens' log-probabilities, or `None`
    /// when it failed, was superseded or was not done by `deadline`. Its text is not cached: the cache holds
    /// the greedy answer for the prompt.
    async fn sample(
        &self,
        prompt: &Prompt,
        mode: &Mode,
        owner: Option<&str>,
        seed: u32,
        cancel: &CancelToken,
        deadline: tokio::time::Instant,
    ) -> Option<(String, Logprobs)> {
        let job = CancelToken::default();
        let request = GenerateRequest {
            prompt: prompt.tokens.clone(),
            max_tokens: self.config().max_tokens as usize,
            stop: mode.stop_sequences(),
            cancel: job.clone(),
            owner: owner.map(str::to_owned),
            priority: PriorityHandle::new(Priority::Foreground),
            grammar: None,
            schema: None,
            text: PromptText::Completion { text: prompt.text.text.clone(), infill: infill(prompt) },
            sampling: Some(Sampling { seed, ..ALTERNATIVES }),
        };
        let mut events = self.engine.generate(request);
        let (mut raw, mut logprobs) = (String::new(), Logprobs::default());
        loop {
            if cancel.is_outdated() {
                job.cancel();
                return None;
            }
            let poll = (tokio::time::Instant::now() + SUPERSEDED_POLL).min(deadline);
            match tokio::time::timeout_at(poll, events.recv()).await {
                Ok(Some(Event::Started { .. })) => {}
                Ok(Some(Event::Logprob(logprob))) => logprobs.push(raw.len(), logprob),
                Ok(Some(Event::Text(text))) => {
                    raw.push_str(&text);
                    if postprocess::cut(&raw, mode).1 {
                        job.enough();
                    }
                }
                Ok(Some(Event::Done { reason: StopReason::Cancelled, .. })) => return None,
                Ok(Some(Event::Done { .. })) => return Some((raw, logprobs)),
                Ok(Some(Event::Failed(_)) | None) => return None,
                Err(_) if tokio::time::Instant::now() < deadline => {}
                Err(_) => {
                    job.cancel();
                    return None;
                }
            }
        }
    }

    /// Cancels every job: the server is shutting down.
    pub fn cancel_all(&self) {
        self.with_running(|r| r.values().for_each(|job| job.cancel.cancel()));
    }

    /// The cold evaluation running for `document`, if any.
    fn evaluation(&self, document: &str) -> Option<Running> {
        self.with_running(|r| {
            r.values().find(|j| j.owner.as_deref() == Some(document) && j.progress.borrow().evaluating).cloned()
        })
    }

    /// Waits until no job for `document` runs: a suggestion answered empty for lack of time is then
    /// in the completion cache, or the prompt it waited for is in the KV cache.
    /// A document's short window counts: the whole window it waits for is evaluated behind it.
    pub async fn settled(&self, document: &str) {
        let mut n_ended = self.n_ended.subscribe();
        let short = cold::short_owner(document);
        loop {
            let ours = |owner: &Option<String>| owner.as_deref().is_some_and(|o| o == document || o == short);
            let busy = self.with_running(|r| r.values().any(|j| ours(&j.owner)))
                || self.cold.lock().wanted.contains_key(document);
            if !busy || n_ended.changed().await.is_err() {
                return;
            }
        }
    }

    /// The prompt's budget; context gets its share only in `full` mode. While the user types, a suffix that
    /// follows the prefix is kept short: each keystroke evaluates it again.
    pub fn budget(&self, trigger: Trigger, template: &Template) -> Budget {
        let config = self.config();
        let full = config.context == ContextMode::Full;
        let typing = trigger == Trigger::Automatic && template.suffix_follows_prefix();
        Budget {
            n_tokens: config.n_prompt_tokens as usize,
            suffix_percent: config.suffix_percent as usize,
            n_suffix_max: if typing { config.typing_suffix_tokens as usize } else { usize::MAX },
            n_context_tokens: if full { config.context_tokens as usize } else { 0 },
        }
    }

    /// The loaded model's name and tokenizer, once it is ready.
    async fn model(&self) -> Result<(String, Arc<dyn Vocabulary>), CompletionError> {
        match self.engine.ready().await {
            ModelState::Ready { info, tokenizer } => Ok((info.name, tokenizer)),
            ModelState::Failed(message) => Err(CompletionError::ModelUnavailable(message)),
            ModelState::Loading => Err(CompletionError::ModelUnavailable("the model is still loading".into())),
        }
    }

    /// The prompt a request would send, as text: for seeing what the model sees.
    pub async fn prompt_text(&self, request: Request<'_>) -> Result<String, CompletionError> {
        let (model_name, tokenizer) = self.model().await?;
        let template = self.template(tokenizer.as_ref(), &model_name)?;
        let prompt = self.prompt(&tokenizer, &template, request).await?;
        Ok(prompt.text.text)
    }

    /// Holds back an automatic request's suggestion that the model was unsure of (`completion.min_confidence`):
    /// its text goes, the rest stays. Explicit requests always answer; a suggestion without a confidence (a
    /// backend without probabilities) is shown.
    fn gate(&self, trigger: Trigger, suggestion: Suggestion) -> Suggestion {
        let min = self.config().min_confidence;
        let unsure = suggestion.confidence.is_some_and(|c| c < min);
        if trigger != Trigger::Automatic || !unsure || suggestion.text.is_empty() {
            return suggestion;
        }
        tracing::debug!(confidence = ?suggestion.confidence, min, text = ?suggestion.text, "suggestion held back");
        self.engine.record_held_back();
        Suggestion { text: String::new(), ..suggestion }
    }

    /// Remembers a suggestion as shown, for typing through it.
    fn shown(&self, seen: &Option<(&str, Place)>, suggestion: Suggestion) -> Suggestion {
        if let Some((document, place)) = seen.as_ref().filter(|_| !suggestion.text.is_empty()) {
            self.with_cache(|c| c.shown(document, place, &suggestion.text));
        }
        suggestion
    }

    /// Builds the prompt off the async threads: tokenizing a window and gathering context is CPU work.
    /// While the user types, the window keeps the start of the document's previous prompt where it can (a jump
    /// then costs no evaluation); a request that waits for its answer gets the whole window.
    async fn prompt(
        &self,
        tokenizer: &Arc<dyn Vocabulary>,
        template: &Template,
        request: Request<'_>,
    ) -> Result<Prompt, CompletionError> {
        let budget = self.budget(request.trigger, template);
        self.prompt_in(tokenizer, template, request, budget, request.document).await
    }

    /// `prompt` within `budget`, its window held where the last one for `window` (a KV sequence) started.
    async fn prompt_in(
        &self,
        tokenizer: &Arc<dyn Vocabulary>,
        template: &Template,
        request: Request<'_>,
        budget: Budget,
        window: Option<&str>,
    ) -> Result<Prompt, CompletionError> {
        let hold = match (request.trigger, window) {
            (Trigger::Automatic, Some(window)) => self.with_cache(|c| c.window_start(window)),
            _ => None,
        };
        let (tokenizer, template, workspace) = (tokenizer.clone(), template.clone(), self.workspace.clone());
        let plugins = self.plugins.clone();
        let (rope, cursor, trigger) = (request.rope.clone(), request.cursor, request.trigger);
        let (key, syntax) = (request.document.map(str::to_owned), request.syntax.cloned());
        let (prompt, start_line) = tokio::task::spawn_blocking(move || {
            let request = Request { rope: &rope, cursor, document: key.as_deref(), syntax: syntax.as_ref(), trigger };
            let prompt = build_prompt(tokenizer.as_ref(), &template, &workspace, &plugins, request, budget, hold)?;
            let start_line = rope.char_to_line(prompt.prefix_start.min(rope.len_chars()));
            Ok::<_, CompletionError>((prompt, start_line))
        })
        .await
        .map_err(|e| EngineError::Panicked(e.to_string()))??;
        tracing::debug!(?hold, start_line, n_prompt = prompt.tokens.len(), "prompt built");
        if let Some(window) = window {
            self.with_cache(|c| c.set_window_start(window, start_line));
        }
        Ok(prompt)
    }

    /// Whether a whole window is being evaluated for `document` behind its short window's suggestions.
    pub fn whole_pending(&self, document: &str) -> bool {
        self.cold.lock().wanted.contains_key(document)
    }

    /// The prompt rate measured so far, tokens per second, which sizes the short window.
    pub fn prompt_rate(&self) -> Option<f64> {
        self.cold.lock().rate()
    }

    /// For a request whose whole window (`whole`) is cold, and would take longer than `completion.short_window_ms`
    /// to evaluate: its document and the prompt of a short window around the cursor, which fits that time.
    /// Only where the engine keeps a KV sequence per window: a server keeps its own cache (llama-server one slot),
    /// where the short window would evict the whole one.
    async fn short_window<'r>(
        &self,
        tokenizer: &Arc<dyn Vocabulary>,
        template: &Template,
        request: Request<'r>,
        whole: &Prompt,
    ) -> Result<Option<(&'r str, Prompt)>, CompletionError> {
        let budget_ms = self.config().short_window_ms;
        let in_process = !self.engine.health().destination.contains("://");
        let Some(document) = request.document.filter(|_| budget_ms > 0 && in_process) else { return Ok(None) };
        let can_shift = match self.engine.state() {
            ModelState::Ready { info, .. } => !info.sliding_window,
            _ => false,
        };
        let n_short = {
            let mut cold = self.cold.lock();
            let n_to_evaluate = cold.n_to_evaluate(document, &whole.tokens, can_shift);
            cold::short_budget(n_to_evaluate, cold.n_short(budget_ms), whole.tokens.len())
        };
        let Some(n_short) = n_short else { return Ok(None) };
        let budget = Budget { n_tokens: n_short, n_context_tokens: 0, ..self.budget(request.trigger, template) };
        let owner = cold::short_owner(document);
        let short = self.prompt_in(tokenizer, template, request, budget, Some(&owner)).await?;
        Ok((!short.tokens.is_empty()).then_some((document, short)))
    }

    /// Evaluates `whole` for `document` behind the short windows' jobs, at `Late` priority, and generates its
    /// suggestion into the completion cache; one task per document follows the latest whole window wanted
    /// (typing moves it on), starting a job again where a completion pre-empted it. `settled` waits for it.
    fn behind(&self, document: &str, whole: Whole) {
        let older = self.cold.lock().wanted.insert(document.to_owned(), whole.clone());
        let Some(older) = older else {
            let (this, document) = (self.clone(), document.to_owned());
            tokio::spawn(async move { this.drive(&document).await });
            return;
        };
        if older.key != whole.key
            && let Some(job) = self.with_running(|r| r.get(&older.key).cloned())
        {
            // Typing carries the evaluation on (the KV cache keeps it); a jump makes it useless.
            if carries_on(&older.prompt.tokens, &whole.prompt.tokens) {
                job.cancel.outdate()
            } else {
                job.cancel.cancel()
            }
        }
    }

    /// `behind`'s task for `document`.
    async fn drive(&self, document: &str) {
        loop {
            let Some(whole) = self.cold.lock().wanted.get(document).cloned() else { break };
            let cached = self.with_cache(|c| c.get(whole.key)).is_some();
            let job = match self.with_running(|r| r.get(&whole.key).cloned()) {
                _ if cached => None,
                Some(job) => Some(job),
                None => Some(self.start(whole.key, &whole.prompt, &whole.mode, Some(document), Priority::Late)),
            };
            let ended = match job {
                Some(job) => {
                    let mut progress = job.progress.clone();
                    let done = progress.wait_for(|p| p.done.is_some()).await.ok().and_then(|p| p.done.clone());
                    // Cancelled by `cancel_all` (shutting down) rather than pre-empted: nothing more to do.
                    if job.cancel.is_cancelled()
                        && !self.cold.lock().wanted.get(document).is_some_and(|w| w.key != whole.key)
                    {
                        None
                    } else {
                        done
                    }
                }
                None => Some(Ok((StopReason::Cached, CompletionStats::default()))),
            };
            let mut cold = self.cold.lock();
            let still_wanted = cold.wanted.get(document).is_some_and(|w| w.key == whole.key);
            match ended {
                // Pre-empted by a completion, or outdated by typing: again, for the latest whole window.
                Some(Ok((StopReason::Cancelled, _))) => {}
                Some(Ok(_)) if !still_wanted => {}
                _ => {
                    cold.wanted.remove(document);
                    break;
                }
            }
        }
        self.n_ended.send_modify(|n| *n += 1);
    }

    /// Evaluates the prompt where the cursor rests, and computes its suggestion, behind any completion a user
    /// waits for (in full steps: the user is likely to type there next): the requests that follow there find the
    /// prompt in the KV cache (or the suggestion in the cache).
    pub fn warm(&self, request: Request<'_>) {
        let (rope, cursor, owner, syntax) =
            (request.rope.clone(), request.cursor, request.document.map(str::to_owned), request.syntax.cloned());
        let this = self.clone();
        tokio::spawn(async move {
            let request = Request {
                rope: &rope,
                cursor,
                document: owner.as_deref(),
                syntax: syntax.as_ref(),
                trigger: Trigger::Invoked,
            };
            this.in_background(request, Priority::Late).await;
        });
    }

    /// Computes, at idle priority, the suggestion that follows once `accepted` is accepted.
    fn prefetch(&self, request: Request<'_>, accepted: &str, serial: u64) {
        let (rope, cursor, accepted) = (request.rope.clone(), request.cursor, accepted.to_owned());
        let n_accepted = accepted.chars().count();
        let (owner, syntax) = (request.document.map(str::to_owned), request.syntax.cloned());
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(PREFETCH_IDLE).await;
            if this.n_requests.load(Ordering::Relaxed) != serial {
                return;
            }
            let Ok((rope, syntax)) =
                tokio::task::spawn_blocking(move || insert(&rope, syntax, cursor, &accepted)).await
            else {
                return;
            };
            // The request after an accepted suggestion is the next keystroke's.
            let cursor = cursor + n_accepted;
            let request = Request {
                rope: &rope,
                cursor,
                document: owner.as_deref(),
                syntax: syntax.as_ref(),
                trigger: Trigger::Automatic,
            };
            this.in_background(request, Priority::Background).await;
        });
    }

    /// Starts a job for `request`'s prompt that nobody waits for, unless its suggestion is cached or on its way.
    async fn in_background(&self, request: Request<'_>, priority: Priority) {
        let Ok((model_name, tokenizer)) = self.model().await else { return };
        let Ok(template) = self.template(tokenizer.as_ref(), &model_name) else { return };
        let Ok(prompt) = self.prompt(&tokenizer, &template, request).await else { return };
        if prompt.tokens.is_empty() {
            return;
        }
        let site = Site::new(request.rope, request.cursor, self.config().max_lines as usize, request.syntax);
        let key = self.cache_key(&prompt.tokens, &site.mode);
        let known = self.with_cache(|c| c.get(key)).is_some() || self.with_running(|r| r.contains_key(&key));
        if known {
            return;
        }
        tracing::debug!(n_prompt = prompt.tokens.len(), ?priority, "background job");
        self.start(key, &prompt, &site.mode, request.document, priority);
    }
}

/// A fill-in-the-middle prompt's parts, for servers that lay out the prompt themselves.
fn infill(prompt: &Prompt) -> Option<Infill> {
    let text = &prompt.text;
    text.fills_middle.then(|| Infill {
        prefix: text.prefix.clone(),
        suffix: text.suffix.clone(),
        extra: text.extra.clone(),
    })
}

/// The first `n` candidates that say something and differ from those before them, in order: two that differ
/// only in trailing whitespace are the same suggestion.
fn distinct(candidates: &[String], n: usize) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for candidate in candidates {
        if kept.len() == n {
            break;
        }
        let said = candidate.trim_end();
        if !said.trim_start().is_empty() && !kept.iter().any(|k| k.trim_end() == said) {
            kept.push(candidate.clone());
        }
    }
    kept
}

/// Alternatives ordered by confidence, most confident first; those without one last, in their order.
fn most_confident_first(mut alternatives: Vec<(String, Option<f32>)>) -> Vec<String> {
    alternatives.sort_by(|(_, a), (_, b)| match (a, b) {
        (Some(a), Some(b)) => b.total_cmp(a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    alternatives.into_iter().map(|(text, _)| text).collect()
}

/// Whether `newer` carries on `older`'s evaluation: the same text up to near its end.
fn carries_on(older: &[TokenId], newer: &[TokenId]) -> bool {
    let common = older.iter().zip(newer).take_while(|(a, b)| a == b).count();
    common + CARRY_ON_TOKENS >= older.len().min(newer.len())
}

/// The window around the cursor, the context that fits beside it (when the budget has room for
/// context and the request names its document), as the plugins' `prompt` hooks leave them, and the template
/// around both. CPU work, and plugins may take their deadline: keep it off the async threads.
pub fn build_prompt(
    tokenizer: &dyn Tokenizer,
    template: &Template,
    workspace: &Workspace,
    plugins: &Plugins,
    request: Request<'_>,
    budget: Budget,
    hold: Option<usize>,
) -> Result<Prompt, CompletionError> {
    let (rope, cursor) = (request.rope, request.cursor.min(request.rope.len_chars()));
    let mut window = prompt::window(tokenizer, template, rope, cursor, budget, hold)?;
    let mut context = match request.document {
        Some(key) if budget.n_context_tokens > 0 => workspace.gather(&context::Request {
            key,
            rope,
            syntax: request.syntax,
            cursor,
            window: window.prefix_start..window.suffix_end,
        }),
        _ => Context::default(),
    };
    if plugins.handles(Hook::Prompt) {
        let file = plugins::file_info(request.document.map(|d| workspace.label(d)).unwrap_or_default(), request.syntax);
        plugins::completion_prompt(plugins, tokenizer, file, &mut window, &mut context)?;
    }
    Ok(prompt::assemble(tokenizer, template, window, &context, budget))
}

/// The document with `text` typed at `cursor`, its tree brought up to date.
fn insert(rope: &Rope, syntax: Option<Syntax>, cursor: usize, text: &str) -> (Rope, Option<Syntax>) {
    let edit = syntax::input_edit(rope, cursor, cursor, text);
    let mut edited = rope.clone();
    edited.insert(cursor, text);
    let syntax = syntax.and_then(|mut syntax| {
        syntax.edit(&edit);
        syntax.reparse(&edited)
    });
    (edited, syntax)
}

#[cfg(test)]
mod tests;
