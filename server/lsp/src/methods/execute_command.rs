//! `workspace/executeCommand`: `nib.review` reviews an open document now.

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use crate::{NibServer, review};

pub async fn handle(server: &NibServer, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
    let session = server.session()?;
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
