//! The completion pipeline: document snapshot + cursor -> prompt -> engine -> post-processing -> a plain
//! `Suggestion`. Used by the LSP handlers and the CLI alike, so both take the same code path. The rooms: the
//! cursor's site (`site.rs`), the prompt (`prompts.rs`), jobs on the engine and the wait for them (`job.rs`), two
//! speeds for a cold place (`cold.rs`), alternatives for an explicit request (`candidates.rs`), warm-ahead and
//! prefetch (`background.rs`), and what is reused without the model (`cache.rs`).

mod background;
pub mod cache;
mod candidates;
pub mod cold;
pub mod confidence;
mod job;
pub mod postprocess;
mod prompts;
mod site;
pub mod syntax_check;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use ropey::Rope;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::CompletionConfig;
use crate::tasks::Tasks;
pub use background::Ahead;
use cache::{CompletionCache, Place};
use cold::{Cold, Whole};
use job::{Generated, Job, Running};
use nib_engine::{CacheHit, CancelToken, CompletionStats, Engine, EngineError, StopReason};
use nib_plugins::{Plugins, Refusal};
use nib_prompt::context::Workspace;
use nib_prompt::{Prompt, Template, TemplateError, TokenId};
use nib_text::syntax::Syntax;
use postprocess::Mode;
pub use prompts::build_prompt;
use site::Site;

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
    /// Every task the completer starts (jobs' collectors, warm-ahead, prefetch, whole windows): the server's.
    tasks: Tasks,
}

/// How a request's answers are made: its figures count from `started` (tokio's clock, which tests pause), and
/// they name the template.
struct Answers<'a> {
    started: Instant,
    template: &'a str,
}

impl Answers<'_> {
    /// The model's text for this request.
    fn generated(
        &self,
        text: String,
        confidence: Option<f32>,
        reason: StopReason,
        stats: CompletionStats,
    ) -> Suggestion {
        Suggestion { text, alternatives: Vec::new(), confidence, reason, stats, template: self.template.to_owned() }
    }

    /// Answered without the model's text: out of time, superseded, or waiting for an evaluation.
    fn early(&self, text: String, reason: StopReason, confidence: Option<f32>) -> Suggestion {
        let stats = CompletionStats { total_ms: self.ms(), ..Default::default() };
        self.generated(text, confidence, reason, stats)
    }

    /// Answered from the completion cache or typed through, without the engine: figures that say so, which the
    /// engine counts with its own.
    fn cached(&self, engine: &Engine, text: String, n_prompt_tokens: usize, confidence: Option<f32>) -> Suggestion {
        let ms = self.ms();
        let stats = CompletionStats {
            cache: CacheHit::Completion,
            n_prompt_tokens,
            n_reused_tokens: n_prompt_tokens,
            ttft_ms: ms,
            total_ms: ms,
            ..CompletionStats::default()
        };
        engine.record_cache_answer(&stats);
        self.generated(text, confidence, StopReason::Cached, stats)
    }

    fn ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
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
            tasks: Tasks::default(),
        }
    }

    pub fn plugins(&self) -> &Arc<Plugins> {
        &self.plugins
    }

    /// The same completer, whose prompts and suggestions go through `plugins`.
    pub fn with_plugins(self, plugins: Arc<Plugins>) -> Completer {
        Completer { plugins, ..self }
    }

    /// The same completer, whose background tasks go through `tasks` (the server's, stopped with it).
    pub fn with_tasks(self, tasks: Tasks) -> Completer {
        Completer { tasks, ..self }
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

    /// `complete`'s answer, and the prompt and site it was for when it got that far.
    async fn suggest(
        &self,
        request: Request<'_>,
        cancel: CancelToken,
        mut on_partial: impl FnMut(&str),
    ) -> Result<(Suggestion, Option<(Prompt, Site)>), CompletionError> {
        // Deadlines and `partial_after_ms` count from here.
        let answers = Answers { started: Instant::now(), template: "" };
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
        let template = self.template(tokenizer.as_ref(), &model_name)?;
        let answers = Answers { template: &template.name, ..answers };
        let site = self.site(request);
        // Where the cursor is, once per request: for typing through a suggestion, and to remember the one shown.
        let seen =
            request.document.map(|d| (d, Place::new(request.rope, request.cursor.min(request.rope.len_chars()))));
        if let Some(suggestion) = self.typed_through(&seen, &site, &answers).await {
            return Ok((suggestion, None));
        }
        let prompt = self.prompt(&tokenizer, &template, request).await?;
        // Nothing to continue from (an empty document, with a template that only continues the text before the
        // cursor): nothing to suggest. The engine refuses an empty prompt, and a refused job clears its cache.
        if prompt.tokens.is_empty() {
            return Ok((answers.early(String::new(), StopReason::EndOfGeneration, None), None));
        }
        let key = self.cache_key(&prompt.tokens, &site.mode);
        if let Some((raw, logprobs)) = self.with_cache(|c| c.get(key)) {
            let (text, confidence) = site.finished_with(raw, &logprobs).await;
            let suggestion = answers.cached(&self.engine, text, prompt.tokens.len(), confidence);
            return Ok((self.show_whole(request, &seen, suggestion), Some((prompt, site))));
        }
        // A cold place: a short window around the cursor answers first; the whole window is evaluated behind it.
        if let Some((document, short)) = self.short_window(&tokenizer, &template, request, &prompt).await? {
            let whole = Whole { key, prompt: prompt.clone(), mode: site.mode.clone() };
            let asked = (request, document, &short, whole);
            if let Some(answer) = self.answer_short(asked, (&site, &cancel, &answers, &seen), &mut on_partial).await? {
                return Ok((answer, None));
            }
        }
        let job = Job { prompt: &prompt, key, owner: request.document };
        let (reason, raw, stats, logprobs) =
            match self.generate((request, &job, &site, &cancel), &answers, &mut on_partial).await? {
                Generated::Answered(suggestion) => return Ok((self.shown_if_partial(&seen, suggestion), None)),
                Generated::Text(reason, raw, stats, logprobs) => (reason, raw, stats, logprobs),
            };
        let (text, confidence) = site.finished_with(raw, &logprobs).await;
        tracing::debug!(?text, ?confidence, "completion post-processed");
        let suggestion = self.show_whole(request, &seen, answers.generated(text, confidence, reason, stats));
        if self.config().prefetch && !suggestion.text.is_empty() {
            self.prefetch(request, &suggestion.text, serial);
        }
        Ok((suggestion, Some((prompt, site))))
    }

    /// The rest of a suggestion the user is typing through (a short window's only until the whole window's
    /// replaces it): shown already, it is never held back now.
    async fn typed_through(
        &self,
        seen: &Option<(&str, Place)>,
        site: &Site,
        answers: &Answers<'_>,
    ) -> Option<Suggestion> {
        let (document, place) = seen.as_ref()?;
        let replaced = self.cold.lock().replaced(document);
        let rest = self.with_cache(|c| c.typed_through(document, place)).filter(|_| !replaced)?;
        let text = site.finished(rest).await;
        (!text.is_empty()).then(|| self.shown(seen, answers.cached(&self.engine, text, 0, None)))
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

    /// The start of a suggestion is shown too: typing through it goes on from there.
    fn shown_if_partial(&self, seen: &Option<(&str, Place)>, suggestion: Suggestion) -> Suggestion {
        match suggestion.reason {
            StopReason::Partial => self.shown(seen, suggestion),
            _ => suggestion,
        }
    }

    /// A whole window's suggestion as the user gets it: held back when unsure, remembered as shown, and in place
    /// of a short window's.
    fn show_whole(&self, request: Request<'_>, seen: &Option<(&str, Place)>, suggestion: Suggestion) -> Suggestion {
        let suggestion = self.shown(seen, self.gate(request.trigger, suggestion));
        if let Some(document) = request.document {
            self.cold.lock().shown(document, false);
        }
        suggestion
    }

    /// Cancels every job: the server is shutting down.
    pub fn cancel_all(&self) {
        self.with_running(|r| r.values().for_each(|job| job.cancel.cancel()));
    }
}

#[cfg(test)]
mod tests;
