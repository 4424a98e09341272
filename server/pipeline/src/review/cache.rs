//! Review results by content: the key is a hash of the model, the prompt
//! version, the language and the unit's text, so an unchanged function is
//! never reviewed twice, in this process or the next (entries are also files
//! under `$NIB_HOME/review-cache`, which several processes may share).
//!
//! Bounded: the most recently used `MEMORY_ENTRIES` in memory; on disk, entries
//! older than `MAX_AGE` and the oldest beyond `MAX_DISK_BYTES` are pruned when a
//! cache opens.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lru::LruCache;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::RawFinding;

const MEMORY_ENTRIES: NonZeroUsize = NonZeroUsize::new(4096).unwrap();
const MAX_DISK_BYTES: u64 = 64 * 1024 * 1024;
const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug)]
pub struct ReviewCache {
    memory: Mutex<LruCache<String, Vec<RawFinding>>>,
    dir: Option<PathBuf>,
}

impl Default for ReviewCache {
    fn default() -> ReviewCache {
        ReviewCache::new(None)
    }
}

impl ReviewCache {
    /// A cache kept in memory and, with `dir`, on disk: that folder is pruned on a thread of its own.
    pub fn new(dir: Option<PathBuf>) -> ReviewCache {
        if let Some(dir) = dir.clone() {
            let spawned = std::thread::Builder::new().name("nib-prune".into()).spawn(move || {
                prune(&dir, MAX_DISK_BYTES, SystemTime::now() - MAX_AGE);
            });
            if let Err(err) = spawned {
                tracing::warn!("the review cache is not pruned: {err}");
            }
        }
        ReviewCache { memory: Mutex::new(LruCache::new(MEMORY_ENTRIES)), dir }
    }

    pub fn key(model_id: &str, prompt_version: &str, language: &str, code: &str) -> String {
        let mut digest = Sha256::new();
        for part in [model_id, prompt_version, language, code] {
            digest.update(part.as_bytes());
            digest.update([0]);
        }
        hex::encode(&digest.finalize()[..16])
    }

    pub fn get(&self, key: &str) -> Option<Vec<RawFinding>> {
        if let Some(hit) = self.memory.lock().get(key).cloned() {
            return Some(hit);
        }
        let text = std::fs::read_to_string(self.dir.as_ref()?.join(format!("{key}.json"))).ok()?;
        let findings: Vec<RawFinding> = serde_json::from_str(&text).ok()?;
        self.memory.lock().put(key.to_owned(), findings.clone());
        Some(findings)
    }

    pub fn put(&self, key: &str, findings: &[RawFinding]) {
        self.memory.lock().put(key.to_owned(), findings.to_vec());
        let Some(dir) = &self.dir else { return };
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            // Per process: two processes writing one entry must not write one file.
            let tmp = dir.join(format!("{key}.json.{}.tmp", std::process::id()));
            std::fs::write(&tmp, serde_json::to_vec(findings)?)?;
            std::fs::rename(tmp, dir.join(format!("{key}.json")))
        };
        if let Err(err) = write() {
            tracing::warn!("review cache {}: {err}", dir.display());
        }
    }
}

/// Removes entries modified before `oldest`, then the oldest until the rest fit `max_bytes`, and
/// temporary files left by processes that died while writing.
fn prune(dir: &Path, max_bytes: u64, oldest: SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut kept: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let Ok(modified) = entry.metadata().and_then(|m| Ok((m.modified()?, m.len()))) else { continue };
        let path = entry.path();
        let stale_tmp = path.extension().is_some_and(|x| x == "tmp") && modified.0 < SystemTime::now() - STALE_TMP;
        if modified.0 < oldest || stale_tmp {
            let _ = std::fs::remove_file(&path);
        } else if path.extension().is_some_and(|x| x == "json") {
            kept.push((modified.0, modified.1, path));
        }
    }
    kept.sort();
    let mut total: u64 = kept.iter().map(|(_, len, _)| len).sum();
    for (_, len, path) in kept {
        if total <= max_bytes {
            break;
        }
        let _ = std::fs::remove_file(path);
        total -= len;
    }
}

/// A temporary file this old was left by a process that stopped while writing it.
const STALE_TMP: Duration = Duration::from_secs(3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_drops_old_entries_then_the_oldest_beyond_the_budget() {
        let dir = std::env::temp_dir().join(format!("nib-review-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let now = SystemTime::now();
        let day = Duration::from_secs(24 * 3600);
        for (name, age) in [("a.json", 40), ("b.json", 2), ("c.json", 1), ("d.json.99.tmp", 1), ("e.json.98.tmp", 0)] {
            let file = std::fs::File::create(dir.join(name)).unwrap();
            std::io::Write::write_all(&mut &file, &[b'x'; 10]).unwrap();
            file.set_modified(now - day * age).unwrap();
        }
        prune(&dir, 15, now - day * 30);
        let mut left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        let _ = std::fs::remove_dir_all(&dir);
        // Too old: a; over the budget: b, the older of the rest; a writer's temporary file of today stays.
        assert_eq!(left, ["c.json", "e.json.98.tmp"]);
    }
}
