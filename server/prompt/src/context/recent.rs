//! A ring buffer of chunks from recently opened, edited or saved files: the
//! code the user is working with, whatever file the cursor is in.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use ropey::Rope;

const CAPACITY: usize = 16;
/// Lines per chunk, centred on where the user was.
const CHUNK_LINES: usize = 32;
/// A region longer than this is not kept: its lines are minified or generated, not code to learn from.
const MAX_CHUNK_BYTES: usize = 8 * 1024;
/// A chunk sharing more than this share of its lines with a newer one is dropped.
const NEAR_DUPLICATE: f64 = 0.5;

#[derive(Debug, Clone)]
pub struct Chunk {
    pub key: String,
    pub path: Arc<str>,
    pub text: String,
    lines: HashSet<String>,
}

#[derive(Debug, Default)]
pub struct Recent {
    chunks: VecDeque<Chunk>,
}

impl Recent {
    /// Remembers the lines around `line` of a file; replaces older chunks it nearly repeats.
    pub fn push(&mut self, key: &str, path: &str, rope: &Rope, line: usize) {
        let n_lines = rope.len_lines();
        let start = line.saturating_sub(CHUNK_LINES / 2).min(n_lines.saturating_sub(CHUNK_LINES));
        let end = (start + CHUNK_LINES).min(n_lines);
        if rope.line_to_byte(end) - rope.line_to_byte(start) > MAX_CHUNK_BYTES {
            return;
        }
        let text: String = rope.slice(rope.line_to_char(start)..rope.line_to_char(end)).into();
        let lines: HashSet<String> = text.lines().map(str::trim).filter(|l| l.len() > 3).map(str::to_owned).collect();
        if lines.len() < 3 {
            return;
        }
        self.chunks.retain(|old| {
            let shared = old.lines.intersection(&lines).count() as f64;
            shared / (old.lines.len().max(lines.len()) as f64) <= NEAR_DUPLICATE
        });
        self.chunks.push_back(Chunk { key: key.to_owned(), path: path.into(), text, lines });
        while self.chunks.len() > CAPACITY {
            self.chunks.pop_front();
        }
    }

    /// Oldest first: new chunks join at the end, so a prompt's context grows at its end.
    pub fn chunks(&self) -> impl DoubleEndedIterator<Item = &Chunk> {
        self.chunks.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(n: usize, tag: &str) -> Rope {
        Rope::from_str(&(0..n).map(|i| format!("let {tag}_{i} = {i};\n")).collect::<String>())
    }

    #[test]
    fn near_duplicates_are_replaced_and_capacity_holds() {
        let mut recent = Recent::default();
        let a = file(200, "a");
        recent.push("a", "a.rs", &a, 50);
        recent.push("a", "a.rs", &a, 52);
        assert_eq!(recent.chunks().count(), 1, "the second chunk nearly repeats the first");
        assert!(recent.chunks().next().is_some_and(|c| c.text.starts_with("let a_36 ")));
        for i in 0..40 {
            recent.push(&format!("f{i}"), "f.rs", &file(40, &format!("f{i}")), 10);
        }
        assert_eq!(recent.chunks().count(), CAPACITY);
        assert_eq!(recent.chunks().last().map(|c| c.key.as_str()), Some("f39"));
    }

    #[test]
    fn blank_regions_are_not_kept() {
        let mut recent = Recent::default();
        recent.push("e", "e.rs", &Rope::from_str("\n\n\n}\n"), 1);
        assert_eq!(recent.chunks().count(), 0);
    }
}
