//! `shutdown`: stop the work, save the KV sequences (and, when kept, the acceptance figures), free the engine.

use tower_lsp_server::jsonrpc::Result;

use crate::session::Session;
use crate::{NibServer, acceptance, ahead};

/// How long `shutdown` may spend saving KV sequences to disk.
const PERSIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

pub async fn handle(server: &NibServer) -> Result<()> {
    if let Ok(session) = server.session() {
        // Stop the work first, so the engine is free to save its sequences at once.
        session.requests.in_flight.iter().for_each(|entry| entry.value().cancel());
        session.reviews.cancel_all();
        session.completer.cancel_all();
        // The next start restores these instead of evaluating whole files again.
        session.completer.engine().persist(PERSIST_TIMEOUT).await;
        session.completer.engine().stop(crate::STOP_TIMEOUT).await;
        // `shutdown` and `exit` to each plugin process (a short wait each): off the async threads.
        let plugins = session.completer.plugins().clone();
        let _ = tokio::task::spawn_blocking(move || plugins.stop()).await;
        // The next start warms each file where it was last edited.
        ahead::ending(session).await;
        if session.completer.config().keep_acceptance {
            save_acceptance(server, session).await;
        }
    }
    Ok(())
}

/// Adds this run's acceptance figures to `$NIB_HOME/acceptance.json`, once what is due has been judged.
async fn save_acceptance(server: &NibServer, session: &Session) {
    let documents = &session.documents;
    let totals = session.acceptance.with(|a| {
        a.judge(std::time::Instant::now(), |uri| documents.snapshot(uri).ok().map(|d| d.rope));
        a.totals().clone()
    });
    let saved = tokio::task::spawn_blocking(move || acceptance::save(&acceptance::file(), &totals)).await;
    if let Ok(Err(err)) = saved {
        server.warn(format!("nib: {err}")).await;
    }
}
