//! The language server: the only crate that knows LSP. Handlers are thin: convert, call a pipeline,
//! convert back.
//!
//! Invariants: document notifications apply their edits before any `.await`, so edits land in arrival
//! order; a request about a place in a document resolves it in the text as the request found it (`arrival`);
//! every request gets exactly one response; a request superseded by an edit of its document, or a newer
//! request for it, answers empty; every background task goes through `Tasks` and ends with the server.

mod ahead;
mod arrival;
mod client_options;
mod convert;
mod last_edits;
mod memory;
mod methods;
mod model_setup;
mod next_edits;
mod review;
pub mod servers;
mod session;
mod suggest;
#[cfg(test)]
mod tests;
mod transport;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::request::Request;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use arrival::{Empty, Unanswered};
use methods::{
    code_action, completion, copilot_inline_edit, cursor_rest, diagnostic, did_change, did_change_configuration,
    did_change_watched_files, did_change_workspace_folders, did_close, did_open, did_save, execute_command, initialize,
    initialized, inline_completion, nib_document, nib_next_edits, nib_status, shutdown,
};
use nib_engine::Engine;
use nib_pipeline::config::CommandLine;
use nib_pipeline::tasks::Tasks;
use nib_protocol::method;
use session::Session;

/// Requests handled at once. Higher than tower-lsp's default of 4 so that
/// slow completions never hold back the document edits queued behind them.
const MAX_CONCURRENT_REQUESTS: usize = 64;

/// How long the end of the process may wait for the engine to free llama.cpp (its job stops within a step),
/// and for the background tasks to end.
const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the server on stdin/stdout until `exit` (or the end of input), then stops its tasks and the engine:
/// the process must not exit while llama.cpp runs on another thread.
pub async fn serve(cli: CommandLine) {
    memory::return_big_blocks();
    run(cli, tokio::io::stdin(), tokio::io::stdout(), Arc::new(OnceLock::new())).await;
}

/// `serve` on any pipe. An engine already in `engine` (the tests' scripted one) runs instead of the configured one.
async fn run(
    cli: CommandLine,
    input: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    output: impl tokio::io::AsyncWrite + Unpin,
    engine: Arc<OnceLock<Engine>>,
) {
    let tasks = Tasks::default();
    let server_engine = engine.clone();
    let server_tasks = tasks.clone();
    let (service, socket) = LspService::build(|client| NibServer {
        client,
        cli,
        session: OnceLock::new(),
        engine: server_engine,
        tasks: server_tasks,
    })
    .custom_method(inline_completion::METHOD, NibServer::inline_completion)
    .custom_method(method::STATUS, NibServer::nib_status)
    .custom_method(method::DOCUMENT, NibServer::nib_document)
    .custom_method(method::CURSOR_REST, NibServer::cursor_rest)
    .custom_method(method::NEXT_EDITS, NibServer::next_edits)
    .custom_method(copilot_inline_edit::METHOD, NibServer::copilot_inline_edit)
    .custom_method("window/workDoneProgress/cancel", NibServer::progress_cancel)
    .finish();
    transport::guard(&tasks, input, output, |input, output| {
        Server::new(input, output, socket).concurrency_level(MAX_CONCURRENT_REQUESTS).serve(service)
    })
    .await;
    let engine_stopped = async {
        if let Some(engine) = engine.get() {
            engine.stop(STOP_TIMEOUT).await;
        }
    };
    tokio::join!(tasks.stop(STOP_TIMEOUT), engine_stopped);
    // The publishing task has ended with the others: `nib top` no longer lists this server.
    servers::unpublish().await;
}

pub struct NibServer {
    client: Client,
    /// What the command line set: it wins over the client's options.
    cli: CommandLine,
    session: OnceLock<Arc<Session>>,
    /// The engine, for `serve` to stop once the server has ended.
    engine: Arc<OnceLock<Engine>>,
    tasks: Tasks,
}

impl NibServer {
    fn session(&self) -> Result<&Session> {
        self.session.get().map(|session| &**session).ok_or_else(Error::internal_error)
    }

    /// The session, for a background task that outlives the request.
    fn shared_session(&self) -> Result<Arc<Session>> {
        self.session.get().cloned().ok_or_else(Error::internal_error)
    }

    async fn warn(&self, message: String) {
        tracing::warn!("{message}");
        self.client.log_message(MessageType::WARNING, message).await;
    }

    /// Answers a request about a place in a document (`arrival`): once superseded, empty, and counted.
    async fn about_document<T: Empty>(
        &self,
        method: &'static str,
        handled: impl Future<Output = std::result::Result<T, Unanswered>>,
    ) -> Result<T> {
        self.session()?.requests.superseded.answer(method, handled).await
    }

    async fn inline_completion(&self, params: inline_completion::InlineParams) -> Result<InlineCompletionList> {
        self.about_document(inline_completion::METHOD, inline_completion::handle(self, params)).await
    }

    async fn nib_status(&self, params: nib_status::NoParams) -> Result<nib_status::Status> {
        nib_status::handle(self, params).await
    }

    async fn nib_document(&self, params: nib_document::DocumentParams) -> Result<nib_document::DocumentText> {
        nib_document::handle(self, params).await
    }

    async fn next_edits(&self, params: nib_next_edits::NextEditsParams) -> Result<nib_next_edits::NextEditsAnswer> {
        self.about_document(method::NEXT_EDITS, nib_next_edits::handle(self, params)).await
    }

    async fn copilot_inline_edit(
        &self,
        params: copilot_inline_edit::InlineEditParams,
    ) -> Result<copilot_inline_edit::InlineEdits> {
        self.about_document(copilot_inline_edit::METHOD, copilot_inline_edit::handle(self, params)).await
    }

    async fn cursor_rest(&self, params: suggest::CursorParams) {
        cursor_rest::handle(self, params).await
    }

    async fn progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        if let Ok(session) = self.session() {
            session.model_setup.cancel(&params.token);
        }
    }
}

impl LanguageServer for NibServer {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        initialize::handle(self, params).await
    }

    async fn initialized(&self, params: InitializedParams) {
        initialized::handle(self, params).await
    }

    async fn shutdown(&self) -> Result<()> {
        shutdown::handle(self).await
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        did_open::handle(self, params).await
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        did_change::handle(self, params).await
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        did_save::handle(self, params).await
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        did_close::handle(self, params).await
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        did_change_configuration::handle(self, params).await
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        did_change_watched_files::handle(self, params).await
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        did_change_workspace_folders::handle(self, params).await
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        self.about_document(request::Completion::METHOD, completion::handle(self, params)).await
    }

    async fn diagnostic(&self, params: DocumentDiagnosticParams) -> Result<DocumentDiagnosticReportResult> {
        diagnostic::handle(self, params).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        code_action::handle(params).await
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        execute_command::handle(self, params).await
    }
}
