//! `textDocument/didOpen`.

use tower_lsp_server::ls_types::DidOpenTextDocumentParams;

use crate::{NibServer, ahead};

pub async fn handle(server: &NibServer, params: DidOpenTextDocumentParams) {
    let Ok(session) = server.session() else { return };
    let doc = params.text_document;
    match session.documents.open(doc.uri.as_str(), &doc.text, doc.version, &doc.language_id) {
        Ok(needs_parse) => {
            if needs_parse {
                session.parse(&server.tasks, doc.uri.as_str());
            }
            session.observe(&server.tasks, doc.uri.as_str(), 0, None);
            ahead::opened(session, &server.tasks, doc.uri.as_str());
        }
        Err(err) => {
            // Refused (too large): the message that carried it was big.
            crate::memory::released(&server.tasks, doc.text.len());
            server.warn(err.to_string()).await;
        }
    }
}
