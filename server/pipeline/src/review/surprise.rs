//! Review by surprise (rule `surprise`): every token of a unit scored by the model in context
//! (`Engine::score`, one evaluation, no generation), and per line the token the model least expected where it
//! was sure of something else. A line is reported when that token's score, `ln(p(expected) / p(actual))`, reaches
//! `review.surprise_threshold`.
//!
//! What is not scored, because a model cannot know it and it says nothing about a bug: whitespace, comments and
//! strings (by the syntax tree), and names not seen before their line (definitions and first uses). What
//! the model expected must be code too (not a line break). The score compares the model's own first choice with
//! what is written, so it is relative to how sure the model is at that place, not to its absolute level.

use std::num::NonZeroUsize;
use std::ops::Range;

use lru::LruCache;
use parking_lot::Mutex;
use ropey::Rope;
use serde::{Deserialize, Serialize};

use nib_engine::TokenScore;
use nib_text::syntax::Syntax;

use super::Severity;
use super::prompt::Rule;

/// The rule id in every report format.
pub const RULE: &str = "surprise";

/// The rule as reports list it beside the catalogue's (it is not the model's to give: no prompt names it).
pub fn rule() -> Rule {
    Rule {
        id: RULE.into(),
        name: "Unusual code".into(),
        description: "A token the model found unlikely where it expected something else with confidence: often a \
                      swapped operator, an off-by-one or a wrong name."
            .into(),
        severity: Severity::Info,
    }
}

/// Alternatives asked per position: the first is what the model expected.
pub const TOP_K: usize = 1;

/// The text before a unit given as its context: at most this many chars of the file's head, so that a unit's
/// scores (and its cache entry) change only with it and the head (imports), not with the code between.
pub const CONTEXT_CHARS: usize = 800;

/// Scores kept in the cache's key: a change to how lines are scored must not reuse older scores.
pub const VERSION: &str = "surprise-1";

/// Units with more tokens than this (context included) are not scored: they would not fit the context window.
pub const MAX_TOKENS: usize = 1800;

/// The text a unit starting at char `start` is scored after: the file up to it, or its first `CONTEXT_CHARS`
/// cut at a line's end. The same head for every unit past it, so the engine reuses its evaluation.
pub fn head(rope: &Rope, start: usize) -> String {
    if start <= CONTEXT_CHARS {
        return rope.slice(..start).to_string();
    }
    let head = rope.slice(..CONTEXT_CHARS).to_string();
    head[..head.rfind('\n').map_or(0, |i| i + 1)].to_owned()
}

/// Whether the byte is in a comment or a string (a char or a string literal, a docstring).
pub fn in_comment_or_string(syntax: &Syntax, byte: usize) -> bool {
    let mut node = syntax.tree.root_node().descendant_for_byte_range(byte, byte + 1);
    while let Some(n) = node {
        let kind = n.kind();
        if kind.contains("comment") || kind.contains("string") || kind == "char_literal" {
            return true;
        }
        node = n.parent();
    }
    false
}

/// Whether replacing chars `chars` of `rope` with `text` adds no syntax error.
pub fn still_parses(rope: &Rope, syntax: &Syntax, chars: Range<usize>, text: &str) -> bool {
    let mut tree = syntax.clone();
    tree.edit(&nib_text::syntax::input_edit(rope, chars.start, chars.end, text));
    let mut edited = rope.clone();
    edited.remove(chars.clone());
    edited.insert(chars.start, text);
    let Some(tree) = tree.reparse(&edited) else { return false };
    tree.n_errors_in(0..edited.len_bytes()) <= syntax.n_errors_in(0..rope.len_bytes())
}

/// The token of a line the model least expected, and what it expected there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineSurprise {
    /// 0-based, within the unit's code.
    pub line: usize,
    /// The token's text without surrounding whitespace, as chars within the unit's code.
    pub chars: Range<usize>,
    pub actual: String,
    pub expected: String,
    pub p_actual: f32,
    pub p_expected: f32,
    /// `ln(p_expected / p_actual)`, in nats: 0 where the model's first choice is written.
    pub score: f32,
}

impl LineSurprise {
    /// What a finding says, with the figures: "unusual here: `<` (1 in 50); the model expected `<=` (7 in 10)".
    pub fn message(&self) -> String {
        format!(
            "unusual here: `{}` ({}); the model expected `{}` ({})",
            self.actual,
            odds(self.p_actual),
            self.expected,
            odds(self.p_expected)
        )
    }
}

/// A probability as people read one: "99 in 100" near certainty, "7 in 10" down to 1 in 10, then "1 in 50".
pub fn odds(p: f32) -> String {
    if p >= 0.95 {
        return format!("{} in 100", (p * 100.0).round().min(99.0));
    }
    if p >= 0.095 {
        return format!("{} in 10", (p * 10.0).round().clamp(1.0, 10.0));
    }
    let n = 1.0 / f64::from(p.max(1e-9));
    // Two significant figures: "1 in 1,300" says as much as "1 in 1,337".
    let magnitude = 10f64.powi((n.log10().floor() as i32 - 1).max(0));
    let rounded = ((n / magnitude).round() * magnitude) as u64;
    format!("1 in {}", thousands(rounded))
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Per line of `code`, its most surprising token that may be scored (see the module's doc), if any.
/// `scores` are `code`'s tokens in order; `context` is the text the model saw before it; `skip(char)` says a
/// char of `code` is in a comment or a string.
pub fn lines(context: &str, code: &str, scores: &[TokenScore], skip: impl Fn(usize) -> bool) -> Vec<LineSurprise> {
    let mut best: Vec<Option<LineSurprise>> = vec![None; code.split('\n').count()];
    for (bytes, score) in place(code, scores) {
        let Some(bytes) = trimmed(code, bytes) else { continue };
        let Some(expected) = score.top.first() else { continue };
        let actual = &code[bytes.clone()];
        let wanted = expected.text.trim();
        if wanted.is_empty() || wanted == actual || expected.logprob <= score.logprob {
            continue;
        }
        let chars = code[..bytes.start].chars().count()..code[..bytes.end].chars().count();
        if skip(chars.start) || is_new_name(context, code, bytes.clone()) {
            continue;
        }
        let line = code[..bytes.start].matches('\n').count();
        let candidate = LineSurprise {
            line,
            chars,
            actual: actual.to_owned(),
            expected: wanted.to_owned(),
            p_actual: score.logprob.exp(),
            p_expected: expected.logprob.exp(),
            score: expected.logprob - score.logprob,
        };
        if best[line].as_ref().is_none_or(|b| candidate.score > b.score) {
            best[line] = Some(candidate);
        }
    }
    best.into_iter().flatten().collect()
}

/// Each token's byte range in `code`, for the tokens whose text is found there in order. A token whose text is
/// not `code`'s (a character split across tokens decodes lossily) is skipped, and so is the rest of its line:
/// the next line break puts the walk back in step (a line break is never split).
fn place<'a>(code: &str, scores: &'a [TokenScore]) -> Vec<(Range<usize>, &'a TokenScore)> {
    let mut placed = Vec::with_capacity(scores.len());
    let mut at = Some(0usize);
    let mut line_starts = code.match_indices('\n').map(|(i, _)| i + 1);
    for score in scores {
        let piece = score.text.as_str();
        match at {
            Some(start) if code[start..].starts_with(piece) => {
                placed.push((start..start + piece.len(), score));
                at = Some(start + piece.len());
                for _ in piece.matches('\n') {
                    line_starts.next();
                }
            }
            _ => {
                // Out of step: back in step after this piece's line breaks, if it has any.
                let n_breaks = piece.matches('\n').count();
                if n_breaks == 0 {
                    at = None;
                    continue;
                }
                let Some(line_start) = (0..n_breaks).filter_map(|_| line_starts.next()).last() else {
                    at = None;
                    continue;
                };
                let tail = &piece[piece.rfind('\n').map_or(0, |i| i + 1)..];
                at = code[line_start..].starts_with(tail).then_some(line_start + tail.len());
            }
        }
    }
    placed
}

/// `bytes` of `code` without leading and trailing whitespace; `None` when nothing is left.
fn trimmed(code: &str, bytes: Range<usize>) -> Option<Range<usize>> {
    let text = &code[bytes.clone()];
    let start = bytes.start + (text.len() - text.trim_start().len());
    let end = bytes.end - (text.len() - text.trim_end().len());
    (start < end).then_some(start..end)
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether the token at `bytes` is part of a name that neither the context nor the unit's lines before it
/// used: the model cannot know a name before it is made. Numbers are not names.
fn is_new_name(context: &str, code: &str, bytes: Range<usize>) -> bool {
    let start = code[..bytes.start].rfind(|c: char| !is_word(c)).map_or(0, |i| i + 1);
    let end = code[bytes.end..].find(|c: char| !is_word(c)).map_or(code.len(), |i| bytes.end + i);
    let line_start = code[..start].rfind('\n').map_or(0, |i| i + 1);
    let before = &code[..line_start];
    code[start..end]
        .split(|c: char| !is_word(c))
        .filter(|w| !w.is_empty() && !w.starts_with(|c: char| c.is_ascii_digit()))
        .any(|w| !has_word(context, w) && !has_word(before, w))
}

/// Whether `word` occurs in `text` as a whole word.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// Units' scores by content (model, context, code): on save only the units that changed are scored again.
pub struct SurpriseCache(Mutex<LruCache<String, Vec<LineSurprise>>>);

impl Default for SurpriseCache {
    fn default() -> SurpriseCache {
        SurpriseCache(Mutex::new(LruCache::new(NonZeroUsize::new(4096).expect("non-zero"))))
    }
}

impl std::fmt::Debug for SurpriseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SurpriseCache({} entries)", self.0.lock().len())
    }
}

impl SurpriseCache {
    pub fn get(&self, key: &str) -> Option<Vec<LineSurprise>> {
        self.0.lock().get(key).cloned()
    }

    pub fn put(&self, key: &str, lines: Vec<LineSurprise>) {
        self.0.lock().put(key.to_owned(), lines);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nib_engine::Alternative;

    fn token(text: &str, p: f32, expected: &str, p_expected: f32) -> TokenScore {
        TokenScore {
            text: text.into(),
            logprob: p.ln(),
            top: vec![Alternative { text: expected.into(), logprob: p_expected.ln() }],
        }
    }

    #[test]
    fn odds_read_as_people_say_them() {
        assert_eq!(odds(0.7), "7 in 10");
        assert_eq!(odds(0.02), "1 in 50");
        assert_eq!(odds(0.000_75), "1 in 1,300");
        assert_eq!(odds(0.96), "96 in 100");
        assert_eq!(odds(1.0), "99 in 100");
        assert_eq!(odds(0.0), "1 in 1,000,000,000");
    }

    #[test]
    fn each_line_keeps_its_most_surprising_token() {
        let code = "if a < b:\n    a = b\n";
        let scores = [
            token("if", 0.9, "if", 0.9),
            token(" a", 0.5, " a", 0.5),
            token(" <", 0.02, " <=", 0.7),
            token(" b", 0.5, " b", 0.5),
            token(":\n", 0.9, ":\n", 0.9),
            token("    a", 0.3, "    b", 0.5),
            token(" =", 0.9, " =", 0.9),
            token(" b", 0.9, " b", 0.9),
            token("\n", 0.9, "\n", 0.9),
        ];
        let found = lines("a = 1\nb = 2\n", code, &scores, |_| false);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!((found[0].line, found[0].chars.clone(), found[0].expected.as_str()), (0, 5..6, "<="));
        assert_eq!(found[0].message(), "unusual here: `<` (1 in 50); the model expected `<=` (7 in 10)");
        assert_eq!((found[1].line, found[1].actual.as_str()), (1, "a"));
    }

    #[test]
    fn new_names_comments_and_line_breaks_are_not_scored() {
        let code = "total = 0 # note\n";
        let scores = [
            token("total", 0.001, "x", 0.5),
            token(" =", 0.9, " =", 0.9),
            token(" 0", 0.4, "\n", 0.5),
            token(" #", 0.1, " #", 0.1),
            token(" note", 0.001, " todo", 0.6),
            token("\n", 0.9, "\n", 0.9),
        ];
        let comment = code.find('#').unwrap();
        assert_eq!(lines("", code, &scores, |c| c >= comment), []);
        // Once the name is known (from the context), its token counts.
        assert_eq!(lines("total = 1\n", code, &scores, |c| c >= comment).len(), 1);
    }

    #[test]
    fn tokens_out_of_step_are_skipped_until_the_next_line() {
        let code = "s = 'é'\nx = y\n";
        let scores = [
            token("s", 0.9, "s", 0.9),
            token(" = '", 0.9, " = '", 0.9),
            token("\u{fffd}", 0.001, "a", 0.9),
            token("\u{fffd}'\n", 0.001, "a", 0.9),
            token("x", 0.9, "x", 0.9),
            token(" = y", 0.001, " = 1", 0.9),
            token("\n", 0.9, "\n", 0.9),
        ];
        let found = lines("y = 2\n", code, &scores, |_| false);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].line, found[0].actual.as_str(), found[0].expected.as_str()), (1, "= y", "= 1"));
        assert_eq!(found[0].chars, 10..13);
    }
}
