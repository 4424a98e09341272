//! `workspace/executeCommand`: `nib.review` reviews an open document now; `nib.acceptNextEdit` counts an
//! accepted next edit; `nib.acceptedSuggestion` says the editor inserted a suggestion (the acceptance figures);
//! `nib.setupModel` offers a model to download when there is none.

use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;

use crate::acceptance::ACCEPTED_COMMAND;
use crate::{NibServer, model_setup, next_edits, review};

pub async fn handle(server: &NibServer, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
    let session = server.session()?;
    if params.command == next_edits::ACCEPT_COMMAND {
        // The client has applied the edit already: an id forgotten or unknown is not worth an error.
        if let Some(id) = params.arguments.first().and_then(|a| a.as_str()) {
            session.next_edits.accept(id);
        }
        return Ok(None);
    }
    if params.command == model_setup::SETUP_COMMAND {
        let cx = session.model_setup_context(&server.client, &server.tasks);
        // LSP's RequestFailed: the request was valid, what it asks for cannot be done now.
        let failed =
            |message: String| Error { code: ErrorCode::ServerError(-32803), message: message.into(), data: None };
        return model_setup::command(cx).await.map(|()| None).map_err(failed);
    }
    if params.command == ACCEPTED_COMMAND {
        let (uri, id) = match params.arguments.as_slice() {
            [uri, id] => (uri.as_str(), id.as_u64()),
            _ => (None, None),
        };
        let (Some(uri), Some(id)) = (uri, id) else {
            return Err(Error::invalid_params("nib.acceptedSuggestion takes a document's URI and a suggestion's id"));
        };
        session.acceptance.with(|a| a.command_accepted(uri, id, std::time::Instant::now()));
        return Ok(None);
    }
    let uri = params.arguments.first().and_then(|a| a.as_str()).and_then(|u| u.parse::<Uri>().ok());
    match (params.command.as_str(), uri) {
        (review::REVIEW_COMMAND, Some(uri)) if session.documents.snapshot(uri.as_str()).is_ok() => {
            review::start(server.client.clone(), &server.tasks, session, uri);
            Ok(None)
        }
        (review::REVIEW_COMMAND, _) => Err(Error::invalid_params("nib.review takes the URI of an open document")),
        (other, _) => Err(Error::invalid_params(format!("unknown command {other}"))),
    }
}
