//! `nib top --once --json` lists a running `nib serve` from the snapshot it publishes under `NIB_HOME`, and
//! no longer once it has exited.

use std::time::{Duration, Instant};

use nib_bench::lsp_client::inline_params;
use serde_json::{Value, json};

use crate::support::{fresh_home, model_path, nib_at, serve_at, shut_down};

fn top_json(home: &std::path::Path) -> Vec<Value> {
    let output = nib_at(home).args(["top", "--once", "--json"]).output().expect("nib top runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("a JSON array")
}

#[test]
fn top_lists_a_running_server_until_it_exits() {
    let home = fresh_home();
    let mut client = serve_at(&model_path(), &home);
    let params = json!({
        "processId": null, "rootUri": null, "capabilities": {},
        "clientInfo": {"name": "e2e-editor", "version": "1.2"},
        "initializationOptions": {"completion": {"deadline_ms": 600_000, "partial_after_ms": 0}},
    });
    client.call("initialize", params).unwrap();
    client.notify("initialized", json!({})).unwrap();
    crate::support::wait_ready(&mut client);
    let uri = "file:///top.py";
    client.open(uri, "python", "def add(a, b):\n    return ").unwrap();
    client.call("textDocument/inlineCompletion", inline_params(uri, 1, 11)).unwrap();

    // The file is rewritten each second: wait for one written after the completion.
    let deadline = Instant::now() + Duration::from_secs(20);
    let server = loop {
        let servers = top_json(&home);
        let found = servers.into_iter().find(|s| s["pid"] == client.pid());
        if let Some(server) = found.filter(|s| s["n_completions"].as_u64() >= Some(1)) {
            break server;
        }
        assert!(Instant::now() < deadline, "nib top never listed the server with its completion");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(server["editor"], json!({"name": "e2e-editor", "version": "1.2"}), "{server}");
    assert_eq!(server["model"]["state"], "ready", "{server}");
    assert_eq!(server["backend"], "local", "{server}");
    assert!(server["last_minute"]["n_completions"].as_u64() >= Some(1), "{server}");
    assert!(server["last_minute"]["p95_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{server}");
    assert!(server["resident_bytes"].as_u64().is_some_and(|b| b > 0), "{server}");

    let file = home.join("servers").join(format!("{}.json", client.pid()));
    assert!(file.exists());
    shut_down(client);
    assert!(!file.exists(), "the server left its snapshot behind");
    assert!(top_json(&home).is_empty());
}
