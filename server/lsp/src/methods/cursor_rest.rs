//! `nib/cursorRest`: evaluate the prompt where the cursor rests, before the user types there (and, after a switch
//! from another document, where this one was last edited).

use nib_pipeline::completion::{self, Ahead, Trigger};

use crate::arrival::Arrival;
use crate::session::PARSE_WAIT;
use crate::suggest::CursorParams;
use crate::{NibServer, ahead};

pub async fn handle(server: &NibServer, params: CursorParams) {
    let Ok(session) = server.session() else { return };
    let uri = &params.text_document.uri;
    // Where the cursor rests in the text the client had, as long as the document still holds it.
    let Ok(arrival) = Arrival::new(&session.documents, uri, params.position) else { return };
    if arrival.version() != params.text_document.version {
        return;
    }
    let Ok(document) = arrival.parsed(&session.documents, PARSE_WAIT).await else { return };
    let request = completion::Request {
        rope: &document.rope,
        cursor: arrival.cursor,
        document: Some(uri.as_str()),
        syntax: document.syntax(),
        trigger: Trigger::Invoked,
    };
    session.completer.warm(request, Ahead::Rest);
    ahead::rested(session, &server.tasks, uri.as_str(), document.rope.char_to_line(arrival.cursor));
}
