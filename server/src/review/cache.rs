//! Review results by content: the key is a hash of the model, the prompt
//! version, the language and the unit's text, so an unchanged function is
//! never reviewed twice, in this process or the next (entries are also files
//! under `$NIB_HOME/review-cache`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::RawFinding;

#[derive(Debug, Default)]
pub struct ReviewCache {
    memory: Mutex<HashMap<String, Vec<RawFinding>>>,
    dir: Option<PathBuf>,
}

impl ReviewCache {
    pub fn new(dir: Option<PathBuf>) -> ReviewCache {
        ReviewCache { memory: Mutex::default(), dir }
    }

    pub fn key(model_id: &str, prompt_version: &str, language: &str, code: &str) -> String {
        let mut digest = Sha256::new();
        for part in [model_id, prompt_version, language, code] {
            digest.update(part.as_bytes());
            digest.update([0]);
        }
        digest.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn get(&self, key: &str) -> Option<Vec<RawFinding>> {
        if let Some(hit) = self.memory.lock().ok().and_then(|m| m.get(key).cloned()) {
            return Some(hit);
        }
        let text = std::fs::read_to_string(self.dir.as_ref()?.join(format!("{key}.json"))).ok()?;
        let findings: Vec<RawFinding> = serde_json::from_str(&text).ok()?;
        if let Ok(mut memory) = self.memory.lock() {
            memory.insert(key.to_owned(), findings.clone());
        }
        Some(findings)
    }

    pub fn put(&self, key: &str, findings: &[RawFinding]) {
        if let Ok(mut memory) = self.memory.lock() {
            memory.insert(key.to_owned(), findings.to_vec());
        }
        let Some(dir) = &self.dir else { return };
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!("{key}.json.tmp"));
            std::fs::write(&tmp, serde_json::to_vec(findings)?)?;
            std::fs::rename(tmp, dir.join(format!("{key}.json")))
        };
        if let Err(err) = write() {
            tracing::warn!("review cache {}: {err}", dir.display());
        }
    }
}
