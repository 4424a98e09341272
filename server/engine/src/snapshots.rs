//! The warm tier: saved sequence states, per document, to restore when the
//! user returns to a file. In memory (LRU bounded by bytes) and on disk under
//! `$NIB_HOME/snapshots` (bounded by bytes per model), where each file starts
//! with a JSON header: model id, context size, token hash and a CRC-32 of the
//! state. A file that does not match its header is removed and never given to
//! llama.cpp; what is given to llama.cpp is the bytes that were checked.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use nib_vocab::TokenId;

/// A saved sequence: its tokens and llama.cpp's state bytes (shared by the memory tier and the writer).
#[derive(Clone)]
pub struct Snapshot {
    pub tokens: Vec<TokenId>,
    pub state: std::sync::Arc<[u8]>,
}

/// What the memory tier counts against its budget.
pub trait Weighed {
    fn n_bytes(&self) -> usize;
}

impl Weighed for Snapshot {
    fn n_bytes(&self) -> usize {
        self.state.len()
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

/// The header that starts each snapshot file, as one line of JSON before the state's bytes.
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

const HEADER_VERSION: u32 = 2;

/// Snapshot files end in this; a file being written ends in `.<pid>.tmp` until it is renamed.
const EXTENSION: &str = "snap";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("no snapshot")]
    Missing,
    #[error("snapshot {0} does not match its header: {1}")]
    Corrupt(PathBuf, String),
}

/// What the writer thread is asked to do.
enum Write {
    Save {
        owner: String,
        snapshot: Snapshot,
    },
    /// Answers once everything asked before is on disk.
    Flush(std::sync::mpsc::Sender<()>),
}

/// Snapshots on disk, for one model and context size; several processes may share the folder. A file's
/// name says its model, context size and document, so processes with other models never touch it; files
/// are written whole under a per-process temporary name and renamed into place. Writes happen on a thread
/// of their own (`nib-snapshots`), from states already captured in memory.
pub struct DiskTier {
    files: Files,
    writes: Option<std::sync::mpsc::Sender<Write>>,
}

/// The folder and naming, shared by the tier and its writer thread.
#[derive(Clone)]
struct Files {
    dir: PathBuf,
    model_id: String,
    n_ctx: u32,
    max_bytes: u64,
}

impl DiskTier {
    pub fn new(dir: PathBuf, model_id: String, n_ctx: u32, max_bytes: u64) -> DiskTier {
        let files = Files { dir, model_id, n_ctx, max_bytes };
        let (writes, requests) = std::sync::mpsc::channel::<Write>();
        let writer = files.clone();
        let spawned = std::thread::Builder::new().name("nib-snapshots".into()).spawn(move || {
            for request in requests {
                match request {
                    Write::Save { owner, snapshot } => {
                        if let Err(e) = writer.write(&owner, &snapshot) {
                            tracing::warn!("cannot save the snapshot of {owner}: {e}");
                        }
                    }
                    Write::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        let writes = match spawned {
            Ok(_) => Some(writes),
            Err(e) => {
                tracing::warn!("snapshots stay in memory: cannot start their writer: {e}");
                None
            }
        };
        DiskTier { files, writes }
    }

    /// The snapshot file of a document.
    pub fn path(&self, owner: &str) -> PathBuf {
        self.files.path(owner)
    }

    /// Queues a snapshot to be written; returns at once.
    pub fn save(&self, owner: &str, snapshot: Snapshot) {
        if let Some(writes) = &self.writes {
            let _ = writes.send(Write::Save { owner: owner.to_owned(), snapshot });
        }
    }

    /// Waits until the snapshots queued so far are written, at most `timeout`.
    pub fn flush(&self, timeout: std::time::Duration) {
        let (done, wait) = std::sync::mpsc::channel();
        if self.writes.as_ref().is_some_and(|w| w.send(Write::Flush(done)).is_ok()) {
            let _ = wait.recv_timeout(timeout);
        }
    }

    /// A document's snapshot, checked against its header: the bytes returned are the bytes that were checked.
    /// A damaged file is removed.
    pub fn load(&self, owner: &str) -> Result<(Header, Vec<u8>), SnapshotError> {
        let path = self.files.path(owner);
        let Ok(bytes) = std::fs::read(&path) else { return Err(SnapshotError::Missing) };
        let result = self.files.check(&path, bytes, owner);
        if result.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        result
    }

    /// Removes a document's snapshot (after llama.cpp refused it, say).
    pub fn remove(&self, owner: &str) {
        let _ = std::fs::remove_file(self.files.path(owner));
    }
}

impl Files {
    /// Names start with the model and context size, so each process keeps to its own.
    fn prefix(&self) -> String {
        format!("{}-{}-", &self.model_id[..self.model_id.len().min(16)], self.n_ctx)
    }

    fn path(&self, owner: &str) -> PathBuf {
        let name = hex::encode(&Sha256::digest(owner.as_bytes())[..8]);
        self.dir.join(format!("{}{name}.{EXTENSION}", self.prefix()))
    }

    fn write(&self, owner: &str, snapshot: &Snapshot) -> std::io::Result<()> {
        let header = Header {
            version: HEADER_VERSION,
            model_id: self.model_id.clone(),
            n_ctx: self.n_ctx,
            tokens: snapshot.tokens.clone(),
            tokens_hash: tokens_hash(&snapshot.tokens),
            state_bytes: snapshot.state.len() as u64,
            state_crc32: crc32fast::hash(&snapshot.state),
            owner: owner.to_owned(),
        };
        let mut bytes = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        bytes.extend_from_slice(&snapshot.state);
        let path = self.path(owner);
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &path)).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        self.enforce_budget();
        Ok(())
    }

    fn check(&self, path: &Path, mut bytes: Vec<u8>, owner: &str) -> Result<(Header, Vec<u8>), SnapshotError> {
        let corrupt = |why: &str| SnapshotError::Corrupt(path.to_owned(), why.to_owned());
        let end = bytes.iter().position(|&b| b == b'\n').ok_or_else(|| corrupt("no header"))?;
        let header: Header = serde_json::from_slice(&bytes[..end]).map_err(|_| corrupt("unreadable header"))?;
        if header.version != HEADER_VERSION || header.model_id != self.model_id || header.n_ctx != self.n_ctx {
            return Err(corrupt("made by another version, model or context size"));
        }
        if header.owner != owner || tokens_hash(&header.tokens) != header.tokens_hash {
            return Err(corrupt("header for another document, or damaged"));
        }
        let state = bytes.split_off(end + 1);
        if state.len() as u64 != header.state_bytes || crc32fast::hash(&state) != header.state_crc32 {
            return Err(corrupt("size or checksum differs"));
        }
        Ok((header, state))
    }

    /// Deletes this model's oldest snapshots until they fit the budget.
    fn enforce_budget(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let prefix = self.prefix();
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with(&prefix) && name.ends_with(&format!(".{EXTENSION}"))
            })
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        files.sort();
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        for (_, len, path) in files {
            if total <= self.max_bytes {
                break;
            }
            let _ = std::fs::remove_file(&path);
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
    hex::encode(&digest.finalize()[..16])
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
    Ok(hex::encode(&digest.finalize()[..16]))
}

/// The whole model file's sha256, which reports name so a finding can be traced to the exact weights.
pub fn model_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut digest = Sha256::new();
    std::io::copy(&mut file, &mut digest)?;
    Ok(hex::encode(digest.finalize()))
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

    /// The size of a snapshot file of 10 state bytes (and ids of one character), written and removed in `dir`.
    fn file_size(dir: &Path) -> u64 {
        let t = tier(dir, 1 << 20);
        write_state(&t, "z", &[0u8; 10]);
        let size = std::fs::metadata(t.path("z")).unwrap().len();
        t.remove("z");
        size
    }

    fn write_state(t: &DiskTier, owner: &str, bytes: &[u8]) {
        t.save(owner, Snapshot { tokens: vec![1, 2, 3], state: bytes.into() });
        t.flush(std::time::Duration::from_secs(10));
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
    fn a_saved_snapshot_loads() {
        let dir = temp_dir("ok");
        let t = tier(&dir, 1 << 20);
        write_state(&t, "file:///a.py", b"state bytes");
        let (header, state) = t.load("file:///a.py").unwrap();
        assert_eq!((header.tokens, header.tokens_hash), (vec![1, 2, 3], tokens_hash(&[1, 2, 3])));
        assert_eq!(state, b"state bytes");
        assert_eq!(t.load("file:///other.py").unwrap_err(), SnapshotError::Missing);
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "a temporary file was left: {names:?}");
    }

    #[test]
    fn truncated_or_flipped_snapshots_are_removed() {
        let dir = temp_dir("bad");
        let t = tier(&dir, 1 << 20);
        for damage in 0..2 {
            write_state(&t, "a", b"0123456789");
            let path = t.path("a");
            let mut bytes = std::fs::read(&path).unwrap();
            match damage {
                0 => bytes.truncate(bytes.len() - 3),
                _ => *bytes.last_mut().unwrap() ^= 1,
            }
            std::fs::write(&path, bytes).unwrap();
            assert!(matches!(t.load("a"), Err(SnapshotError::Corrupt(..))), "damage {damage}");
            assert!(!path.exists(), "damage {damage} left the file behind");
        }
    }

    #[test]
    fn another_models_snapshots_are_left_alone() {
        let dir = temp_dir("shared");
        let one = file_size(&dir);
        let (a, b) = (tier(&dir, one + 5), DiskTier::new(dir.clone(), "model-b".into(), 2048, one + 5));
        write_state(&a, "x", b"from a 1!!");
        write_state(&b, "x", b"from b 1!!");
        assert_ne!(a.path("x"), b.path("x"));
        // Each keeps within its own budget without deleting the other's files.
        write_state(&b, "y", b"from b 2!!");
        assert_eq!(a.load("x").unwrap().1, b"from a 1!!");
        assert!(b.load("x").is_err() && b.load("y").is_ok());
    }

    #[test]
    fn the_disk_tier_keeps_within_its_budget() {
        let dir = temp_dir("budget");
        let t = tier(&dir, 2 * file_size(&dir) + 5);
        for owner in ["a", "b", "c"] {
            write_state(&t, owner, &[7u8; 10]);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(t.load("a").is_err(), "the oldest should be gone");
        assert!(t.load("b").is_ok() && t.load("c").is_ok());
    }
}
