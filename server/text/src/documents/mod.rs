//! Open documents: rope buffers kept in step with the editor through
//! incremental edits, each with its syntax tree. Knows nothing of LSP types; `lsp/` converts.
//!
//! Invariants: a document's version only grows; a rejected edit leaves the
//! buffer exactly as it was; the tree is edited with the same changes as the
//! rope at once (so its positions always match) and reparsed incrementally off
//! the async threads, one parse per document at a time; nothing here panics on
//! client input.

#[cfg(test)]
mod fuzz;
pub mod history;
pub mod position;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::{Duration, Instant};

use dashmap::DashMap;
use ropey::Rope;
use tokio::sync::watch;
use tree_sitter::InputEdit;

use crate::syntax::{self, Language, Syntax};

pub use history::{Edit, EditHistory, EditText};
pub use position::{Column, Position, PositionEncoding, PositionError};

/// Text files larger than this are not kept (a generated bundle, a binary blob):
/// they would only slow every request down.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;

/// One open document.
#[derive(Debug, Clone)]
pub struct Document {
    pub rope: Rope,
    pub version: i32,
    /// Which opening of the document this is (`DocumentStore::open` counts them): versions start over when
    /// a document is opened again.
    opening: u64,
    pub language_id: Arc<str>,
    /// Minified or generated (`syntax::looks_generated`): opaque text, never parsed, indexed or reviewed.
    pub generated: bool,
    /// `None` for a language nib cannot parse.
    language: Option<Language>,
    /// Whole-text replacements so far: a parse started before one is of no use after it.
    n_replaced: u32,
    /// The tree, edited with every change so its positions match the rope; `parsed` says whether it was
    /// also reparsed since. `None` until the first parse.
    pub syntax: Option<Syntax>,
    /// The recent edits, coalesced into logical ones: what next edits are guessed from.
    pub history: EditHistory,
    parse: ParseState,
}

/// Where a document's tree stands. Parsing runs off the async threads (`DocumentStore::parse`), one
/// parse per document at a time.
#[derive(Debug, Clone, Default)]
struct ParseState {
    /// The tree describes the text, structure included.
    parsed: bool,
    /// A parse of this document is under way.
    running: bool,
    /// Edits since the last parse (by version): a parse of an older text gets them applied, as the rope did.
    edits: Vec<(i32, InputEdit)>,
}

/// Which text a document holds: its version within one opening of it. Two snapshots with the same revision
/// hold the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision {
    opening: u64,
    version: i32,
}

impl Revision {
    pub fn version(self) -> i32 {
        self.version
    }
}

/// One change from the editor: a replaced range, or the whole text when `range` is None.
#[derive(Debug, Clone)]
pub struct TextChange {
    pub range: Option<(Position, Position)>,
    pub text: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocumentError {
    #[error("document {0} is not open")]
    NotOpen(String),
    #[error("{uri}: version {got} is not newer than {have}; change ignored")]
    StaleVersion { uri: String, have: i32, got: i32 },
    #[error("{uri}: {source}")]
    Position { uri: String, source: PositionError },
    #[error("{uri}: {n_bytes} bytes is over the {MAX_DOCUMENT_BYTES}-byte limit")]
    TooLarge { uri: String, n_bytes: usize },
    #[error("{0} has changed since")]
    MovedOn(String),
}

impl Document {
    /// A document whose tree is still to be parsed (`parse_now`, or `DocumentStore::parse`).
    fn unparsed(uri: &str, text: &str, version: i32, language_id: &str) -> Document {
        let mut doc = Document {
            rope: Rope::from_str(text),
            version,
            opening: 0,
            language_id: language_id.into(),
            generated: syntax::looks_generated(uri, text),
            language: Language::detect(language_id, uri),
            n_replaced: 0,
            syntax: None,
            history: EditHistory::default(),
            parse: ParseState::default(),
        };
        doc.parse.parsed = doc.parseable().is_none();
        doc
    }

    /// The language to parse the text as, if it is to be parsed.
    pub fn parseable(&self) -> Option<Language> {
        self.language.filter(|_| !self.generated)
    }

    /// A document parsed on this thread: for tools that read one file.
    pub fn new(uri: &str, text: &str, version: i32, language_id: &str) -> Document {
        let mut doc = Document::unparsed(uri, text, version, language_id);
        doc.syntax = doc.parseable().and_then(|language| Syntax::parse(language, &doc.rope));
        doc.parse.parsed = true;
        doc
    }

    pub fn revision(&self) -> Revision {
        Revision { opening: self.opening, version: self.version }
    }

    /// Char offset of `pos`: see [`position::to_char_offset`].
    pub fn char_offset(&self, pos: Position) -> Result<usize, PositionError> {
        position::to_char_offset(&self.rope, pos)
    }

    /// Whether the tree describes the text: reparsed since the last edit (or there is none to have).
    pub fn is_parsed(&self) -> bool {
        self.parse.parsed
    }

    /// The tree, once it describes the text (`is_parsed`).
    pub fn syntax(&self) -> Option<&Syntax> {
        self.syntax.as_ref().filter(|_| self.parse.parsed)
    }

    /// Applies `changes` in order, all or nothing, as `version`. The tree is edited along (cheap);
    /// reparsing it is left to `DocumentStore::parse`.
    fn apply(&mut self, uri: &str, version: i32, changes: &[TextChange], now: Instant) -> Result<(), PositionError> {
        let mut rope = self.rope.clone();
        let mut edits = Vec::new();
        let mut replaced = None;
        // Recorded on a copy, so a batch refused halfway leaves the history as it was.
        let mut history = self.history.clone();
        for change in changes {
            let before = rope.clone();
            let (chars, text) = match change.range {
                None => {
                    rope = Rope::from_str(&change.text);
                    replaced = Some(change.text.as_str());
                    edits.clear();
                    history::difference(&before, &change.text)
                }
                Some((start, end)) => {
                    let start = position::to_char_offset(&rope, start)?;
                    let end = position::to_char_offset(&rope, end)?;
                    if end < start {
                        return Err(PositionError::InvertedRange { start, end });
                    }
                    edits.push(syntax::input_edit(&rope, start, end, &change.text));
                    rope.remove(start..end);
                    rope.insert(start, &change.text);
                    (start..end, change.text.as_str())
                }
            };
            history.record(&before, &rope, chars, text, version, now);
        }
        self.history = history;
        if let Some(text) = replaced {
            // A new text: parsed from scratch, and looked at again for being generated.
            self.generated = syntax::looks_generated(uri, text);
            self.n_replaced += 1;
            self.syntax = None;
            self.parse.edits.clear();
        }
        if let Some(syntax) = &mut self.syntax {
            edits.iter().for_each(|edit| syntax.edit(edit));
        }
        self.parse.edits.extend(edits.into_iter().map(|edit| (version, edit)));
        self.parse.parsed = self.parseable().is_none() || (changes.is_empty() && self.parse.parsed);
        self.rope = rope;
        self.version = version;
        Ok(())
    }
}

/// The open documents, keyed by URI. Handlers take short-lived entries and
/// never hold one across an `.await`, nor while parsing.
#[derive(Debug, Default)]
pub struct DocumentStore {
    documents: DashMap<String, Document>,
    encoding: PositionEncoding,
    /// Counts finished parses and changed texts: `parsed` and `parsed_at` wait on it.
    n_updates: watch::Sender<u64>,
    /// Documents opened so far, for their revisions.
    n_openings: AtomicU64,
}

impl DocumentStore {
    pub fn new(encoding: PositionEncoding) -> DocumentStore {
        DocumentStore {
            documents: DashMap::new(),
            encoding,
            n_updates: watch::Sender::new(0),
            n_openings: AtomicU64::new(0),
        }
    }

    pub fn encoding(&self) -> PositionEncoding {
        self.encoding
    }

    /// Opens a document; `Ok(true)` when its tree is to be parsed (`parse`, off the async threads).
    pub fn open(&self, uri: &str, text: &str, version: i32, language_id: &str) -> Result<bool, DocumentError> {
        if text.len() > MAX_DOCUMENT_BYTES {
            self.close(uri);
            return Err(DocumentError::TooLarge { uri: uri.to_owned(), n_bytes: text.len() });
        }
        let mut doc = Document::unparsed(uri, text, version, language_id);
        doc.opening = self.n_openings.fetch_add(1, Ordering::Relaxed) + 1;
        let parse = !doc.parse.parsed;
        doc.parse.running = parse;
        self.documents.insert(uri.to_owned(), doc);
        self.updated();
        Ok(parse)
    }

    /// Applies a change; `Ok(true)` when a parse is to be started (`parse`): none runs for it yet.
    pub fn change(&self, uri: &str, version: i32, changes: &[TextChange]) -> Result<bool, DocumentError> {
        self.change_at(uri, version, changes, Instant::now())
    }

    /// `change`, made at `now`: traces replay keystrokes on a clock of their own.
    pub(crate) fn change_at(
        &self,
        uri: &str,
        version: i32,
        changes: &[TextChange],
        now: Instant,
    ) -> Result<bool, DocumentError> {
        let mut doc = self.documents.get_mut(uri).ok_or_else(|| DocumentError::NotOpen(uri.to_owned()))?;
        if version <= doc.version {
            return Err(DocumentError::StaleVersion { uri: uri.to_owned(), have: doc.version, got: version });
        }
        doc.apply(uri, version, changes, now)
            .map_err(|source| DocumentError::Position { uri: uri.to_owned(), source })?;
        if doc.rope.len_bytes() > MAX_DOCUMENT_BYTES {
            let n_bytes = doc.rope.len_bytes();
            drop(doc);
            self.close(uri);
            return Err(DocumentError::TooLarge { uri: uri.to_owned(), n_bytes });
        }
        let start = !doc.parse.parsed && !doc.parse.running;
        doc.parse.running |= start;
        drop(doc);
        self.updated();
        Ok(start)
    }

    /// Brings `uri`'s tree up to its text. CPU work (up to the parse budget): call it off the async threads,
    /// once per `true` from `open` or `change`. Edits that land meanwhile are applied to the new tree, and it
    /// parses again until it has caught up.
    pub fn parse(&self, uri: &str) {
        loop {
            let Some((rope, version, n_replaced, base, language)) = self.documents.get_mut(uri).and_then(|mut doc| {
                let Some(language) = doc.parseable() else {
                    doc.parse = ParseState { parsed: true, ..ParseState::default() };
                    return None;
                };
                Some((doc.rope.clone(), doc.version, doc.n_replaced, doc.syntax.clone(), language))
            }) else {
                return;
            };
            let tree = match base {
                Some(syntax) => syntax.reparse(&rope),
                None => Syntax::parse(language, &rope),
            };
            let Some(mut doc) = self.documents.get_mut(uri) else { return };
            let doc = &mut *doc;
            if doc.parseable() != Some(language) {
                continue;
            }
            if doc.n_replaced == n_replaced {
                doc.syntax = tree.map(|mut syntax| {
                    doc.parse.edits.iter().filter(|(v, _)| *v > version).for_each(|(_, edit)| syntax.edit(edit));
                    syntax
                });
                doc.parse.edits.retain(|(v, _)| *v > version);
            }
            if doc.version == version {
                doc.parse = ParseState { parsed: true, ..ParseState::default() };
                self.updated();
                return;
            }
        }
    }

    /// Waits (at most `timeout`) until `uri`'s tree describes its text; the document as it then is.
    pub async fn parsed(&self, uri: &str, timeout: Duration) -> Result<Document, DocumentError> {
        self.parsed_where(uri, timeout, |_| true).await
    }

    /// Waits (at most `timeout`) until `uri`'s tree describes the text of `revision`; that document (past
    /// `timeout`, without its tree). `MovedOn` as soon as the document holds another text, `NotOpen` once closed.
    pub async fn parsed_at(&self, uri: &str, revision: Revision, timeout: Duration) -> Result<Document, DocumentError> {
        self.parsed_where(uri, timeout, |doc| doc.revision() == revision).await
    }

    async fn parsed_where(
        &self,
        uri: &str,
        timeout: Duration,
        wanted: impl Fn(&Document) -> bool,
    ) -> Result<Document, DocumentError> {
        let mut n_updates = self.n_updates.subscribe();
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let doc = self.snapshot(uri)?;
            if !wanted(&doc) {
                return Err(DocumentError::MovedOn(uri.to_owned()));
            }
            if doc.is_parsed() {
                return Ok(doc);
            }
            if !matches!(tokio::time::timeout_at(until, n_updates.changed()).await, Ok(Ok(()))) {
                let doc = self.snapshot(uri)?;
                return if wanted(&doc) { Ok(doc) } else { Err(DocumentError::MovedOn(uri.to_owned())) };
            }
        }
    }

    /// The text `uri` holds now.
    pub fn revision(&self, uri: &str) -> Result<Revision, DocumentError> {
        self.documents.get(uri).map(|doc| doc.revision()).ok_or_else(|| DocumentError::NotOpen(uri.to_owned()))
    }

    /// The char offset of `pos` in `uri`'s text as it is now, and which text that is.
    pub fn locate(&self, uri: &str, pos: Position) -> Result<(Revision, usize), DocumentError> {
        let doc = self.documents.get(uri).ok_or_else(|| DocumentError::NotOpen(uri.to_owned()))?;
        let offset = doc.char_offset(pos).map_err(|source| DocumentError::Position { uri: uri.to_owned(), source })?;
        Ok((doc.revision(), offset))
    }

    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    pub fn is_open(&self, uri: &str) -> bool {
        self.documents.contains_key(uri)
    }

    pub fn close(&self, uri: &str) {
        self.documents.remove(uri);
        self.updated();
    }

    /// Wakes what waits for a document's tree: a text changed, or a tree caught up.
    fn updated(&self) {
        self.n_updates.send_modify(|n| *n += 1);
    }

    /// A cheap copy of the document (ropes share their nodes). Its tree may lag the text by a
    /// parse (`Document::is_parsed`); `parsed` waits for it.
    pub fn snapshot(&self, uri: &str) -> Result<Document, DocumentError> {
        self.documents.get(uri).map(|doc| doc.clone()).ok_or_else(|| DocumentError::NotOpen(uri.to_owned()))
    }

    /// Snapshots of every open document, with their URIs.
    pub fn snapshots(&self) -> Vec<(String, Document)> {
        self.documents.iter().map(|doc| (doc.key().clone(), doc.clone())).collect()
    }

    /// Snapshots of every open document but `uri`, with their URIs: the other documents an edit reaches.
    pub fn snapshots_except(&self, uri: &str) -> Vec<(String, Document)> {
        self.documents.iter().filter(|doc| doc.key() != uri).map(|doc| (doc.key().clone(), doc.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "file:///t.py";

    fn at(line: u32, col: u32) -> Position {
        Position { line, column: Column::Utf16(col) }
    }

    fn edit(start: Position, end: Position, text: &str) -> TextChange {
        TextChange { range: Some((start, end)), text: text.to_owned() }
    }

    fn store(text: &str) -> DocumentStore {
        let store = DocumentStore::new(PositionEncoding::Utf16);
        store.open(URI, text, 1, "python").unwrap();
        store
    }

    fn text(store: &DocumentStore) -> String {
        store.snapshot(URI).unwrap().rope.to_string()
    }

    #[test]
    fn incremental_edits_apply_in_order() {
        let s = store("def f():\n    pass\n");
        s.change(URI, 2, &[edit(at(1, 4), at(1, 8), "return 1")]).unwrap();
        s.change(URI, 3, &[edit(at(0, 4), at(0, 5), "g"), edit(at(0, 8), at(0, 8), " # x")]).unwrap();
        assert_eq!(text(&s), "def g(): # x\n    return 1\n");
        assert_eq!(s.snapshot(URI).unwrap().version, 3);
    }

    #[test]
    fn edits_at_end_of_file_and_full_replacement() {
        let s = store("a\r\nb");
        s.change(URI, 2, &[edit(at(1, 1), at(1, 1), "c\r\n")]).unwrap();
        s.change(URI, 3, &[edit(at(2, 0), at(2, 0), "z")]).unwrap();
        assert_eq!(text(&s), "a\r\nbc\r\nz");
        s.change(URI, 4, &[TextChange { range: None, text: "new".into() }]).unwrap();
        assert_eq!(text(&s), "new");
    }

    #[test]
    fn edits_across_surrogate_pairs_and_crlf() {
        let s = store("x = '𝄞𝄞'\r\ny\r\n");
        // Replace the second '𝄞' (UTF-16 columns 7..9) and join the lines.
        s.change(URI, 2, &[edit(at(0, 7), at(0, 9), "é"), edit(at(0, 10), at(1, 0), "; ")]).unwrap();
        assert_eq!(text(&s), "x = '𝄞é'; y\r\n");
    }

    #[test]
    fn an_out_of_range_edit_is_rejected_and_the_buffer_kept() {
        let s = store("abc\n");
        let err = s.change(URI, 2, &[edit(at(0, 0), at(0, 1), "X"), edit(at(9, 0), at(9, 0), "!")]).unwrap_err();
        assert!(matches!(err, DocumentError::Position { .. }), "{err}");
        assert_eq!(text(&s), "abc\n");
        assert_eq!(s.snapshot(URI).unwrap().version, 1);
        let err = s.change(URI, 2, &[edit(at(0, 3), at(0, 1), "X")]).unwrap_err();
        assert!(matches!(err, DocumentError::Position { source: PositionError::InvertedRange { .. }, .. }));
    }

    #[test]
    fn stale_versions_and_unknown_documents_are_errors() {
        let s = store("abc");
        assert!(matches!(s.change(URI, 1, &[]), Err(DocumentError::StaleVersion { .. })));
        assert!(matches!(s.change("file:///nope", 5, &[]), Err(DocumentError::NotOpen(_))));
        assert!(s.snapshot("file:///nope").is_err());
    }

    #[test]
    fn utf8_encoding_counts_bytes() {
        let s = DocumentStore::new(PositionEncoding::Utf8);
        s.open(URI, "é=1\n", 1, "python").unwrap();
        let at8 = |col| Position { line: 0, column: Column::Utf8(col) };
        s.change(URI, 2, &[edit(at8(2), at8(2), "=")]).unwrap();
        assert_eq!(s.snapshot(URI).unwrap().rope.to_string(), "é==1\n");
    }

    fn sexp(doc: &Document) -> Option<String> {
        doc.syntax().map(|s| s.tree.root_node().to_sexp())
    }

    #[test]
    fn the_tree_is_parsed_apart_and_catches_up_with_edits() {
        let s = DocumentStore::new(PositionEncoding::Utf16);
        assert_eq!(s.open(URI, "def f():\n    pass\n", 1, "python"), Ok(true));
        assert!(s.snapshot(URI).unwrap().syntax().is_none(), "a tree before its parse");
        s.parse(URI);
        assert!(s.snapshot(URI).unwrap().is_parsed());
        // A second edit while the first one's parse is pending starts no second parse.
        assert_eq!(s.change(URI, 2, &[edit(at(1, 4), at(1, 8), "return [")]), Ok(true));
        assert_eq!(s.change(URI, 3, &[edit(at(1, 12), at(1, 12), "1]")]), Ok(false));
        assert!(s.snapshot(URI).unwrap().syntax().is_none(), "a stale tree offered as current");
        s.parse(URI);
        let doc = s.snapshot(URI).unwrap();
        let fresh = Document::new(URI, &doc.rope.to_string(), 3, "python");
        assert_eq!(sexp(&doc), sexp(&fresh));
        assert_eq!(s.change(URI, 4, &[TextChange { range: None, text: "x = (".into() }]), Ok(true));
        s.parse(URI);
        let doc = s.snapshot(URI).unwrap();
        assert_eq!(sexp(&doc), sexp(&Document::new(URI, "x = (", 4, "python")));
    }

    #[test]
    fn generated_documents_are_opaque_text() {
        let s = DocumentStore::new(PositionEncoding::Utf16);
        assert_eq!(s.open("file:///app.min.js", "var a=1;\n", 1, "javascript"), Ok(false));
        let minified = format!("var a={};\n", "1+".repeat(5_000) + "1");
        assert_eq!(s.open("file:///app.js", &minified, 1, "javascript"), Ok(false));
        let doc = s.snapshot("file:///app.js").unwrap();
        assert!(doc.generated && doc.is_parsed() && doc.syntax().is_none());
        // Replaced by written code, it is parsed again.
        let written = TextChange { range: None, text: "function f() {}\n".into() };
        assert_eq!(s.change("file:///app.js", 2, &[written]), Ok(true));
        s.parse("file:///app.js");
        assert!(s.snapshot("file:///app.js").unwrap().syntax().is_some());
    }

    #[test]
    fn the_history_records_keystrokes_as_one_edit_whether_sent_as_ranges_or_whole_texts() {
        let s = store("x = count\n");
        s.change(URI, 2, &[edit(at(0, 4), at(0, 9), "")]).unwrap();
        s.change(URI, 3, &[edit(at(0, 4), at(0, 4), "n")]).unwrap();
        s.change(URI, 4, &[TextChange { range: None, text: "x = n_items\n".into() }]).unwrap();
        let doc = s.snapshot(URI).unwrap();
        let last = doc.history.last().unwrap();
        assert_eq!((doc.history.len(), last.old.as_str(), last.new.as_str()), (1, Some("count"), Some("n_items")));
        assert_eq!((last.version, last.new_range()), (4, 4..11));
        // A refused batch leaves the history as it was.
        assert!(s.change(URI, 5, &[edit(at(0, 0), at(0, 1), "y"), edit(at(7, 0), at(7, 0), "!")]).is_err());
        assert_eq!(s.snapshot(URI).unwrap().history.last().map(|e| e.version), Some(4));
    }

    #[tokio::test]
    async fn a_wait_for_a_revisions_tree_ends_once_the_document_moves_on() {
        let s = Arc::new(store("def f():\n    pass\n"));
        let (first, offset) = s.locate(URI, at(1, 4)).unwrap();
        assert_eq!(offset, 13);
        let wait = Duration::from_secs(30);
        // Waiting for a revision whose parse is under way.
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.parsed_at(URI, first, wait).await.map(|doc| doc.version) }
        });
        tokio::task::yield_now().await;
        s.parse(URI);
        assert_eq!(waiter.await.unwrap(), Ok(1));
        // An edit ends the wait at once, without a parse.
        s.change(URI, 2, &[edit(at(1, 4), at(1, 8), "return 1")]).unwrap();
        let second = s.revision(URI).unwrap();
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.parsed_at(URI, second, wait).await.map(|doc| doc.version) }
        });
        tokio::task::yield_now().await;
        let started = Instant::now();
        s.change(URI, 3, &[edit(at(0, 0), at(0, 0), "#\n")]).unwrap();
        assert_eq!(waiter.await.unwrap(), Err(DocumentError::MovedOn(URI.into())));
        assert!(started.elapsed() < Duration::from_secs(5));
        // Opened again at the same version, it holds another text.
        let third = s.revision(URI).unwrap();
        s.open(URI, "x = 1\n", 3, "python").unwrap();
        assert_ne!(s.revision(URI).unwrap(), third);
        assert_eq!(s.parsed_at(URI, third, wait).await.unwrap_err(), DocumentError::MovedOn(URI.into()));
        s.close(URI);
        assert_eq!(s.parsed_at(URI, third, wait).await.unwrap_err(), DocumentError::NotOpen(URI.into()));
        assert!(matches!(s.locate(URI, at(0, 0)), Err(DocumentError::NotOpen(_))));
    }

    #[test]
    fn huge_documents_are_refused() {
        let s = DocumentStore::new(PositionEncoding::Utf16);
        let big = "x".repeat(MAX_DOCUMENT_BYTES + 1);
        assert!(matches!(s.open(URI, &big, 1, "text"), Err(DocumentError::TooLarge { .. })));
        assert!(s.snapshot(URI).is_err());
    }
}
