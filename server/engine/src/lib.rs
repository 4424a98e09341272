//! The inference engine: one dedicated thread owns the llama.cpp backend, the
//! model and the context. Jobs arrive over a channel; text streams back.
//!
//! Invariants: no llama.cpp call runs on a tokio thread except tokenizing
//! (read-only, thread-safe); a job whose receiver is gone or whose token is
//! cancelled stops at the next decode step; a panic inside a job fails that job
//! only and resets the KV cache.

mod backend;
mod config;
mod devices;
mod kv;
mod logprobs;
mod lookup;
mod slots;
mod snapshots;
mod stats;
mod tokenizer;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use nib_vocab::{TokenId, Tokenizer};

use backend::Shared;
pub use backend::{Backend, EngineHealth, Link};
pub use config::{BackendKind, EngineConfig};
pub use devices::{Device, built_backends, devices};
pub use kv::{CachedTokens, ReusePlan, Shift};
pub use snapshots::{model_id, model_sha256};
pub use stats::{CacheHit, CompletionStats, EngineCounters, quantile};
pub use tokenizer::ModelTokenizer;

/// Facts about the loaded model, for templates and `nib/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    /// Identifies the file cheaply (size and a hash of its start): cache keys use it.
    pub id: String,
    pub name: String,
    pub architecture: String,
    pub n_bytes: u64,
    pub n_ctx_train: u32,
    pub has_fim_tokens: bool,
    /// 0 when unknown (a remote model).
    pub n_params: u64,
    pub n_layers: u32,
    /// The GGUF's file type ("Q4_1", "Q4_K_M"...); empty when unknown.
    pub quantization: String,
    pub sliding_window: bool,
    /// Layers offloaded to `device`, at most `n_layers`.
    pub n_gpu_layers: u32,
    /// Where the layers run: "CPU", or a device's name ("CUDA0"); empty for a remote model.
    pub device: String,
}

/// A model's vocabulary as the pipelines use it: for prompts, and to lay out chat messages.
pub trait Vocabulary: Tokenizer + Send + Sync + std::fmt::Debug {
    /// A system and a user message in the model's chat template, ready for the answer; `None` when the
    /// model has no template the engine can apply.
    fn chat(&self, system: &str, user: &str) -> Option<String>;
}

/// Where the model stands. A remote server's may go from `Failed` back to `Ready` when it comes back.
#[derive(Debug, Clone)]
pub enum ModelState {
    Loading,
    Ready { info: ModelInfo, tokenizer: Arc<dyn Vocabulary> },
    Failed(String),
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    #[error("no model: {0}")]
    ModelUnavailable(String),
    #[error("the prompt ({n_prompt} tokens) does not fit the context ({n_ctx} tokens)")]
    PromptTooLong { n_prompt: usize, n_ctx: usize },
    #[error("llama.cpp failed: {0}")]
    Llama(String),
    #[error("the job panicked: {0}")]
    Panicked(String),
    #[error("the output grammar is invalid: {0}")]
    Grammar(String),
    #[error("the engine has stopped")]
    Stopped,
    /// A remote server could not be reached or answered badly; the message names its URL.
    #[error("{0}")]
    Remote(String),
    /// Cancelled, or stopped to let a completion a user waits for go first; asking again resumes from the KV cache.
    #[error("the job was cancelled or yielded to a completion")]
    Cancelled,
    /// The backend cannot do what was asked (`Backend::scoring` says why).
    #[error("{0}")]
    Unsupported(String),
}

/// A shared flag that stops a job. `cancel`: at its next decode step. `outdate`: its answer is no longer
/// wanted but its prompt may be (text typed since usually extends it), so a job already evaluating its prompt
/// finishes that (yielding to any waiting completion) and stops before generating; a queued job is dropped.
/// `enough`: the caller has all the text it wants; the job stops generating and ends `Enough`, not `Cancelled`.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicU8>);

const OUTDATED: u8 = 1;
const ENOUGH: u8 = 2;
const CANCELLED: u8 = 3;

impl CancelToken {
    pub fn cancel(&self) {
        self.0.fetch_max(CANCELLED, Ordering::Relaxed);
    }

    pub fn outdate(&self) {
        self.0.fetch_max(OUTDATED, Ordering::Relaxed);
    }

    pub fn enough(&self) {
        self.0.fetch_max(ENOUGH, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed) >= CANCELLED
    }

    /// Outdated, cancelled or done: nobody waits for more of the answer.
    pub fn is_outdated(&self) -> bool {
        self.0.load(Ordering::Relaxed) >= OUTDATED
    }

    /// Stopped because the caller had enough text, and by nothing else.
    pub fn is_enough(&self) -> bool {
        self.0.load(Ordering::Relaxed) == ENOUGH
    }

    pub fn same_as(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Completions a user waits for run first; a completion past its deadline (still wanted: someone will ask
/// again) goes on at full speed but yields to them; idle work (prefetch, warm-ahead, review) yields too, in
/// small steps so a completion never waits long behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Foreground = 0,
    Late = 1,
    Background = 2,
}

/// A job's priority, which its owner may change while it runs.
#[derive(Debug, Clone)]
pub struct PriorityHandle(Arc<AtomicU8>);

impl PriorityHandle {
    pub fn new(priority: Priority) -> PriorityHandle {
        PriorityHandle(Arc::new(AtomicU8::new(priority as u8)))
    }

    pub fn get(&self) -> Priority {
        match self.0.load(Ordering::Acquire) {
            0 => Priority::Foreground,
            1 => Priority::Late,
            _ => Priority::Background,
        }
    }

    pub fn set(&self, priority: Priority) {
        self.0.store(priority as u8, Ordering::Release);
    }
}

/// One generation job.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub prompt: Vec<TokenId>,
    pub max_tokens: usize,
    /// Generation ends when the text contains one of these; it is cut before it.
    pub stop: Vec<String>,
    pub cancel: CancelToken,
    /// The document the prompt is for: its KV sequence and snapshot are kept together.
    pub owner: Option<String>,
    pub priority: PriorityHandle,
    /// A GBNF grammar the output must follow (root rule `root`): structured answers whatever the prompt says.
    pub grammar: Option<Arc<str>>,
    /// The same constraint as a JSON schema, for servers that take one instead (OpenAI's `response_format`).
    pub schema: Option<Arc<serde_json::Value>>,
    /// The prompt as text, for engines that take text; the in-process engine reads only `prompt`.
    pub text: PromptText,
    /// How each token is picked; `None`: greedily, so the same prompt always gives the same text.
    pub sampling: Option<Sampling>,
}

impl GenerateRequest {
    /// Nobody waits for the answer (its receiver is `closed`, or it is outdated); its prompt may still be worth
    /// having in the cache.
    pub fn unwanted(&self, closed: bool) -> bool {
        self.cancel.is_outdated() || closed
    }

    /// Only a completion a user waits for holds the engine against the next one.
    fn yields(&self, closed: bool) -> bool {
        self.priority.get() != Priority::Foreground || self.unwanted(closed)
    }

    /// Whether a job evaluating its prompt stops at this step: cancelled, or it yields and a completion
    /// (`completion_waits`) is queued. An outdated job finishes its prompt unless a completion waits.
    pub fn stops_evaluating(&self, closed: bool, completion_waits: bool) -> bool {
        self.cancel.is_cancelled() || (self.yields(closed) && completion_waits)
    }

    /// Whether a job stops before its next token: unwanted, or it yields and a completion is queued.
    pub fn stops_generating(&self, closed: bool, completion_waits: bool) -> bool {
        self.unwanted(closed) || (self.yields(closed) && completion_waits)
    }
}

/// Which queued job a backend that runs one job at a time starts next: the first completion a user waits for,
/// in arrival order, else the oldest. `None` for an empty queue.
pub fn next_job(priorities: impl IntoIterator<Item = Priority>) -> Option<usize> {
    let mut oldest = None;
    for (i, priority) in priorities.into_iter().enumerate() {
        if priority == Priority::Foreground {
            return Some(i);
        }
        oldest.get_or_insert(i);
    }
    oldest
}

/// Random sampling, for alternatives to the greedy answer: the most likely `top_k` tokens, cut to those
/// within `top_p` of the probability, reweighed by `temperature`, one drawn from a generator seeded with `seed`
/// (the same seed and prompt give the same text on one engine).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub temperature: f32,
    pub top_k: u32,
    pub top_p: f32,
    pub seed: u32,
}

/// A prompt as remote servers take it: they tokenize it themselves, and some lay out a fill-in-the-middle
/// prompt from its parts.
#[derive(Debug, Clone, Default)]
pub enum PromptText {
    /// Only tokens.
    #[default]
    None,
    /// A completion: the whole prompt as text, and its parts when it fills in the middle.
    Completion { text: String, infill: Option<Infill> },
    /// A system and a user message, for chat endpoints.
    Chat { system: String, user: String },
}

/// A fill-in-the-middle prompt's parts: the text around the cursor, and other files' snippets.
#[derive(Debug, Clone, Default)]
pub struct Infill {
    pub prefix: String,
    pub suffix: String,
    /// (path, text) of each snippet.
    pub extra: Vec<(String, String)>,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndOfGeneration,
    MaxTokens,
    StopSequence,
    /// Stopped by its caller, which had all the text it wanted: a complete answer.
    Enough,
    /// Superseded or cancelled: the text, if any, is for a document that is gone.
    Cancelled,
    /// The request's time budget ran out; generation went on in the background.
    Deadline,
    /// Answered with the start of the suggestion (`partial_after_ms`); generation went on in the background.
    Partial,
    /// Answered from the completion cache.
    Cached,
    /// Answered at once, empty: the document's prompt is still being evaluated for an earlier request.
    Evaluating,
    /// Answered from a short window around the cursor (a cold prompt); the whole window is evaluated behind it.
    ShortWindow,
}

/// What a job sends back, in order: `Started` once it reaches the model, any number of `Text`, then one
/// `Done` or `Failed`.
#[derive(Debug, Clone)]
pub enum Event {
    /// How many prompt tokens it must evaluate (those not found in the KV cache).
    Started {
        n_evaluate: usize,
    },
    /// The natural log-probability the model gave the next generated token (from its logits, before sampling
    /// reshaped them), sent before that token's text. The text may come in a later `Text` (a character split
    /// across tokens) or be cut by a stop sequence. A backend that cannot tell sends none.
    Logprob(f32),
    Text(String),
    Done {
        reason: StopReason,
        stats: CompletionStats,
    },
    Failed(EngineError),
}

/// Text to score: each token of `tokens[n_context..]` gets its log-probability given every token before it,
/// and the most likely tokens at its place, from one evaluation with logits at every position.
#[derive(Debug, Clone)]
pub struct ScoreRequest {
    pub tokens: Vec<TokenId>,
    /// Tokens before the span, evaluated but not scored; at least 1 (the first token follows nothing).
    pub n_context: usize,
    /// Alternatives per position (the most likely tokens there); 0 for none.
    pub top_k: usize,
    /// The context and the span as text, for servers that tokenize themselves; the in-process engine reads
    /// only `tokens`.
    pub text: Option<(String, String)>,
    /// The document the tokens are from: its KV sequence is reused and kept.
    pub owner: Option<String>,
    pub priority: PriorityHandle,
    pub cancel: CancelToken,
}

/// One scored token of a span: its text, how likely the model found it there, and what it expected.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TokenScore {
    pub text: String,
    /// Natural log-probability, at most 0.
    pub logprob: f32,
    /// The most likely tokens at this position, most likely first (`ScoreRequest::top_k` of them).
    pub top: Vec<Alternative>,
}

/// A token the model could have put at a position.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alternative {
    pub text: String,
    pub logprob: f32,
}

/// A span's scores, or why there are none.
pub type Scores = Result<Vec<TokenScore>, EngineError>;

/// A job queued for the in-process engine.
struct Job {
    work: Work,
    submitted: Instant,
    /// Counted in `Shared::pending_foreground` when queued.
    counted_foreground: bool,
}

/// What a job asks for, and where its answer goes.
enum Work {
    Generate { request: GenerateRequest, events: mpsc::UnboundedSender<Event> },
    Score { request: ScoreRequest, answer: oneshot::Sender<Scores> },
}

impl Job {
    fn new(work: Work, submitted: Instant) -> Job {
        let mut job = Job { work, submitted, counted_foreground: false };
        job.counted_foreground = job.priority() == Priority::Foreground;
        job
    }

    fn priority(&self) -> Priority {
        match &self.work {
            Work::Generate { request, .. } => request.priority.get(),
            Work::Score { request, .. } => request.priority.get(),
        }
    }

    /// Its answer is no longer wanted: it never reaches the model.
    fn is_stale(&self) -> bool {
        match &self.work {
            Work::Generate { request, events } => request.unwanted(events.is_closed()),
            Work::Score { request, answer } => request.cancel.is_outdated() || answer.is_closed(),
        }
    }

    fn fail(self, err: EngineError) {
        match self.work {
            Work::Generate { events, .. } => {
                let _ = events.send(Event::Failed(err));
            }
            Work::Score { answer, .. } => {
                let _ = answer.send(Err(err));
            }
        }
    }
}

enum Msg {
    Run(Box<Job>),
    /// Save every sequence to disk, then answer.
    Persist(tokio::sync::oneshot::Sender<()>),
    /// Load this model instead of one that failed to load.
    Load(PathBuf),
    /// Fail what is queued, free llama.cpp's context and end the thread.
    Stop,
}

/// The in-process engine: a thread that owns llama.cpp.
struct Local {
    messages: std::sync::mpsc::Sender<Msg>,
    shared: Arc<Shared>,
}

impl Local {
    fn queue(&self, job: Job) {
        if job.counted_foreground {
            self.shared.pending_foreground.fetch_add(1, Ordering::AcqRel);
        }
        if let Err(std::sync::mpsc::SendError(Msg::Run(job))) = self.messages.send(Msg::Run(Box::new(job))) {
            if job.counted_foreground {
                self.shared.pending_foreground.fetch_sub(1, Ordering::AcqRel);
            }
            job.fail(EngineError::Stopped);
        }
    }
}

impl Backend for Local {
    fn submit(&self, request: GenerateRequest, events: mpsc::UnboundedSender<Event>, submitted: Instant) {
        self.queue(Job::new(Work::Generate { request, events }, submitted));
    }

    fn score(&self, request: ScoreRequest, answer: oneshot::Sender<Scores>) {
        self.queue(Job::new(Work::Score { request, answer }, Instant::now()));
    }

    fn scoring(&self) -> Result<(), String> {
        Ok(())
    }

    fn persist(&self, done: tokio::sync::oneshot::Sender<()>) {
        if let Err(std::sync::mpsc::SendError(Msg::Persist(done))) = self.messages.send(Msg::Persist(done)) {
            let _ = done.send(());
        }
    }

    fn load(&self, model_path: PathBuf) -> bool {
        self.messages.send(Msg::Load(model_path)).is_ok()
    }

    fn stop(&self) {
        let _ = self.messages.send(Msg::Stop);
    }
}

/// Loads only `model_path`'s vocabulary, for tools that build prompts without running the model.
pub fn load_tokenizer(model_path: &std::path::Path) -> Result<ModelTokenizer, EngineError> {
    worker::load_vocabulary(model_path).map(|model| ModelTokenizer::new(Arc::new(model)))
}

/// A handle to the engine, in-process or remote. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    backend: Arc<dyn Backend>,
    state: watch::Receiver<ModelState>,
    shared: Arc<Shared>,
    /// Becomes true once the backend has ended.
    stopped: watch::Receiver<bool>,
}

impl Engine {
    /// Starts the in-process engine thread, which loads `model_path` and then serves jobs. KV snapshots go on
    /// disk under `snapshot_dir`.
    pub fn start(config: EngineConfig, model_path: PathBuf, snapshot_dir: PathBuf) -> Engine {
        Engine::with_backend("local", |link| {
            let (messages, message_rx) = std::sync::mpsc::channel();
            let shared = link.shared.clone();
            let spawned = std::thread::Builder::new().name("nib-engine".into()).spawn(move || {
                let Link { state, shared, stopped } = link;
                worker::run(config, model_path, snapshot_dir, state, message_rx, shared, stopped);
            });
            if let Err(err) = spawned {
                tracing::error!("cannot start the engine thread: {err}");
            }
            Arc::new(Local { messages, shared })
        })
    }

    /// An engine whose jobs `make`'s backend runs; `destination` says where prompts go ("local" or a URL).
    pub fn with_backend(destination: &str, make: impl FnOnce(Link) -> Arc<dyn Backend>) -> Engine {
        let (state_tx, state) = watch::channel(ModelState::Loading);
        let (stopped_tx, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(destination));
        let backend = make(Link { state: state_tx, shared: shared.clone(), stopped: stopped_tx });
        Engine { backend, state, shared, stopped }
    }

    /// Stops the backend once its current job yields (cancel jobs first to make that soon) and waits, at most
    /// `timeout`, until it has ended: a process must not exit while llama.cpp runs.
    pub async fn stop(&self, timeout: Duration) {
        self.backend.stop();
        let mut stopped = self.stopped.clone();
        let _ = tokio::time::timeout(timeout, stopped.wait_for(|s| *s)).await;
    }

    /// Loads `model_path` in place of a model that failed to load (one missing at start, downloaded or chosen
    /// since): the state goes back to `Loading`, then `Ready` or `Failed`, and the jobs that follow use it. False
    /// when this engine cannot (a remote one: its server has the model). A model that did load stays.
    /// Returns once the engine has taken the model up (its state no longer the old failure).
    pub async fn load(&self, model_path: PathBuf) -> bool {
        let mut state = self.state.clone();
        if !matches!(*state.borrow_and_update(), ModelState::Failed(_)) || !self.backend.load(model_path) {
            return false;
        }
        state.changed().await.is_ok()
    }

    /// Queues a job. The receiver yields its events; dropping it cancels the job.
    pub fn generate(&self, request: GenerateRequest) -> mpsc::UnboundedReceiver<Event> {
        let (events, rx) = mpsc::unbounded_channel();
        self.backend.submit(request, events, Instant::now());
        rx
    }

    /// Scores a span of text (`ScoreRequest`): each token's log-probability and the model's alternatives. The
    /// answer comes once the whole span is evaluated; dropping the receiver cancels the job.
    pub fn score(&self, request: ScoreRequest) -> oneshot::Receiver<Scores> {
        let (answer, rx) = oneshot::channel();
        self.backend.score(request, answer);
        rx
    }

    /// Whether this engine can score text (`score`): `Err` says why not, for `nib doctor` and `nib/status`.
    pub fn scoring(&self) -> Result<(), String> {
        self.backend.scoring()
    }

    /// Saves the KV sequences to the disk tier, so the next start can restore them.
    /// Waits at most `timeout`: an exit must not hang on a long job.
    pub async fn persist(&self, timeout: Duration) {
        let (done, rx) = tokio::sync::oneshot::channel();
        self.backend.persist(done);
        let _ = tokio::time::timeout(timeout, rx).await;
    }

    pub fn state(&self) -> ModelState {
        self.state.borrow().clone()
    }

    /// Where prompts go, and whether the last request got there.
    pub fn health(&self) -> EngineHealth {
        let health = self.shared.health.lock();
        let mut out = health.0.clone();
        out.retry_in_ms =
            health.1.and_then(|at| at.checked_duration_since(Instant::now())).map(|d| d.as_millis() as u64);
        out
    }

    /// Waits until the model has loaded or failed to.
    pub async fn ready(&self) -> ModelState {
        let mut state = self.state.clone();
        let settled = state.wait_for(|s| !matches!(s, ModelState::Loading)).await.map(|s| s.clone());
        settled.unwrap_or_else(|_| ModelState::Failed("the engine thread has stopped".into()))
    }

    /// Records a completion answered without the model (from the completion cache).
    pub fn record_cache_answer(&self, stats: &CompletionStats) {
        self.shared.bump(|c| {
            c.n_cache_answers += 1;
            c.last = Some(stats.clone());
        });
    }

    /// Records a completion answered at its deadline; its figures come when its job ends.
    pub fn record_deadline_answer(&self) {
        self.shared.bump(|c| c.n_deadline_answers += 1);
    }

    /// Records a completion answered with the start of its suggestion; its figures come when its job ends.
    pub fn record_partial_answer(&self) {
        self.shared.bump(|c| c.n_partial_answers += 1);
    }

    /// Records an automatic request's suggestion held back: the model was unsure of it (`min_confidence`).
    pub fn record_held_back(&self) {
        self.shared.bump(|c| c.n_held_back += 1);
    }

    /// Records a completion answered at once while its document's prompt was still evaluating.
    pub fn record_evaluating_answer(&self) {
        self.shared.bump(|c| c.n_evaluating_answers += 1);
    }

    pub fn counters(&self) -> EngineCounters {
        self.shared.counters.lock().clone()
    }
}
