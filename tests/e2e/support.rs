//! What every end-to-end test needs: the binary, the model, a started server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nib_bench::lsp_client::LspClient;
use serde_json::Value;

/// The default model, which `.ci/setup` pulls.
pub fn model_path() -> PathBuf {
    let path = nib_pipeline::config::default_model_path();
    assert!(path.exists(), "no model at {}: run `nib models pull` (or `bash .ci/setup`) first", path.display());
    path
}

/// A file of the Python standard library on this machine, read at run time: real code nobody here wrote.
pub fn stdlib_file(name: &str) -> String {
    let output = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"])
        .output()
        .expect("python3 runs");
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name} in {}: {e}", dir.display()))
}

/// Where `.ci/setup --editors` put Node (`$NIB_HOME/node/bin`), or `$NIB_NODE_BIN`.
pub fn node_bin() -> PathBuf {
    let bin = std::env::var_os("NIB_NODE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| nib_pipeline::config::nib_home().join("node/bin"));
    assert!(bin.join("npm").exists(), "no Node at {}: run .ci/setup --editors", bin.display());
    bin
}

/// The built binary, isolated from the user's own model, config and snapshots.
pub fn nib() -> Command {
    nib_at(&fresh_home())
}

/// The built binary with `home` as its `NIB_HOME` (where snapshots live).
pub fn nib_at(home: &Path) -> Command {
    isolated(Command::new(env!("CARGO_BIN_EXE_nib")), home)
}

/// A nib binary with `home` as its `NIB_HOME`, and no model or config file of the user's.
pub fn isolated(mut cmd: Command, home: &Path) -> Command {
    cmd.env_remove("NIB_MODEL").env("NIB_CONFIG", "/nonexistent/nib-test-config.toml").env("NIB_HOME", home);
    cmd
}

/// A new, empty directory for one test's `NIB_HOME`. The first call removes what test runs that have ended left:
/// a run leaves about a gigabyte of homes (KV snapshots) and its .vsix, and run after run filled the disk.
pub fn fresh_home() -> PathBuf {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(remove_ended_runs_homes);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("nib-e2e-home-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a test NIB_HOME");
    dir
}

/// Removes the homes (`nib-e2e-home-<pid>-<n>`) and packaged extensions (`nib-e2e-<pid>-linux-x64.vsix`) of test
/// processes that no longer run; another run's may still be in use.
fn remove_ended_runs_homes() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let rest = name.to_str().and_then(|n| n.strip_prefix("nib-e2e-"));
        let pid = rest.and_then(|rest| rest.strip_prefix("home-").unwrap_or(rest).split('-').next());
        let ended = pid.is_some_and(|pid| pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists());
        if ended {
            let path = entry.path();
            let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        }
    }
}

/// `nib serve --model MODEL`, not yet initialized.
pub fn serve(model: &Path) -> LspClient {
    serve_at(model, &fresh_home())
}

pub fn serve_at(model: &Path, home: &Path) -> LspClient {
    let mut cmd = nib_at(home);
    cmd.arg("serve").arg("--model").arg(model);
    LspClient::spawn(cmd).expect("start nib serve")
}

/// `nib serve` with a fresh home, initialized with `options`, once its model has loaded: tests time requests,
/// not the model's loading.
pub fn ready(model: &Path, options: serde_json::Value) -> LspClient {
    let mut client = serve_at(model, &fresh_home());
    init_with(&mut client, serde_json::json!({}), options);
    wait_ready(&mut client);
    client
}

/// Waits (at most a minute) until the server's model, local or remote, is ready.
pub fn wait_ready(client: &mut LspClient) {
    let started = Instant::now();
    loop {
        let status = client.status().unwrap();
        if status["model"]["state"] == "ready" {
            return;
        }
        assert!(started.elapsed().as_secs() < 60, "the model never became ready: {status}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// textwrap.py (~490 lines) with its line `        return self._split(text)` replaced by `line_text`, and that
/// line's index: a real file whose cold prompt is of real size, and a line the default model completes.
pub fn textwrap_with(line_text: &str) -> (String, u32) {
    let text = stdlib_file("textwrap.py");
    let target = "        return self._split(text)";
    let line = text.lines().position(|l| l == target).expect("textwrap.py has the line the tests complete");
    let edited: Vec<&str> = text.lines().enumerate().map(|(i, l)| if i == line { line_text } else { l }).collect();
    (edited.join("\n") + "\n", line as u32)
}

/// Polls `nib/status` until `done` holds for it (at most a minute); returns it.
pub fn status_when(client: &mut LspClient, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = client.status().unwrap();
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Shuts the server down and checks it exited cleanly without a panic.
pub fn shut_down(client: LspClient) {
    let (status, stderr) = client.shutdown().expect("clean shutdown");
    assert!(!stderr.contains("panicked"), "nib panicked:\n{stderr}");
    assert!(status.success(), "exit status {status:?}; stderr:\n{stderr}");
}

/// Initializes with no deadline: tests run side by side on two cores, and an
/// answer cut short by a deadline would not be the one they check.
pub fn init(client: &mut LspClient, capabilities: Value) -> Value {
    init_with(client, capabilities, serde_json::json!({"completion": {"deadline_ms": 600_000, "partial_after_ms": 0}}))
}

pub fn init_with(client: &mut LspClient, capabilities: Value, options: Value) -> Value {
    client.initialize(capabilities, options).expect("initialize")
}

/// A Python function with an off-by-one, and the finding a review of it gives.
pub const BUGGY: &str = "def last_item(items):\n    return items[len(items)]\n";

pub fn off_by_one() -> Value {
    serde_json::json!([{"rule": "bug", "severity": "error", "message": "Off by one: the last index is len(items) - 1.",
        "quote": "items[len(items)]", "replacement": "items[len(items) - 1]"}])
}

/// Leaves `findings` in the review cache under `home` as a past review of `unit` (Python) would have:
/// the real binary or server then locates, filters and reports them.
pub fn seed_review(home: &Path, unit: &str, findings: &Value) {
    let model_id = nib_engine::model_id(&model_path()).expect("the model's id");
    let version = nib_pipeline::review::prompt::ReviewPrompt::builtin().version;
    let key = nib_pipeline::review::cache::ReviewCache::key(&model_id, &version, "python", unit);
    let dir = home.join("review-cache");
    std::fs::create_dir_all(&dir).expect("create the review cache");
    std::fs::write(dir.join(format!("{key}.json")), findings.to_string()).expect("seed the review cache");
}

/// The default model's copy that declares FIM token ids (`models/fim_copy.py`), for the FIM templates:
/// its text is meaningless, its prompts, token counts and latencies are real.
pub fn fim_model_path() -> PathBuf {
    let model = nib_pipeline::config::default_model_path();
    let stem = model.file_stem().expect("the default model has a file name").to_string_lossy();
    let path = model.with_file_name(format!("{stem}-fim.gguf"));
    assert!(
        path.exists(),
        "no FIM copy of the model at {}: run `bash .ci/setup --editors` or `python3 models/fim_copy.py` first",
        path.display()
    );
    path
}
