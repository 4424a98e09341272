//! Where each file was last edited, kept across restarts beside the KV snapshots
//! (`$NIB_HOME/snapshots/last-edits.json`): a file opened again gets the prompt there evaluated ahead.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use lru::LruCache;
use parking_lot::Mutex;
use ropey::Rope;
use serde::{Deserialize, Serialize};

use nib_text::documents::Document;
use nib_text::documents::position::line_len_chars;

/// Files remembered; the least recently edited go first.
const MAX_FILES: usize = 1024;

/// A place in a file, in characters: it outlives the client's position encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub line: usize,
    pub column: usize,
}

impl Place {
    /// The place after `document`'s latest edit; none before its first.
    pub fn of(document: &Document) -> Option<Place> {
        let edit = document.history.last()?;
        Some(Place::at(&document.rope, edit.start + edit.new.n_chars()))
    }

    /// The place of char `offset` in `rope` (its end, past it).
    pub fn at(rope: &Rope, offset: usize) -> Place {
        let offset = offset.min(rope.len_chars());
        let line = rope.char_to_line(offset);
        Place { line, column: offset - rope.line_to_char(line) }
    }

    /// The char offset of this place in `rope`, brought within it: the file may have changed since.
    pub fn offset_in(self, rope: &Rope) -> usize {
        let line = self.line.min(rope.len_lines().saturating_sub(1));
        rope.line_to_char(line) + self.column.min(line_len_chars(rope, line))
    }
}

#[derive(Serialize, Deserialize)]
struct Entry {
    uri: String,
    #[serde(flatten)]
    place: Place,
}

#[derive(Debug, thiserror::Error)]
pub enum LastEditsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not nib's list of last edits: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The places, most recently edited last, and the file they are kept in.
pub struct LastEdits {
    places: Mutex<LruCache<String, Place>>,
    /// `None`: kept for this run only.
    file: Option<PathBuf>,
    /// Held while the file is written: two saves of one process share the temporary name.
    saving: Mutex<()>,
}

impl LastEdits {
    /// None remembered yet; kept in `file` once saved.
    pub fn new(file: Option<PathBuf>) -> LastEdits {
        let n = NonZeroUsize::new(MAX_FILES).unwrap_or(NonZeroUsize::MIN);
        LastEdits { places: Mutex::new(LruCache::new(n)), file, saving: Mutex::default() }
    }

    /// Where they are kept when nib starts its own engine: beside the KV snapshots.
    pub fn file() -> PathBuf {
        nib_pipeline::config::nib_home().join("snapshots").join("last-edits.json")
    }

    /// Adds the places saved in the file (none when there is no file yet) before those remembered since.
    pub fn read(&self) -> Result<(), LastEditsError> {
        let Some(path) = &self.file else { return Ok(()) };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(LastEditsError::Read { path: path.clone(), source }),
        };
        let entries: Vec<Entry> =
            serde_json::from_str(&text).map_err(|source| LastEditsError::Parse { path: path.clone(), source })?;
        // Each older than those remembered since: the newest first, each moved to the back.
        let mut places = self.places.lock();
        for entry in entries.into_iter().rev() {
            if !places.contains(&entry.uri) {
                places.push(entry.uri.clone(), entry.place);
                places.demote(&entry.uri);
            }
        }
        Ok(())
    }

    pub fn remember(&self, uri: &str, place: Place) {
        self.places.lock().put(uri.to_owned(), place);
    }

    pub fn get(&self, uri: &str) -> Option<Place> {
        self.places.lock().peek(uri).copied()
    }

    /// Writes the places to the file whole, under a temporary name first, then renamed.
    pub fn save(&self) -> Result<(), LastEditsError> {
        let Some(path) = &self.file else { return Ok(()) };
        let _saving = self.saving.lock();
        let entries: Vec<Entry> =
            self.places.lock().iter().rev().map(|(uri, &place)| Entry { uri: uri.clone(), place }).collect();
        let write = |source| LastEditsError::Write { path: path.clone(), source };
        let text = serde_json::to_string(&entries).map_err(|e| write(std::io::Error::other(e)))?;
        nib_models::write_whole(path, text.as_bytes()).map_err(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_survive_a_save_and_load_and_the_least_recent_go_first() {
        let dir = std::env::temp_dir().join(format!("nib-last-edits-{}", std::process::id()));
        let path = dir.join("last-edits.json");
        let edits = LastEdits::new(Some(path.clone()));
        for i in 0..MAX_FILES + 2 {
            edits.remember(&format!("file:///{i}.py"), Place { line: i, column: 4 });
        }
        // Edited again: now the most recent.
        edits.remember("file:///1.py", Place { line: 7, column: 0 });
        edits.save().unwrap();
        let loaded = LastEdits::new(Some(path));
        loaded.read().unwrap();
        assert_eq!(loaded.get("file:///1.py"), Some(Place { line: 7, column: 0 }));
        assert_eq!(loaded.get("file:///0.py"), None);
        assert_eq!(loaded.get("file:///2.py"), None);
        assert_eq!(loaded.get("file:///3.py"), Some(Place { line: 3, column: 4 }));
        // The least recent goes first after loading too: the order was kept.
        loaded.remember("file:///new.py", Place { line: 0, column: 0 });
        assert_eq!(loaded.get("file:///3.py"), None);
        assert!(std::fs::read_dir(&dir).unwrap().all(|f| !f.unwrap().path().to_string_lossy().ends_with(".tmp")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_file_is_none_remembered_and_a_corrupt_one_an_error() {
        let dir = std::env::temp_dir().join(format!("nib-last-edits-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let none = LastEdits::new(Some(dir.join("none.json")));
        assert!(none.read().is_ok());
        assert_eq!(none.get("file:///a.py"), None);
        std::fs::write(dir.join("bad.json"), "{not json").unwrap();
        assert!(matches!(LastEdits::new(Some(dir.join("bad.json"))).read(), Err(LastEditsError::Parse { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_place_is_brought_within_a_file_that_changed() {
        let rope = Rope::from_str("one\ntwo\n");
        assert_eq!(Place { line: 1, column: 2 }.offset_in(&rope), 6);
        assert_eq!(Place { line: 1, column: 99 }.offset_in(&rope), 7);
        assert_eq!(Place { line: 40, column: 3 }.offset_in(&rope), 8);
    }
}
