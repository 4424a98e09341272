//! The folder of published snapshots, `$NIB_HOME/servers/<pid>.json`: written whole under a temporary name
//! then renamed (a reader never sees half a file); read with stale files skipped and removed.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::ServerSnapshot;

/// A file not rewritten for this long belongs to a server that stopped publishing (hung or killed).
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// Where a server with this pid publishes.
pub fn path(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("{pid}.json"))
}

/// Replaces the server's file whole.
pub fn write(dir: &Path, snapshot: &ServerSnapshot) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_vec_pretty(snapshot).map_err(io::Error::other)?;
    let temporary = dir.join(format!("{}.json.tmp", snapshot.pid));
    std::fs::write(&temporary, json)?;
    std::fs::rename(&temporary, path(dir, snapshot.pid))
}

/// The live servers' snapshots, by pid. Stale files are removed; files that do not parse are skipped (a
/// newer or older nib may write other fields, but never half a file).
pub fn read(dir: &Path) -> Vec<ServerSnapshot> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let now = SystemTime::now();
    let mut servers: Vec<ServerSnapshot> = entries
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let pid: u32 = path.file_name()?.to_str()?.strip_suffix(".json")?.parse().ok()?;
            let age = entry.metadata().ok()?.modified().ok().and_then(|at| now.duration_since(at).ok());
            if is_stale(age.unwrap_or_default(), process_exists(pid)) {
                let _ = std::fs::remove_file(&path);
                return None;
            }
            serde_json::from_slice::<ServerSnapshot>(&std::fs::read(&path).ok()?).ok()
        })
        .collect();
    servers.sort_by_key(|s| s.pid);
    servers
}

/// Removes the server's own file when it ends.
pub fn remove(dir: &Path, pid: u32) {
    let _ = std::fs::remove_file(path(dir, pid));
}

/// A file is stale once its process is gone or it has not been rewritten for `STALE_AFTER`.
pub fn is_stale(age: Duration, process_exists: Option<bool>) -> bool {
    process_exists == Some(false) || age > STALE_AFTER
}

/// Whether a process runs with this pid; `None` where the system cannot say (no `/proc`).
fn process_exists(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    proc.join("self").exists().then(|| proc.join(pid.to_string()).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(pid: u32) -> ServerSnapshot {
        ServerSnapshot { pid, ..ServerSnapshot::default() }
    }

    #[test]
    fn stale_rules() {
        assert!(!is_stale(Duration::from_secs(1), Some(true)));
        assert!(!is_stale(Duration::from_secs(1), None));
        assert!(is_stale(Duration::from_secs(1), Some(false)));
        assert!(is_stale(STALE_AFTER + Duration::from_secs(1), Some(true)));
        assert!(is_stale(STALE_AFTER + Duration::from_secs(1), None));
    }

    #[test]
    fn live_servers_are_read_and_dead_ones_removed() {
        let dir = std::env::temp_dir().join(format!("nib-servers-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let me = std::process::id();
        write(&dir, &snapshot(me)).unwrap();
        // No process has pid u32::MAX - 1 (Linux pids stop at 2^22).
        let dead = u32::MAX - 1;
        write(&dir, &snapshot(dead)).unwrap();
        std::fs::write(dir.join("notes.txt"), "not a snapshot").unwrap();
        std::fs::write(dir.join("1.json"), "{ half a fi").unwrap();
        let servers = read(&dir);
        assert_eq!(servers.iter().map(|s| s.pid).collect::<Vec<_>>(), vec![me]);
        if process_exists(me).is_some() {
            assert!(!path(&dir, dead).exists());
        }
        assert!(!dir.join(format!("{me}.json.tmp")).exists());
        remove(&dir, me);
        assert!(read(&dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
