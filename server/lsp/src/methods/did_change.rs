//! `textDocument/didChange`: the edits land before any `.await`, so they apply in arrival order.

use std::time::Instant;

use tower_lsp_server::ls_types::DidChangeTextDocumentParams;

use crate::{NibServer, convert};

pub async fn handle(server: &NibServer, params: DidChangeTextDocumentParams) {
    let Ok(session) = server.session() else { return };
    let uri = params.text_document.uri;
    let changes = convert::changes(params.content_changes, session.documents.encoding());
    // A completion for the old text is stale: it must not reach the model (its prompt still may).
    if let Some(token) = session.requests.in_flight.get(uri.as_str()) {
        token.outdate();
    }
    let version = params.text_document.version;
    // The text before the edits, only for a document with a suggestion or an acceptance being followed.
    let before = session
        .acceptance
        .with(|a| a.tracks(uri.as_str()))
        .then(|| session.documents.snapshot(uri.as_str()).ok())
        .flatten();
    match session.documents.change(uri.as_str(), version, &changes) {
        Ok(parse) => {
            if let Some(before) = before {
                session.acceptance.with(|a| a.edited(uri.as_str(), &before.rope, &changes, Instant::now()));
            }
            if parse {
                session.parse(&server.tasks, uri.as_str());
            }
        }
        Err(err) => {
            server.warn(err.to_string()).await;
            return;
        }
    }
    let line = changes.first().and_then(|c| c.range).map_or(0, |(start, _)| start.line as usize);
    session.requests.edited.insert(uri.as_str().to_owned(), line);
    session.observe(&server.tasks, uri.as_str(), line, Some(version));
}
