//! What `nib top` shows: each server publishes a snapshot of itself once a second in
//! `$NIB_HOME/servers/<pid>.json` (a file, so nothing listens, not even on a local socket), and removes it
//! when it ends; readers skip and clean the files of servers that are gone.

pub mod files;
mod process;
mod publish;
pub mod window;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::acceptance::Summary;

pub use files::read;
pub use publish::{Editor, publish, unpublish};

/// The folder the servers publish in.
pub fn dir() -> PathBuf {
    nib_pipeline::config::nib_home().join("servers")
}

/// One server, as `nib top` and `nib top --once --json` show it. Field names are stable snake_case;
/// readers ignore fields they do not know.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSnapshot {
    pub pid: u32,
    pub version: String,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
    /// Milliseconds since the Unix epoch of this snapshot.
    pub updated_at_ms: u64,
    /// The client's name and version, as it gave them in `initialize`.
    pub editor: Option<Editor>,
    pub workspace_folders: Vec<PathBuf>,
    pub model: ModelSummary,
    /// `local`, or the server's URL.
    pub backend: String,
    /// What went wrong with the backend's last request, until one succeeds.
    pub backend_problem: Option<String>,
    pub resident_bytes: Option<u64>,
    /// Percent of one core over the last second.
    pub cpu_percent: Option<f64>,
    /// Completion requests being answered now.
    pub requests_in_flight: usize,
    /// Completion requests answered since start.
    pub n_completions: u64,
    /// Automatic requests' suggestions held back since start: the model was unsure of them
    /// (`completion.min_confidence`).
    pub n_held_back: u64,
    /// Completions answered over the last minute, and their latency.
    pub last_minute: LastMinute,
    /// Completion-cache answers / completions answered, since start.
    pub completion_cache_hit_rate: Option<f64>,
    /// Prompt tokens reused from the KV cache / prompt tokens, since start.
    pub kv_reuse_rate: Option<f64>,
    pub reviews_running: usize,
    /// Suggestions shown, accepted, retained and undone since start, per language and kind (as `nib/status`'s
    /// `acceptance`).
    pub acceptance: Summary,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelSummary {
    pub path: PathBuf,
    /// The file name without `.gguf`.
    pub name: String,
    /// `loading`, `ready` or `failed`.
    pub state: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LastMinute {
    pub n_completions: usize,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    /// Tokens generated per second, background work included.
    pub tokens_per_second: f64,
}
