//! What every end-to-end test needs: the binary, the model, a started server.

use std::path::{Path, PathBuf};
use std::process::Command;

use nib::bench::lsp_client::LspClient;
use serde_json::Value;

/// The default model, which `.ci/setup` fetches.
pub fn model_path() -> PathBuf {
    let path = nib::config::default_model_path();
    assert!(path.exists(), "no model at {}: run `python3 models/fetch.py` first", path.display());
    path
}

/// The built binary, isolated from the user's own model and config settings.
pub fn nib() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nib"));
    cmd.env_remove("NIB_MODEL").env("NIB_CONFIG", "/nonexistent/nib-test-config.toml");
    cmd
}

/// `nib serve --model MODEL`, not yet initialized.
pub fn serve(model: &Path) -> LspClient {
    let mut cmd = nib();
    cmd.arg("serve").arg("--model").arg(model);
    LspClient::spawn(cmd).expect("start nib serve")
}

/// Shuts the server down and checks it exited cleanly without a panic.
pub fn shut_down(client: LspClient) {
    let (status, stderr) = client.shutdown().expect("clean shutdown");
    assert!(!stderr.contains("panicked"), "nib panicked:\n{stderr}");
    assert!(status.success(), "exit status {status:?}; stderr:\n{stderr}");
}

pub fn init(client: &mut LspClient, capabilities: Value) -> Value {
    client.initialize(capabilities, Value::Null).expect("initialize")
}
