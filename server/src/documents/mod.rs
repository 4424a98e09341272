//! Open documents: rope buffers kept in step with the editor through
//! incremental edits, each with its syntax tree. Knows nothing of LSP types; `lsp/` converts.
//!
//! Invariants: a document's version only grows; a rejected edit leaves the
//! buffer exactly as it was; the tree is edited with the same changes as the
//! rope and reparsed incrementally; nothing here panics on client input.

#[cfg(test)]
mod fuzz;
pub mod position;

use std::sync::Arc;

use dashmap::DashMap;
use ropey::Rope;

use crate::syntax::{self, Language, Syntax};

pub use position::{Column, Position, PositionEncoding, PositionError};

/// Text files larger than this are not kept (a generated bundle, a binary blob):
/// they would only slow every request down.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;

/// One open document.
#[derive(Debug, Clone)]
pub struct Document {
    pub rope: Rope,
    pub version: i32,
    pub language_id: Arc<str>,
    /// `None` for a language nib cannot parse, or a file too big to parse in time.
    pub syntax: Option<Syntax>,
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
}

impl Document {
    pub fn new(uri: &str, text: &str, version: i32, language_id: &str) -> Document {
        let rope = Rope::from_str(text);
        let syntax = Language::detect(language_id, uri).and_then(|language| Syntax::parse(language, &rope));
        Document { rope, version, language_id: language_id.into(), syntax }
    }

    /// Char offset of `pos`: see [`position::to_char_offset`].
    pub fn char_offset(&self, pos: Position) -> Result<usize, PositionError> {
        position::to_char_offset(&self.rope, pos)
    }

    /// Applies `changes` in order, all or nothing.
    fn apply(&mut self, changes: &[TextChange]) -> Result<(), PositionError> {
        let mut rope = self.rope.clone();
        let mut syntax = self.syntax.clone();
        let mut whole_text_replaced = false;
        for change in changes {
            match change.range {
                None => {
                    rope = Rope::from_str(&change.text);
                    whole_text_replaced = true;
                }
                Some((start, end)) => {
                    let start = position::to_char_offset(&rope, start)?;
                    let end = position::to_char_offset(&rope, end)?;
                    if end < start {
                        return Err(PositionError::InvertedRange { start, end });
                    }
                    if let Some(syntax) = &mut syntax {
                        syntax.edit(&syntax::input_edit(&rope, start, end, &change.text));
                    }
                    rope.remove(start..end);
                    rope.insert(start, &change.text);
                }
            }
        }
        self.syntax = match syntax {
            Some(syntax) if whole_text_replaced => Syntax::parse(syntax.language, &rope),
            Some(syntax) => syntax.reparse(&rope),
            None => None,
        };
        self.rope = rope;
        Ok(())
    }
}

/// The open documents, keyed by URI. Handlers take short-lived entries and
/// never hold one across an `.await`.
#[derive(Debug, Default)]
pub struct DocumentStore {
    documents: DashMap<String, Document>,
    encoding: PositionEncoding,
}

impl DocumentStore {
    pub fn new(encoding: PositionEncoding) -> DocumentStore {
        DocumentStore { documents: DashMap::new(), encoding }
    }

    pub fn encoding(&self) -> PositionEncoding {
        self.encoding
    }

    pub fn open(&self, uri: &str, text: &str, version: i32, language_id: &str) -> Result<(), DocumentError> {
        if text.len() > MAX_DOCUMENT_BYTES {
            self.documents.remove(uri);
            return Err(DocumentError::TooLarge { uri: uri.to_owned(), n_bytes: text.len() });
        }
        self.documents.insert(uri.to_owned(), Document::new(uri, text, version, language_id));
        Ok(())
    }

    pub fn change(&self, uri: &str, version: i32, changes: &[TextChange]) -> Result<(), DocumentError> {
        let mut doc = self.documents.get_mut(uri).ok_or_else(|| DocumentError::NotOpen(uri.to_owned()))?;
        if version <= doc.version {
            return Err(DocumentError::StaleVersion { uri: uri.to_owned(), have: doc.version, got: version });
        }
        doc.apply(changes).map_err(|source| DocumentError::Position { uri: uri.to_owned(), source })?;
        if doc.rope.len_bytes() > MAX_DOCUMENT_BYTES {
            let n_bytes = doc.rope.len_bytes();
            drop(doc);
            self.documents.remove(uri);
            return Err(DocumentError::TooLarge { uri: uri.to_owned(), n_bytes });
        }
        doc.version = version;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    pub fn close(&self, uri: &str) {
        self.documents.remove(uri);
    }

    /// A cheap copy of the document (ropes share their nodes).
    pub fn snapshot(&self, uri: &str) -> Result<Document, DocumentError> {
        self.documents.get(uri).map(|doc| doc.clone()).ok_or_else(|| DocumentError::NotOpen(uri.to_owned()))
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

    #[test]
    fn huge_documents_are_refused() {
        let s = DocumentStore::new(PositionEncoding::Utf16);
        let big = "x".repeat(MAX_DOCUMENT_BYTES + 1);
        assert!(matches!(s.open(URI, &big, 1, "text"), Err(DocumentError::TooLarge { .. })));
        assert!(s.snapshot(URI).is_err());
    }
}
