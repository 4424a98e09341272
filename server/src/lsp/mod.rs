//! The language server: the only module that knows LSP. Handlers are thin:
//! convert, call a pipeline, convert back.
//!
//! Invariants: document notifications apply their edits before any `.await`,
//! so edits land in arrival order; every request gets exactly one response;
//! a request superseded by a newer one for the same document answers empty.

mod completion;
mod convert;
mod status;
mod transport;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use crate::completion::Completer;
use crate::config::{self, Config, ModelChoice};
use crate::documents::DocumentStore;
use crate::engine::{CancelToken, Engine, ModelState};

/// Requests handled at once. Higher than tower-lsp's default of 4 so that
/// slow completions never hold back the document edits queued behind them.
const MAX_CONCURRENT_REQUESTS: usize = 64;

/// How long `shutdown` may spend saving KV sequences to disk.
const PERSIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs the server on stdin/stdout until `exit`.
pub async fn serve(cli_model: Option<PathBuf>) {
    let (service, socket) = LspService::build(|client| NibServer { client, cli_model, session: OnceLock::new() })
        .custom_method("textDocument/inlineCompletion", NibServer::inline_completion)
        .custom_method("nib/status", NibServer::status)
        .custom_method("nib/document", NibServer::document)
        .finish();
    transport::guard(tokio::io::stdin(), tokio::io::stdout(), |input, output| {
        Server::new(input, output, socket).concurrency_level(MAX_CONCURRENT_REQUESTS).serve(service)
    })
    .await;
}

/// Everything that exists once the client has said who it is.
struct Session {
    documents: DocumentStore,
    completer: Completer,
    model: ModelChoice,
    /// The newest completion per document: a new one cancels the one before.
    in_flight: DashMap<String, CancelToken>,
    /// Problems found while starting, shown to the user once initialized.
    warnings: Vec<String>,
}

pub struct NibServer {
    client: Client,
    cli_model: Option<PathBuf>,
    session: OnceLock<Arc<Session>>,
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
                Err(err) => warnings.push(format!("nib: {err}; ignoring them")),
            }
        }
        let model = config::resolve_model(self.cli_model.as_deref(), &config);
        let engine = Engine::start(config.engine.clone(), model.path.clone());
        let session = Session {
            documents: DocumentStore::new(encoding),
            completer: Completer::new(engine, config.completion),
            model,
            in_flight: DashMap::new(),
            warnings,
        };
        if self.session.set(Arc::new(session)).is_err() {
            return Err(Error::invalid_request());
        }
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(convert::encoding_kind(encoding)),
                text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::INCREMENTAL)),
                completion_provider: Some(CompletionOptions::default()),
                inline_completion_provider: Some(OneOf::Left(true)),
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
            session.in_flight.iter().for_each(|entry| entry.value().cancel());
            // The next start restores these instead of evaluating whole files again.
            session.completer.engine().persist(PERSIST_TIMEOUT).await;
        }
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let Ok(session) = self.session() else { return };
        let doc = params.text_document;
        if let Err(err) = session.documents.open(doc.uri.as_str(), &doc.text, doc.version, &doc.language_id) {
            self.warn(err.to_string()).await;
        }
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let Ok(session) = self.session() else { return };
        let uri = params.text_document.uri;
        let changes = convert::changes(params.content_changes, session.documents.encoding());
        // A completion for the old text is stale: it must not reach the model.
        if let Some(token) = session.in_flight.get(uri.as_str()) {
            token.cancel();
        }
        if let Err(err) = session.documents.change(uri.as_str(), params.text_document.version, &changes) {
            self.warn(err.to_string()).await;
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let Ok(session) = self.session() else { return };
        let uri = params.text_document.uri;
        session.documents.close(uri.as_str());
        if let Some((_, token)) = session.in_flight.remove(uri.as_str()) {
            token.cancel();
        }
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        self.classic_completion(params).await
    }
}
