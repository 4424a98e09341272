//! Nightly backups: archive a project folder and record the run in a log file.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

pub struct Backup {
    pub source: PathBuf,
    pub target_dir: PathBuf,
    pub log: PathBuf,
}

#[derive(Debug)]
pub enum BackupError {
    Io(io::Error),
    ArchiveFailed(i32),
}

impl From<io::Error> for BackupError {
    fn from(e: io::Error) -> Self {
        BackupError::Io(e)
    }
}

impl Backup {
    pub fn archive_name(&self, label: &str) -> PathBuf {
        let stamp = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        self.target_dir.join(format!("{label}-{stamp}.tar.gz"))
    }

    pub fn run(&self, label: &str) -> Result<PathBuf, BackupError> {
        let archive = self.archive_name(label);
        let script = format!("tar czf {} -C {} .", archive.display(), self.source.display());
        let status = Command::new("sh").arg("-c").arg(script).status()?;
        if !status.success() {
            return Err(BackupError::ArchiveFailed(status.code().unwrap_or(-1)));
        }
        let _ = self.record(&archive);
        Ok(archive)
    }

    fn record(&self, archive: &Path) -> io::Result<()> {
        let mut file = OpenOptions::new().create(true).append(true).open(&self.log)?;
        writeln!(file, "{}", archive.display())
    }

    pub fn prune(&self, keep: usize) -> io::Result<usize> {
        let mut archives: Vec<PathBuf> = std::fs::read_dir(&self.target_dir)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "gz"))
            .collect();
        archives.sort();
        let excess = archives.len().saturating_sub(keep);
        for old in &archives[..excess] {
            std::fs::remove_file(old)?;
        }
        Ok(excess)
    }
}
