//! The docs name no machine's paths: an example path says what it stands for (`<NIB_HOME>`), so that it reads
//! the same on every machine and no one's home folder is published.

use std::path::Path;
use std::process::Command;

/// Where a path of one machine or one user starts.
const MACHINE_PATHS: [&str; 5] = ["/home/", "/root/", "/Users/", "/tmp/", "C:\\Users"];

#[test]
fn the_docs_name_no_machine_paths() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let listed = Command::new("git").args(["ls-files", "*.md"]).current_dir(&repo).output().expect("git runs");
    assert!(listed.status.success(), "git ls-files: {}", String::from_utf8_lossy(&listed.stderr));
    let files = String::from_utf8(listed.stdout).expect("UTF-8 paths");
    // Test fixtures are input, not docs.
    let docs: Vec<&str> = files.lines().filter(|file| !file.starts_with("tests/fixtures/")).collect();
    assert!(docs.contains(&"README.md"), "git lists the docs: {docs:?}");
    let mut found = Vec::new();
    for doc in docs {
        let text = std::fs::read_to_string(repo.join(doc)).expect("a doc reads as UTF-8");
        for (i, line) in text.lines().enumerate() {
            if MACHINE_PATHS.iter().any(|start| line.contains(start)) {
                found.push(format!("{doc}:{}: {line}", i + 1));
            }
        }
    }
    assert!(found.is_empty(), "machine paths in the docs:\n{}", found.join("\n"));
}
