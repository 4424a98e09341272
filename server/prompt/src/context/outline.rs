//! What a file defines, from the outline query: names and how each definition
//! reads in a prompt (short ones whole, long ones as their signature).

use ropey::Rope;
use tree_sitter::{Node, QueryCursor};

use nib_text::syntax::{self, RopeText, StreamingIterator, Syntax};

/// A definition longer than this many lines is shown by its signature.
const MAX_WHOLE_LINES: usize = 12;

/// A definition is shown in at most this many bytes: in minified code one line is the whole file.
const MAX_SHOWN_BYTES: usize = 2048;

/// What may precede a definition on its first line for it to be shown from the line's start.
const MAX_LEAD_BYTES: usize = 120;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    /// Lines `start_line..=end_line` of the file.
    pub start_line: usize,
    pub end_line: usize,
    /// How it reads in a prompt: whole lines as in the file, ending in a newline.
    pub text: String,
    /// The indentation of its first line.
    pub indent: usize,
}

impl Symbol {
    /// The text without the indentation it has in its file, for showing it out of place.
    pub fn dedented(&self) -> String {
        let lines: Vec<&str> = self
            .text
            .split('\n')
            .map(|line| {
                let n_blank = line.len() - line.trim_start_matches([' ', '\t']).len();
                &line[n_blank.min(self.indent)..]
            })
            .collect();
        lines.join("\n")
    }
}

/// The definitions in a parsed file.
pub fn symbols(rope: &Rope, syntax: &Syntax) -> Vec<Symbol> {
    let Some(queries) = syntax.language.queries() else { return Vec::new() };
    let query = &queries.outline;
    let (Some(definition), Some(name)) =
        (query.capture_index_for_name("definition"), query.capture_index_for_name("name"))
    else {
        return Vec::new();
    };
    let comment = syntax.language.line_comment();
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(query, syntax.tree.root_node(), RopeText(rope));
    let mut found = Vec::new();
    while let Some(m) = matches.next() {
        let node_of = |index| m.captures.iter().find(|c| c.index == index).map(|c| c.node);
        let (Some(node), Some(name_node)) = (node_of(definition), node_of(name)) else { continue };
        let lines = syntax::lines(rope, node);
        let start_line = *lines.start();
        found.push(Symbol {
            name: syntax::text(rope, name_node),
            start_line,
            end_line: *lines.end(),
            text: shown(rope, node, comment),
            indent: rope.line(start_line).chars().take_while(|c| *c == ' ' || *c == '\t').count(),
        });
    }
    found
}

/// A definition as a prompt shows it: whole when short, else up to its body, then an elision; never more
/// than `MAX_SHOWN_BYTES`.
pub fn shown(rope: &Rope, node: Node, comment: &str) -> String {
    let lines = syntax::lines(rope, node);
    let n_lines = lines.end() - lines.start() + 1;
    // Whole lines: `export function f` reads better than `function f`.
    let line_start = rope.line_to_byte(*lines.start());
    let start = if node.start_byte() - line_start <= MAX_LEAD_BYTES { line_start } else { node.start_byte() };
    let (end, elided) = match node.child_by_field_name("body") {
        Some(body) if n_lines > MAX_WHOLE_LINES => (body.start_byte() + usize::from(opens_block(rope, body)), true),
        None if n_lines > MAX_WHOLE_LINES => {
            (rope.line_to_byte(lines.start() + MAX_WHOLE_LINES).min(node.end_byte()), true)
        }
        _ => (node.end_byte(), false),
    };
    let (end, elided) = match end > start + MAX_SHOWN_BYTES {
        // Cut at a char boundary: slices must not split a character.
        true => (rope.char_to_byte(rope.byte_to_char(start + MAX_SHOWN_BYTES)), true),
        false => (end, elided),
    };
    let text = rope.get_byte_slice(start..end).map(String::from).unwrap_or_default();
    let mut shown = text.trim_end().to_owned();
    shown.push('\n');
    if elided {
        let indent: String = text.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
        shown.push_str(&format!("{indent}    {comment} ...\n"));
    }
    shown
}

/// Whether a body starts with a brace the signature should keep.
fn opens_block(rope: &Rope, body: Node) -> bool {
    rope.get_byte(body.start_byte()) == Some(b'{')
}
