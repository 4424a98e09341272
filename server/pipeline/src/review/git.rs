//! The git plumbing a diff review needs, run so that nothing the repository configures can execute.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{0:?} is not a revision")]
    NotARevision(String),
    #[error("running git diff")]
    Run(#[source] std::io::Error),
    #[error("git diff {rev}: {stderr}")]
    Failed { rev: String, stderr: String },
}

/// The top folder of the git work tree around the current folder, if there is one.
pub fn work_tree_root() -> Option<PathBuf> {
    let out = Command::new("git").args(["rev-parse", "--show-toplevel"]).output().ok()?;
    out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// `git diff REV` without an external diff or textconv, which a repository could set to run anything.
pub fn diff(root: &Path, rev: &str) -> Result<String, GitError> {
    if rev.starts_with('-') {
        return Err(GitError::NotARevision(rev.to_owned()));
    }
    let out = Command::new("git")
        .current_dir(root)
        .args(["-c", "core.fsmonitor=false", "--no-pager", "diff", "--no-ext-diff", "--no-textconv", "--no-color"])
        .args(["--unified=3", rev, "--"])
        .output()
        .map_err(GitError::Run)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(GitError::Failed { rev: rev.to_owned(), stderr });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_not_revisions() {
        let err = diff(Path::new("."), "--output=/tmp/x").unwrap_err();
        assert!(matches!(err, GitError::NotARevision(_)), "{err}");
    }
}
