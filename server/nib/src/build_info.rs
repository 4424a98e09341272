//! The commit `nib --version` names, worked out at build time: `build.rs` includes this file, and the unit tests
//! below run it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The commit to name: `overridden` (the release workflow's `$NIB_COMMIT`) when it is not blank, else the short
/// hash of the git checkout holding `dir`, else "unknown" (a source archive). With it, the files whose change
/// means HEAD moved, for cargo to run the build script again: HEAD itself, the branch it points at, packed refs.
pub fn commit(overridden: Option<&str>, dir: &Path) -> (String, Vec<PathBuf>) {
    if let Some(commit) = overridden.map(str::trim).filter(|c| !c.is_empty()) {
        return (commit.to_owned(), Vec::new());
    }
    let Some(commit) = git(dir, &["rev-parse", "--short", "HEAD"]) else {
        return ("unknown".to_owned(), Vec::new());
    };
    let mut refs = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    // A branch's ref (a detached HEAD names itself: nothing more to watch).
    refs.extend(git(dir, &["rev-parse", "--symbolic-full-name", "HEAD"]).filter(|r| r != "HEAD"));
    // Only files that exist: cargo runs a build script on every build while a watched file is missing.
    let watched = refs
        .iter()
        .filter_map(|r| git(dir, &["rev-parse", "--path-format=absolute", "--git-path", r]))
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect();
    (commit, watched)
}

/// What a git command prints, trimmed; `None` when git is missing, fails or prints nothing.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).current_dir(dir).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nib-build-info-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn run_git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .args(["-c", "user.name=nib", "-c", "user.email=nib@example.invalid", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn a_set_override_wins_and_a_blank_one_does_not() {
        let dir = scratch("override");
        assert_eq!(commit(Some(" abc1234\n"), &dir), ("abc1234".to_owned(), Vec::new()));
        // Outside any repository (the temporary folder is not in one), with a blank override.
        let (name, watched) = commit(Some("  "), &dir);
        assert_eq!(name, "unknown");
        assert!(watched.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_checkout_names_its_head_and_watches_its_refs() {
        let dir = scratch("git");
        run_git(&dir, &["init", "--quiet", "--initial-branch=trunk"]);
        std::fs::write(dir.join("a.txt"), "a\n").unwrap();
        run_git(&dir, &["add", "a.txt"]);
        run_git(&dir, &["commit", "--quiet", "-m", "first"]);
        let head = git(&dir, &["rev-parse", "--short", "HEAD"]).unwrap();
        let (name, watched) = commit(None, &dir);
        assert_eq!(name, head);
        let git_dir = dir.join(".git").canonicalize().unwrap();
        let watched: Vec<PathBuf> = watched.iter().map(|p| p.canonicalize().unwrap()).collect();
        // No packed-refs in a fresh repository: only files that exist are watched.
        assert_eq!(watched, [git_dir.join("HEAD"), git_dir.join("refs/heads/trunk")]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
