//! Next edits for the two requests that ask for them (`nib/nextEdits`, `textDocument/copilotInlineEdit`):
//! the proposals of `nib_text::next_edit` in protocol terms, each with an id its acceptance command names,
//! and the figures of what was shown and accepted for `nib/status`.

use std::collections::{BTreeMap, VecDeque};

use parking_lot::Mutex;
use serde::Serialize;
use tower_lsp_server::ls_types::{Command, Range, Uri};

use crate::arrival::{Arrival, Superseded};
use crate::convert;
use crate::session::{PARSE_WAIT, Session};
use nib_engine::{CancelToken, ModelState};
use nib_pipeline::next_edit::{self as model, EditTemplate, ProposedEdit};
use nib_pipeline::tasks::Tasks;
use nib_text::documents::Document;
use nib_text::next_edit::{self, NextEditKind, OpenDocument};

/// The command a client runs once it has applied an edit, with the edit's id as its argument.
pub const ACCEPT_COMMAND: &str = "nib.acceptNextEdit";

/// Ids of edits shown that an acceptance may still name: a client accepts one of the last few it was shown,
/// so older ones are forgotten rather than kept for a whole session.
const MAX_SHOWN_IDS: usize = 256;

/// One proposal in protocol terms, in the document it edits.
pub struct Proposal {
    pub id: String,
    pub uri: Uri,
    /// The version of the document the range is in.
    pub version: i32,
    pub range: Range,
    pub new_text: String,
    /// `rename`, `literal`, `arguments`, `callSite`, or `model`.
    pub kind: &'static str,
    pub command: Command,
}

/// A place still to edit whose edit is not known exactly.
pub struct Place {
    pub uri: Uri,
    pub range: Range,
    pub kind: NextEditKind,
}

/// What the requests answer: nothing at all for an unknown document, a position past its end, or a
/// document whose tree did not catch up in time (superseded, once the document has moved on).
#[derive(Default)]
pub struct Proposals {
    pub edits: Vec<Proposal>,
    pub targets: Vec<Place>,
}

/// The name a kind goes by in the protocol and in `nib/status`.
pub fn kind_name(kind: NextEditKind) -> &'static str {
    match kind {
        NextEditKind::Rename => "rename",
        NextEditKind::Literal => "literal",
        NextEditKind::Arguments => "arguments",
        NextEditKind::CallSite => "callSite",
    }
}

/// The next edits with the cursor where the request found it (`arrival`), in the documents as they were then.
/// The engine runs on a blocking thread: it reparses the text from before the last edit, CPU work that must
/// not hold up the async threads.
pub async fn propose(session: &Session, tasks: &Tasks, arrival: &Arrival) -> Result<Proposals, Superseded> {
    let documents = &session.documents;
    let encoding = documents.encoding();
    let (uri, cursor) = (&arrival.uri, arrival.cursor);
    // Before the first `.await`, as `arrival` was: the other documents as the request found them too.
    let mut others = documents.snapshots_except(uri.as_str());
    let current = arrival.parsed(documents, PARSE_WAIT).await?;
    // Their trees too, as of the texts the request found: a document opened just before may not be parsed yet.
    // One wait for all of them, not one each.
    let until = tokio::time::Instant::now() + PARSE_WAIT;
    for (key, document) in others.iter_mut().filter(|(_, document)| !document.is_parsed()) {
        let wait = until.saturating_duration_since(tokio::time::Instant::now());
        if let Ok(parsed) = documents.parsed_at(key, document.revision(), wait).await {
            *document = parsed;
        }
    }
    let key = uri.as_str().to_owned();
    let found = tasks.spawn_blocking("next edits", move || {
        let open: Vec<OpenDocument> =
            others.iter().map(|(key, document)| OpenDocument { key: key.as_str(), document }).collect();
        let found = next_edit::next_edits(OpenDocument { key: &key, document: &current }, cursor, &open);
        (found, current, key, others)
    });
    let Ok(Some((found, current, key, others))) = found.await else { return Ok(Proposals::default()) };
    let modelled = model_edits(session, &current, uri, cursor).await;
    // Edits for a text the client no longer has would land in the wrong place.
    arrival.current(documents)?;
    let document = |key_wanted: &str| -> Option<(&Document, Uri)> {
        let document = if key_wanted == key {
            &current
        } else {
            others.iter().find(|(key, _)| key == key_wanted).map(|(_, document)| document)?
        };
        Some((document, key_wanted.parse().ok()?))
    };
    let proposal = |doc: &Document, uri: Uri, range: std::ops::Range<usize>, new_text: String, kind| {
        let id = session.next_edits.show(kind);
        let arguments = Some(vec![id.clone().into()]);
        let command = Command { title: "Accept next edit".into(), command: ACCEPT_COMMAND.into(), arguments };
        let range = convert::to_range(&doc.rope, range.start, range.end, encoding);
        Proposal { command, id, uri, version: doc.version, range, new_text, kind }
    };
    // The model's edits come after the exact ones, and never where one of those already edits.
    let exact_here: Vec<std::ops::Range<usize>> =
        found.edits.iter().filter(|e| e.key == key).map(|e| e.range.clone()).collect();
    let modelled = modelled
        .into_iter()
        .filter(|m| !exact_here.iter().any(|e| overlaps(e, &m.range)))
        .filter_map(|m| Some(proposal(&current, key.parse().ok()?, m.range, m.new_text, MODEL_KIND)))
        .collect::<Vec<_>>();
    let mut edits: Vec<Proposal> = found
        .edits
        .into_iter()
        .filter_map(|edit| {
            let (doc, uri) = document(&edit.key)?;
            Some(proposal(doc, uri, edit.range, edit.new_text, kind_name(edit.kind)))
        })
        .collect();
    edits.extend(modelled);
    let targets = found
        .targets
        .into_iter()
        .filter_map(|target| {
            let (doc, uri) = document(&target.key)?;
            let range = convert::to_range(&doc.rope, target.range.start, target.range.end, encoding);
            Some(Place { uri, range, kind: NextEditKind::CallSite })
        })
        .collect();
    Ok(Proposals { edits, targets })
}

/// Whether two edits touch the same text; an insertion counts as the char it stands before.
fn overlaps(a: &std::ops::Range<usize>, b: &std::ops::Range<usize>) -> bool {
    a.start < b.end.max(b.start + 1) && b.start < a.end.max(a.start + 1)
}

/// The kind of the edits a model proposes.
const MODEL_KIND: &str = "model";

/// The model's next edits, when the model path is on for this model (`next_edit.model`): from the document's
/// recent edits and the region around the cursor, bounded by `next_edit.timeout_ms`.
async fn model_edits(session: &Session, document: &Document, uri: &Uri, cursor: usize) -> Vec<ProposedEdit> {
    let config = &session.start.next_edit;
    let engine = session.completer.engine();
    let ModelState::Ready { info, .. } = engine.state() else { return Vec::new() };
    let Some(template) = EditTemplate::choose(config, &info.name) else { return Vec::new() };
    let n_edits = document.history.len().min(config.max_edits as usize);
    let diffs: Vec<String> =
        document.history.edits().skip(document.history.len() - n_edits).map(|e| e.unified_diff()).collect();
    // Without recent edits there is nothing to carry on.
    if diffs.is_empty() {
        return Vec::new();
    }
    let path = session.workspace().label(uri.as_str());
    let prompt = model::prompt(template, &document.rope, cursor, &path, &diffs, config.lines_around as usize);
    let cancel = CancelToken::default();
    let asked = model::propose(engine, template, prompt, config.max_tokens as usize, cancel.clone());
    match tokio::time::timeout(std::time::Duration::from_millis(config.timeout_ms), asked).await {
        Ok(Ok(edits)) => edits,
        Ok(Err(err)) => {
            tracing::debug!("model next edits: {err}");
            Vec::new()
        }
        Err(_) => {
            cancel.cancel();
            Vec::new()
        }
    }
}

/// Edits shown and accepted, by kind, and the ids an acceptance may name.
#[derive(Default)]
pub struct NextEditStats {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    n_shown: u64,
    by_kind: BTreeMap<&'static str, KindCounts>,
    /// Oldest first, at most `MAX_SHOWN_IDS`.
    shown: VecDeque<(String, &'static str)>,
}

/// The figures `nib/status` shows under `next_edits`.
#[derive(Debug, Clone, Serialize)]
pub struct NextEditCounts {
    n_shown: u64,
    n_accepted: u64,
    by_kind: BTreeMap<&'static str, KindCounts>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct KindCounts {
    n_shown: u64,
    n_accepted: u64,
}

impl NextEditStats {
    /// Counts an edit shown and gives it its id.
    fn show(&self, kind: &'static str) -> String {
        let mut inner = self.inner.lock();
        inner.n_shown += 1;
        let id = format!("{:x}", inner.n_shown);
        inner.by_kind.entry(kind).or_default().n_shown += 1;
        if inner.shown.len() == MAX_SHOWN_IDS {
            inner.shown.pop_front();
        }
        inner.shown.push_back((id.clone(), kind));
        id
    }

    /// Counts the acceptance of the edit shown as `id`, once; `false` for an id not shown (or long ago).
    pub fn accept(&self, id: &str) -> bool {
        let mut inner = self.inner.lock();
        let Some(at) = inner.shown.iter().position(|(shown, _)| shown == id) else { return false };
        let Some((_, kind)) = inner.shown.remove(at) else { return false };
        inner.by_kind.entry(kind).or_default().n_accepted += 1;
        true
    }

    pub fn counts(&self) -> NextEditCounts {
        let inner = self.inner.lock();
        NextEditCounts {
            n_shown: inner.n_shown,
            n_accepted: inner.by_kind.values().map(|counts| counts.n_accepted).sum(),
            by_kind: inner.by_kind.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acceptance_counts_once_and_only_for_an_id_shown() {
        let stats = NextEditStats::default();
        let id = stats.show("rename");
        stats.show("literal");
        assert!(!stats.accept("nope"));
        assert!(stats.accept(&id));
        assert!(!stats.accept(&id));
        let counts = stats.counts();
        assert_eq!((counts.n_shown, counts.n_accepted), (2, 1));
        assert_eq!(counts.by_kind["rename"].n_accepted, 1);
        assert_eq!(counts.by_kind["literal"].n_accepted, 0);
    }

    #[test]
    fn old_ids_are_forgotten() {
        let stats = NextEditStats::default();
        let first = stats.show("rename");
        let last = (0..MAX_SHOWN_IDS).map(|_| stats.show("rename")).last();
        assert!(!stats.accept(&first));
        assert!(last.is_some_and(|id| stats.accept(&id)));
    }
}
