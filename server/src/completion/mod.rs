//! The completion pipeline: document snapshot + cursor -> prompt -> engine ->
//! post-processing -> a plain `Suggestion`. Used by the LSP handlers and the CLI
//! alike, so both take the same code path. Also owns what is reused without
//! the model (`cache.rs`), the per-request deadline, and prefetching the next
//! suggestion.

pub mod cache;
pub mod postprocess;
pub mod syntax_check;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ropey::Rope;
use tokio::sync::watch;

use crate::config::{CompletionConfig, ContextMode};
use crate::context::{self, Context, Workspace};
use crate::documents::position::line_len_chars;
use crate::engine::{
    CacheHit, CancelToken, CompletionStats, Engine, EngineError, Event, GenerateRequest, ModelState, ModelTokenizer,
    Priority, PriorityHandle, StopReason,
};
use crate::prompt::{self, Budget, Prompt, Template, TemplateError, Tokenizer};
use crate::syntax::{self, Syntax};
use cache::{CompletionCache, Place};
use postprocess::{After, Mode};

/// A finished suggestion, to insert at the cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub text: String,
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
}

/// Runs completions against one engine, with the caches they share.
#[derive(Clone)]
pub struct Completer {
    engine: Engine,
    config: CompletionConfig,
    cache: Arc<Mutex<CompletionCache>>,
    /// Generations finishing in the background (past a deadline, or prefetched), by cache key:
    /// a request for the same prompt waits for one instead of pre-empting it.
    running: Arc<Mutex<HashMap<u64, watch::Receiver<Option<String>>>>>,
    /// Requests so far: a prefetch starts only if no newer request came while it waited.
    n_requests: Arc<AtomicU64>,
    workspace: Arc<Workspace>,
    /// The model's template, chosen once it has loaded.
    template: Arc<std::sync::OnceLock<Result<Template, TemplateError>>>,
}

/// A prefetch waits this long for the user to stop typing: while typing, its work
/// would only delay the next keystroke's completion (measured with the replay benchmark).
const PREFETCH_IDLE: Duration = Duration::from_millis(300);

/// The cursor's surroundings, which decide the mode and the post-processing.
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
}

impl Site {
    fn new(rope: &Rope, cursor: usize, max_lines: usize, syntax: Option<&Syntax>) -> Site {
        let line = rope.char_to_line(cursor);
        let line_start = rope.line_to_char(line);
        let line_end = line_start + line_len_chars(rope, line);
        let before = rope.slice(line_start..cursor).to_string();
        let rest_of_line = rope.slice(cursor..line_end).to_string();
        let opens_block = syntax_check::opens_block(rope, syntax, cursor);
        let has_closer = !rest_of_line.trim().is_empty();
        Site {
            mode: Mode::detect(&before, max_lines, opens_block),
            in_indentation: before.chars().all(|c| c == ' ' || c == '\t') && !before.is_empty(),
            closer_indent: (opens_block && has_closer)
                .then(|| before.chars().take_while(|c| *c == ' ' || *c == '\t').collect()),
            rest_of_line,
            next_line: (line + 1..rope.len_lines().min(line + 50))
                .map(|l| rope.line(l).to_string())
                .find(|l| !l.trim().is_empty()),
            tree: syntax.map(|s| (rope.clone(), s.clone(), cursor)),
        }
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
        Completer { engine, config, cache, running: Arc::default(), n_requests: Arc::default(), workspace, template }
    }

    pub fn workspace(&self) -> &Arc<Workspace> {
        &self.workspace
    }

    /// The template for this model: configured, or chosen from its tokens and name; prefix-only in `prefix` mode.
    fn template(&self, tokenizer: &ModelTokenizer, model_name: &str) -> Result<Template, TemplateError> {
        if self.config.context == ContextMode::Prefix {
            return Ok(Template::prefix_only());
        }
        self.template.get_or_init(|| Template::choose(self.config.template.as_deref(), tokenizer, model_name)).clone()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn with_cache<T>(&self, f: impl FnOnce(&mut CompletionCache) -> T) -> Option<T> {
        self.cache.lock().ok().map(|mut cache| f(&mut cache))
    }

    /// Completes at `request.cursor`. `on_partial` sees the suggestion as it grows.
    pub async fn complete(
        &self,
        request: Request<'_>,
        cancel: CancelToken,
        mut on_partial: impl FnMut(&str),
    ) -> Result<Suggestion, CompletionError> {
        let started = Instant::now();
        let serial = self.n_requests.fetch_add(1, Ordering::Relaxed) + 1;
        let (model_name, tokenizer) = self.model().await?;
        let rope = request.rope;
        let cursor = request.cursor.min(rope.len_chars());
        let template = self.template(&tokenizer, &model_name)?;
        let site = Site::new(rope, cursor, self.config.max_lines as usize, request.syntax);
        let answer = |text: String, n_prompt_tokens: usize| {
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
            Suggestion { text, reason: StopReason::Cached, stats, template: template.name.clone() }
        };
        // Out of time: answer with what there is; the generation goes on into the cache.
        let at_deadline = |text: String| {
            self.engine.record_deadline_answer();
            let stats = CompletionStats { total_ms: started.elapsed().as_secs_f64() * 1000.0, ..Default::default() };
            Suggestion { text, reason: StopReason::Deadline, stats, template: template.name.clone() }
        };

        // Where the cursor is, once per request: for typing through a suggestion, and to remember the one shown.
        let seen = request.document.map(|d| (d, Place::new(rope, cursor)));
        if let Some(rest) =
            seen.as_ref().and_then(|(d, place)| self.with_cache(|c| c.typed_through(d, place))).flatten()
        {
            let text = site.finish(&rest);
            if !text.is_empty() {
                return Ok(self.shown(&seen, answer(text, 0)));
            }
        }
        let prompt = self.prompt(&tokenizer, &template, request).await?;
        let max_tokens = self.config.max_tokens as usize;
        let stop = site.mode.stop_sequences();
        let key = cache::key(&prompt.tokens, &stop, max_tokens);
        if let Some(raw) = self.with_cache(|c| c.get(key)).flatten() {
            let n_prompt = prompt.tokens.len();
            return Ok(self.shown(&seen, answer(site.finish(&raw), n_prompt)));
        }

        let deadline = tokio::time::Instant::now() + Duration::from_millis(self.config.deadline_ms);
        let running = self.running.lock().ok().and_then(|r| r.get(&key).cloned());
        if let Some(mut running) = running {
            let n_prompt = prompt.tokens.len();
            return match tokio::time::timeout_at(deadline, running.wait_for(Option::is_some)).await {
                Ok(Ok(raw)) => {
                    let raw = raw.clone().unwrap_or_default();
                    Ok(self.shown(&seen, answer(site.finish(&raw), n_prompt)))
                }
                // Still running: nothing yet, and no second job for the same prompt.
                Err(_) => Ok(at_deadline(String::new())),
                Ok(Err(_)) => Err(EngineError::Stopped.into()),
            };
        }

        let priority = PriorityHandle::new(Priority::Foreground);
        let job = GenerateRequest {
            prompt: prompt.tokens,
            max_tokens,
            stop,
            cancel: cancel.clone(),
            owner: request.document.map(str::to_owned),
            priority: priority.clone(),
            grammar: None,
        };
        let mut events = self.engine.generate(job);
        let mut raw = String::new();
        let (reason, stats) = loop {
            let event = match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(event) => event,
                Err(_) => {
                    priority.set(Priority::Background);
                    self.finish_in_background(events, raw.clone(), key);
                    return Ok(at_deadline(site.finish(postprocess::whole_words(&raw))));
                }
            };
            match event {
                Some(Event::Text(text)) => {
                    raw.push_str(&text);
                    let (so_far, complete) = postprocess::cut(&raw, &site.mode);
                    if !so_far.is_empty() {
                        on_partial(&so_far);
                    }
                    if complete {
                        // Enough text: stop the engine, then collect its figures.
                        cancel.cancel();
                    }
                }
                Some(Event::Done { reason, stats }) => break (reason, stats),
                Some(Event::Failed(err)) => return Err(err.into()),
                None => return Err(EngineError::Stopped.into()),
            }
        };
        if matches!(reason, StopReason::EndOfGeneration | StopReason::StopSequence | StopReason::MaxTokens)
            || postprocess::cut(&raw, &site.mode).1
        {
            self.with_cache(|c| c.put(key, raw.clone()));
        }
        let text = site.finish(&raw);
        tracing::debug!(?raw, ?text, "completion post-processed");
        let suggestion = Suggestion { text, reason, stats, template: template.name.clone() };
        let suggestion = self.shown(&seen, suggestion);
        if self.config.prefetch && !suggestion.text.is_empty() {
            self.prefetch(request, &suggestion.text, tokenizer, template, serial);
        }
        Ok(suggestion)
    }

    /// The prompt's budget; context gets its share only in `full` mode.
    pub fn budget(&self) -> Budget {
        let full = self.config.context == ContextMode::Full;
        Budget {
            n_tokens: self.config.n_prompt_tokens as usize,
            suffix_percent: self.config.suffix_percent as usize,
            n_context_tokens: if full { self.config.context_tokens as usize } else { 0 },
        }
    }

    /// The loaded model's name and tokenizer, once it is ready.
    async fn model(&self) -> Result<(String, Arc<ModelTokenizer>), CompletionError> {
        match self.engine.ready().await {
            ModelState::Ready { info, tokenizer } => Ok((info.name, tokenizer)),
            ModelState::Failed(message) => Err(CompletionError::ModelUnavailable(message)),
            ModelState::Loading => Err(CompletionError::ModelUnavailable("the model is still loading".into())),
        }
    }

    /// The prompt a request would send, as text: for seeing what the model sees.
    pub async fn prompt_text(&self, request: Request<'_>) -> Result<String, CompletionError> {
        let (model_name, tokenizer) = self.model().await?;
        let template = self.template(&tokenizer, &model_name)?;
        let prompt = self.prompt(&tokenizer, &template, request).await?;
        Ok(tokenizer.detokenize(&prompt.tokens))
    }

    /// Remembers a suggestion as shown, for typing through it.
    fn shown(&self, seen: &Option<(&str, Place)>, suggestion: Suggestion) -> Suggestion {
        if let Some((document, place)) = seen.as_ref().filter(|_| !suggestion.text.is_empty()) {
            self.with_cache(|c| c.shown(document, place, &suggestion.text));
        }
        suggestion
    }

    /// Builds the prompt off the async threads: tokenizing a window and gathering context is CPU work.
    async fn prompt(
        &self,
        tokenizer: &Arc<ModelTokenizer>,
        template: &Template,
        request: Request<'_>,
    ) -> Result<Prompt, CompletionError> {
        let budget = self.budget();
        let (tokenizer, template, workspace) = (tokenizer.clone(), template.clone(), self.workspace.clone());
        let (rope, cursor) = (request.rope.clone(), request.cursor);
        let (key, syntax) = (request.document.map(str::to_owned), request.syntax.cloned());
        let prompt = tokio::task::spawn_blocking(move || {
            let request = Request { rope: &rope, cursor, document: key.as_deref(), syntax: syntax.as_ref() };
            build_prompt(tokenizer.as_ref(), &template, &workspace, request, budget)
        })
        .await
        .map_err(|e| EngineError::Panicked(e.to_string()))??;
        Ok(prompt)
    }

    /// Lets a job finish in the background, and caches its text.
    fn finish_in_background(&self, mut events: tokio::sync::mpsc::UnboundedReceiver<Event>, mut raw: String, key: u64) {
        let (done, watcher) = watch::channel(None);
        if let Ok(mut running) = self.running.lock() {
            running.insert(key, watcher);
        }
        let (cache, running) = (self.cache.clone(), self.running.clone());
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                match event {
                    Event::Text(text) => raw.push_str(&text),
                    Event::Done { reason, .. } if reason != StopReason::Cancelled => {
                        if let Ok(mut cache) = cache.lock() {
                            cache.put(key, raw.clone());
                        }
                        let _ = done.send(Some(raw));
                        break;
                    }
                    _ => break,
                }
            }
            if let Ok(mut running) = running.lock() {
                running.remove(&key);
            }
        });
    }

    /// Computes, at idle priority, the suggestion that follows once `accepted` is accepted.
    fn prefetch(
        &self,
        request: Request<'_>,
        accepted: &str,
        tokenizer: Arc<ModelTokenizer>,
        template: Template,
        serial: u64,
    ) {
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
            let cursor = cursor + n_accepted;
            let request = Request { rope: &rope, cursor, document: owner.as_deref(), syntax: syntax.as_ref() };
            let Ok(prompt) = this.prompt(&tokenizer, &template, request).await else { return };
            let site = Site::new(&rope, cursor, this.config.max_lines as usize, syntax.as_ref());
            let stop = site.mode.stop_sequences();
            let max_tokens = this.config.max_tokens as usize;
            let key = cache::key(&prompt.tokens, &stop, max_tokens);
            if this.with_cache(|c| c.get(key)).flatten().is_some() {
                return;
            }
            let job = GenerateRequest {
                prompt: prompt.tokens,
                max_tokens,
                stop,
                cancel: CancelToken::default(),
                owner,
                priority: PriorityHandle::new(Priority::Background),
                grammar: None,
            };
            this.finish_in_background(this.engine.generate(job), String::new(), key);
        });
    }
}

/// The window around the cursor, the context that fits beside it (when the budget has room for
/// context and the request names its document), and the template around both. CPU work: keep it
/// off the async threads.
pub fn build_prompt(
    tokenizer: &dyn Tokenizer,
    template: &Template,
    workspace: &Workspace,
    request: Request<'_>,
    budget: Budget,
) -> Result<Prompt, TemplateError> {
    let (rope, cursor) = (request.rope, request.cursor.min(request.rope.len_chars()));
    let window = prompt::window(tokenizer, template, rope, cursor, budget)?;
    let context = match request.document {
        Some(key) if budget.n_context_tokens > 0 => workspace.gather(&context::Request {
            key,
            rope,
            syntax: request.syntax,
            cursor,
            window: window.prefix_start..window.suffix_end,
        }),
        _ => Context::default(),
    };
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
