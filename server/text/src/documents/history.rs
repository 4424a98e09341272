//! A document's recent edits, as the next-edit engine and a model's prompt want them: logical edits
//! ("renamed `foo` to `bar`"), not keystrokes, so an edit that continues where the previous one left off
//! within [`COALESCE_WITHIN`] joins it, or within [`WORD_COALESCE_WITHIN`] when both are a word's letters
//! (a pause while typing a name does not split it).
//!
//! Invariants: bounded ([`MAX_EDITS`] entries, [`MAX_HISTORY_BYTES`] of text); a text over
//! [`MAX_EDIT_BYTES`] is kept as its length only; the last entry recorded describes the text as it is
//! (`new_range` holds `new`).

use std::collections::VecDeque;
use std::ops::Range;
use std::time::{Duration, Instant};

use ropey::Rope;

/// Entries kept per document.
pub const MAX_EDITS: usize = 32;
/// Text kept per document, all entries together (old and new texts and their context).
pub const MAX_HISTORY_BYTES: usize = 64 * 1024;
/// An old or new text longer than this is kept as its length only: a paste or a reload says little
/// about the next edit and would crowd out the rest.
pub const MAX_EDIT_BYTES: usize = 4 * 1024;
/// Keystrokes closer than this, each continuing the edit before, make one edit.
pub const COALESCE_WITHIN: Duration = Duration::from_secs(1);
/// Letters continuing a word closer than this make one edit.
pub const WORD_COALESCE_WITHIN: Duration = Duration::from_secs(5);
/// Lines of context a diff shows on each side.
const CONTEXT_LINES: usize = 3;
/// Context kept on each side, so one long line cannot make an entry large.
const MAX_CONTEXT_BYTES: usize = 512;

/// An edit's old or new text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditText {
    Text(String),
    /// Over [`MAX_EDIT_BYTES`]: only its length in chars is kept.
    Large {
        n_chars: usize,
    },
}

impl EditText {
    fn new(text: String) -> EditText {
        if text.len() > MAX_EDIT_BYTES {
            EditText::Large { n_chars: text.chars().count() }
        } else {
            EditText::Text(text)
        }
    }

    fn of_rope(rope: &Rope, chars: Range<usize>) -> EditText {
        let n_bytes = rope.char_to_byte(chars.end) - rope.char_to_byte(chars.start);
        if n_bytes > MAX_EDIT_BYTES {
            EditText::Large { n_chars: chars.len() }
        } else {
            EditText::Text(rope.slice(chars).to_string())
        }
    }

    pub fn n_chars(&self) -> usize {
        match self {
            EditText::Text(text) => text.chars().count(),
            EditText::Large { n_chars } => *n_chars,
        }
    }

    /// The text, unless it was too large to keep.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            EditText::Text(text) => Some(text),
            EditText::Large { .. } => None,
        }
    }

    fn n_bytes(&self) -> usize {
        self.as_str().map_or(0, str::len)
    }
}

/// One logical edit: chars `start..start + old.n_chars()` of the text before it became `new`.
#[derive(Debug, Clone)]
pub struct Edit {
    /// When the edit was last extended.
    pub at: Instant,
    /// The document's version once the edit was made.
    pub version: i32,
    /// Char offset where the edit starts, the same before and after it.
    pub start: usize,
    pub old: EditText,
    pub new: EditText,
    /// The line (0-based) the diff's context starts on, and the text around the edit when it was made.
    context_line: usize,
    before: String,
    after: String,
}

impl Edit {
    /// The chars it replaced, in the text before it.
    pub fn old_range(&self) -> Range<usize> {
        self.start..self.start + self.old.n_chars()
    }

    /// The chars it wrote, in the text right after it.
    pub fn new_range(&self) -> Range<usize> {
        self.start..self.start + self.new.n_chars()
    }

    /// The edit as a unified diff hunk with up to three lines of context, as the text was then.
    pub fn unified_diff(&self) -> String {
        let (Some(old), Some(new)) = (self.old.as_str(), self.new.as_str()) else {
            return format!(
                "@@ line {}: {} chars replaced by {} chars (too large to show) @@\n",
                self.context_line + 1,
                self.old.n_chars(),
                self.new.n_chars()
            );
        };
        let old_text = format!("{}{old}{}", self.before, self.after);
        let new_text = format!("{}{new}{}", self.before, self.after);
        let old_lines: Vec<&str> = old_text.lines().collect();
        let new_lines: Vec<&str> = new_text.lines().collect();
        let n_prefix = old_lines.iter().zip(&new_lines).take_while(|(a, b)| a == b).count();
        let n_suffix = old_lines[n_prefix..]
            .iter()
            .rev()
            .zip(new_lines[n_prefix..].iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let mut diff = format!(
            "@@ -{},{} +{},{} @@\n",
            self.context_line + 1,
            old_lines.len(),
            self.context_line + 1,
            new_lines.len()
        );
        let mut push = |mark: char, line: &str| {
            diff.push(mark);
            diff.push_str(line);
            diff.push('\n');
        };
        old_lines[..n_prefix].iter().for_each(|line| push(' ', line));
        old_lines[n_prefix..old_lines.len() - n_suffix].iter().for_each(|line| push('-', line));
        new_lines[n_prefix..new_lines.len() - n_suffix].iter().for_each(|line| push('+', line));
        old_lines[old_lines.len() - n_suffix..].iter().for_each(|line| push(' ', line));
        diff
    }

    fn n_bytes(&self) -> usize {
        self.old.n_bytes() + self.new.n_bytes() + self.before.len() + self.after.len()
    }

    /// How long after `self` a change replacing `removed` with `text` may still join it.
    fn window(&self, removed: &str, text: &str) -> Duration {
        let word = |s: &str| s.chars().all(|c| c.is_alphanumeric() || c == '_');
        let in_word = [&self.old, &self.new].iter().all(|t| t.as_str().is_some_and(word));
        if in_word && word(removed) && word(text) { WORD_COALESCE_WITHIN } else { COALESCE_WITHIN }
    }

    /// Takes in the change of `chars` (in the text after `self`) to `text` when it touches what `self` wrote;
    /// `false` (and `self` untouched) when it does not, or when either is too large to keep.
    fn absorb(&mut self, chars: &Range<usize>, removed: &str, text: &str) -> bool {
        let written = self.new_range();
        let (Some(old), Some(new)) = (self.old.as_str(), self.new.as_str()) else { return false };
        if chars.start > written.end || chars.end < written.start {
            return false;
        }
        // What the change removed outside what `self` wrote was old text too; what it left of `self`'s
        // text stays new.
        let old = format!(
            "{}{old}{}",
            char_slice(removed, 0..written.start.saturating_sub(chars.start)),
            char_slice(removed, written.end.saturating_sub(chars.start).min(chars.len())..chars.len()),
        );
        let new = format!(
            "{}{text}{}",
            char_slice(new, 0..chars.start.saturating_sub(written.start)),
            char_slice(new, chars.end.min(written.end).saturating_sub(written.start)..written.len()),
        );
        if old.len() > MAX_EDIT_BYTES || new.len() > MAX_EDIT_BYTES {
            return false;
        }
        self.start = self.start.min(chars.start);
        self.old = EditText::Text(old);
        self.new = EditText::Text(new);
        true
    }

    /// Keeps the text around the edit from `rope`, the text right after it.
    fn take_context(&mut self, rope: &Rope) {
        let written = self.new_range();
        let n_chars = rope.len_chars();
        if written.end > n_chars {
            // Cannot happen (the edit was recorded against this rope); no context beats a panic.
            (self.before, self.after) = (String::new(), String::new());
            return;
        }
        let first_line = rope.char_to_line(written.start).saturating_sub(CONTEXT_LINES);
        let end_line = rope.char_to_line(written.end) + CONTEXT_LINES + 1;
        let context_end = if end_line >= rope.len_lines() { n_chars } else { rope.line_to_char(end_line) };
        // A few lines, but no more than is kept: a minified line would otherwise be copied whole.
        let start = rope.line_to_char(first_line).max(written.start.saturating_sub(MAX_CONTEXT_BYTES));
        let end = context_end.min(written.end + MAX_CONTEXT_BYTES);
        self.context_line = rope.char_to_line(start);
        self.before = rope.slice(start..written.start).to_string();
        self.after = rope.slice(written.end..end).to_string();
        if self.before.len() > MAX_CONTEXT_BYTES {
            let cut = self.before.ceil_char_boundary(self.before.len() - MAX_CONTEXT_BYTES);
            self.before.replace_range(..cut, "");
        }
        if self.after.len() > MAX_CONTEXT_BYTES {
            let cut = self.after.floor_char_boundary(MAX_CONTEXT_BYTES);
            self.after.truncate(cut);
        }
    }
}

/// Chars `range` of `text`, clamped to it.
fn char_slice(text: &str, range: Range<usize>) -> &str {
    let byte = |n: usize| text.char_indices().nth(n).map_or(text.len(), |(i, _)| i);
    let (start, end) = (byte(range.start), byte(range.end));
    text.get(start..end.max(start)).unwrap_or_default()
}

/// A document's recent edits, oldest first.
#[derive(Debug, Clone, Default)]
pub struct EditHistory {
    edits: VecDeque<Edit>,
    n_bytes: usize,
}

impl EditHistory {
    /// Oldest first.
    pub fn edits(&self) -> impl DoubleEndedIterator<Item = &Edit> + ExactSizeIterator {
        self.edits.iter()
    }

    /// The latest edit.
    pub fn last(&self) -> Option<&Edit> {
        self.edits.back()
    }

    pub fn len(&self) -> usize {
        self.edits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// The bytes of text kept, all entries together: at most [`MAX_HISTORY_BYTES`].
    pub fn n_bytes(&self) -> usize {
        self.n_bytes
    }

    /// Records that chars `chars` of `before` became `text`, giving `after`, as `version` at `at`.
    pub(crate) fn record(
        &mut self,
        before: &Rope,
        after: &Rope,
        chars: Range<usize>,
        text: &str,
        version: i32,
        at: Instant,
    ) {
        let removed = EditText::of_rope(before, chars.clone());
        if removed.as_str() == Some(text) {
            return;
        }
        let merged = match (self.edits.back_mut(), removed.as_str()) {
            (Some(last), Some(removed)) if at.saturating_duration_since(last.at) <= last.window(removed, text) => {
                self.n_bytes -= last.n_bytes();
                if last.absorb(&chars, removed, text) {
                    last.at = at;
                    last.version = version;
                    true
                } else {
                    self.n_bytes += last.n_bytes();
                    false
                }
            }
            _ => false,
        };
        if merged {
            let Some(last) = self.edits.pop_back() else { return };
            // Typed and taken back: nothing happened.
            if last.old != last.new {
                self.push(last, after);
            }
        } else {
            let edit = Edit {
                at,
                version,
                start: chars.start,
                old: removed,
                new: EditText::new(text.to_owned()),
                context_line: 0,
                before: String::new(),
                after: String::new(),
            };
            self.push(edit, after);
        }
    }

    fn push(&mut self, mut edit: Edit, after: &Rope) {
        edit.take_context(after);
        self.n_bytes += edit.n_bytes();
        self.edits.push_back(edit);
        while self.edits.len() > MAX_EDITS || self.n_bytes > MAX_HISTORY_BYTES {
            let Some(oldest) = self.edits.pop_front() else { break };
            self.n_bytes -= oldest.n_bytes();
        }
    }
}

/// The change that turns `before` into `after`: the chars between their common prefix and suffix, and
/// what replaces them. For clients that send the whole text on every keystroke.
pub(crate) fn difference<'a>(before: &Rope, after: &'a str) -> (Range<usize>, &'a str) {
    let n_prefix = before.chars().zip(after.chars()).take_while(|(a, b)| a == b).count();
    let n_after = after.chars().count();
    let room = before.len_chars().min(n_after) - n_prefix;
    let n_suffix = before
        .chars_at(before.len_chars())
        .reversed()
        .zip(after.chars().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    (n_prefix..before.len_chars() - n_suffix, char_slice(after, n_prefix..n_after - n_suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies `(start, end, text)` char edits to `text` as keystrokes `step` apart; the history and the text.
    fn typed(text: &str, edits: &[(usize, usize, &str)], step: Duration) -> (EditHistory, Rope) {
        let mut history = EditHistory::default();
        let mut rope = Rope::from_str(text);
        let t0 = Instant::now();
        for (i, &(start, end, new)) in edits.iter().enumerate() {
            let before = rope.clone();
            rope.remove(start..end);
            rope.insert(start, new);
            history.record(&before, &rope, start..end, new, i as i32 + 2, t0 + step * i as u32);
        }
        (history, rope)
    }

    fn summary(history: &EditHistory) -> Vec<(usize, Option<&str>, Option<&str>)> {
        history.edits().map(|e| (e.start, e.old.as_str(), e.new.as_str())).collect()
    }

    #[test]
    fn keystrokes_renaming_an_identifier_make_one_edit() {
        // `count` backspaced away, then `total` typed in its place.
        let text = "x = count + 1\n";
        let mut edits = vec![(8, 9, ""), (7, 8, ""), (6, 7, ""), (5, 6, ""), (4, 5, "")];
        edits.extend(["t", "o", "t", "a", "l"].iter().enumerate().map(|(i, c)| (4 + i, 4 + i, *c)));
        let (history, rope) = typed(text, &edits, Duration::from_millis(100));
        assert_eq!(rope.to_string(), "x = total + 1\n");
        assert_eq!(summary(&history), [(4, Some("count"), Some("total"))]);
        assert_eq!(history.last().map(Edit::new_range), Some(4..9));
    }

    #[test]
    fn a_pause_or_a_jump_starts_a_new_edit_and_taking_back_leaves_none() {
        let (history, _) = typed("ab cd\n", &[(0, 0, "x"), (1, 1, " ")], Duration::from_secs(2));
        assert_eq!(summary(&history), [(0, Some(""), Some("x")), (1, Some(""), Some(" "))]);
        // Letters of one word wait longer.
        let (history, _) = typed("ab cd\n", &[(0, 0, "x"), (1, 1, "y")], Duration::from_secs(2));
        assert_eq!(summary(&history), [(0, Some(""), Some("xy"))]);
        let (history, _) = typed("ab cd\n", &[(0, 0, "x"), (1, 1, "y")], Duration::from_secs(6));
        assert_eq!(history.len(), 2);
        let (history, _) = typed("ab cd\n", &[(0, 0, "x"), (5, 5, "y")], Duration::from_millis(10));
        assert_eq!(history.len(), 2);
        let (history, rope) = typed("ab\n", &[(2, 2, "c"), (2, 3, "")], Duration::from_millis(10));
        assert_eq!((history.len(), rope.to_string()), (0, "ab\n".to_owned()));
    }

    #[test]
    fn the_diff_shows_the_edit_in_its_context() {
        let text = "def f(a):\n    b = a\n    c = b\n    return c\n\nprint(f(1))\n";
        let (history, _) = typed(text, &[(24, 25, "d")], Duration::ZERO);
        let expected =
            "@@ -1,6 +1,6 @@\n def f(a):\n     b = a\n-    c = b\n+    d = b\n     return c\n \n print(f(1))\n";
        assert_eq!(history.last().map(Edit::unified_diff).as_deref(), Some(expected));
    }

    #[test]
    fn large_texts_are_kept_as_their_length_and_the_history_stays_bounded() {
        let big = "z".repeat(MAX_EDIT_BYTES + 1);
        let (history, _) = typed("a\n", &[(0, 1, &big)], Duration::ZERO);
        assert_eq!(history.last().map(|e| e.new.clone()), Some(EditText::Large { n_chars: big.len() }));
        assert!(history.last().is_some_and(|e| e.unified_diff().contains("too large")));
        let line = "y".repeat(3000);
        let edits: Vec<(usize, usize, &str)> = (0..100).map(|i| (i * 3000, i * 3000, line.as_str())).collect();
        let (history, _) = typed("", &edits, Duration::from_secs(5));
        assert!(history.len() <= MAX_EDITS && history.n_bytes() <= MAX_HISTORY_BYTES, "{}", history.n_bytes());
    }

    #[test]
    fn a_long_line_gives_a_bounded_context() {
        let line = "x".repeat(100_000);
        let (history, _) = typed(&line, &[(50_000, 50_000, "y")], Duration::ZERO);
        let diff = history.last().map(Edit::unified_diff).unwrap_or_default();
        // The diff shows the line twice, before and after.
        assert!(diff.len() < 5 * MAX_CONTEXT_BYTES && history.n_bytes() < 3 * MAX_CONTEXT_BYTES, "{}", diff.len());
    }

    #[test]
    fn a_whole_text_differs_by_its_middle() {
        let rope = Rope::from_str("let x = é1;\n");
        assert_eq!(difference(&rope, "let x = é12;\n"), (10..10, "2"));
        assert_eq!(difference(&rope, "let x = é1;\n"), (12..12, ""));
        assert_eq!(difference(&rope, "aa"), (0..12, "aa"));
        assert_eq!(difference(&Rope::from_str("aaa"), "aa"), (2..3, ""));
    }
}
