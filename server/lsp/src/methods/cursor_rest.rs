//! `nib/cursorRest`: evaluate the prompt where the cursor rests, before the user types there.

use nib_pipeline::completion::{self, Trigger};

use crate::session::PARSE_WAIT;
use crate::suggest::CursorParams;
use crate::{NibServer, convert};

pub async fn handle(server: &NibServer, params: CursorParams) {
    let Ok(session) = server.session() else { return };
    let key = params.text_document.uri.as_str();
    let Ok(document) = session.documents.parsed(key, PARSE_WAIT).await else { return };
    let position = convert::position(params.position, session.documents.encoding());
    let Ok(cursor) = document.char_offset(position) else { return };
    if document.version != params.text_document.version {
        return;
    }
    let request = completion::Request {
        rope: &document.rope,
        cursor,
        document: Some(key),
        syntax: document.syntax(),
        trigger: Trigger::Invoked,
    };
    session.completer.warm(request);
}
