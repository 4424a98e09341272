//! `nib/document`: the server's copy of a document, so clients and tests can check that sync kept up.

use serde::{Deserialize, Serialize};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::Uri;

use crate::NibServer;

#[derive(Debug, Deserialize)]
pub struct DocumentParams {
    uri: Uri,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentText {
    version: i32,
    language_id: String,
    /// The grammar the document is parsed with; none for a language nib cannot parse, or generated code.
    syntax: Option<&'static str>,
    /// Minified or generated: opaque text to nib.
    generated: bool,
    text: String,
}

pub async fn handle(server: &NibServer, params: DocumentParams) -> Result<DocumentText> {
    let session = server.session()?;
    // As it is when asked: edits that follow must not show (a parse is not waited for).
    let doc = session.documents.snapshot(params.uri.as_str()).map_err(|e| Error::invalid_params(e.to_string()))?;
    Ok(DocumentText {
        version: doc.version,
        language_id: doc.language_id.to_string(),
        syntax: doc.parseable().map(|language| language.name()),
        generated: doc.generated,
        text: doc.rope.to_string(),
    })
}
