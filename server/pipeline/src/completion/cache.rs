//! Finished completions, reused without the model: exact prompts (LRU), and
//! typing through a suggestion on screen.

use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;

use lru::LruCache;
use ropey::Rope;

use super::confidence::Logprobs;
use nib_prompt::TokenId;

/// What a cached completion is keyed by: everything that decides the model's output.
pub fn key(prompt: &[TokenId], stop: &[String], max_tokens: usize) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (prompt, stop, max_tokens).hash(&mut hasher);
    hasher.finish()
}

/// A suggestion as it was shown, to recognise the user typing it.
/// Where a cursor is, as much as typing through a suggestion needs to know.
#[derive(Debug, Clone)]
pub struct Place {
    line: usize,
    /// Hash of the text above the cursor's line.
    above: u64,
    /// The cursor's line up to the cursor.
    before: String,
}

impl Place {
    pub fn new(rope: &Rope, cursor: usize) -> Place {
        let line = rope.char_to_line(cursor);
        let line_start = rope.line_to_char(line);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        // Raw bytes: the same text hashes the same however the rope splits it into chunks.
        for chunk in rope.slice(..line_start).chunks() {
            hasher.write(chunk.as_bytes());
        }
        Place { line, above: hasher.finish(), before: rope.slice(line_start..cursor).to_string() }
    }
}

/// A suggestion as it was shown.
#[derive(Debug, Clone)]
struct Shown {
    place: Place,
    suggestion: String,
}

pub struct CompletionCache {
    /// Raw model text per prompt key, with its tokens' log-probabilities.
    raw: LruCache<u64, (String, Logprobs)>,
    /// The last suggestion shown per document.
    shown: LruCache<String, Shown>,
    /// The line where the last prompt for a document started: its KV sequence holds the text from there.
    window_starts: LruCache<String, usize>,
}

impl CompletionCache {
    pub fn new(n_entries: usize) -> CompletionCache {
        let n = NonZeroUsize::new(n_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        let per_document = NonZeroUsize::new(64).unwrap_or(n);
        CompletionCache {
            raw: LruCache::new(n),
            shown: LruCache::new(per_document),
            window_starts: LruCache::new(per_document),
        }
    }

    /// Keeps at most `n_entries` finished completions from now on (the least recently used go first).
    pub fn resize(&mut self, n_entries: usize) {
        self.raw.resize(NonZeroUsize::new(n_entries.max(1)).unwrap_or(NonZeroUsize::MIN));
    }

    pub fn get(&mut self, key: u64) -> Option<(String, Logprobs)> {
        self.raw.get(&key).cloned()
    }

    pub fn put(&mut self, key: u64, raw: String, logprobs: Logprobs) {
        self.raw.put(key, (raw, logprobs));
    }

    /// The line where the last prompt for `document` started.
    pub fn window_start(&mut self, document: &str) -> Option<usize> {
        self.window_starts.get(document).copied()
    }

    pub fn set_window_start(&mut self, document: &str, line: usize) {
        self.window_starts.put(document.to_owned(), line);
    }

    /// Remembers the suggestion shown at `place` in `document`.
    pub fn shown(&mut self, document: &str, place: &Place, suggestion: &str) {
        self.shown.put(document.to_owned(), Shown { place: place.clone(), suggestion: suggestion.to_owned() });
    }

    /// The rest of the shown suggestion, when the text typed since is its beginning.
    pub fn typed_through(&mut self, document: &str, place: &Place) -> Option<String> {
        let shown = self.shown.get(document)?;
        if place.line != shown.place.line || place.above != shown.place.above {
            return None;
        }
        let typed = place.before.strip_prefix(&shown.place.before).filter(|t| !t.is_empty())?;
        let rest = shown.suggestion.strip_prefix(typed).filter(|r| !r.trim().is_empty())?;
        Some(rest.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_the_start_of_a_suggestion_yields_the_rest() {
        let mut cache = CompletionCache::new(8);
        let mut rope = Rope::from_str("def f():\n    return \n");
        let through =
            |cache: &mut CompletionCache, rope: &Rope, cursor| cache.typed_through("a", &Place::new(rope, cursor));
        cache.shown("a", &Place::new(&rope, 20), "sum(xs)");
        rope.insert(20, "su");
        assert_eq!(through(&mut cache, &rope, 22).as_deref(), Some("m(xs)"));
        // Typing something else, or editing above, ends it.
        let mut other = Rope::from_str("def f():\n    return \n");
        other.insert(20, "x");
        assert_eq!(through(&mut cache, &other, 21), None);
        let mut edited = rope.clone();
        edited.insert(0, "# hi\n");
        assert_eq!(through(&mut cache, &edited, 27), None);
        // Nothing typed yet, or everything typed: nothing to offer.
        let fresh = Rope::from_str("def f():\n    return \n");
        assert_eq!(through(&mut cache, &fresh, 20), None);
        let mut all = fresh.clone();
        all.insert(20, "sum(xs)");
        assert_eq!(through(&mut cache, &all, 27), None);
    }

    #[test]
    fn the_same_text_is_the_same_place_whatever_its_edit_history() {
        let text: String = (0..400).map(|i| format!("line {i}\n")).collect();
        let whole = Rope::from_str(&text);
        let mut pieced = Rope::new();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate().rev() {
            pieced.insert(0, &format!("{line}\n"));
            if i % 7 == 0 {
                pieced.insert(0, "x");
                pieced.remove(0..1);
            }
        }
        assert_eq!(whole, pieced);
        let cursor = whole.line_to_char(399) + 3;
        let (a, b) = (Place::new(&whole, cursor), Place::new(&pieced, cursor));
        assert_eq!((a.line, a.above, a.before), (b.line, b.above, b.before));
    }

    #[test]
    fn prompts_are_cached_least_recently_used_first() {
        let mut cache = CompletionCache::new(2);
        let k = |n: TokenId| key(&[n], &["\n".into()], 64);
        cache.put(k(1), "one".into(), Logprobs::default());
        cache.put(k(2), "two".into(), Logprobs::default());
        assert_eq!(cache.get(k(1)).map(|(raw, _)| raw).as_deref(), Some("one"));
        cache.put(k(3), "three".into(), Logprobs::default());
        assert_eq!(cache.get(k(2)), None);
        assert_ne!(key(&[1], &[], 64), key(&[1], &[], 32));
    }
}
