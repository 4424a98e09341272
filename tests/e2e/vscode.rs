//! The VS Code extension, packaged to a .vsix and installed into a real VS Code (code-server
//! 4.139.1), driven by headless Chromium (`editors/vscode/e2e/ghost-text.test.mjs`): ghost text
//! appears while typing and Tab inserts it; saving a file shows nib's review diagnostic; a rename
//! typed at a local's definition shows the next edit at its next use, and Alt+N twice applies it; an
//! explicit request's candidates are cycled with Alt+].
//! Node, Chromium and code-server come from `.ci/setup`.

use std::path::Path;
use std::process::Command;

use crate::support::{BUGGY, fresh_home, model_path, node_bin, off_by_one, seed_review};

fn run(dir: &Path, program: &str, args: &[&str], envs: &[(&str, &Path)]) -> String {
    let bin = node_bin();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new(bin.join(program));
    cmd.current_dir(dir).args(args).env("PATH", path);
    for (key, value) in envs {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("run node");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} {args:?} failed:\n{log}");
    log
}

#[test]
fn ghost_text_review_diagnostics_and_next_edits_in_code_server() {
    let extension = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../editors/vscode");
    assert!(extension.join("e2e/node_modules/code-server").exists(), "no code-server: run .ci/setup");
    run(&extension, "npm", &["run", "--silent", "build"], &[]);
    run(&extension, "npm", &["run", "--silent", "package"], &[]);

    // What a past review of items.py left in the cache: the review is known, the rest is real.
    let home = fresh_home();
    seed_review(&home, BUGGY, &off_by_one());

    let screenshot = home.join("ghost-text.png");
    let next_edit_screenshot = home.join("next-edit.png");
    let log = run(
        &extension.join("e2e"),
        "node",
        &["ghost-text.test.mjs"],
        &[
            ("NIB_BIN", Path::new(env!("CARGO_BIN_EXE_nib"))),
            ("NIB_TEST_MODEL", &model_path()),
            ("NIB_HOME", &home),
            ("NIB_SCREENSHOT", &screenshot),
            ("NIB_NEXT_EDIT_SCREENSHOT", &next_edit_screenshot),
        ],
    );
    assert!(log.contains("ghost text in VS Code:"), "{log}");
    assert!(log.contains("review diagnostic shown in VS Code"), "{log}");
    assert!(log.contains("next edit shown in VS Code"), "{log}");
    assert!(log.contains("next edit applied in VS Code"), "{log}");
    assert!(log.contains("candidates cycled in VS Code"), "{log}");
    assert!(screenshot.exists() && next_edit_screenshot.exists());
    eprintln!("{}", log.lines().filter(|l| !l.starts_with('[')).collect::<Vec<_>>().join("\n"));
}
