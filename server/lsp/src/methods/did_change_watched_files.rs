//! `workspace/didChangeWatchedFiles`: files nib does not have open changed on disk: index them again, forget
//! the deleted ones. An open document's entry follows the editor's buffer instead.

use tower_lsp_server::ls_types::DidChangeWatchedFilesParams;

use crate::{NibServer, convert};

pub async fn handle(server: &NibServer, params: DidChangeWatchedFilesParams) {
    let Ok(session) = server.session() else { return };
    let paths = params
        .changes
        .iter()
        .filter(|change| !session.documents.is_open(change.uri.as_str()))
        .filter_map(|change| convert::file_path(&change.uri))
        .collect();
    session.workspace().files_changed(paths);
}
