//! `nib/status`: the model, the index, the engine's counters and the settings in effect (see
//! docs/lsp-extensions.md).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::time::MissedTickBehavior;
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::notification::Notification;

use crate::acceptance::Summary;
use crate::model_setup::DownloadStatus;
use crate::next_edits::NextEditCounts;
use crate::session::Session;
use crate::{NibServer, convert};
use nib_engine::{EngineCounters, EngineHealth, ModelInfo, ModelState};
use nib_pipeline::config::{CompletionConfig, EngineConfig, ReviewConfig};
use nib_pipeline::plugins::PluginStatus;

/// Field names are snake_case, like `nib complete --json`.
#[derive(Debug, Serialize)]
pub struct Status {
    version: &'static str,
    model: ModelStatus,
    position_encoding: String,
    n_open_documents: usize,
    /// Files in the symbol index: open documents and workspace files.
    n_indexed_files: usize,
    /// Totals since start, and the last completion's figures.
    engine: EngineCounters,
    /// Prompt tokens evaluated per second, as the completer measured them on cold prompts (it sizes the short
    /// window a cold place answers from first); `null` before one was measured.
    prompt_rate: Option<f64>,
    /// Where prompts go (`local` or the server's URL), and what is wrong with getting there.
    backend: EngineHealth,
    /// What the backend can do besides completing.
    capabilities: Capabilities,
    /// Each plugin in the order it runs: its state, calls, failures, the latest error, and what it did.
    plugins: Vec<PluginStatus>,
    /// Next edits shown and accepted since start, in all and by kind.
    next_edits: NextEditCounts,
    /// Requests answered as superseded since start.
    requests: RequestCounts,
    /// The settings in effect (the model is `model.path`).
    settings: Settings,
    /// Suggestions shown, accepted, retained and undone, per language and kind: counted here, sent nowhere.
    acceptance: Summary,
    /// The model being downloaded (the first run), `null` when none is.
    download: Option<DownloadStatus>,
}

#[derive(Debug, Serialize)]
pub struct RequestCounts {
    /// Requests answered empty because their document moved on (or a newer request took their place) after
    /// they arrived.
    n_superseded: u64,
    superseded_by_method: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Serialize)]
pub struct Capabilities {
    /// Review by surprise needs the log-probabilities of text the model reads (the prompt's tokens), not only
    /// of what it writes; `false` with `surprise_unavailable` saying why, for backends that cannot give them.
    surprise: bool,
    surprise_unavailable: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Settings {
    engine: EngineConfig,
    completion: CompletionConfig,
    review: ReviewConfig,
}

#[derive(Debug, Serialize)]
pub struct ModelStatus {
    path: PathBuf,
    /// Which setting chose the path.
    source: &'static str,
    /// `loading`, `ready` or `failed`.
    state: &'static str,
    /// What is wrong and how to fix it, when `failed`.
    error: Option<String>,
    info: Option<ModelInfo>,
}

/// The params of a request that takes none: clients say so with none (the transport makes that `null`),
/// `null`, `{}` or `[]`.
#[derive(Debug, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct NoParams;

impl TryFrom<serde_json::Value> for NoParams {
    type Error = String;

    fn try_from(value: serde_json::Value) -> std::result::Result<NoParams, String> {
        let empty = match &value {
            serde_json::Value::Null => true,
            serde_json::Value::Object(object) => object.is_empty(),
            serde_json::Value::Array(array) => array.is_empty(),
            _ => false,
        };
        if empty { Ok(NoParams) } else { Err(format!("this request takes no params, got {value}")) }
    }
}

pub async fn handle(server: &NibServer, _: NoParams) -> Result<Status> {
    Ok(status(server.session()?))
}

/// `nib/statusChanged`: the status, pushed when it changed, to a client that asked (`initializationOptions`).
pub enum StatusChanged {}

impl Notification for StatusChanged {
    type Params = serde_json::Value;
    const METHOD: &'static str = "nib/statusChanged";
}

/// How often the status is compared with the one last pushed: at most this often a notification.
const PUSH_EVERY: Duration = Duration::from_millis(250);

/// Pushes `nib/statusChanged` whenever the status differs from the one last pushed (the first at once), until
/// the server ends: the client shows a download's progress and the latest figures without polling.
pub async fn push_changes(client: Client, session: Arc<Session>) {
    let mut tick = tokio::time::interval(PUSH_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pushed = serde_json::Value::Null;
    loop {
        tick.tick().await;
        let Ok(now) = serde_json::to_value(status(&session)) else { return };
        if now != pushed {
            client.send_notification::<StatusChanged>(now.clone()).await;
            pushed = now;
        }
    }
}

fn status(session: &Session) -> Status {
    let (state, error, info) = match session.completer.engine().state() {
        ModelState::Loading => ("loading", None, None),
        ModelState::Ready { info, .. } => ("ready", None, Some(info)),
        ModelState::Failed(error) => ("failed", Some(session.model().problem(&error)), None),
    };
    let model = session.model();
    // Acceptances whose 30 s have passed are judged now, on the documents' text.
    let documents = &session.documents;
    let acceptance = session.acceptance.with(|a| {
        a.judge(Instant::now(), |uri| documents.snapshot(uri).ok().map(|d| d.rope));
        a.summary()
    });
    let superseded = session.requests.superseded.by_method();
    Status {
        version: env!("CARGO_PKG_VERSION"),
        model: ModelStatus { path: model.path, source: model.source.describe(), state, error, info },
        position_encoding: convert::encoding_kind(session.documents.encoding()).as_str().to_owned(),
        n_open_documents: session.documents.len(),
        n_indexed_files: session.workspace().n_indexed_files(),
        engine: session.completer.engine().counters(),
        prompt_rate: session.completer.prompt_rate(),
        backend: session.completer.engine().health(),
        capabilities: {
            let scoring = session.completer.engine().scoring();
            Capabilities { surprise: scoring.is_ok(), surprise_unavailable: scoring.err() }
        },
        plugins: session.completer.plugins().status(),
        next_edits: session.next_edits.counts(),
        requests: RequestCounts { n_superseded: superseded.values().sum(), superseded_by_method: superseded },
        settings: Settings {
            engine: session.start.engine_config.clone(),
            completion: (*session.completer.config()).clone(),
            review: session.reviews.config(),
        },
        acceptance,
        download: session.model_setup.download(),
    }
}
