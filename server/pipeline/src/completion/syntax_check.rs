//! What the syntax tree says about a suggestion: whether the cursor opens a
//! block (so a block is wanted), and whether inserting the suggestion adds
//! syntax errors (then it is trimmed until it does not, or dropped).
//!
//! Missing closers are not errors here: a suggestion may stop before its block
//! does. Stray text is: an extra `)` or a broken statement is never offered.

use ropey::Rope;

use nib_text::syntax::{self, Syntax};

/// Trimmed versions tried at most, each a reparse.
const MAX_CANDIDATES: usize = 12;
/// Past this size a reparse costs milliseconds (about 15 ms for a 20,000-line Python file): the
/// suggestion is offered unchecked rather than held back for a dozen of them.
const MAX_CHECKED_BYTES: usize = 256 * 1024;
/// Python statements whose header ends in a colon and a block.
const PYTHON_COMPOUND: &[&str] = &[
    "function_definition",
    "class_definition",
    "if_statement",
    "elif_clause",
    "else_clause",
    "for_statement",
    "while_statement",
    "with_statement",
    "try_statement",
    "except_clause",
    "finally_clause",
    "match_statement",
    "case_clause",
];
const PYTHON_KEYWORDS: &[&str] = &[
    "def", "class", "if", "elif", "else", "for", "while", "with", "try", "except", "finally", "async", "match", "case",
];

/// Whether the cursor ends a line that opens a block (`{`, or a Python header's `:`) with nothing but closers after it.
pub fn opens_block(rope: &Rope, syntax: Option<&Syntax>, cursor: usize) -> bool {
    let line = rope.char_to_line(cursor);
    let (line_start, line_end) = (rope.line_to_char(line), line_end(rope, line));
    let rest = rope.slice(cursor..line_end).to_string();
    if !rest.trim().chars().all(|c| matches!(c, ')' | ']' | '}' | ';' | ',')) {
        return false;
    }
    let before = rope.slice(line_start..cursor).to_string();
    let trimmed = before.trim_end();
    match trimmed.chars().last() {
        Some('{') => true,
        Some(':') => syntax.is_some_and(|syntax| {
            let colon = rope.char_to_byte(line_start + trimmed.chars().count() - 1);
            python_header(syntax, colon, trimmed)
        }),
        _ => false,
    }
}

fn python_header(syntax: &Syntax, colon: usize, line: &str) -> bool {
    if syntax.language.name() != "python" {
        return false;
    }
    let root = syntax.tree.root_node();
    let Some(parent) = root.descendant_for_byte_range(colon, colon + 1).and_then(|n| n.parent()) else { return false };
    let first_word = line.split_whitespace().next().unwrap_or_default();
    PYTHON_COMPOUND.contains(&parent.kind()) || (parent.is_error() && PYTHON_KEYWORDS.contains(&first_word))
}

fn line_end(rope: &Rope, line: usize) -> usize {
    rope.line_to_char(line) + nib_text::documents::position::line_len_chars(rope, line)
}

/// `text` as inserted at `cursor`, trimmed until it adds no syntax error from the cursor's line on
/// (a stray closer may only show as an error lines later); empty if nothing helps. A candidate is checked with the closers it leaves open appended (those the
/// rest of the line does not supply), so a block that stops early is not taken for a broken one.
pub fn fit(rope: &Rope, syntax: &Syntax, cursor: usize, text: &str) -> String {
    if text.trim().is_empty() {
        return String::new();
    }
    if rope.len_bytes() > MAX_CHECKED_BYTES {
        return text.to_owned();
    }
    let line = rope.char_to_line(cursor);
    let end = line_end(rope, line);
    let rest = rope.slice(cursor..end).to_string();
    let line_start = rope.line_to_byte(line);
    let n_before = syntax.n_errors_in(line_start..rope.len_bytes());
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates(text).into_iter().take(MAX_CANDIDATES) {
        let probe = format!("{candidate}{}", missing_closers(candidate, &rest));
        let mut edited = rope.clone();
        let mut tree = syntax.clone();
        tree.edit(&syntax::input_edit(&edited, cursor, cursor, &probe));
        edited.insert(cursor, &probe);
        // A tree that cannot be had in time says nothing against the suggestion.
        let Some(tree) = tree.reparse(&edited) else { return text.to_owned() };
        let n_errors = tree.n_errors_in(line_start..edited.len_bytes());
        if n_errors == 0 {
            return candidate.to_owned();
        }
        if best.is_none_or(|(n, _)| n_errors < n) {
            best = Some((n_errors, candidate));
        }
    }
    best.filter(|(n, _)| *n <= n_before).map(|(_, c)| c.to_owned()).unwrap_or_default()
}

/// The closers for the brackets `text` opens and leaves open, less those `rest` (the rest of the line) starts with.
fn missing_closers(text: &str, rest: &str) -> String {
    let mut open = Vec::new();
    let mut quote = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' | '`' => quote = Some(c),
                '(' => open.push(')'),
                '[' => open.push(']'),
                '{' => open.push('}'),
                ')' | ']' | '}' if open.last() == Some(&c) => {
                    open.pop();
                }
                _ => {}
            },
        }
    }
    let mut supplied = rest.chars().filter(|c| !c.is_whitespace());
    while let (Some(&needed), Some(next)) = (open.last(), supplied.next()) {
        if needed != next {
            break;
        }
        open.pop();
    }
    open.iter().rev().collect()
}

/// `text`, then shorter versions of it, longest first: whole lines dropped from the end, then the
/// first line cut before a closing bracket or at a space.
fn candidates(text: &str) -> Vec<&str> {
    let mut found = vec![text.trim_end()];
    let line_ends: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
    for &end in line_ends.iter().rev() {
        found.push(text[..end].trim_end());
    }
    let first = &text[..line_ends.first().copied().unwrap_or(text.len())];
    let mut cuts: Vec<usize> =
        first.char_indices().filter(|(_, c)| matches!(c, ')' | ']' | '}' | ' ')).map(|(i, _)| i).collect();
    cuts.reverse();
    found.extend(cuts.into_iter().map(|i| first[..i].trim_end()));
    found.retain(|c| !c.trim().is_empty());
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_brackets_are_closed_unless_the_line_closes_them() {
        assert_eq!(missing_closers("if x { f(a", ""), ")}");
        assert_eq!(missing_closers("f(a", ");"), "");
        assert_eq!(missing_closers("g(\"(\", [1", ""), "])");
        assert_eq!(missing_closers("a)", ""), "");
    }

    #[test]
    fn candidates_shrink_by_lines_then_within_the_first_line() {
        assert_eq!(candidates("a(b) c\nd\ne"), vec!["a(b) c\nd\ne", "a(b) c\nd", "a(b) c", "a(b)", "a(b"]);
    }
}
