//! Remote engines: llama.cpp's `llama-server` and OpenAI-compatible servers (vLLM, SGLang, TGI, Ollama, LM
//! Studio, llama-server's `/v1`) behind the same `Engine` as the in-process one. nib keeps its prompts,
//! caches and post-processing; the server only runs the model.
//!
//! Invariants: nothing leaves the machine unless a remote backend is configured; a request never waits longer
//! than `timeout_ms` to connect or for the next piece of its answer; every failure answers its job and shows
//! in the engine's health with the URL; after one, requests fail at once while backing off, and the first
//! after that tries again (so nib comes back on its own with the server); a job whose token is cancelled or
//! whose receiver is gone drops its HTTP request, which closes it, so the server stops generating; the bearer
//! token goes only into the Authorization header, never into logs, errors or status.

mod api;
mod http;
pub mod sse;
mod vocab;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{Semaphore, mpsc, oneshot};

use api::Api;
use nib_engine::{
    Backend, BackendKind, CacheHit, CompletionStats, Engine, EngineConfig, EngineError, Event, GenerateRequest, Link,
    ModelState, Priority, ScoreRequest, Scores, StopReason,
};

pub use http::HttpError;

/// Backing off after a failure: doubling from this, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a running job looks at its cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(10);

/// Starts an engine whose jobs `config.url` runs. `vocabulary`: a local GGUF whose vocabulary counts prompt
/// tokens for an OpenAI-compatible server (which has no tokenizer endpoint); without it, an estimate.
/// It returns at once; the server is asked what it runs in the background, and again until it answers.
pub fn start(config: &EngineConfig, vocabulary: Option<PathBuf>, guard: Option<TextGuard>) -> Engine {
    let destination = config.url.trim_end_matches('/').to_owned();
    let setup = Setup { guard, ..Setup::new(config, vocabulary) };
    Engine::with_backend(&destination, |link| Remote::start(setup, link))
}

/// What the backend needs before it runs: the server, and what to tell the user if it cannot be used.
struct Setup {
    kind: BackendKind,
    server: Result<http::Server, String>,
    remote_model: String,
    vocabulary: Option<PathBuf>,
    guard: Option<TextGuard>,
}

/// What text goes through before the server's tokenizer sees it (secrets redacted): a prompt is counted before
/// the plugins' hooks have seen it, and counting must not send what the hooks would keep from the server.
pub type TextGuard = fn(&str) -> String;

impl Setup {
    fn new(config: &EngineConfig, vocabulary: Option<PathBuf>) -> Setup {
        let token = match config.api_key_env.as_str() {
            "" => Ok(None),
            name => {
                std::env::var(name).map(Some).map_err(|_| format!("engine.api_key_env names ${name}, which is not set"))
            }
        };
        let timeout = Duration::from_millis(u64::from(config.timeout_ms.max(1)));
        let server = token.and_then(|token| http::Server::new(&config.url, token.as_deref(), timeout));
        Setup { kind: config.backend, server, remote_model: config.remote_model.clone(), vocabulary, guard: None }
    }
}

struct Remote {
    link: Arc<Link>,
    /// Owned here so that the engine works whatever runtime (if any) its callers run on.
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    api: Arc<Mutex<Option<Arc<Api>>>>,
    /// Background work (prefetch, warm-ahead, review) takes one request at a time, leaving the server's other
    /// slots to completions a user waits for.
    background: Arc<Semaphore>,
}

impl Remote {
    fn start(setup: Setup, link: Link) -> Arc<dyn Backend> {
        let link = Arc::new(link);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("nib-remote")
            .enable_all()
            .build();
        let runtime = match runtime {
            Ok(runtime) => runtime,
            Err(err) => {
                link.set_state(ModelState::Failed(format!("cannot start the remote engine's threads: {err}")));
                link.stopped();
                return Arc::new(Refused);
            }
        };
        let remote = Remote {
            link: link.clone(),
            handle: runtime.handle().clone(),
            runtime: Mutex::new(Some(runtime)),
            api: Arc::default(),
            background: Arc::new(Semaphore::new(1)),
        };
        match setup.server {
            Err(problem) => link.set_state(ModelState::Failed(problem)),
            Ok(server) => {
                let (api, handle) = (remote.api.clone(), remote.handle.clone());
                let (kind, model, vocabulary) = (setup.kind, setup.remote_model, setup.vocabulary);
                remote.handle.spawn(connect(server, (kind, model, vocabulary, setup.guard), link, api, handle));
            }
        }
        Arc::new(remote)
    }
}

/// Asks the server what it runs until it answers, backing off; then the model is ready.
async fn connect(
    server: http::Server,
    (kind, model, vocabulary, guard): (BackendKind, String, Option<PathBuf>, Option<TextGuard>),
    link: Arc<Link>,
    slot: Arc<Mutex<Option<Arc<Api>>>>,
    handle: tokio::runtime::Handle,
) {
    let mut n_failures = 0;
    loop {
        match Api::connect(server.clone(), kind, &model, vocabulary.as_deref(), (handle.clone(), guard)).await {
            Ok((api, info, tokenizer)) => {
                tracing::info!(url = server.base(), model = %info.name, "remote engine ready");
                *slot.lock() = Some(Arc::new(api));
                link.healthy();
                link.set_state(ModelState::Ready { info, tokenizer });
                return;
            }
            Err(err) => {
                n_failures += 1;
                let wait = backoff(n_failures);
                let problem = format!("{} engine: {err}", kind.name());
                tracing::warn!("{problem}; asking again in {} ms", wait.as_millis());
                link.failed(problem.clone(), Some(Instant::now() + wait));
                // A server still loading its model (503) will be ready: callers wait for it, as for a local one.
                if !matches!(err, HttpError::Status { status: 503, .. }) {
                    link.set_state(ModelState::Failed(problem));
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

fn backoff(n_failures: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(1 << n_failures.saturating_sub(1).min(16)).min(MAX_BACKOFF)
}

impl Backend for Remote {
    fn submit(&self, request: GenerateRequest, events: mpsc::UnboundedSender<Event>, submitted: Instant) {
        let fail = |err: EngineError| {
            self.link.count(|c| {
                c.n_jobs += 1;
                c.n_failed += 1;
            });
            let _ = events.send(Event::Failed(err));
        };
        let api = self.api.lock().clone();
        let Some(api) = api else {
            return fail(match self.link.state() {
                ModelState::Failed(problem) => EngineError::ModelUnavailable(problem),
                _ => EngineError::ModelUnavailable("the server has not answered yet".into()),
            });
        };
        if let Some(problem) = self.link.backing_off() {
            return fail(EngineError::Remote(problem));
        }
        let (link, background) = (self.link.clone(), self.background.clone());
        self.handle.spawn(async move {
            let _permit = match request.priority.get() {
                Priority::Background => background.acquire_owned().await.ok(),
                _ => None,
            };
            link.count(|c| c.n_jobs += 1);
            if request.cancel.is_outdated() || events.is_closed() {
                link.count(|c| c.n_dropped += 1);
                let _ = events.send(Event::Done { reason: StopReason::Cancelled, stats: CompletionStats::default() });
                return;
            }
            // A sampled alternative is extra to the suggestion the user waited for, whose figures `last` keeps.
            let foreground = request.priority.get() == Priority::Foreground && request.sampling.is_none();
            let outcome = run(&api, &request, &events, submitted, &link).await;
            let event = match outcome {
                Ok((reason, stats)) => {
                    link.count(|c| {
                        c.record(&stats, foreground);
                        if reason == StopReason::Cancelled { c.n_cancelled += 1 } else { c.n_completed += 1 }
                    });
                    Event::Done { reason, stats }
                }
                Err(err) => {
                    let problem = err.to_string();
                    tracing::warn!("{problem}");
                    let retry_at = (!err.is_request_error()).then(|| Instant::now() + backoff(link.n_failures() + 1));
                    link.failed(problem.clone(), retry_at);
                    link.count(|c| c.n_failed += 1);
                    Event::Failed(EngineError::Remote(problem))
                }
            };
            let _ = events.send(event);
        });
    }

    fn scoring(&self) -> Result<(), String> {
        match self.api.lock().clone() {
            Some(api) => api.scoring(),
            None => Err("not known until the server answers".into()),
        }
    }

    fn score(&self, request: ScoreRequest, answer: oneshot::Sender<Scores>) {
        let api = self.api.lock().clone();
        let Some(api) = api.filter(|api| api.scoring().is_ok()) else {
            let why = self.scoring().err().unwrap_or_default();
            let _ = answer.send(Err(EngineError::Unsupported(why)));
            return;
        };
        let Some((context, span)) = request.text.clone() else {
            let _ = answer.send(Err(EngineError::Unsupported("a server scores text, and none was given".into())));
            return;
        };
        let link = self.link.clone();
        self.handle.spawn(async move {
            // Dropping the request (the receiver gone, or the job cancelled) closes it.
            let scored = tokio::select! {
                scored = api.score(&context, &span, request.top_k) => scored,
                () = async {
                    while !request.cancel.is_cancelled() && !answer.is_closed() {
                        tokio::time::sleep(CANCEL_POLL).await;
                    }
                } => return,
            };
            let scores = scored.map_err(|err| {
                link.count(|c| c.n_failed += 1);
                EngineError::Remote(err.to_string())
            });
            let _ = answer.send(scores);
        });
    }

    fn stop(&self) {
        // Dropping the runtime's tasks drops their requests, which closes them.
        let runtime = self.runtime.lock().take();
        if let Some(runtime) = runtime {
            runtime.shutdown_background();
        }
        self.link.stopped();
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // A runtime may not be dropped (blocking) inside another's tasks.
        if let Some(runtime) = self.runtime.get_mut().take() {
            runtime.shutdown_background();
        }
    }
}

/// A backend that could not start: every job fails.
struct Refused;

impl Backend for Refused {
    fn submit(&self, _: GenerateRequest, events: mpsc::UnboundedSender<Event>, _: Instant) {
        let _ = events.send(Event::Failed(EngineError::Stopped));
    }

    fn stop(&self) {}
}

/// Resolves once nobody wants more of the answer: cancelled, outdated, enough, or the receiver gone.
async fn stopped(request: &GenerateRequest, events: &mpsc::UnboundedSender<Event>) {
    while !request.cancel.is_outdated() && !events.is_closed() {
        tokio::time::sleep(CANCEL_POLL).await;
    }
}

/// One job through the server: its text streamed back, cut at the first stop sequence.
async fn run(
    api: &Api,
    request: &GenerateRequest,
    events: &mpsc::UnboundedSender<Event>,
    submitted: Instant,
    link: &Link,
) -> Result<(StopReason, CompletionStats), HttpError> {
    let mut stats = CompletionStats { n_prompt_tokens: request.prompt.len(), ..CompletionStats::default() };
    // Dropping the request closes it: the server stops generating.
    let stopped_reason = || if request.cancel.is_enough() { StopReason::Enough } else { StopReason::Cancelled };
    let mut stream = tokio::select! {
        stream = api.generate(request) => stream?,
        () = stopped(request, events) => return Ok((stopped_reason(), stats)),
    };
    // The server answered: a job cancelled before this proves nothing about it.
    link.healthy();
    let _ = events.send(Event::Started { n_evaluate: 0 });
    let mut text = String::new();
    let reason = loop {
        let piece = tokio::select! {
            piece = stream.next() => piece?,
            () = stopped(request, events) => break stopped_reason(),
        };
        let Some(piece) = piece else {
            return Err(HttpError::Broken {
                url: api.url().to_owned(),
                reason: "the answer ended before the server said it was done".into(),
            });
        };
        // Each token's probability goes before its text (a piece usually holds one token).
        for &logprob in &piece.logprobs {
            let _ = events.send(Event::Logprob(logprob));
        }
        if !piece.text.is_empty() {
            if stats.ttft_ms == 0.0 {
                stats.ttft_ms = submitted.elapsed().as_secs_f64() * 1000.0;
            }
            let from = text.len();
            text.push_str(&piece.text);
            // Servers apply stop sequences too, but not all of them (OpenAI takes four).
            if let Some(at) = first_stop(&text, from, &request.stop) {
                if at > from {
                    let _ = events.send(Event::Text(text[from..at].to_owned()));
                }
                stats.n_generated_tokens += 1;
                break StopReason::StopSequence;
            }
            let _ = events.send(Event::Text(piece.text));
        }
        if let Some(end) = piece.end {
            stats.n_generated_tokens = end.n_generated.unwrap_or(stats.n_generated_tokens);
            if let Some(n) = end.n_prompt {
                stats.n_prompt_tokens = n;
            }
            stats.n_reused_tokens = end.n_reused.unwrap_or(0);
            stats.n_evaluated_tokens =
                end.n_evaluated.unwrap_or(stats.n_prompt_tokens - stats.n_reused_tokens.min(stats.n_prompt_tokens));
            break end.reason;
        }
        stats.n_generated_tokens += 1;
    };
    stats.cache = if stats.n_reused_tokens > 0 { CacheHit::Hot } else { CacheHit::Cold };
    stats.total_ms = submitted.elapsed().as_secs_f64() * 1000.0;
    if stats.ttft_ms == 0.0 {
        stats.ttft_ms = stats.total_ms;
    }
    Ok((reason, stats))
}

/// Where the first stop sequence in `text` begins, looking only where the text from `from` on could be in it.
fn first_stop(text: &str, from: usize, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let mut start = from.saturating_sub(s.len() - 1);
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            text[start..].find(s.as_str()).map(|i| start + i)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_sequences_are_found_across_pieces() {
        let stops = vec!["\n\n".to_owned(), "def ".to_owned()];
        assert_eq!(first_stop("x = 1\n\n", 6, &stops), Some(5));
        assert_eq!(first_stop("x = 1\nde", 6, &stops), None);
        assert_eq!(first_stop("x = 1\ndef f", 8, &stops), Some(6));
        assert_eq!(first_stop("é\n\n", 2, &stops), Some(2));
    }

    #[test]
    fn backing_off_doubles_up_to_a_limit() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
