//! The Windows build under wine: `nib.exe` (`x86_64-pc-windows-gnu`, cross-built by `.ci/windows`) run by Debian's
//! wine64 with the real default model. Wine shows Linux's `/` as drive `Z:`, so the files these tests write have
//! Windows paths with a drive letter, and the folders are named with spaces for the URIs' `%20`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nib_bench::lsp_client::{LspClient, inline_params};
use nib_text::uri::{Style, from_path_as};
use serde_json::{Value, json};

use crate::support::{BUGGY, fresh_home, model_path, nib, off_by_one, seed_review, shut_down, status_when, wait_ready};

const SAMPLE: &str = include_str!("../fixtures/sample.py");
/// In SAMPLE, after `        return ` in `total_value` (0-based line 23, column 15).
const LINE: u32 = 23;
const COL: u32 = 15;

/// `$NIB_WINDOWS_EXE`, else where `.ci/windows` builds it: in this build's target dir with `-windows` appended.
fn nib_exe() -> PathBuf {
    let exe = std::env::var_os("NIB_WINDOWS_EXE").map(PathBuf::from).unwrap_or_else(|| {
        let linux = Path::new(env!("CARGO_BIN_EXE_nib"));
        let target = linux.parent().and_then(Path::parent).expect("the binary is in <target>/release");
        let mut windows = target.as_os_str().to_owned();
        windows.push("-windows");
        PathBuf::from(windows).join("x86_64-pc-windows-gnu/release/nib.exe")
    });
    assert!(exe.exists(), "no nib.exe at {}: run .ci/windows", exe.display());
    exe
}

/// How a Windows program is run under wine: a server is bounded by `LspClient`'s waits (and killed when the client
/// drops), a one-shot command by `timeout`, so that a hung wine never hangs the suite.
#[derive(Clone, Copy)]
enum Run {
    Server,
    /// Killed after this many seconds (a cold `nib complete` on a busy 2-core machine takes seconds).
    OneShot(u32),
}

const ONE_SHOT: Run = Run::OneShot(300);

/// A Windows program under wine64 (`$NIB_WINE`, else Debian's, which is not on `PATH`), in the prefix `.ci/windows`
/// booted (`$WINEPREFIX`, else `$NIB_HOME/wine`), without wine's debug output. nib.exe is linked statically (see
/// .ci/windows): it needs no DLL beyond Windows' own.
fn wine(program: &Path, run: Run) -> Command {
    let wine = std::env::var_os("NIB_WINE").map_or_else(|| PathBuf::from("/usr/lib/wine/wine64"), PathBuf::from);
    assert!(wine.exists(), "no wine64 at {}: run .ci/setup --editors", wine.display());
    let prefix =
        std::env::var_os("WINEPREFIX").map_or_else(|| nib_pipeline::config::nib_home().join("wine"), PathBuf::from);
    let mut cmd = match run {
        Run::Server => Command::new(wine),
        Run::OneShot(seconds) => {
            let mut cmd = Command::new("timeout");
            cmd.args(["--kill-after=10".to_owned(), seconds.to_string()]).arg(wine);
            cmd
        }
    };
    cmd.arg(program).env("WINEPREFIX", prefix).env("WINEDEBUG", "-all");
    cmd
}

/// `nib.exe` with `home` as its `NIB_HOME`, isolated from the user's model and config as `support::nib` is.
fn nib_exe_at(home: &Path, run: Run) -> Command {
    let mut cmd = wine(&nib_exe(), run);
    cmd.env_remove("NIB_MODEL")
        .env("NIB_CONFIG", windows_path(Path::new("/nonexistent/nib-test-config.toml")))
        .env("NIB_HOME", windows_path(home));
    cmd
}

/// How a Windows program under wine names a file of this machine: on drive `Z:`.
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// The `file:` URI an editor on Windows would send for a file of this machine.
fn windows_uri(path: &Path) -> String {
    from_path_as(&windows_path(path), Style::Windows)
}

/// A new folder whose name has a space, holding `files`.
fn folder(files: &[(&str, &str)]) -> PathBuf {
    let root = fresh_home().join("a b");
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("a file in a folder")).expect("create the folder");
        std::fs::write(path, text).expect("write the file");
    }
    root
}

fn json_of(out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?} (124: over its time under timeout)\n{stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn windows_complete_gives_the_linux_builds_completion() {
    let root = folder(&[("sample.py", SAMPLE), ("crlf.py", &SAMPLE.replace('\n', "\r\n"))]);
    let model = model_path();
    let location = |file: &str| format!("{}:{}:{}", file, LINE + 1, COL + 1);
    let mut linux = nib();
    linux.current_dir(&root).args(["complete", &location("sample.py"), "--json", "--model"]).arg(&model);
    let linux = json_of(&linux.output().expect("run nib"));
    let text = linux["text"].as_str().expect("a suggestion");
    assert!(!text.trim().is_empty(), "{linux}");

    for file in ["sample.py", "crlf.py"] {
        let mut windows = nib_exe_at(&fresh_home(), ONE_SHOT);
        windows.current_dir(&root).args(["complete", &location(&windows_path(&root.join(file))), "--json", "--model"]);
        let windows = json_of(&windows.arg(windows_path(&model)).output().expect("run nib.exe under wine"));
        // Greedy decoding on the same weights: the same text, from a CRLF file too (one line, no `\r`).
        assert_eq!(windows["text"], linux["text"], "{file}: {windows}\nLinux: {linux}");
        assert_eq!(windows["model"], windows_path(&model), "{windows}");
        assert_eq!(windows["stats"]["n_prompt_tokens"], linux["stats"]["n_prompt_tokens"], "{file}: {windows}");
    }
}

#[test]
fn windows_serve_holds_a_conversation_over_windows_uris() {
    let root = folder(&[("sample.py", SAMPLE), ("pkg/util.py", "def clamp(x, low, high):\n    return x\n")]);
    let model = model_path();
    let mut serve = nib_exe_at(&fresh_home(), Run::Server);
    serve.args(["serve", "--model"]).arg(windows_path(&model));
    let mut client = LspClient::spawn(serve).expect("start nib.exe serve under wine");
    let root_uri = windows_uri(&root);
    assert!(root_uri.starts_with("file:///Z:/") && root_uri.ends_with("/a%20b"), "{root_uri}");
    let options = json!({"completion": {"deadline_ms": 600_000, "partial_after_ms": 0, "context": "full"}});
    let result = client.initialize_in(Some(&root_uri), json!({}), options).expect("initialize");
    assert_eq!(result["serverInfo"]["name"], "nib", "{result}");
    wait_ready(&mut client);
    status_when(&mut client, "the folder indexed", |s| s["n_indexed_files"] == 2);

    // The document as VS Code names it: lower-case drive, `:` escaped. It is the scanned sample.py, not a third file.
    let uri = windows_uri(&root.join("sample.py")).replacen("file:///Z:", "file:///z%3A", 1);
    client.open(&uri, "python", SAMPLE).unwrap();
    client.insert(&uri, 2, LINE, COL, "sum(").unwrap();
    let list = client.call("textDocument/inlineCompletion", inline_params(&uri, LINE, COL + 4)).unwrap();
    let item = &list["items"][0];
    assert!(!item["insertText"].as_str().expect("an inline completion item").trim().is_empty(), "{list}");
    let cursor = json!({"line": LINE, "character": COL + 4});
    assert_eq!(item["range"], json!({"start": cursor, "end": cursor}), "{list}");

    let status = client.status().unwrap();
    assert_eq!(status["n_open_documents"], 1, "{status}");
    assert_eq!(status["n_indexed_files"], 2, "the open document and the scanned file are one: {status}");
    assert_eq!(status["model"]["path"], windows_path(&model), "{status}");
    assert_eq!(status["model"]["state"], "ready", "{status}");
    assert!(status["engine"]["last"]["n_prompt_tokens"].as_u64().unwrap() > 100, "{status}");
    shut_down(client);
}

#[test]
fn windows_nib_home_is_under_local_app_data() {
    let out =
        wine(Path::new("cmd.exe"), ONE_SHOT).args(["/c", "echo", "%LOCALAPPDATA%"]).output().expect("run cmd.exe");
    let local_app_data = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(local_app_data.ends_with(r"\AppData\Local"), "{local_app_data:?}");

    // No NIB_HOME and no model: the server says where the model belongs, and that it is missing.
    let mut serve = nib_exe_at(&fresh_home(), Run::Server);
    serve.env_remove("NIB_HOME").arg("serve");
    let mut client = LspClient::spawn(serve).expect("start nib.exe serve under wine");
    client.initialize(json!({}), json!({})).expect("initialize");
    let status = status_when(&mut client, "the model's state", |s| s["model"]["state"] != "loading");
    let file = model_path().file_name().expect("a model file").to_string_lossy().into_owned();
    assert_eq!(status["model"]["path"], format!(r"{local_app_data}\nib\models\{file}"), "{status}");
    assert_eq!(status["model"]["state"], "failed", "{status}");
    assert!(status["model"]["error"].as_str().unwrap().contains("nib models pull"), "{status}");
    shut_down(client);
}

#[test]
fn windows_review_reports_repository_relative_paths() {
    let home = fresh_home();
    let root = folder(&[("src/items.py", BUGGY)]);
    seed_review(&home, BUGGY, &off_by_one());
    let mut review = nib_exe_at(&home, ONE_SHOT);
    review.current_dir(&root).args(["review", "--format", "sarif", r"src\items.py", "--model"]);
    let sarif = json_of(&review.arg(windows_path(&model_path())).output().expect("run nib.exe review under wine"));
    let location = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"], json!({"uri": "src/items.py", "uriBaseId": "%SRCROOT%"}), "{sarif}");
    assert_eq!(location["region"]["startLine"], 2, "{sarif}");
}
