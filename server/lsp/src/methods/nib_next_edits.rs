//! `nib/nextEdits`: the edits the user is likely to make next near the cursor and in other open documents,
//! and the places still to edit (see docs/lsp-extensions.md).

use serde::{Deserialize, Serialize};
use tower_lsp_server::ls_types::{Command, Position, Range, TextDocumentIdentifier, Uri};

use crate::NibServer;
use crate::arrival::{Arrival, Empty, Unanswered};
use crate::next_edits::{self, kind_name};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextEditsParams {
    text_document: TextDocumentIdentifier,
    position: Position,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NextEditsAnswer {
    edits: Vec<Edit>,
    targets: Vec<Target>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Edit {
    id: String,
    uri: Uri,
    range: Range,
    new_text: String,
    kind: &'static str,
    command: Command,
}

#[derive(Debug, Serialize)]
pub struct Target {
    uri: Uri,
    range: Range,
    kind: &'static str,
}

impl Empty for NextEditsAnswer {
    fn empty() -> NextEditsAnswer {
        NextEditsAnswer { edits: Vec::new(), targets: Vec::new() }
    }
}

pub async fn handle(server: &NibServer, params: NextEditsParams) -> Result<NextEditsAnswer, Unanswered> {
    let session = server.session()?;
    // A document not open or a position outside it: no edits, not an error.
    let Ok(arrival) = Arrival::new(&session.documents, &params.text_document.uri, params.position) else {
        return Ok(NextEditsAnswer::empty());
    };
    let found = next_edits::propose(session, &server.tasks, &arrival).await?;
    Ok(NextEditsAnswer {
        edits: found
            .edits
            .into_iter()
            .map(|edit| Edit {
                id: edit.id,
                uri: edit.uri,
                range: edit.range,
                new_text: edit.new_text,
                kind: edit.kind,
                command: edit.command,
            })
            .collect(),
        targets: found
            .targets
            .into_iter()
            .map(|target| Target { uri: target.uri, range: target.range, kind: kind_name(target.kind) })
            .collect(),
    })
}
