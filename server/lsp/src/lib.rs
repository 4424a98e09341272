//! The language server: the only module that knows LSP. Handlers are thin:
//! convert, call a pipeline, convert back.
//!
//! Invariants: document notifications apply their edits before any `.await`,
//! so edits land in arrival order; every request gets exactly one response;
//! a request superseded by a newer one for the same document answers empty.

mod completion;
mod convert;
mod review;
mod status;
mod transport;
mod workspace;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use nib_engine::{CancelToken, Engine, ModelState, Priority};
use nib_pipeline::completion::Completer;
use nib_pipeline::config::{self, Config, EngineConfig, ModelChoice};
use nib_pipeline::review::Reviewer;
use nib_pipeline::review::cache::ReviewCache;
use nib_prompt::context::{self, Workspace};
use nib_text::documents::DocumentStore;

/// Requests handled at once. Higher than tower-lsp's default of 4 so that
/// slow completions never hold back the document edits queued behind them.
const MAX_CONCURRENT_REQUESTS: usize = 64;

/// A document is indexed again once edits pause this long: re-indexing on every keystroke is wasted work.
const REINDEX_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

/// How long a request waits for a document's tree to catch up with its text: longer than a parse may take.
const PARSE_WAIT: std::time::Duration = std::time::Duration::from_millis(600);

/// How long `shutdown` may spend saving KV sequences to disk.
const PERSIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// How long the end of the process may wait for the engine to free llama.cpp (its job stops within a step).
const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the server on stdin/stdout until `exit` (or the end of input), then stops the engine: the process
/// must not exit while llama.cpp runs on another thread.
pub async fn serve(cli_model: Option<PathBuf>) {
    let engine = Arc::new(OnceLock::new());
    let server_engine = engine.clone();
    let (service, socket) =
        LspService::build(|client| NibServer { client, cli_model, session: OnceLock::new(), engine: server_engine })
            .custom_method("textDocument/inlineCompletion", NibServer::inline_completion)
            .custom_method("nib/status", NibServer::status)
            .custom_method("nib/document", NibServer::document)
            .custom_method("nib/cursorRest", NibServer::cursor_rest)
            .finish();
    transport::guard(tokio::io::stdin(), tokio::io::stdout(), |input, output| {
        Server::new(input, output, socket).concurrency_level(MAX_CONCURRENT_REQUESTS).serve(service)
    })
    .await;
    if let Some(engine) = engine.get() {
        engine.stop(STOP_TIMEOUT).await;
    }
}

/// Everything that exists once the client has said who it is.
struct Session {
    documents: DocumentStore,
    completer: Completer,
    model: ModelChoice,
    /// The engine's settings, fixed at start: a change is reported, not applied.
    engine_config: EngineConfig,
    /// The client can watch files for nib (dynamic registration of `workspace/didChangeWatchedFiles`).
    can_watch_files: bool,
    /// The newest completion per document: a new one outdates the one before.
    in_flight: DashMap<String, CancelToken>,
    /// Documents whose latest request was answered empty for lack of time, and where: one task per document
    /// computes that suggestion once the work is done and tells the client (`nib/suggestionReady`).
    awaiting: DashMap<String, Position>,
    /// Problems found while starting, shown to the user once initialized.
    warnings: Vec<String>,
    /// The line of each document's latest edit: saving remembers the code around it.
    edited: DashMap<String, usize>,
    reviews: review::Reviews,
}

/// Indexes a document and remembers the code around `line`, off the async threads, once its tree is
/// parsed. With `settle_at`, only once edits have paused and the document is still at that version:
/// edits come in bursts. Generated files are not indexed.
fn observe(session: Arc<Session>, uri: &str, line: usize, settle_at: Option<i32>) {
    let uri = uri.to_owned();
    tokio::spawn(async move {
        if settle_at.is_some() {
            tokio::time::sleep(REINDEX_AFTER).await;
        }
        let Ok(doc) = session.documents.parsed(&uri, PARSE_WAIT).await else { return };
        if doc.generated || settle_at.is_some_and(|version| version != doc.version) {
            return;
        }
        let _ = tokio::task::spawn_blocking(move || {
            session.completer.workspace().observe(&uri, &doc.rope, doc.syntax(), line);
        })
        .await;
    });
}

/// Parses a document's tree off the async threads; edits keep landing meanwhile.
fn parse(session: &Arc<Session>, uri: &str) {
    let (session, uri) = (session.clone(), uri.to_owned());
    tokio::task::spawn_blocking(move || session.documents.parse(&uri));
}

pub struct NibServer {
    client: Client,
    cli_model: Option<PathBuf>,
    session: OnceLock<Arc<Session>>,
    /// The engine, for `serve` to stop once the server has ended.
    engine: Arc<OnceLock<Engine>>,
}

impl NibServer {
    fn session(&self) -> Result<&Arc<Session>> {
        self.session.get().ok_or_else(Error::internal_error)
    }

    async fn warn(&self, message: String) {
        tracing::warn!("{message}");
        self.client.log_message(MessageType::WARNING, message).await;
    }
}

impl LanguageServer for NibServer {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let encoding = convert::negotiate_encoding(&params);
        let mut warnings = Vec::new();
        let mut config = Config::load().unwrap_or_else(|err| {
            warnings.push(format!("nib: {err}; using defaults"));
            Config::default()
        });
        if let Some(options) = &params.initialization_options {
            match config.clone().with_init_options(options) {
                Ok(merged) => config = merged,
                Err(err) => warnings.push(format!("nib: initializationOptions: {err}; ignoring them")),
            }
        }
        let model = config::resolve_model(self.cli_model.as_deref(), &config);
        let workspace = Arc::new(Workspace::default());
        // Every workspace folder is indexed.
        let folders: Vec<&Uri> = params.workspace_folders.iter().flatten().map(|f| &f.uri).collect();
        #[allow(deprecated)] // root_uri: older clients send only that.
        let roots = if folders.is_empty() { params.root_uri.iter().collect() } else { folders };
        workspace.set_roots(roots.into_iter().filter_map(|uri| context::uri_to_path(uri.as_str())).collect());
        let engine = Engine::start(config.engine.clone(), model.path.clone(), config::nib_home().join("snapshots"));
        let _ = self.engine.set(engine.clone());
        let caps = &params.capabilities;
        let can_watch_files = caps
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            == Some(true);
        // Pull only from clients that can be told to pull again when a review finishes (Neovim 0.11
        // pulls, but only after edits): the others get pushed diagnostics.
        let refresh = caps.workspace.as_ref().and_then(|w| w.diagnostics.as_ref()).and_then(|d| d.refresh_support);
        let pull = caps.text_document.as_ref().is_some_and(|t| t.diagnostic.is_some()) && refresh == Some(true);
        let cache = Arc::new(ReviewCache::new(Some(config::nib_home().join("review-cache"))));
        let reviewer = Reviewer::new(engine.clone(), config.review.limits(), cache, Priority::Background);
        let reviews = review::Reviews::new(reviewer, config.review.clone(), pull);
        let session = Session {
            documents: DocumentStore::new(encoding),
            completer: Completer::new(engine, config.completion, workspace),
            model,
            engine_config: config.engine,
            can_watch_files,
            in_flight: DashMap::new(),
            awaiting: DashMap::new(),
            warnings,
            edited: DashMap::new(),
            reviews,
        };
        if self.session.set(Arc::new(session)).is_err() {
            return Err(Error::invalid_request());
        }
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(convert::encoding_kind(encoding)),
                text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                    ..TextDocumentSyncOptions::default()
                })),
                completion_provider: Some(CompletionOptions::default()),
                inline_completion_provider: Some(OneOf::Left(true)),
                // Pull for clients that pull, push for the rest: never both to one client.
                diagnostic_provider: pull.then(|| {
                    DiagnosticServerCapabilities::Options(DiagnosticOptions {
                        identifier: Some("nib".into()),
                        inter_file_dependencies: false,
                        workspace_diagnostics: false,
                        ..DiagnosticOptions::default()
                    })
                }),
                code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                    code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                    ..CodeActionOptions::default()
                })),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: vec![review::REVIEW_COMMAND.into()],
                    ..ExecuteCommandOptions::default()
                }),
                workspace: Some(WorkspaceServerCapabilities {
                    workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                        supported: Some(true),
                        change_notifications: Some(OneOf::Left(true)),
                    }),
                    file_operations: None,
                }),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo { name: "nib".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let Ok(session) = self.session() else { return };
        for warning in &session.warnings {
            self.client.show_message(MessageType::WARNING, warning.clone()).await;
        }
        // The workspace's symbols, for definitions from files that are not open, kept up to date as files
        // change on disk where the client can tell.
        session.completer.workspace().scan_in_background();
        if session.can_watch_files {
            self.watch_files();
        }
        // Report a model problem once loading has settled, without holding up initialization.
        let (client, session) = (self.client.clone(), session.clone());
        tokio::spawn(async move {
            if let ModelState::Failed(error) = session.completer.engine().ready().await {
                client.show_message(MessageType::ERROR, format!("nib: {}", session.model.problem(&error))).await;
            }
        });
    }

    async fn shutdown(&self) -> Result<()> {
        if let Ok(session) = self.session() {
            // Stop the work first, so the engine is free to save its sequences at once.
            session.in_flight.iter().for_each(|entry| entry.value().cancel());
            session.reviews.cancel_all();
            session.completer.cancel_all();
            // The next start restores these instead of evaluating whole files again.
            session.completer.engine().persist(PERSIST_TIMEOUT).await;
            session.completer.engine().stop(STOP_TIMEOUT).await;
        }
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let Ok(session) = self.session() else { return };
        let doc = params.text_document;
        match session.documents.open(doc.uri.as_str(), &doc.text, doc.version, &doc.language_id) {
            Ok(needs_parse) => {
                if needs_parse {
                    parse(session, doc.uri.as_str());
                }
                observe(session.clone(), doc.uri.as_str(), 0, None);
            }
            Err(err) => self.warn(err.to_string()).await,
        }
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let Ok(session) = self.session() else { return };
        let uri = params.text_document.uri;
        let changes = convert::changes(params.content_changes, session.documents.encoding());
        // A completion for the old text is stale: it must not reach the model (its prompt still may).
        if let Some(token) = session.in_flight.get(uri.as_str()) {
            token.outdate();
        }
        let version = params.text_document.version;
        match session.documents.change(uri.as_str(), version, &changes) {
            Ok(true) => parse(session, uri.as_str()),
            Ok(false) => {}
            Err(err) => {
                self.warn(err.to_string()).await;
                return;
            }
        }
        let line = changes.first().and_then(|c| c.range).map_or(0, |(start, _)| start.line as usize);
        session.edited.insert(uri.as_str().to_owned(), line);
        observe(session.clone(), uri.as_str(), line, Some(version));
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        let Ok(session) = self.session() else { return };
        let uri = params.text_document.uri;
        let line = session.edited.get(uri.as_str()).map_or(0, |l| *l);
        observe(session.clone(), uri.as_str(), line, None);
        if session.reviews.config().on_save {
            review::start(self.client.clone(), session.clone(), uri);
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let Ok(session) = self.session() else { return };
        let uri = params.text_document.uri;
        session.documents.close(uri.as_str());
        session.edited.remove(uri.as_str());
        session.awaiting.remove(uri.as_str());
        review::clear(&self.client, session, &uri).await;
        if let Some((_, token)) = session.in_flight.remove(uri.as_str()) {
            token.cancel();
        }
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        self.configuration_changed(params).await;
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        self.watched_files_changed(params).await;
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        self.workspace_folders_changed(params).await;
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        self.classic_completion(params).await
    }

    async fn diagnostic(&self, params: DocumentDiagnosticParams) -> Result<DocumentDiagnosticReportResult> {
        self.pull_diagnostics(params).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        self.quick_fixes(params).await
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        let session = self.session()?;
        let uri = params.arguments.first().and_then(|a| a.as_str()).and_then(|u| u.parse::<Uri>().ok());
        match (params.command.as_str(), uri) {
            (review::REVIEW_COMMAND, Some(uri)) if session.documents.snapshot(uri.as_str()).is_ok() => {
                review::start(self.client.clone(), session.clone(), uri);
                Ok(None)
            }
            (review::REVIEW_COMMAND, _) => Err(Error::invalid_params("nib.review takes the URI of an open document")),
            (other, _) => Err(Error::invalid_params(format!("unknown command {other}"))),
        }
    }
}
