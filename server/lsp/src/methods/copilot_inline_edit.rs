//! `textDocument/copilotInlineEdit`: `nib/nextEdits` in the shape Copilot's clients ask for and show
//! (copilot-lsp.nvim and others); targets have no place in it.

use serde::{Deserialize, Serialize};
use tower_lsp_server::ls_types::{Command, Position, Range, VersionedTextDocumentIdentifier};

use crate::NibServer;
use crate::arrival::{Arrival, Empty, Unanswered};
use crate::next_edits;

pub const METHOD: &str = "textDocument/copilotInlineEdit";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineEditParams {
    text_document: VersionedTextDocumentIdentifier,
    position: Position,
}

#[derive(Debug, Serialize)]
pub struct InlineEdits {
    edits: Vec<InlineEdit>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineEdit {
    text: String,
    text_document: VersionedTextDocumentIdentifier,
    range: Range,
    command: Command,
}

impl Empty for InlineEdits {
    fn empty() -> InlineEdits {
        InlineEdits { edits: Vec::new() }
    }
}

pub async fn handle(server: &NibServer, params: InlineEditParams) -> Result<InlineEdits, Unanswered> {
    let session = server.session()?;
    // A document not open or a position outside it: no edits, not an error.
    let Ok(arrival) = Arrival::new(&session.documents, &params.text_document.uri, params.position) else {
        return Ok(InlineEdits::empty());
    };
    let found = next_edits::propose(session, &server.tasks, &arrival).await?;
    let edits = found
        .edits
        .into_iter()
        .map(|edit| InlineEdit {
            text: edit.new_text,
            text_document: VersionedTextDocumentIdentifier { uri: edit.uri, version: edit.version },
            range: edit.range,
            command: edit.command,
        })
        .collect();
    Ok(InlineEdits { edits })
}
