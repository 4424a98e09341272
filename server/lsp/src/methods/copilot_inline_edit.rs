//! `textDocument/copilotInlineEdit`: `nib/nextEdits` in the shape Copilot's clients ask for and show
//! (copilot-lsp.nvim and others); targets have no place in it.

use serde::{Deserialize, Serialize};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{Command, Position, Range, VersionedTextDocumentIdentifier};

use crate::NibServer;
use crate::next_edits;

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

pub async fn handle(server: &NibServer, params: InlineEditParams) -> Result<InlineEdits> {
    let session = server.session()?;
    let found = next_edits::propose(session, &server.tasks, &params.text_document.uri, params.position).await;
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
