//! Warm-ahead where the user is going, besides where the cursor rests (`nib/cursorRest`): the place a file was last
//! edited when it is opened again (`last_edits.rs`) or switched to. Each runs at idle priority, never ahead of a
//! request, on a KV sequence of its own (`Ahead::Elsewhere`).

use nib_pipeline::completion::{self, Ahead, Trigger};
use nib_pipeline::tasks::Tasks;
use nib_text::documents::{Document, Revision};

use crate::last_edits::{LastEdits, Place};
use crate::session::{PARSE_WAIT, Session};

/// A warm-ahead's task, which ends once its job is on the engine.
pub type Warming = tokio::task::JoinHandle<Option<()>>;

/// A place this many lines or fewer from the cursor shares its prompt window: warming the cursor covers it.
const SAME_WINDOW_LINES: usize = 16;

/// Warms `place` in `uri`, as the document is at `revision`, once its tree is parsed and the warm-ahead `after`
/// (where the cursor rests) is on the engine: the engine takes jobs of one priority in order.
fn warm(session: &Session, tasks: &Tasks, (uri, revision): (&str, Revision), place: Place, after: Option<Warming>) {
    let (documents, completer, uri) = (session.documents.clone(), session.completer.clone(), uri.to_owned());
    tasks.spawn("warm ahead", async move {
        if let Some(after) = after {
            let _ = after.await;
        }
        let Ok(document) = documents.parsed_at(&uri, revision, PARSE_WAIT).await else { return };
        let request = completion::Request {
            rope: &document.rope,
            cursor: place.offset_in(&document.rope),
            document: Some(&uri),
            syntax: document.syntax(),
            trigger: Trigger::Invoked,
        };
        tracing::debug!(uri, ?place, "warm ahead");
        let _ = completer.warm(request, Ahead::Elsewhere).await;
    });
}

/// A document opened: its last edit from an earlier run, if one is remembered.
pub fn opened(session: &Session, tasks: &Tasks, uri: &str) {
    let (Some(place), Ok(document)) = (session.last_edits.get(uri), session.documents.snapshot(uri)) else { return };
    warm(session, tasks, (uri, document.revision()), place, None);
}

/// The cursor rests at `line` of `uri`, and `warming` warms it: when the user has come from another document, the
/// place of this one's last edit too (after it), unless it is near the cursor.
pub fn rested(session: &Session, tasks: &Tasks, (uri, line): (&str, usize), warming: Warming) {
    let came_from = session.requests.rested_in.lock().replace(uri.to_owned());
    if came_from.as_deref() == Some(uri) {
        return;
    }
    let Ok(document) = session.documents.snapshot(uri) else { return };
    let Some(place) = Place::of(&document).filter(|p| p.line.abs_diff(line) > SAME_WINDOW_LINES) else { return };
    warm(session, tasks, (uri, document.revision()), place, Some(warming));
}

/// A document closes: its last edit is remembered for the next time it opens.
pub fn closing(session: &Session, tasks: &Tasks, uri: &str) {
    let Ok(document) = session.documents.snapshot(uri) else { return };
    if remember(session, uri, &document) {
        let last_edits = session.last_edits.clone();
        tasks.spawn_blocking("save last edits", move || save(&last_edits));
    }
}

/// The server ends: every open document's last edit is remembered, for the next start (a closed one's is saved
/// already).
pub async fn ending(session: &Session) {
    let mut edited = false;
    for (uri, document) in session.documents.snapshots() {
        edited |= remember(session, &uri, &document);
    }
    if edited {
        let last_edits = session.last_edits.clone();
        let _ = tokio::task::spawn_blocking(move || save(&last_edits)).await;
    }
}

/// Remembers where `document` was last edited in this run; whether it was.
fn remember(session: &Session, uri: &str, document: &Document) -> bool {
    let place = Place::of(document);
    if let Some(place) = place {
        session.last_edits.remember(uri, place);
    }
    place.is_some()
}

fn save(last_edits: &LastEdits) {
    if let Err(err) = last_edits.save() {
        tracing::warn!("{err}");
    }
}
