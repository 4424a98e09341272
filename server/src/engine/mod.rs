//! The inference engine: one dedicated thread owns the llama.cpp backend, the
//! model and the context. Jobs arrive over a channel; text streams back.
//!
//! Invariants: no llama.cpp call runs on a tokio thread except tokenizing
//! (read-only, thread-safe); a job whose receiver is gone or whose token is
//! cancelled stops at the next decode step; a panic inside a job fails that job
//! only and resets the KV cache.

mod kv;
mod stats;
mod tokenizer;
mod worker;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, watch};

use crate::config::EngineConfig;
use crate::prompt::TokenId;

pub use kv::{CachedTokens, ReusePlan};
pub use stats::{CacheHit, CompletionStats, EngineCounters};
pub use tokenizer::ModelTokenizer;

/// Facts about the loaded model, for templates and `nib/status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub name: String,
    pub architecture: String,
    pub n_bytes: u64,
    pub n_ctx_train: u32,
    pub has_fim_tokens: bool,
}

/// Where the model stands.
#[derive(Debug, Clone)]
pub enum ModelState {
    Loading,
    Ready { info: ModelInfo, tokenizer: Arc<ModelTokenizer> },
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
    #[error("the engine has stopped")]
    Stopped,
}

/// A shared flag that stops a job at its next decode step.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn same_as(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
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
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndOfGeneration,
    MaxTokens,
    StopSequence,
    Cancelled,
}

/// What a job sends back, in order: any number of `Text`, then one `Done` or `Failed`.
#[derive(Debug, Clone)]
pub enum Event {
    Text(String),
    Done { reason: StopReason, stats: CompletionStats },
    Failed(EngineError),
}

struct Job {
    request: GenerateRequest,
    events: mpsc::UnboundedSender<Event>,
    submitted: Instant,
}

/// Loads only `model_path`'s vocabulary, for tools that build prompts without running the model.
pub fn load_tokenizer(model_path: &std::path::Path) -> Result<ModelTokenizer, EngineError> {
    worker::load_vocabulary(model_path).map(|model| ModelTokenizer::new(Arc::new(model)))
}

/// A handle to the engine thread. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    jobs: std::sync::mpsc::Sender<Job>,
    state: watch::Receiver<ModelState>,
    counters: Arc<Mutex<EngineCounters>>,
}

impl Engine {
    /// Starts the engine thread, which loads `model_path` and then serves jobs.
    pub fn start(config: EngineConfig, model_path: PathBuf) -> Engine {
        let (jobs, job_rx) = std::sync::mpsc::channel();
        let (state_tx, state) = watch::channel(ModelState::Loading);
        let counters = Arc::new(Mutex::new(EngineCounters::default()));
        let worker_counters = counters.clone();
        let spawned = std::thread::Builder::new().name("nib-engine".into()).spawn(move || {
            worker::run(config, model_path, state_tx, job_rx, worker_counters);
        });
        if let Err(err) = spawned {
            tracing::error!("cannot start the engine thread: {err}");
        }
        Engine { jobs, state, counters }
    }

    /// Queues a job. The receiver yields its events; dropping it cancels the job.
    pub fn generate(&self, request: GenerateRequest) -> mpsc::UnboundedReceiver<Event> {
        let (events, rx) = mpsc::unbounded_channel();
        let job = Job { request, events, submitted: Instant::now() };
        if let Err(std::sync::mpsc::SendError(job)) = self.jobs.send(job) {
            let _ = job.events.send(Event::Failed(EngineError::Stopped));
        }
        rx
    }

    pub fn state(&self) -> ModelState {
        self.state.borrow().clone()
    }

    /// Waits until the model has loaded or failed to.
    pub async fn ready(&self) -> ModelState {
        let mut state = self.state.clone();
        let settled = state.wait_for(|s| !matches!(s, ModelState::Loading)).await.map(|s| s.clone());
        settled.unwrap_or_else(|_| ModelState::Failed("the engine thread has stopped".into()))
    }

    pub fn counters(&self) -> EngineCounters {
        self.counters.lock().map(|c| c.clone()).unwrap_or_default()
    }
}
