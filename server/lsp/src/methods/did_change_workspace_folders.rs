//! `workspace/didChangeWorkspaceFolders`: the folders indexed follow the client's.

use tower_lsp_server::ls_types::DidChangeWorkspaceFoldersParams;

use crate::{NibServer, convert};

pub async fn handle(server: &NibServer, params: DidChangeWorkspaceFoldersParams) {
    let Ok(session) = server.session() else { return };
    let workspace = session.workspace();
    for folder in &params.event.removed {
        if let Some(root) = convert::file_path(&folder.uri) {
            workspace.remove_root(&root);
        }
    }
    for folder in &params.event.added {
        if let Some(root) = convert::file_path(&folder.uri) {
            workspace.add_root(root);
        }
    }
}
