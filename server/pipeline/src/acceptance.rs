//! Acceptance figures, local only: which suggestions were shown, which of them the user took (whole, a word
//! at a time, a line at a time), how much of what was taken is still there 30 s later, and which acceptances
//! were undone. Inferred from the edits that follow a suggestion, so it works with every editor; nothing is
//! sent anywhere (`nib/status`, `nib top` and `nib bench replay` read it).
//!
//! Invariants: bounded (one pending suggestion per document, [`MAX_DOCUMENTS`] documents,
//! [`MAX_TRACKED`] acceptances per document); never blocks an edit: the handler's only cost is one short
//! lock and, for a document with something tracked, replaying its edits on a copy of the rope; retention is
//! judged lazily, at the document's next edit, at a status request or when it closes; only with
//! `completion.keep_acceptance` are the totals kept across runs, in `$NIB_HOME/acceptance.json`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use ropey::Rope;
use serde::{Deserialize, Serialize};

use nib_protocol::acceptance::{Figures, Report, Summary};
use nib_text::documents::{TextChange, position};

/// How long after an acceptance its text is checked for.
pub const RETAIN_AFTER: Duration = Duration::from_secs(30);
/// Documents with something tracked; the least recently touched goes first.
const MAX_DOCUMENTS: usize = 64;
/// Acceptances per document waiting for their retention check; past it the oldest is forgotten (never
/// judged, so the retention rate, over judged chars, stays true).
const MAX_TRACKED: usize = 16;
/// A single edit this short that matches the suggestion is typing through it, not accepting it.
const MIN_ACCEPT_CHARS: usize = 2;

/// Why the suggestion was asked for, and its shape: the figures are kept per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub invoked: bool,
    pub block: bool,
}

impl Kind {
    /// `automatic_line`, `automatic_block`, `invoked_line` or `invoked_block`.
    pub fn as_str(self) -> &'static str {
        match (self.invoked, self.block) {
            (false, false) => "automatic_line",
            (false, true) => "automatic_block",
            (true, false) => "invoked_line",
            (true, true) => "invoked_block",
        }
    }
}

/// A suggestion nib answered with.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    pub uri: &'a str,
    /// The document's `languageId`.
    pub language: &'a str,
    pub kind: Kind,
    /// Char offset where it would be inserted.
    pub at: usize,
    pub text: &'a str,
}

/// What is kept (and optionally saved): counts per (language, kind).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Totals {
    /// `language` -> `kind` -> figures.
    pub counts: BTreeMap<String, BTreeMap<String, Figures>>,
    /// Chars whose retention was judged, per language and kind (the retention rate's denominator).
    pub chars_judged: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Totals {
    fn at(&mut self, language: &str, kind: Kind) -> &mut Figures {
        self.counts.entry(language.to_owned()).or_default().entry(kind.as_str().to_owned()).or_default()
    }

    fn judged(&mut self, language: &str, kind: Kind, n_chars: u64) {
        *self.chars_judged.entry(language.to_owned()).or_default().entry(kind.as_str().to_owned()).or_default() +=
            n_chars;
    }

    /// Adds figures saved by an earlier run.
    pub fn merge(&mut self, other: Totals) {
        for (language, kinds) in other.counts {
            for (kind, figures) in kinds {
                self.counts.entry(language.clone()).or_default().entry(kind).or_default().add(&figures);
            }
        }
        for (language, kinds) in other.chars_judged {
            for (kind, n) in kinds {
                *self.chars_judged.entry(language.clone()).or_default().entry(kind).or_default() += n;
            }
        }
    }

    fn summary(&self, n_pending_retention: usize) -> Summary {
        let mut total = (Figures::default(), 0);
        let mut by_language: BTreeMap<String, (Figures, u64)> = BTreeMap::new();
        let mut by_kind: BTreeMap<String, (Figures, u64)> = BTreeMap::new();
        for (language, kinds) in &self.counts {
            for (kind, figures) in kinds {
                let judged = self.chars_judged.get(language).and_then(|k| k.get(kind)).copied().unwrap_or(0);
                for (sum, n) in [
                    &mut total,
                    by_language.entry(language.clone()).or_default(),
                    by_kind.entry(kind.clone()).or_default(),
                ] {
                    sum.add(figures);
                    *n += judged;
                }
            }
        }
        let reports =
            |m: BTreeMap<String, (Figures, u64)>| m.into_iter().map(|(k, (f, n))| (k, Report::of(f, n))).collect();
        Summary {
            total: Report::of(total.0, total.1),
            by_language: reports(by_language),
            by_kind: reports(by_kind),
            n_pending_retention,
        }
    }
}

/// One edit in chars of the text it applied to: `removed` at `start` became `inserted`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Edit {
    start: usize,
    removed: String,
    inserted: String,
}

impl Edit {
    fn n_removed(&self) -> usize {
        self.removed.chars().count()
    }

    fn n_inserted(&self) -> usize {
        self.inserted.chars().count()
    }

    /// The same edit without the text it kept: an editor that replaces the word before the cursor with that
    /// word plus the suggestion (classic completion) inserts only the suggestion.
    fn trimmed(mut self) -> Edit {
        let common: usize = self
            .removed
            .chars()
            .zip(self.inserted.chars())
            .take_while(|(a, b)| a == b)
            .map(|(c, _)| c.len_utf8())
            .sum();
        let n_chars = self.removed[..common].chars().count();
        self.removed.drain(..common);
        self.inserted.drain(..common);
        self.start += n_chars;
        self
    }
}

/// The edits of a batch of changes, each in the text as it was when it applied; `None` when a position is
/// outside the text (the document store refuses that batch too).
fn edits_of(before: &Rope, changes: &[TextChange]) -> Option<Vec<Edit>> {
    let mut rope = before.clone();
    let mut edits = Vec::with_capacity(changes.len());
    for change in changes {
        let (start, end) = match change.range {
            Some((start, end)) => {
                let start = position::to_char_offset(&rope, start).ok()?;
                let end = position::to_char_offset(&rope, end).ok()?;
                (start.min(end), start.max(end))
            }
            // A whole-text change: the span between the common prefix and suffix is what changed.
            None => {
                let new: Vec<char> = change.text.chars().collect();
                let n_old = rope.len_chars();
                let prefix = rope.chars().zip(new.iter()).take_while(|(a, b)| a == *b).count();
                let max_suffix = n_old.min(new.len()) - prefix;
                let suffix =
                    (0..max_suffix).take_while(|&i| rope.char(n_old - 1 - i) == new[new.len() - 1 - i]).count();
                let inserted: String = new[prefix..new.len() - suffix].iter().collect();
                let edit = Edit { start: prefix, removed: rope.slice(prefix..n_old - suffix).to_string(), inserted };
                rope = Rope::from_str(&change.text);
                edits.push(edit);
                continue;
            }
        };
        let removed = rope.slice(start..end).to_string();
        rope.remove(start..end);
        rope.insert(start, &change.text);
        edits.push(Edit { start, removed, inserted: change.text.clone() });
    }
    Some(edits)
}

/// The suggestion shown last in a document, as much of it as is still ahead of the cursor.
#[derive(Debug, Clone)]
struct Pending {
    /// What `nib.acceptedSuggestion` names it by.
    id: u64,
    language: String,
    kind: Kind,
    /// Char offset where `rest` would be inserted.
    at: usize,
    rest: String,
    /// Set once a piece of it was accepted: later pieces count as chars, not as another acceptance.
    started: bool,
    /// An edit that was not this suggestion came, or all of it was typed or accepted: no edit matches it any
    /// more, but `nib.acceptedSuggestion` may still name it.
    done: bool,
}

/// An accepted piece whose retention is still to be judged: the span it occupies now.
#[derive(Debug, Clone)]
struct Accepted {
    language: String,
    kind: Kind,
    text: String,
    start: usize,
    end: usize,
    at: Instant,
}

#[derive(Debug, Default)]
struct Tracked {
    pending: Option<Pending>,
    accepted: VecDeque<Accepted>,
    touched: Option<Instant>,
}

/// The figures and what is being tracked to make them; the logic, on a clock given to it.
#[derive(Debug, Default)]
pub struct Tracker {
    documents: HashMap<String, Tracked>,
    /// This run's counts: what a save adds to the file.
    totals: Totals,
    /// Counts of earlier runs, loaded at start: shown, never saved again.
    earlier: Totals,
    n_shown: u64,
}

impl Tracker {
    /// Starts from the totals of earlier runs.
    pub fn with_earlier(earlier: Totals) -> Tracker {
        Tracker { earlier, ..Tracker::default() }
    }

    /// Whether the edits of `uri` are of interest (a suggestion they may accept, or acceptances to follow):
    /// the handler copies the text before them only then.
    pub fn tracks(&self, uri: &str) -> bool {
        self.documents.get(uri).is_some_and(|t| t.pending.as_ref().is_some_and(|p| !p.done) || !t.accepted.is_empty())
    }

    /// A suggestion was shown; `rope` is its document's text now. Its id, for `nib.acceptedSuggestion`.
    pub fn shown(&mut self, shown: Shown, rope: &Rope, now: Instant) -> Option<u64> {
        let Shown { uri, language, kind, at, text } = shown;
        if text.is_empty() {
            return None;
        }
        if !self.documents.contains_key(uri) && self.documents.len() >= MAX_DOCUMENTS {
            self.evict(now);
        }
        let tracked = self.documents.entry(uri.to_owned()).or_default();
        tracked.touched = Some(now);
        // Asked again with nothing changed, or typed through: the suggestion already counted.
        if let Some(p) = tracked.pending.as_ref().filter(|p| !p.done && p.at == at && p.rest == text) {
            return Some(p.id);
        }
        self.n_shown += 1;
        let id = self.n_shown;
        let (language, rest) = (language.to_owned(), text.to_owned());
        tracked.pending = Some(Pending { id, language, kind, at, rest, started: false, done: false });
        self.totals.at(shown.language, kind).shown += 1;
        self.judge_due(uri, rope, now);
        Some(id)
    }

    /// The editor says it inserted suggestion `id` of `uri` (`nib.acceptedSuggestion`). Counted as accepted whole
    /// unless the edits already counted it; an id that is not the document's latest suggestion is stale.
    pub fn command_accepted(&mut self, uri: &str, id: u64, now: Instant) {
        let Some(tracked) = self.documents.get_mut(uri) else { return };
        let Some(pending) = tracked.pending.as_mut().filter(|p| p.id == id && !p.started) else { return };
        let n_chars = pending.rest.chars().count();
        let figures = self.totals.at(&pending.language, pending.kind);
        figures.accepted_whole += 1;
        figures.chars_accepted += n_chars as u64;
        tracked.accepted.push_back(Accepted {
            language: pending.language.clone(),
            kind: pending.kind,
            text: std::mem::take(&mut pending.rest),
            start: pending.at,
            end: pending.at + n_chars,
            at: now,
        });
        (pending.started, pending.done) = (true, true);
        if tracked.accepted.len() > MAX_TRACKED {
            tracked.accepted.pop_front();
        }
    }

    /// `changes` were applied to `uri`, whose text was `before`.
    pub fn edited(&mut self, uri: &str, before: &Rope, changes: &[TextChange], now: Instant) {
        if !self.tracks(uri) {
            return;
        }
        // Retention is judged on the text as it stood until now.
        self.judge_due(uri, before, now);
        let Some(edits) = edits_of(before, changes) else {
            self.documents.remove(uri);
            return;
        };
        let Some(tracked) = self.documents.get_mut(uri) else { return };
        tracked.touched = Some(now);
        for edit in edits {
            let edit = edit.trimmed();
            if edit.removed.is_empty() && edit.inserted.is_empty() {
                continue;
            }
            follow(tracked, &mut self.totals, &edit);
            accept(tracked, &mut self.totals, &edit, now);
        }
    }

    /// The document closed: what it accepted is judged on its last text, whatever the time.
    pub fn closed(&mut self, uri: &str, rope: &Rope) {
        if let Some(tracked) = self.documents.remove(uri) {
            for accepted in tracked.accepted {
                judge(&mut self.totals, &accepted, rope);
            }
        }
    }

    /// Judges the acceptances whose time has come, `text_of` giving each document's text.
    pub fn judge(&mut self, now: Instant, text_of: impl Fn(&str) -> Option<Rope>) {
        let due: Vec<String> = self
            .documents
            .iter()
            .filter(|(_, t)| t.accepted.front().is_some_and(|a| now.duration_since(a.at) >= RETAIN_AFTER))
            .map(|(uri, _)| uri.clone())
            .collect();
        for uri in due {
            match text_of(&uri) {
                Some(rope) => self.judge_due(&uri, &rope, now),
                None => {
                    self.documents.remove(&uri);
                }
            }
        }
    }

    /// Earlier runs' figures and this run's, together.
    pub fn summary(&self) -> Summary {
        let mut all = self.earlier.clone();
        all.merge(self.totals.clone());
        all.summary(self.documents.values().map(|t| t.accepted.len()).sum())
    }

    /// This run's counts.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    fn judge_due(&mut self, uri: &str, rope: &Rope, now: Instant) {
        let Some(tracked) = self.documents.get_mut(uri) else { return };
        while let Some(accepted) = tracked.accepted.front() {
            if now.duration_since(accepted.at) < RETAIN_AFTER {
                break;
            }
            judge(&mut self.totals, accepted, rope);
            tracked.accepted.pop_front();
        }
    }

    /// Forgets the least recently touched document, its acceptances unjudged: rare, with [`MAX_DOCUMENTS`]
    /// documents that all had suggestions.
    fn evict(&mut self, now: Instant) {
        let oldest = self.documents.iter().min_by_key(|(_, t)| t.touched.unwrap_or(now)).map(|(uri, _)| uri.clone());
        if let Some(uri) = oldest {
            self.documents.remove(&uri);
        }
    }
}

/// Moves the tracked spans through an edit, and counts a reversal when it deletes one exactly.
fn follow(tracked: &mut Tracked, totals: &mut Totals, edit: &Edit) {
    let (start, end) = (edit.start, edit.start + edit.n_removed());
    let delta = edit.n_inserted() as isize - edit.n_removed() as isize;
    let shift = |offset: usize| offset.saturating_add_signed(delta);
    tracked.accepted.retain_mut(|a| {
        if start == a.start && end == a.end && edit.inserted.is_empty() && edit.removed == a.text {
            let figures = totals.at(&a.language, a.kind);
            figures.reversals += 1;
            totals.judged(&a.language, a.kind, a.text.chars().count() as u64);
            return false;
        }
        if end <= a.start && !(start == end && start == a.start && a.start == a.end) {
            a.start = shift(a.start);
            a.end = shift(a.end);
        } else if start < a.end {
            // Inside or across the span: it now covers what the edit left of it and what it wrote.
            a.start = a.start.min(start);
            a.end = shift(a.end.max(end)).max(a.start);
        }
        true
    });
}

/// Counts an edit that inserts the pending suggestion, or its next word or line; any other edit drops it,
/// except a keystroke that types its next char (typing through).
fn accept(tracked: &mut Tracked, totals: &mut Totals, edit: &Edit, now: Instant) {
    let Some(pending) = tracked.pending.as_mut().filter(|p| !p.done) else { return };
    let typed = edit.removed.is_empty() && edit.start == pending.at && pending.rest.starts_with(&edit.inserted);
    if !typed {
        pending.done = true;
        return;
    }
    let n_chars = edit.n_inserted();
    let after = &pending.rest[edit.inserted.len()..];
    let last = edit.inserted.chars().next_back();
    let next = after.chars().next();
    let at_line_end = last == Some('\n') || next.is_none_or(|c| c == '\n' || c == '\r');
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let at_word_end = !(is_word(last) && is_word(next));
    let piece = n_chars >= MIN_ACCEPT_CHARS && (after.is_empty() || at_line_end || at_word_end);
    if piece {
        let figures = totals.at(&pending.language, pending.kind);
        if !pending.started {
            if after.is_empty() {
                figures.accepted_whole += 1;
            } else if at_line_end {
                figures.accepted_line += 1;
            } else {
                figures.accepted_word += 1;
            }
        }
        figures.chars_accepted += n_chars as u64;
        pending.started = true;
        tracked.accepted.push_back(Accepted {
            language: pending.language.clone(),
            kind: pending.kind,
            text: edit.inserted.clone(),
            start: edit.start,
            end: edit.start + n_chars,
            at: now,
        });
        if tracked.accepted.len() > MAX_TRACKED {
            tracked.accepted.pop_front();
        }
    }
    pending.at += n_chars;
    pending.rest = after.to_owned();
    pending.done = pending.rest.is_empty();
}

/// Counts how much of an accepted piece is still in its span: the chars it shares with the text there at
/// the start and at the end (an edit in the middle keeps both sides).
fn judge(totals: &mut Totals, accepted: &Accepted, rope: &Rope) {
    let n_chars = accepted.text.chars().count();
    let retained = Some(rope).filter(|r| accepted.end <= r.len_chars()).map_or(0, |rope| {
        let now: Vec<char> = rope.slice(accepted.start..accepted.end).chars().collect();
        let then: Vec<char> = accepted.text.chars().collect();
        let prefix = then.iter().zip(&now).take_while(|(a, b)| a == b).count();
        let room = then.len().min(now.len()) - prefix;
        let suffix = then.iter().rev().zip(now.iter().rev()).take(room).take_while(|(a, b)| a == b).count();
        prefix + suffix
    });
    totals.at(&accepted.language, accepted.kind).chars_retained_30s += retained.min(n_chars) as u64;
    totals.judged(&accepted.language, accepted.kind, n_chars as u64);
}

/// Where the totals are kept across runs, with `completion.keep_acceptance`.
pub fn file() -> PathBuf {
    crate::config::nib_home().join("acceptance.json")
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptanceError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not nib's acceptance figures: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The totals saved at `path`; none when there is no file yet.
pub fn load(path: &Path) -> Result<Totals, AcceptanceError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Totals::default()),
        Err(source) => return Err(AcceptanceError::Read { path: path.to_owned(), source }),
    };
    serde_json::from_str(&text).map_err(|source| AcceptanceError::Parse { path: path.to_owned(), source })
}

/// Adds this run's `totals` to those saved at `path` (read again: another server may have saved since this one
/// started), writing the whole file under a temporary name, then renaming it.
pub fn save(path: &Path, totals: &Totals) -> Result<(), AcceptanceError> {
    let mut all = load(path)?;
    all.merge(totals.clone());
    let write = |source| AcceptanceError::Write { path: path.to_owned(), source };
    let text = serde_json::to_string_pretty(&all).map_err(|e| write(std::io::Error::other(e)))?;
    nib_models::write_whole(path, text.as_bytes()).map_err(write)
}

/// The tracker behind a lock, on the real clock: what the session holds.
#[derive(Debug, Default)]
pub struct Acceptance(Mutex<Tracker>);

impl Acceptance {
    pub fn new(tracker: Tracker) -> Acceptance {
        Acceptance(Mutex::new(tracker))
    }

    /// Runs `f` on the tracker.
    pub fn with<T>(&self, f: impl FnOnce(&mut Tracker) -> T) -> T {
        f(&mut self.0.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "file:///t.py";
    const INVOKED_LINE: Kind = Kind { invoked: true, block: false };

    /// A document, a tracker and a clock of its own.
    struct Check {
        rope: Rope,
        tracker: Tracker,
        now: Instant,
    }

    impl Check {
        fn new(text: &str) -> Check {
            Check { rope: Rope::from_str(text), tracker: Tracker::default(), now: Instant::now() }
        }

        /// Shows `suggestion` right after the first `at` in the text; the offset it goes at.
        fn show(&mut self, at: &str, suggestion: &str) -> usize {
            let offset = self.offset_after(at);
            let shown = Shown { uri: URI, language: "python", kind: INVOKED_LINE, at: offset, text: suggestion };
            self.tracker.shown(shown, &self.rope, self.now);
            offset
        }

        fn offset_after(&self, at: &str) -> usize {
            let text = self.rope.to_string();
            let byte = text.find(at).map(|i| i + at.len()).unwrap_or(text.len());
            self.rope.byte_to_char(byte)
        }

        fn replace(&mut self, start: usize, end: usize, text: &str) {
            let pos =
                |offset| position::from_char_offset(&self.rope, offset, nib_text::documents::PositionEncoding::Utf8);
            let change = TextChange { range: Some((pos(start), pos(end))), text: text.to_owned() };
            let before = self.rope.clone();
            self.rope.remove(start..end);
            self.rope.insert(start, text);
            self.tracker.edited(URI, &before, &[change], self.now);
        }

        fn insert(&mut self, at: usize, text: &str) {
            self.replace(at, at, text);
        }

        fn wait(&mut self, duration: Duration) {
            self.now += duration;
        }

        fn figures(&mut self) -> Figures {
            let rope = self.rope.clone();
            self.tracker.judge(self.now, |_| Some(rope.clone()));
            self.tracker.summary().by_language.get("python").cloned().unwrap_or_default().figures
        }
    }

    #[test]
    fn whole_suggestion_inserted_at_once_is_accepted_whole_and_retained() {
        let mut c = Check::new("def add(a, b):\n    return \n");
        let at = c.show("return ", "a + b");
        c.insert(at, "a + b");
        c.wait(RETAIN_AFTER);
        let f = c.figures();
        assert_eq!((f.shown, f.accepted_whole, f.chars_accepted, f.chars_retained_30s), (1, 1, 5, 5));
        assert_eq!(c.tracker.summary().by_kind["invoked_line"].acceptance_rate, Some(1.0));
    }

    #[test]
    fn retention_waits_for_30_seconds_and_counts_what_is_left() {
        let mut c = Check::new("x = \n");
        let at = c.show("x = ", "compute(1)");
        c.insert(at, "compute(1)");
        c.wait(Duration::from_secs(10));
        assert_eq!(c.figures().chars_retained_30s, 0);
        assert_eq!(c.tracker.summary().n_pending_retention, 1);
        // The argument is changed; the rest stays.
        c.replace(at + 8, at + 9, "2");
        // Text typed before it moves it.
        c.insert(0, "# note\n");
        c.wait(Duration::from_secs(25));
        let f = c.figures();
        assert_eq!((f.chars_accepted, f.chars_retained_30s, f.reversals), (10, 9, 0));
        assert_eq!(c.tracker.summary().total.retention_rate, Some(0.9));
    }

    #[test]
    fn next_word_then_the_rest_counts_one_word_acceptance() {
        let mut c = Check::new("total = \n");
        let at = c.show("total = ", "price * count");
        c.insert(at, "price");
        c.insert(at + 5, " *");
        c.insert(at + 7, " count");
        let f = c.figures();
        assert_eq!((f.shown, f.accepted_word, f.accepted_whole, f.chars_accepted), (1, 1, 0, 13));
    }

    #[test]
    fn a_line_of_a_block_is_accepted_line() {
        let mut c = Check::new("def f():\n    \n");
        let at = c.show("    ", "a = 1\n    return a");
        c.insert(at, "a = 1\n");
        let f = c.figures();
        assert_eq!((f.accepted_line, f.accepted_word, f.chars_accepted), (1, 0, 6));
    }

    #[test]
    fn typing_through_a_suggestion_is_not_acceptance() {
        let mut c = Check::new("x = \n");
        let at = c.show("x = ", "abc");
        for (i, ch) in ["a", "b", "c"].into_iter().enumerate() {
            c.insert(at + i, ch);
        }
        let f = c.figures();
        assert_eq!((f.shown, f.n_accepted(), f.chars_accepted), (1, 0, 0));
    }

    #[test]
    fn a_typed_char_then_the_rest_accepted_counts_whole() {
        let mut c = Check::new("x = \n");
        let at = c.show("x = ", "value + 1");
        c.insert(at, "v");
        // The editor asks again and is shown the rest: the same suggestion.
        c.show("x = v", "alue + 1");
        c.insert(at + 1, "alue + 1");
        let f = c.figures();
        assert_eq!((f.shown, f.accepted_whole, f.chars_accepted), (1, 1, 8));
    }

    #[test]
    fn a_mid_word_prefix_or_another_text_is_not_acceptance() {
        let mut c = Check::new("x = \n");
        let at = c.show("x = ", "values[0]");
        c.insert(at, "val");
        assert_eq!(c.figures().n_accepted(), 0);
        let at = c.show("x = val", "ue");
        c.insert(at, "id");
        assert_eq!(c.figures().n_accepted(), 0);
    }

    #[test]
    fn undo_within_30_seconds_is_a_reversal() {
        let mut c = Check::new("x = \n");
        let at = c.show("x = ", "load(path)");
        c.insert(at, "load(path)");
        c.wait(Duration::from_secs(3));
        c.replace(at, at + 10, "");
        c.wait(RETAIN_AFTER);
        let f = c.figures();
        assert_eq!((f.accepted_whole, f.reversals, f.chars_retained_30s), (1, 1, 0));
        assert_eq!(c.tracker.summary().total.retention_rate, Some(0.0));
    }

    #[test]
    fn classic_completion_replacing_the_word_before_counts_the_suggestion() {
        let mut c = Check::new("result = comp\n");
        let at = c.show("= comp", "ute(x)");
        c.replace(at - 4, at, "compute(x)");
        let f = c.figures();
        assert_eq!((f.accepted_whole, f.chars_accepted), (1, 6));
    }

    #[test]
    fn a_whole_text_change_is_diffed() {
        let mut c = Check::new("x = \ny = 2\n");
        let at = c.show("x = ", "f(y)");
        let before = c.rope.clone();
        c.rope.insert(at, "f(y)");
        let change = TextChange { range: None, text: c.rope.to_string() };
        c.tracker.edited(URI, &before, &[change], c.now);
        assert_eq!(c.figures().accepted_whole, 1);
    }

    #[test]
    fn the_accepted_command_counts_once_with_or_without_the_edit() {
        let mut c = Check::new("x = \n");
        let at = c.offset_after("x = ");
        let show = |c: &mut Check, text: &str| {
            let shown = Shown { uri: URI, language: "python", kind: INVOKED_LINE, at, text };
            c.tracker.shown(shown, &c.rope, c.now).expect("an id")
        };
        // The edit was seen, then the command came: counted once.
        let id = show(&mut c, "f(1)");
        c.insert(at, "f(1)");
        c.tracker.command_accepted(URI, id, c.now);
        c.tracker.command_accepted(URI, id, c.now);
        assert_eq!((c.figures().accepted_whole, c.figures().chars_accepted), (1, 4));
        // The editor inserted it changed (a different quote), so only the command says so.
        c.replace(at, at + 4, "");
        let id = show(&mut c, "g('a')");
        c.insert(at, "g(\"a\")");
        c.tracker.command_accepted(URI, id, c.now);
        c.tracker.command_accepted(URI, id + 7, c.now);
        let f = c.figures();
        assert_eq!((f.shown, f.accepted_whole, f.chars_accepted, f.reversals), (2, 2, 10, 1));
    }

    #[test]
    fn showing_the_same_suggestion_again_counts_once() {
        let mut c = Check::new("x = \n");
        c.show("x = ", "1");
        c.show("x = ", "1");
        c.show("x = ", "2");
        assert_eq!(c.figures().shown, 2);
    }

    #[test]
    fn tracking_is_bounded() {
        let mut c = Check::new("x = \n");
        for i in 0..MAX_DOCUMENTS + 10 {
            let uri = format!("file:///{i}.py");
            let shown = Shown { uri: &uri, language: "python", kind: INVOKED_LINE, at: 0, text: "1" };
            c.tracker.shown(shown, &c.rope, c.now);
        }
        assert_eq!(c.tracker.documents.len(), MAX_DOCUMENTS);
        let at = c.show("x = ", "aa");
        for _ in 0..MAX_TRACKED + 5 {
            c.show("x = ", "aa");
            c.insert(at, "aa");
        }
        assert_eq!(c.tracker.documents[URI].accepted.len(), MAX_TRACKED);
        assert_eq!(c.tracker.n_shown as usize, MAX_DOCUMENTS + 10 + MAX_TRACKED + 5);
    }

    #[test]
    fn saved_totals_add_up_across_runs() {
        let mut c = Check::new("x = \n");
        let at = c.show("x = ", "12");
        c.insert(at, "12");
        let path = std::env::temp_dir().join(format!("nib-acceptance-test-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        // Two runs save in turn; the second starts from what the first saved.
        save(&path, c.tracker.totals()).expect("saved");
        let mut next = Tracker::with_earlier(load(&path).expect("loaded"));
        next.shown(Shown { uri: URI, language: "python", kind: INVOKED_LINE, at, text: "3" }, &c.rope, c.now);
        assert_eq!(next.summary().total.figures.shown, 2);
        save(&path, next.totals()).expect("saved");
        let f = &Tracker::with_earlier(load(&path).expect("loaded")).summary().total.figures;
        assert_eq!((f.shown, f.accepted_whole, f.chars_accepted), (2, 1, 2));
        std::fs::write(&path, "[1, 2]").expect("written");
        assert!(matches!(load(&path), Err(AcceptanceError::Parse { .. })));
        let _ = std::fs::remove_file(&path);
    }
}
