//! The seam between the pipelines and what runs the model: the in-process llama.cpp thread is one backend,
//! remote servers (`nib-remote`) are others. The pipelines see only `Engine`; a backend sees only jobs and
//! reports through its `Link`.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::{EngineCounters, EngineError, Event, GenerateRequest, ModelState, ScoreRequest, Scores};

/// Runs jobs. Every call returns at once: the work happens on the backend's own threads or tasks.
pub trait Backend: Send + Sync {
    /// Runs `request`, sending its events in order (`Started`, `Text`..., then `Done` or `Failed`) to
    /// `events`. A closed receiver or a cancelled token ends the job.
    fn submit(&self, request: GenerateRequest, events: mpsc::UnboundedSender<Event>, submitted: Instant);

    /// Scores a span of text, answering once (see `ScoreRequest`). A backend that cannot answers with why not.
    fn score(&self, request: ScoreRequest, answer: oneshot::Sender<Scores>) {
        let _ = request;
        let why = self.scoring().err().unwrap_or_else(|| "this backend cannot score text".into());
        let _ = answer.send(Err(EngineError::Unsupported(why)));
    }

    /// Whether `score` works: `Err` says why not (for `nib doctor` and `nib/status`: review by surprise needs it).
    fn scoring(&self) -> Result<(), String> {
        Err("this backend cannot score text".into())
    }

    /// Saves what the next start could reuse, then answers.
    fn persist(&self, done: oneshot::Sender<()>) {
        let _ = done.send(());
    }

    /// Loads this model in place of one that failed to load; false when the backend has no model of its own.
    fn load(&self, model_path: std::path::PathBuf) -> bool {
        let _ = model_path;
        false
    }

    /// Fails what is queued and ends; the backend sets `Link::stopped` once nothing of it runs any more.
    fn stop(&self);
}

/// Where prompts go and whether the last request got there: for `nib/status` and the editor's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EngineHealth {
    /// "local", or the server's URL.
    pub destination: String,
    /// What went wrong with the last request, until one succeeds.
    pub problem: Option<String>,
    /// Failures in a row.
    pub n_failures: u32,
    /// While backing off: requests fail at once until then.
    pub retry_in_ms: Option<u64>,
}

/// What the engine handle and its backend share.
pub(crate) struct Shared {
    pub(crate) counters: Mutex<EngineCounters>,
    pub(crate) health: Mutex<(EngineHealth, Option<Instant>)>,
    /// Foreground jobs queued in the in-process engine: its background work yields while there are any.
    pub(crate) pending_foreground: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(destination: &str) -> Shared {
        let health = EngineHealth { destination: destination.to_owned(), ..EngineHealth::default() };
        Shared {
            counters: Mutex::default(),
            health: Mutex::new((health, None)),
            pending_foreground: AtomicUsize::new(0),
        }
    }

    pub(crate) fn bump(&self, f: impl FnOnce(&mut EngineCounters)) {
        f(&mut self.counters.lock());
    }
}

/// How a backend reports: the model's state, its figures, its health, and that it has stopped.
pub struct Link {
    pub(crate) state: watch::Sender<ModelState>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) stopped: watch::Sender<bool>,
}

impl Link {
    pub fn set_state(&self, state: ModelState) {
        self.state.send_replace(state);
    }

    pub fn state(&self) -> ModelState {
        self.state.borrow().clone()
    }

    /// Updates the running totals.
    pub fn count(&self, f: impl FnOnce(&mut EngineCounters)) {
        self.shared.bump(f);
    }

    /// A request reached the model.
    pub fn healthy(&self) {
        let mut health = self.shared.health.lock();
        let destination = std::mem::take(&mut health.0.destination);
        *health = (EngineHealth { destination, ..EngineHealth::default() }, None);
    }

    /// A request failed: `problem` is shown until one succeeds; requests fail at once until `retry_at`.
    pub fn failed(&self, problem: String, retry_at: Option<Instant>) {
        let mut health = self.shared.health.lock();
        health.0.problem = Some(problem);
        health.0.n_failures += 1;
        health.1 = retry_at;
    }

    /// The problem to answer with at once while backing off after a failure.
    pub fn backing_off(&self) -> Option<String> {
        let health = self.shared.health.lock();
        health.1.filter(|&at| at > Instant::now()).and(health.0.problem.clone())
    }

    /// Failures in a row so far.
    pub fn n_failures(&self) -> u32 {
        self.shared.health.lock().0.n_failures
    }

    /// Marks the backend as ended: `Engine::stop` returns.
    pub fn stopped(&self) {
        self.stopped.send_replace(true);
    }
}
