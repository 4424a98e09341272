//! Splitting a file into review units along its syntax: each top-level
//! definition (function, class, impl...) is a unit of its own, so an unchanged
//! one keeps its cache entry; one too big is split along its children; code
//! between definitions is grouped; text nib cannot parse is split by lines.

use std::ops::Range;

use ropey::Rope;
use tree_sitter::Node;

use nib_text::syntax::Syntax;

/// Lines `lines` (0-based, end exclusive) of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub lines: Range<usize>,
}

/// Glue between definitions shorter than this many non-blank lines is not reviewed (imports, a constant).
const MIN_GLUE_LINES: usize = 3;

/// The units of a file, each at most `max_chars` long (a single line may be longer).
pub fn split(rope: &Rope, syntax: Option<&Syntax>, max_chars: usize) -> Vec<Unit> {
    let mut units = Vec::new();
    match syntax {
        Some(syntax) => split_children(rope, syntax.tree.root_node(), max_chars, &mut units),
        None => split_lines(rope, 0..rope.len_lines(), max_chars, &mut units),
    }
    units.retain(|u| (u.lines.start..u.lines.end).filter(|&l| !rope.line(l).to_string().trim().is_empty()).count() > 0);
    units
}

fn split_children(rope: &Rope, parent: Node, max_chars: usize, units: &mut Vec<Unit>) {
    let mut glue: Option<Range<usize>> = None;
    let mut cursor = parent.walk();
    for child in parent.named_children(&mut cursor) {
        let lines = nib_text::syntax::lines(rope, child);
        let lines = *lines.start()..*lines.end() + 1;
        if is_definition(child) {
            flush_glue(rope, &mut glue, max_chars, units);
            if n_chars(rope, &lines) <= max_chars {
                units.push(Unit { lines });
            } else if let Some(body) = descend(child) {
                split_children(rope, body, max_chars, units);
            } else {
                split_lines(rope, lines, max_chars, units);
            }
        } else {
            glue = Some(match glue {
                Some(g) => g.start..lines.end.max(g.end),
                None => lines,
            });
        }
    }
    flush_glue(rope, &mut glue, max_chars, units);
}

/// Where a big definition's parts are: its body when it has one.
fn descend(node: Node) -> Option<Node> {
    node.child_by_field_name("body")
        .or_else(|| node.child_by_field_name("declarator"))
        .filter(|b| b.named_child_count() > 0)
}

fn is_definition(node: Node) -> bool {
    let kind = node.kind();
    [
        "function",
        "method",
        "class",
        "impl",
        "trait",
        "struct",
        "enum",
        "interface",
        "module",
        "namespace",
        "constructor",
    ]
    .iter()
    .any(|k| kind.contains(k))
        || kind == "decorated_definition"
        || kind == "export_statement"
}

fn flush_glue(rope: &Rope, glue: &mut Option<Range<usize>>, max_chars: usize, units: &mut Vec<Unit>) {
    if let Some(lines) = glue.take() {
        let n_code = lines.clone().filter(|&l| !rope.line(l).to_string().trim().is_empty()).count();
        if n_code >= MIN_GLUE_LINES {
            split_lines(rope, lines, max_chars, units);
        }
    }
}

fn split_lines(rope: &Rope, lines: Range<usize>, max_chars: usize, units: &mut Vec<Unit>) {
    let mut start = lines.start;
    while start < lines.end {
        let mut end = start + 1;
        while end < lines.end && n_chars(rope, &(start..end + 1)) <= max_chars {
            end += 1;
        }
        units.push(Unit { lines: start..end });
        start = end;
    }
}

fn n_chars(rope: &Rope, lines: &Range<usize>) -> usize {
    let end = if lines.end >= rope.len_lines() { rope.len_chars() } else { rope.line_to_char(lines.end) };
    end - rope.line_to_char(lines.start.min(rope.len_lines().saturating_sub(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nib_text::syntax::Language;

    fn units_of(path: &str, text: &str, max_chars: usize) -> Vec<Range<usize>> {
        let rope = Rope::from_str(text);
        let syntax = Language::detect("", path).and_then(|l| Syntax::parse(l, &rope));
        split(&rope, syntax.as_ref(), max_chars).into_iter().map(|u| u.lines).collect()
    }

    #[test]
    fn each_definition_is_a_unit_and_short_glue_is_skipped() {
        let text = "import os\n\ndef a():\n    return 1\n\nclass B:\n    def c(self):\n        pass\n";
        assert_eq!(units_of("x.py", text, 1000), vec![2..4, 5..8]);
    }

    #[test]
    fn a_big_definition_is_split_along_its_children() {
        let methods: String = (0..6).map(|i| format!("    def m{i}(self):\n        return {i}\n\n")).collect();
        let text = format!("class Big:\n{methods}");
        let units = units_of("x.py", &text, 60);
        assert_eq!(units.len(), 6, "{units:?}");
        assert_eq!(units[0], 1..3);
    }

    #[test]
    fn plain_text_is_split_by_lines() {
        let text = "a line of text\n".repeat(10);
        let units = units_of("notes.txt", &text, 50);
        assert_eq!(units, vec![0..3, 3..6, 6..9, 9..11], "the empty last line rides with the last unit");
    }
}
