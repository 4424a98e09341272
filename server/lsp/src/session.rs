//! What exists once the client has said who it is, in parts, so that each handler and each background task
//! takes only what it needs: tasks get clones of the parts (all cheap handles), never the whole session.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use dashmap::DashMap;
use parking_lot::Mutex;

use crate::acceptance::Acceptance;
use crate::arrival::{Arrival, SupersededCounts};
use crate::last_edits::LastEdits;
use crate::model_setup::{self, ModelSetup};
use crate::next_edits::NextEditStats;
use crate::review::Reviews;
use crate::servers::Editor;
use crate::servers::window::LatencyWindow;
use nib_engine::CancelToken;
use nib_pipeline::completion::Completer;
use nib_pipeline::config::{Config, EngineConfig, ModelChoice};
use nib_pipeline::next_edit::NextEditConfig;
use nib_pipeline::tasks::Tasks;
use nib_prompt::context::Workspace;
use nib_text::documents::DocumentStore;

/// A document is indexed again once edits pause this long: re-indexing on every keystroke is wasted work.
const REINDEX_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

/// How long a request waits for a document's tree to catch up with its text: longer than a parse may take.
pub const PARSE_WAIT: std::time::Duration = std::time::Duration::from_millis(600);

pub struct Session {
    /// The settings in effect: those that apply live as last changed, the others as they were at start.
    pub settings: Mutex<Config>,
    pub documents: Arc<DocumentStore>,
    pub completer: Completer,
    pub reviews: Arc<Reviews>,
    pub requests: Arc<Requests>,
    /// Next edits shown and accepted.
    pub next_edits: NextEditStats,
    /// What was shown and what was taken of it: the acceptance figures.
    pub acceptance: Arc<Acceptance>,
    /// The model in use, and getting one when there is none.
    pub model_setup: Arc<ModelSetup>,
    /// Where each file was last edited, in this run and earlier ones: warmed when it opens again.
    pub last_edits: Arc<LastEdits>,
    /// Fixed when the client connected.
    pub start: Start,
}

/// Per-document state of the requests in progress.
#[derive(Default)]
pub struct Requests {
    /// The newest completion per document: a new one outdates the one before.
    pub in_flight: DashMap<String, CancelToken>,
    /// Documents whose latest request was answered empty for lack of time, and where (in which text): one task
    /// per document computes that suggestion once the work is done and tells the client (`nib/suggestionReady`).
    pub awaiting: DashMap<String, Arrival>,
    /// The line of each document's latest edit: saving remembers the code around it.
    pub edited: DashMap<String, usize>,
    /// The document the cursor last rested in: a rest in another one is a switch.
    pub rested_in: Mutex<Option<String>>,
    /// Completion requests answered (not superseded), and how long they took over the last minute: for
    /// `nib top`.
    pub n_answered: AtomicU64,
    pub latency: Mutex<LatencyWindow>,
    /// Requests answered as superseded, by method: for `nib/status`.
    pub superseded: SupersededCounts,
}

/// What was settled at start: a change to the model or the engine is reported, not applied (a model missing at
/// start is the exception: `model_setup` gets one).
pub struct Start {
    pub engine_config: EngineConfig,
    /// The client can watch files for nib (dynamic registration of `workspace/didChangeWatchedFiles`).
    pub can_watch_files: bool,
    /// The client wants `nib/statusChanged` (`initializationOptions.statusChanged`).
    pub push_status: bool,
    /// Problems found while starting, shown to the user once initialized.
    pub warnings: Vec<String>,
    /// The client's name and version, from `initialize`.
    pub editor: Option<Editor>,
    /// Model next edits: whether, and how.
    pub next_edit: NextEditConfig,
}

impl Requests {
    /// Counts a completion answered now that was asked at `asked`, for `nib top`.
    pub fn answered(&self, asked: std::time::Instant) {
        let now = std::time::Instant::now();
        self.n_answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.latency.lock().record(now, now.duration_since(asked).as_secs_f64() * 1000.0);
    }
}

impl Session {
    /// Parses a document's tree off the async threads; edits keep landing meanwhile.
    pub fn parse(&self, tasks: &Tasks, uri: &str) {
        let (documents, uri) = (self.documents.clone(), uri.to_owned());
        tasks.spawn_blocking("parse", move || documents.parse(&uri));
    }

    /// Indexes a document and remembers the code around `line`, off the async threads, once its tree is
    /// parsed. With `settle_at`, only once edits have paused and the document is still at that version:
    /// edits come in bursts. Generated files are not indexed.
    pub fn observe(&self, tasks: &Tasks, uri: &str, line: usize, settle_at: Option<i32>) {
        let (documents, workspace, uri) = (self.documents.clone(), self.workspace().clone(), uri.to_owned());
        let index = tasks.clone();
        tasks.spawn("observe", async move {
            if settle_at.is_some() {
                tokio::time::sleep(REINDEX_AFTER).await;
            }
            let Ok(doc) = documents.parsed(&uri, PARSE_WAIT).await else { return };
            if doc.generated || settle_at.is_some_and(|version| version != doc.version) {
                return;
            }
            let _ = index.spawn_blocking("index", move || workspace.observe(&uri, &doc.rope, doc.syntax(), line)).await;
        });
    }

    pub fn workspace(&self) -> &Arc<Workspace> {
        self.completer.workspace()
    }

    /// The model in use.
    pub fn model(&self) -> ModelChoice {
        self.model_setup.model()
    }

    /// What the first run needs, for a task.
    pub fn model_setup_context(&self, client: &tower_lsp_server::Client, tasks: &Tasks) -> model_setup::Context {
        model_setup::Context {
            client: client.clone(),
            tasks: tasks.clone(),
            engine: self.completer.engine().clone(),
            setup: self.model_setup.clone(),
        }
    }
}
