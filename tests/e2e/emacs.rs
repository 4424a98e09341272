//! The Emacs (eglot) snippet from `editors/README.md` in a real Emacs 28 with Debian's
//! eglot, in batch mode (`tests/editors/eglot.el`): completion at point inserts nib's
//! suggestion, and saving a file shows its review finding through flymake.

use std::path::Path;
use std::process::Command;

use crate::support::{BUGGY, fresh_home, model_path, off_by_one, seed_review};

#[test]
fn the_eglot_snippet_completes_and_shows_review_findings() {
    let home = fresh_home();
    let work = home.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("sample.py"), include_str!("../fixtures/sample.py")).unwrap();
    std::fs::write(work.join("items.py"), BUGGY).unwrap();
    // eglot finds the project by its version control root.
    assert!(Command::new("git").args(["init", "-q"]).current_dir(&work).status().unwrap().success());
    seed_review(&home, BUGGY, &off_by_one());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/editors/eglot.el");
    let out = Command::new("emacs")
        .args(["--batch", "-l"])
        .arg(&script)
        .env("NIB_BIN", env!("CARGO_BIN_EXE_nib"))
        .env("NIB_TEST_MODEL", model_path())
        .env("NIB_WORK", &work)
        .env("NIB_HOME", &home)
        .env("NIB_CONFIG", "/nonexistent/nib-test-config.toml")
        .output()
        .expect("run emacs (.ci/setup --editors installs it)");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{log}");
    assert!(log.contains("completed in Emacs:") && log.contains("review diagnostic shown in Emacs"), "{log}");
}
