//! Where a finding is: the model's quote, found in the real text. Line numbers
//! from the model are never trusted; a quote that cannot be found drops its finding.

use std::ops::Range;

/// Quotes shorter than this (in non-blank chars) would match anywhere.
const MIN_QUOTE_CHARS: usize = 3;

/// The char range of `quote` in `text`: exactly, else with runs of whitespace taken as equal.
pub fn find(text: &str, quote: &str) -> Option<Range<usize>> {
    let quote = quote.trim();
    if quote.chars().filter(|c| !c.is_whitespace()).count() < MIN_QUOTE_CHARS {
        return None;
    }
    if let Some(byte) = text.find(quote) {
        let start = text[..byte].chars().count();
        return Some(start..start + quote.chars().count());
    }
    // Whitespace-insensitive: both sides as (char, index in `text`) with whitespace runs collapsed to one space.
    let collapse = |s: &str| -> Vec<(char, usize)> {
        let mut out: Vec<(char, usize)> = Vec::new();
        for (i, c) in s.chars().enumerate() {
            if c.is_whitespace() {
                if out.last().is_some_and(|(last, _)| *last != ' ') {
                    out.push((' ', i));
                }
            } else {
                out.push((c, i));
            }
        }
        out
    };
    let haystack = collapse(text);
    let needle: Vec<char> = collapse(quote).into_iter().map(|(c, _)| c).collect();
    let at = haystack.windows(needle.len()).position(|w| w.iter().map(|(c, _)| *c).eq(needle.iter().copied()))?;
    let start = haystack[at].1;
    let end = haystack[at + needle.len() - 1].1 + 1;
    Some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_found_exactly_or_modulo_whitespace() {
        let text = "def f(x):\n    if x  ==  None:\n        return 0\n";
        assert_eq!(find(text, "return 0"), Some(38..46));
        let loose = find(text, "if x == None:").unwrap();
        assert_eq!(text.chars().skip(loose.start).take(loose.len()).collect::<String>(), "if x  ==  None:");
        let across = find(text, "None:\n return").unwrap();
        assert_eq!(text.chars().skip(across.start).take(across.len()).collect::<String>(), "None:\n        return");
    }

    #[test]
    fn absent_or_tiny_quotes_are_not_found() {
        assert_eq!(find("x = 1\n", "y = 2"), None);
        assert_eq!(find("x = 1\n", " ="), None);
        assert_eq!(find("x = 1\n", ""), None);
    }
}
