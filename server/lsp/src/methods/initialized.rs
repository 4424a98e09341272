//! `initialized`: show the warnings from start, index the workspace, ask the client to watch files, and
//! offer a missing model for download or report a model that fails to load.

use tower_lsp_server::ls_types::*;

use crate::{NibServer, model_setup};

/// How long to wait for a client to acknowledge the file watcher's registration.
const REGISTER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The watcher nib asks for: every file, since a deleted folder is reported as the folder alone; the index
/// thread drops what is not source (`syntax::source_files_at`).
const WATCH_GLOB: &str = "**/*";

pub async fn handle(server: &NibServer, _: InitializedParams) {
    let Ok(session) = server.session() else { return };
    for warning in &session.start.warnings {
        server.client.show_message(MessageType::WARNING, warning.clone()).await;
    }
    // The workspace's symbols, for definitions from files that are not open, kept up to date as files
    // change on disk where the client can tell.
    session.workspace().scan_in_background();
    // For `nib top`.
    crate::servers::publish(&server.tasks, session);
    if session.start.can_watch_files {
        watch_files(server);
    }
    if session.start.push_status
        && let Ok(session) = server.shared_session()
    {
        server.tasks.spawn("status changes", super::nib_status::push_changes(server.client.clone(), session));
    }
    // Once loading has settled, without holding up initialization: a missing model is offered for download, other
    // problems are reported.
    let setup = session.model_setup_context(&server.client, &server.tasks);
    server.tasks.spawn("model state", model_setup::at_start(setup));
}

/// Asks a client that can watch files for nib to tell it about changes on disk, without holding up
/// `initialized` (the client answers on its own time, or never).
fn watch_files(server: &NibServer) {
    let client = server.client.clone();
    server.tasks.spawn("watch files", async move {
        let options = DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![FileSystemWatcher { glob_pattern: GlobPattern::String(WATCH_GLOB.into()), kind: None }],
        };
        let registration = Registration {
            id: "nib-watched-files".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(options).ok(),
        };
        match tokio::time::timeout(REGISTER_TIMEOUT, client.register_capability(vec![registration])).await {
            Ok(Ok(())) => tracing::debug!("the client watches files for nib"),
            Ok(Err(error)) => tracing::info!(%error, "the client does not watch files for nib"),
            Err(_) => tracing::info!("the client did not answer the file watcher's registration"),
        }
    });
}
