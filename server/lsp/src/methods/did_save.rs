//! `textDocument/didSave`: remember the code around the latest edit, and review the file when so configured.

use tower_lsp_server::ls_types::DidSaveTextDocumentParams;

use crate::{NibServer, review};

pub async fn handle(server: &NibServer, params: DidSaveTextDocumentParams) {
    let Ok(session) = server.session() else { return };
    let uri = params.text_document.uri;
    let line = session.requests.edited.get(uri.as_str()).map_or(0, |l| *l);
    session.observe(&server.tasks, uri.as_str(), line, None);
    if session.reviews.config().on_save {
        review::start(server.client.clone(), &server.tasks, session, uri);
    }
}
