//! `textDocument/didClose`: the document and everything kept for it go, but where it was last edited.

use tower_lsp_server::ls_types::DidCloseTextDocumentParams;

use crate::{NibServer, ahead, review};

pub async fn handle(server: &NibServer, params: DidCloseTextDocumentParams) {
    let Ok(session) = server.session() else { return };
    let uri = params.text_document.uri;
    ahead::closing(session, &server.tasks, uri.as_str());
    let mut n_bytes = 0;
    if let Ok(doc) = session.documents.snapshot(uri.as_str()) {
        session.acceptance.with(|a| a.closed(uri.as_str(), &doc.rope));
        n_bytes = doc.rope.len_bytes();
    }
    session.documents.close(uri.as_str());
    session.requests.edited.remove(uri.as_str());
    session.requests.awaiting.remove(uri.as_str());
    review::clear(&server.client, session, &uri).await;
    if let Some((_, token)) = session.requests.in_flight.remove(uri.as_str()) {
        token.cancel();
    }
    crate::memory::released(&server.tasks, n_bytes);
}
