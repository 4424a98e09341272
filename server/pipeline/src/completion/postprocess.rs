//! Turns raw model text into a suggestion: the right number of lines, nothing
//! that merely repeats what already follows the cursor. Pure functions.

use nib_text::indent::indent_width;

/// Where the cursor is decides how much to suggest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Text before the cursor on its line: finish that line only.
    SingleLine,
    /// The cursor sits in a line's indentation: a block may follow, at this indentation or deeper.
    MultiLine { indent: usize, max_lines: usize },
}

impl Mode {
    /// `opens_block`: the cursor ends a block's opening line, so the block's body is wanted, deeper than that line.
    pub fn detect(line_before_cursor: &str, max_lines: usize, opens_block: bool) -> Mode {
        if max_lines <= 1 {
            Mode::SingleLine
        } else if opens_block {
            Mode::MultiLine { indent: indent_width(line_before_cursor) + 1, max_lines }
        } else if line_before_cursor.trim().is_empty() {
            Mode::MultiLine { indent: indent_width(line_before_cursor), max_lines }
        } else {
            Mode::SingleLine
        }
    }

    /// Stop sequences that end generation early for this mode.
    pub fn stop_sequences(&self) -> Vec<String> {
        match self {
            Mode::SingleLine => vec!["\n".into()],
            Mode::MultiLine { .. } => vec!["\n\n\n".into()],
        }
    }
}

/// What follows the cursor in the document.
#[derive(Debug, Clone, Copy)]
pub struct After<'a> {
    /// The rest of the cursor's line.
    pub line: &'a str,
    /// The first non-blank line below the cursor's line, if any.
    pub next_line: Option<&'a str>,
}

/// The usable part of `raw` so far, and whether more text could change it.
pub fn cut(raw: &str, mode: &Mode) -> (String, bool) {
    match mode {
        Mode::SingleLine => match raw.find('\n') {
            Some(end) => (raw[..end].to_owned(), true),
            None => (raw.to_owned(), false),
        },
        Mode::MultiLine { indent, max_lines } => {
            let mut kept: Vec<&str> = Vec::new();
            let lines: Vec<&str> = raw.split('\n').collect();
            for (i, line) in lines.iter().enumerate() {
                let complete = i + 1 < lines.len();
                // The first line continues the cursor's line; later ones must stay inside the block.
                let outside = i > 0 && !line.trim().is_empty() && indent_width(line) < *indent;
                // A non-blank line's indentation is final even while the line is incomplete.
                if outside {
                    return (join_trimmed(&kept), true);
                }
                kept.push(line);
                if complete && kept.len() >= *max_lines {
                    return (join_trimmed(&kept), true);
                }
            }
            (kept.join("\n"), false)
        }
    }
}

/// Drops what the document already has after the cursor.
pub fn dedupe(text: &str, mode: &Mode, after: After<'_>) -> String {
    let mut text = text.trim_end().to_owned();
    if let Mode::MultiLine { .. } = mode {
        // Stop before a line that repeats the next line of the document.
        if let Some(next) = after.next_line.map(str::trim).filter(|l| l.len() > 3)
            && let Some((i, _)) = text.split('\n').enumerate().skip(1).find(|(_, l)| l.trim() == next)
        {
            text = text.split('\n').take(i).collect::<Vec<_>>().join("\n").trim_end().to_owned();
        }
    }
    let rest = after.line.trim_end();
    if !rest.trim().is_empty() {
        // The suggestion's end overlapping the start of the rest of the line, e.g. `)` or `):`.
        let overlap = (1..=rest.len())
            .rev()
            .filter(|&k| rest.is_char_boundary(k))
            .find(|&k| text.ends_with(&rest[..k]))
            .unwrap_or(0);
        text.truncate(text.len() - overlap);
    }
    if text.trim().is_empty() { String::new() } else { text }
}

/// `text` without a word cut in half at its end (an answer given at a deadline).
pub fn whole_words(text: &str) -> &str {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    if !text.ends_with(is_word) {
        return text;
    }
    text.trim_end_matches(is_word)
}

/// `text` with its lines ending as the document's do (`crlf`: `\r\n`, else `\n`), whatever the model wrote: a
/// suggestion never mixes line endings into a file.
pub fn line_breaks(text: String, crlf: bool) -> String {
    let lf = if text.contains('\r') { text.replace("\r\n", "\n") } else { text };
    if crlf && lf.contains('\n') { lf.replace('\n', "\r\n") } else { lf }
}

fn join_trimmed(lines: &[&str]) -> String {
    lines.join("\n").trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTHING_AFTER: After<'static> = After { line: "", next_line: None };

    #[test]
    fn mode_follows_the_cursor_line() {
        assert_eq!(Mode::detect("    x = ", 8, false), Mode::SingleLine);
        assert_eq!(Mode::detect("    ", 8, false), Mode::MultiLine { indent: 4, max_lines: 8 });
        assert_eq!(Mode::detect("", 1, false), Mode::SingleLine);
        assert_eq!(Mode::detect("    fn f() {", 8, true), Mode::MultiLine { indent: 5, max_lines: 8 });
    }

    #[test]
    fn single_line_ends_at_the_newline() {
        assert_eq!(cut("foo(1)", &Mode::SingleLine), ("foo(1)".into(), false));
        assert_eq!(cut("foo(1)\nbar", &Mode::SingleLine), ("foo(1)".into(), true));
    }

    #[test]
    fn multi_line_ends_where_the_block_ends() {
        let mode = Mode::MultiLine { indent: 4, max_lines: 8 };
        let raw = "if x:\n        y()\n    return 1\ndef g():\n";
        assert_eq!(cut(raw, &mode), ("if x:\n        y()\n    return 1".into(), true));
        // Blank lines may still grow into the block; a short indent before text ends it at once.
        assert_eq!(cut("a\n  ", &mode), ("a\n  ".into(), false));
        assert_eq!(cut("a\n  b", &mode), ("a".into(), true));
    }

    #[test]
    fn multi_line_respects_max_lines() {
        let mode = Mode::MultiLine { indent: 0, max_lines: 2 };
        assert_eq!(cut("a\nb\nc\n", &mode), ("a\nb".into(), true));
    }

    #[test]
    fn the_rest_of_the_line_is_not_repeated() {
        let after = After { line: "):", next_line: None };
        assert_eq!(dedupe("a, b):", &Mode::SingleLine, after), "a, b");
        assert_eq!(dedupe("a, b)", &Mode::SingleLine, after), "a, b");
        assert_eq!(dedupe("a, b", &Mode::SingleLine, after), "a, b");
        assert_eq!(dedupe("x)  ", &Mode::SingleLine, After { line: ")", next_line: None }), "x");
    }

    #[test]
    fn a_block_stops_before_the_next_line_of_the_document() {
        let mode = Mode::MultiLine { indent: 4, max_lines: 8 };
        let after = After { line: "", next_line: Some("    return total") };
        assert_eq!(dedupe("total += x\n    return total\n", &mode, after), "total += x");
    }

    #[test]
    fn deadline_answers_end_on_a_word_boundary() {
        assert_eq!(whole_words("sum(item.pri"), "sum(item.");
        assert_eq!(whole_words("sum(item."), "sum(item.");
        assert_eq!(whole_words("total"), "");
    }

    #[test]
    fn line_breaks_follow_the_document() {
        assert_eq!(line_breaks("a\n    b".into(), true), "a\r\n    b");
        assert_eq!(line_breaks("a\r\n    b".into(), true), "a\r\n    b");
        assert_eq!(line_breaks("a\r\n    b\nc".into(), false), "a\n    b\nc");
        assert_eq!(line_breaks("one line".into(), true), "one line");
    }

    #[test]
    fn whitespace_only_is_no_suggestion() {
        assert_eq!(dedupe("  \n ", &Mode::SingleLine, NOTHING_AFTER), "");
    }
}
