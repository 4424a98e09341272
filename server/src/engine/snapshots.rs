//! The warm tier: saved sequence states, per document, to restore when the
//! user returns to a file. In memory (LRU bounded by bytes) and on disk under
//! `$NIB_HOME/snapshots` (bounded by bytes), where each state file has a JSON
//! header beside it: model id, context size, token hash and a CRC-32 of the
//! state. A file that does not match its header, or was made for another model
//! or context, is removed and never given to llama.cpp.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use llama_cpp_2::SeqState;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::prompt::TokenId;

/// A saved sequence.
pub struct Snapshot {
    pub tokens: Vec<TokenId>,
    pub state: SeqState,
}

/// What the memory tier counts against its budget.
pub trait Weighed {
    fn n_bytes(&self) -> usize;
}

impl Weighed for Snapshot {
    fn n_bytes(&self) -> usize {
        self.state.byte_len()
    }
}

/// Snapshots in memory, most recently used first.
pub struct MemoryTier<T = Snapshot> {
    entries: VecDeque<(String, T)>,
    n_bytes: usize,
    max_bytes: usize,
}

impl<T: Weighed> MemoryTier<T> {
    pub fn new(max_bytes: usize) -> MemoryTier<T> {
        MemoryTier { entries: VecDeque::new(), n_bytes: 0, max_bytes }
    }

    #[cfg(test)]
    fn n_bytes(&self) -> usize {
        self.n_bytes
    }

    pub fn insert(&mut self, owner: &str, snapshot: T) {
        self.remove(owner);
        let size = snapshot.n_bytes();
        if size > self.max_bytes {
            return;
        }
        self.n_bytes += size;
        self.entries.push_front((owner.to_owned(), snapshot));
        while self.n_bytes > self.max_bytes {
            match self.entries.pop_back() {
                Some((_, evicted)) => self.n_bytes -= evicted.n_bytes(),
                None => break,
            }
        }
    }

    #[cfg(test)]
    fn get(&mut self, owner: &str) -> Option<&T> {
        let i = self.entries.iter().position(|(o, _)| o == owner)?;
        let entry = self.entries.remove(i)?;
        self.entries.push_front(entry);
        self.entries.front().map(|(_, s)| s)
    }

    pub fn remove(&mut self, owner: &str) {
        self.take(owner);
    }

    pub fn take(&mut self, owner: &str) -> Option<T> {
        let i = self.entries.iter().position(|(o, _)| o == owner)?;
        let (_, snapshot) = self.entries.remove(i)?;
        self.n_bytes -= snapshot.n_bytes();
        Some(snapshot)
    }
}

/// The header written beside each state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub version: u32,
    pub model_id: String,
    pub n_ctx: u32,
    /// The tokens the state holds, so a restore can be judged before it is made.
    pub tokens: Vec<TokenId>,
    pub tokens_hash: String,
    pub state_bytes: u64,
    pub state_crc32: u32,
    pub owner: String,
}

const HEADER_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("no snapshot")]
    Missing,
    #[error("snapshot {0} does not match its header: {1}")]
    Corrupt(PathBuf, String),
    #[error("snapshot {0} is for another model or context")]
    Mismatch(PathBuf),
}

/// Snapshots on disk, for one model and context size.
pub struct DiskTier {
    dir: PathBuf,
    model_id: String,
    n_ctx: u32,
    max_bytes: u64,
}

impl DiskTier {
    pub fn new(dir: PathBuf, model_id: String, n_ctx: u32, max_bytes: u64) -> DiskTier {
        DiskTier { dir, model_id, n_ctx, max_bytes }
    }

    /// The state file and header paths for a document.
    pub fn paths(&self, owner: &str) -> (PathBuf, PathBuf) {
        let name = hex(&Sha256::digest(owner.as_bytes())[..8]);
        (self.dir.join(format!("{name}.state")), self.dir.join(format!("{name}.json")))
    }

    /// Writes the header for a state file that llama.cpp has just written, then keeps the tier within budget.
    pub fn seal(&self, owner: &str, tokens: &[TokenId]) -> std::io::Result<()> {
        let (state, header_path) = self.paths(owner);
        let bytes = std::fs::read(&state)?;
        let header = Header {
            version: HEADER_VERSION,
            model_id: self.model_id.clone(),
            n_ctx: self.n_ctx,
            tokens: tokens.to_vec(),
            tokens_hash: tokens_hash(tokens),
            state_bytes: bytes.len() as u64,
            state_crc32: crc32fast::hash(&bytes),
            owner: owner.to_owned(),
        };
        let tmp = header_path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&header).map_err(std::io::Error::other)?)?;
        std::fs::rename(&tmp, &header_path)?;
        self.enforce_budget();
        Ok(())
    }

    /// Checks a document's snapshot before llama.cpp may read it; removes it if it is bad.
    pub fn verify(&self, owner: &str) -> Result<(PathBuf, Header), SnapshotError> {
        let (state, header_path) = self.paths(owner);
        let Ok(text) = std::fs::read(&header_path) else { return Err(SnapshotError::Missing) };
        let result = self.check(&state, &text, owner);
        if result.is_err() {
            let _ = std::fs::remove_file(&state);
            let _ = std::fs::remove_file(&header_path);
        }
        result.map(|header| (state, header))
    }

    fn check(&self, state: &Path, header: &[u8], owner: &str) -> Result<Header, SnapshotError> {
        let corrupt = |why: &str| SnapshotError::Corrupt(state.to_owned(), why.to_owned());
        let header: Header = serde_json::from_slice(header).map_err(|_| corrupt("unreadable header"))?;
        if header.version != HEADER_VERSION || header.model_id != self.model_id || header.n_ctx != self.n_ctx {
            return Err(SnapshotError::Mismatch(state.to_owned()));
        }
        if header.owner != owner || tokens_hash(&header.tokens) != header.tokens_hash {
            return Err(corrupt("header for another document, or damaged"));
        }
        let bytes = std::fs::read(state).map_err(|_| corrupt("unreadable state"))?;
        if bytes.len() as u64 != header.state_bytes || crc32fast::hash(&bytes) != header.state_crc32 {
            return Err(corrupt("size or checksum differs"));
        }
        Ok(header)
    }

    /// Removes a document's snapshot (after llama.cpp refused it, say).
    pub fn remove(&self, owner: &str) {
        let (state, header) = self.paths(owner);
        let _ = std::fs::remove_file(state);
        let _ = std::fs::remove_file(header);
    }

    /// Deletes the oldest snapshots until the tier fits its budget.
    fn enforce_budget(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let mut states: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "state"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        states.sort();
        let mut total: u64 = states.iter().map(|(_, len, _)| len).sum();
        for (_, len, path) in states {
            if total <= self.max_bytes {
                break;
            }
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(path.with_extension("json"));
            total -= len;
        }
    }
}

/// A stable hash of a token list, as written in headers.
pub fn tokens_hash(tokens: &[TokenId]) -> String {
    let mut digest = Sha256::new();
    for t in tokens {
        digest.update(t.to_le_bytes());
    }
    hex(&digest.finalize()[..16])
}

/// Identifies a model file cheaply: its size and the hash of its first 4 MiB.
pub fn model_id(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut head = Vec::with_capacity(4 << 20);
    (&mut file).take(4 << 20).read_to_end(&mut head)?;
    let mut digest = Sha256::new();
    digest.update(size.to_le_bytes());
    digest.update(&head);
    Ok(hex(&digest.finalize()[..16]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(dir: &Path, max_bytes: u64) -> DiskTier {
        DiskTier::new(dir.to_owned(), "model-a".into(), 2048, max_bytes)
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nib-snap-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Stands in for llama.cpp writing a state file.
    fn write_state(t: &DiskTier, owner: &str, bytes: &[u8]) {
        std::fs::write(t.paths(owner).0, bytes).unwrap();
        t.seal(owner, &[1, 2, 3]).unwrap();
    }

    struct Blob(usize);

    impl Weighed for Blob {
        fn n_bytes(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn the_memory_tier_keeps_within_its_budget_most_recent_first() {
        let mut m: MemoryTier<Blob> = MemoryTier::new(100);
        m.insert("a", Blob(40));
        m.insert("b", Blob(40));
        assert!(m.get("a").is_some());
        m.insert("c", Blob(40));
        assert!(m.get("b").is_none(), "b was least recently used");
        assert!(m.get("a").is_some() && m.get("c").is_some());
        assert_eq!(m.n_bytes(), 80);
        m.insert("huge", Blob(101));
        assert!(m.get("huge").is_none());
        m.insert("a", Blob(10));
        assert_eq!(m.n_bytes(), 50);
    }

    #[test]
    fn a_sealed_snapshot_verifies() {
        let dir = temp_dir("ok");
        let t = tier(&dir, 1 << 20);
        write_state(&t, "file:///a.py", b"state bytes");
        let (_, header) = t.verify("file:///a.py").unwrap();
        assert_eq!((header.tokens, header.tokens_hash), (vec![1, 2, 3], tokens_hash(&[1, 2, 3])));
        assert_eq!(t.verify("file:///other.py").unwrap_err(), SnapshotError::Missing);
    }

    #[test]
    fn truncated_flipped_or_foreign_snapshots_are_removed() {
        let dir = temp_dir("bad");
        let t = tier(&dir, 1 << 20);
        for damage in 0..3 {
            write_state(&t, "a", b"0123456789");
            let (state, header) = t.paths("a");
            match damage {
                0 => std::fs::write(&state, b"01234").unwrap(),
                1 => std::fs::write(&state, b"0123456789".map(|b| b ^ 1)).unwrap(),
                _ => {
                    let other = DiskTier::new(dir.clone(), "model-b".into(), 2048, 1 << 20);
                    assert!(matches!(other.verify("a"), Err(SnapshotError::Mismatch(_))));
                    assert!(!state.exists() && !header.exists());
                    continue;
                }
            }
            assert!(matches!(t.verify("a"), Err(SnapshotError::Corrupt(..))), "damage {damage}");
            assert!(!state.exists() && !header.exists(), "damage {damage} left files behind");
        }
    }

    #[test]
    fn the_disk_tier_keeps_within_its_budget() {
        let dir = temp_dir("budget");
        let t = tier(&dir, 25);
        for owner in ["a", "b", "c"] {
            write_state(&t, owner, &[7u8; 10]);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(t.verify("a").is_err(), "the oldest should be gone");
        assert!(t.verify("b").is_ok() && t.verify("c").is_ok());
    }
}
