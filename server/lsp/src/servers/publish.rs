//! The task that writes this server's snapshot once a second, built from the session's parts.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::process::{self, CpuMeter};
use super::window::Rate;
use super::{LastMinute, ModelSummary, ServerSnapshot, files};
use crate::acceptance::Acceptance;
use crate::review::Reviews;
use crate::session::{Requests, Session};
use nib_engine::ModelState;
use nib_pipeline::completion::Completer;
use nib_pipeline::tasks::Tasks;
use nib_prompt::context::Workspace;

/// How often the file is rewritten: `nib top` refreshes as often.
const PERIOD: Duration = Duration::from_secs(1);

/// The client, as it named itself in `initialize`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Editor {
    pub name: String,
    pub version: Option<String>,
}

/// The session's parts a snapshot reads: cheap handles, never the session.
struct Sources {
    completer: Completer,
    requests: Arc<Requests>,
    reviews: Arc<Reviews>,
    acceptance: Arc<Acceptance>,
    workspace: Arc<Workspace>,
    model: PathBuf,
    editor: Option<Editor>,
}

/// Publishes the server's snapshot in `super::dir()` until the server ends (`serve` removes the file then).
pub fn publish(tasks: &Tasks, session: &Session) {
    let sources = Sources {
        completer: session.completer.clone(),
        requests: session.requests.clone(),
        reviews: session.reviews.clone(),
        acceptance: session.acceptance.clone(),
        workspace: session.workspace().clone(),
        model: session.model().path,
        editor: session.start.editor.clone(),
    };
    let blocking = tasks.clone();
    tasks.spawn("publish", async move {
        let (dir, started_at) = (super::dir(), unix_ms(SystemTime::now()) / 1000);
        let mut tokens = Rate::default();
        let mut cpu = CpuMeter::default();
        let mut tick = tokio::time::interval(PERIOD);
        loop {
            tick.tick().await;
            let snapshot = sources.snapshot(started_at, &mut tokens);
            let dir = dir.clone();
            // /proc and the file are disk work: off the async threads.
            let write = blocking.spawn_blocking("publish", move || {
                let snapshot = measure(snapshot, &mut cpu);
                if let Err(error) = files::write(&dir, &snapshot) {
                    tracing::debug!(%error, "could not publish the server's snapshot");
                }
                cpu
            });
            match write.await {
                Ok(Some(meter)) => cpu = meter,
                _ => return,
            }
        }
    });
}

impl Sources {
    fn snapshot(&self, started_at: u64, tokens: &mut Rate) -> ServerSnapshot {
        let now = Instant::now();
        let engine = self.completer.engine();
        let counters = engine.counters();
        let health = engine.health();
        let state = match engine.state() {
            ModelState::Loading => "loading",
            ModelState::Ready { .. } => "ready",
            ModelState::Failed(_) => "failed",
        };
        let n_completions = self.requests.n_answered.load(Ordering::Relaxed);
        let latency = self.requests.latency.lock().percentiles(now);
        ServerSnapshot {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").into(),
            started_at,
            updated_at_ms: unix_ms(SystemTime::now()),
            editor: self.editor.clone(),
            workspace_folders: self.workspace.roots(),
            model: ModelSummary {
                path: self.model.clone(),
                name: self.model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                state: state.into(),
            },
            backend: health.destination,
            backend_problem: health.problem,
            resident_bytes: None,
            cpu_percent: None,
            requests_in_flight: self.requests.in_flight.len(),
            n_completions,
            n_held_back: counters.n_held_back,
            last_minute: LastMinute {
                n_completions: latency.map_or(0, |p| p.n),
                p50_ms: latency.map(|p| p.p50_ms),
                p95_ms: latency.map(|p| p.p95_ms),
                tokens_per_second: tokens.per_second(now, counters.n_generated_tokens),
            },
            completion_cache_hit_rate: ratio(counters.n_cache_answers, n_completions),
            kv_reuse_rate: ratio(counters.n_reused_tokens, counters.n_prompt_tokens),
            reviews_running: self.reviews.n_running(),
            acceptance: self.acceptance.with(|a| a.summary()),
        }
    }
}

/// Adds what `/proc` says of this process.
fn measure(mut snapshot: ServerSnapshot, cpu: &mut CpuMeter) -> ServerSnapshot {
    snapshot.resident_bytes = process::resident_bytes();
    snapshot.cpu_percent = process::cpu_time().and_then(|used| cpu.percent(Instant::now(), used));
    snapshot
}

/// `None` without a denominator; capped at 1 (the two counters are read at slightly different times).
fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64).min(1.0))
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Removes this server's file: called once the server and its tasks have ended.
pub async fn unpublish() {
    let _ = tokio::task::spawn_blocking(|| files::remove(&super::dir(), std::process::id())).await;
}
