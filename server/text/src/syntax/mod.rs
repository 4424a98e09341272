//! Tree-sitter syntax trees kept in step with rope buffers, and the small
//! queries over them that context and post-processing need.
//!
//! Invariants: a `Syntax` tree describes exactly the rope it was last parsed or
//! edited with; parsing is bounded in time, and a document that cannot be
//! parsed in time simply has no tree (plain-text context).

mod files;
mod language;

use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use ropey::Rope;
use tree_sitter::{InputEdit, Node, ParseOptions, Parser, Point, TextProvider, Tree};

pub use files::{MAX_SOURCE_BYTES, looks_generated, source_files, source_files_at};
pub use language::{Language, Queries, QueryError};
pub use tree_sitter::StreamingIterator;

/// Longer than any incremental reparse; a huge first parse gives up instead of stalling an edit.
const PARSE_BUDGET: Duration = Duration::from_millis(400);

/// A document's language and its current tree. Cloning is cheap (trees are reference counted).
#[derive(Clone)]
pub struct Syntax {
    pub language: Language,
    pub tree: Tree,
}

impl std::fmt::Debug for Syntax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Syntax({:?})", self.language)
    }
}

impl Syntax {
    /// Parses `rope` from scratch.
    pub fn parse(language: Language, rope: &Rope) -> Option<Syntax> {
        parse(language, rope, None).map(|tree| Syntax { language, tree })
    }

    /// Records an edit made to the text; `reparse` brings the tree up to date.
    pub fn edit(&mut self, edit: &InputEdit) {
        self.tree.edit(edit);
    }

    /// Reparses after edits, reusing the unchanged parts of the old tree.
    pub fn reparse(self, rope: &Rope) -> Option<Syntax> {
        parse(self.language, rope, Some(&self.tree)).map(|tree| Syntax { language: self.language, tree })
    }

    /// The number of syntax errors (ERROR nodes) in `bytes`. MISSING nodes are not counted: code that
    /// stops short (an unclosed block) is incomplete, not wrong.
    pub fn n_errors_in(&self, bytes: std::ops::Range<usize>) -> usize {
        count_errors(self.tree.root_node(), &bytes)
    }
}

fn parse(language: Language, rope: &Rope, old: Option<&Tree>) -> Option<Tree> {
    thread_local! {
        static PARSER: std::cell::RefCell<Parser> = std::cell::RefCell::new(Parser::new());
    }
    PARSER.with_borrow_mut(|parser| {
        parser.set_language(&language.grammar()).ok()?;
        let started = Instant::now();
        let mut out_of_time = |_: &tree_sitter::ParseState| started.elapsed() > PARSE_BUDGET;
        let mut read = |byte: usize, _: Point| -> &[u8] {
            if byte >= rope.len_bytes() {
                return &[];
            }
            let (chunk, chunk_start, _, _) = rope.chunk_at_byte(byte);
            &chunk.as_bytes()[byte - chunk_start..]
        };
        let options = ParseOptions::new().progress_callback(&mut out_of_time);
        let tree = parser.parse_with_options(&mut read, old, Some(options));
        parser.reset();
        tree
    })
}

fn count_errors(node: Node, bytes: &std::ops::Range<usize>) -> usize {
    if !node.has_error() || node.end_byte() < bytes.start || node.start_byte() > bytes.end {
        return 0;
    }
    if node.is_error() {
        return 1;
    }
    let mut cursor = node.walk();
    node.children(&mut cursor).map(|child| count_errors(child, bytes)).sum()
}

/// The tree-sitter edit for replacing chars `start..end` of `rope` with `new_text`; computed before the rope changes.
pub fn input_edit(rope: &Rope, start: usize, end: usize, new_text: &str) -> InputEdit {
    let start_byte = rope.char_to_byte(start);
    let old_end_byte = rope.char_to_byte(end);
    let start_position = point(rope, start_byte);
    let new_end_position = match new_text.rfind('\n') {
        Some(last) => {
            Point { row: start_position.row + new_text.matches('\n').count(), column: new_text.len() - last - 1 }
        }
        None => Point { row: start_position.row, column: start_position.column + new_text.len() },
    };
    InputEdit {
        start_byte,
        old_end_byte,
        new_end_byte: start_byte + new_text.len(),
        start_position,
        old_end_position: point(rope, old_end_byte),
        new_end_position,
    }
}

fn point(rope: &Rope, byte: usize) -> Point {
    let row = rope.byte_to_line(byte);
    Point { row, column: byte - rope.line_to_byte(row) }
}

/// The rope lines a node has text on. By bytes, not by tree-sitter's rows: those count `\n` only, where the
/// rope (like LSP) also ends a line at a lone `\r`. A node ending with its line's break ends at the start of the
/// next line, which it does not take.
pub fn lines(rope: &Rope, node: Node) -> RangeInclusive<usize> {
    let first = rope.byte_to_line(node.start_byte());
    let end = rope.byte_to_line(node.end_byte());
    let last = if end > first && rope.line_to_byte(end) == node.end_byte() { end - 1 } else { end };
    first..=last
}

/// The text of a node, from the rope it was parsed from.
pub fn text(rope: &Rope, node: Node) -> String {
    rope.get_byte_slice(node.byte_range()).map(String::from).unwrap_or_default()
}

/// Lets queries with text predicates (`#eq?`) read a rope.
pub struct RopeText<'a>(pub &'a Rope);

impl<'a> TextProvider<&'a [u8]> for RopeText<'a> {
    type I = std::iter::Map<ropey::iter::Chunks<'a>, fn(&'a str) -> &'a [u8]>;

    fn text(&mut self, node: Node) -> Self::I {
        let slice = self.0.get_byte_slice(node.byte_range()).unwrap_or_else(|| self.0.byte_slice(0..0));
        slice.chunks().map(str::as_bytes as fn(&'a str) -> &'a [u8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python() -> Language {
        Language::detect("python", "x.py").unwrap()
    }

    #[test]
    fn an_edited_tree_matches_a_fresh_parse() {
        let mut rope = Rope::from_str("def f(x):\n    return x\n\nclass A:\n    pass\n");
        let mut syntax = Syntax::parse(python(), &rope).unwrap();
        for (start, end, text) in [(4, 5, "grow"), (24, 25, "x + 1  # é"), (0, 0, "import os\n")] {
            syntax.edit(&input_edit(&rope, start, end, text));
            rope.remove(start..end);
            rope.insert(start, text);
            syntax = syntax.reparse(&rope).unwrap();
            let fresh = Syntax::parse(python(), &rope).unwrap();
            assert_eq!(syntax.tree.root_node().to_sexp(), fresh.tree.root_node().to_sexp());
        }
        assert_eq!(syntax.n_errors_in(0..rope.len_bytes()), 0, "{}", rope);
    }

    #[test]
    fn a_node_spans_the_lines_of_the_rope_also_where_a_lone_cr_ends_one() {
        // (text, the second definition's lines): tree-sitter puts `def g` on row 0 or 2 alike.
        let cases = [
            ("def f():\n    pass\ndef g():\n    pass\n", 2..=3),
            ("def f():\r\n    pass\r\ndef g():\r\n    pass\r\n", 2..=3),
            ("x = 1\rdef g():\n    pass\n", 1..=2),
        ];
        for (text, expect) in cases {
            let rope = Rope::from_str(text);
            let syntax = Syntax::parse(python(), &rope).unwrap();
            let root = syntax.tree.root_node();
            let second = root.named_child(root.named_child_count() - 1).unwrap();
            assert_eq!(lines(&rope, second), expect, "{text:?}: {}", root.to_sexp());
        }
    }

    #[test]
    fn errors_are_counted_where_they_are() {
        let rope = Rope::from_str("def f(x)):\n    pass\n\ndef g():\n    return 1\n");
        let syntax = Syntax::parse(python(), &rope).unwrap();
        assert!(syntax.n_errors_in(0..8) > 0);
        assert_eq!(syntax.n_errors_in(20..rope.len_bytes()), 0);
    }
}
