//! What clients other than the tests' own send: `$/` requests, params spelled `{}`, settings as `[]`,
//! configuration changes, files changed on disk, several workspace folders. Real server, real model.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nib_bench::lsp_client::{LspClient, inline_params};
use serde_json::{Value, json};

use crate::support::{init, init_with, model_path, serve, shut_down};

/// Polls `nib/status` until `done` holds for it; returns it.
fn status_when(client: &mut LspClient, what: &str, done: impl Fn(&Value) -> bool) -> Value {
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

/// A `window/showMessage` that arrives within `wait`, if any.
fn shown_message(client: &mut LspClient, wait: Duration) -> Option<String> {
    let found = client.wait_until(Instant::now() + wait, "window/showMessage", |m| m["method"] == "window/showMessage");
    found.unwrap().map(|(_, m)| m["params"]["message"].as_str().unwrap_or_default().to_owned())
}

/// A fresh folder with `files` (path, text) in it.
fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("nib-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (path, text) in files {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    root
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn every_request_gets_exactly_one_response() {
    let mut client = serve(&model_path());
    init(&mut client, json!({}));
    let mut expected: Vec<(Value, Option<i64>)> = Vec::new();
    let mut send = |client: &mut LspClient, id: Value, method: &str, params: Option<Value>, error: Option<i64>| {
        let mut message = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if let Some(params) = params {
            message["params"] = params;
        }
        client.send(&message).unwrap();
        expected.push((id, error));
    };
    // `$/` requests: the spec wants MethodNotFound, not silence; string ids too.
    send(&mut client, json!(101), "$/something", Some(json!({})), Some(-32601));
    send(&mut client, json!("s-102"), "$/setTrace", Some(json!({"value": "off"})), Some(-32601));
    send(&mut client, json!(103), "$/cancelRequest", Some(json!({"id": 1})), Some(-32601));
    // Unknown methods, and a notification sent as a request.
    send(&mut client, json!(104), "nib/nothingLikeThis", None, Some(-32601));
    send(&mut client, json!(105), "textDocument/unknown", Some(json!({})), Some(-32601));
    send(
        &mut client,
        json!(106),
        "textDocument/didSave",
        Some(json!({"textDocument": {"uri": "file:///x.py"}})),
        Some(-32600),
    );
    // nib/status takes no params, however a client says so; real params are refused.
    for (id, params) in [(107, Some(json!({}))), (108, Some(json!(null))), (109, None), (110, Some(json!([])))] {
        send(&mut client, json!(id), "nib/status", params, None);
    }
    send(&mut client, json!(111), "nib/status", Some(json!({"verbose": true})), Some(-32602));

    for (id, error) in &expected {
        let response =
            client.wait_for(&format!("the response to {id}"), |m| m["id"] == *id && m.get("method").is_none());
        let response = response.unwrap();
        match error {
            Some(code) => assert_eq!(response["error"]["code"], *code, "{response}"),
            None => assert_eq!(response["result"]["model"]["path"], json!(model_path()), "{response}"),
        }
    }
    // Anything still on its way arrives before the answer to a request sent after it.
    client.status().unwrap();
    let ids: Vec<&Value> = expected.iter().map(|(id, _)| id).collect();
    let extra: Vec<Value> = client.drain().into_iter().filter(|m| ids.contains(&&m["id"])).collect();
    assert!(extra.is_empty(), "answered twice: {extra:?}");
    shut_down(client);
}

#[test]
fn settings_sent_as_an_empty_array_are_no_settings() {
    // Neovim sends an empty Lua table as `[]`, at the top and inside.
    for options in [json!([]), json!({"completion": [], "review": []})] {
        let mut client = serve(&model_path());
        init_with(&mut client, json!({}), options.clone());
        let status = client.status().unwrap();
        assert_eq!(status["settings"]["completion"]["deadline_ms"], 4000, "{options}: {status}");
        assert_eq!(shown_message(&mut client, Duration::from_secs(1)), None, "{options}");
        shut_down(client);
    }
    // What nib says about options it cannot use: the message the ones above must not get.
    let mut client = serve(&model_path());
    init_with(&mut client, json!({}), json!({"completion": {"deadline": 5}}));
    let message = shown_message(&mut client, Duration::from_secs(30)).expect("a warning");
    assert!(message.contains("initializationOptions") && message.contains("ignoring them"), "{message}");
    shut_down(client);
}

#[test]
fn configuration_changes_apply_and_start_only_settings_are_reported() {
    let mut client = serve(&model_path());
    init(&mut client, json!({}));
    let status = client.status().unwrap();
    assert_eq!(status["settings"]["completion"]["deadline_ms"], 600_000, "{status}");

    // VS Code's shape (the `nib` section); the settings replace the initializationOptions.
    let settings = json!({"nib": {"completion": {"max_tokens": 3, "deadline_ms": 600_000, "partial_after_ms": 0,
        "prefetch": false},
        "review": {"on_save": false}}});
    client.notify("workspace/didChangeConfiguration", json!({"settings": settings})).unwrap();
    let status = status_when(&mut client, "the new settings", |s| s["settings"]["completion"]["max_tokens"] == 3);
    assert_eq!(status["settings"]["review"]["on_save"], false, "{status}");
    assert_eq!(client.wait_for("the log", |m| m["method"] == "window/logMessage").unwrap()["params"]["type"], 3);
    // ... and completions follow them.
    let file = "file:///work/config.py";
    client.open(file, "python", "def add(a, b):\n    return ").unwrap();
    client.call("textDocument/inlineCompletion", inline_params(file, 1, 11)).unwrap();
    let last = client.status().unwrap()["engine"]["last"].clone();
    assert!(last["n_generated_tokens"].as_u64().is_some_and(|n| (1..=3).contains(&n)), "{last}");

    // Settings nib cannot use are refused whole; the ones before stay.
    client.notify("workspace/didChangeConfiguration", json!({"settings": {"completion": {"max_tokenz": 9}}})).unwrap();
    let message = shown_message(&mut client, Duration::from_secs(30)).expect("a warning");
    assert!(message.contains("not applied") && message.contains("max_tokenz"), "{message}");
    assert_eq!(client.status().unwrap()["settings"]["completion"]["max_tokens"], 3);

    // Helix's and Neovim's shape (nib's settings at the top). The engine starts once: nib says so. The model
    // given as --model outranks the setting, so it does not change and is not mentioned.
    // Every start-only change is named, next edits and plugins included; none is applied silently.
    let settings = json!({"model": "/elsewhere.gguf", "engine": {"n_ctx": 1024}, "completion": {"max_tokens": 5,
        "keep_acceptance": true}, "next_edit": {"max_edits": 2}, "plugins": [{"name": "redact-secrets"}]});
    client.notify("workspace/didChangeConfiguration", json!({"settings": settings})).unwrap();
    let message = shown_message(&mut client, Duration::from_secs(30)).expect("a warning");
    for key in ["engine.n_ctx", "completion.keep_acceptance", "next_edit.max_edits", "plugins", "restart"] {
        assert!(message.contains(key), "{key} not in: {message}");
    }
    assert!(!message.contains("model"), "{message}");
    let status = status_when(&mut client, "the new settings", |s| s["settings"]["completion"]["max_tokens"] == 5);
    assert_eq!(status["settings"]["engine"]["n_ctx"], 2048, "the engine keeps what it started with: {status}");
    assert_eq!(status["settings"]["completion"]["deadline_ms"], 4000, "replaced, not merged: {status}");
    assert_eq!(status["settings"]["completion"]["keep_acceptance"], false, "kept until a restart: {status}");
    shut_down(client);
}

/// Waits for the server's `client/registerCapability` request, answers it, and returns its registrations.
fn accept_registration(client: &mut LspClient) -> Value {
    let request = client.wait_for("client/registerCapability", |m| m["method"] == "client/registerCapability").unwrap();
    client.send(&json!({"jsonrpc": "2.0", "id": request["id"], "result": null})).unwrap();
    request["params"]["registrations"].clone()
}

#[test]
fn every_workspace_folder_is_indexed_and_changes_on_disk_are_followed() {
    let a = folder("root-a", &[("util.py", "def helper(x):\n    return x * 2\n"), ("src/lib.rs", "fn twice() {}\n")]);
    let b = folder("root-b", &[("other.go", "package b\n\nfunc Other() {}\n")]);
    let mut client = serve(&model_path());
    let folders = json!([{"uri": uri(&a), "name": "a"}, {"uri": uri(&b), "name": "b"}]);
    let capabilities = json!({"workspace": {"workspaceFolders": true,
        "didChangeWatchedFiles": {"dynamicRegistration": true}}});
    // The whole suggestion, never its start (`partial_after_ms`): the prompt's figures are read once it is done.
    let options = json!({"completion": {"deadline_ms": 600_000, "partial_after_ms": 0, "prefetch": false,
        "max_tokens": 2, "context": "full"}});
    let params = json!({"processId": null, "rootUri": uri(&a), "workspaceFolders": folders,
        "capabilities": capabilities, "initializationOptions": options});
    let result = client.call("initialize", params).unwrap();
    assert_eq!(result["capabilities"]["workspace"]["workspaceFolders"]["changeNotifications"], true, "{result}");
    client.notify("initialized", json!({})).unwrap();
    let registrations = accept_registration(&mut client);
    assert_eq!(registrations[0]["method"], "workspace/didChangeWatchedFiles", "{registrations}");
    status_when(&mut client, "both folders indexed", |s| s["n_indexed_files"] == 3);

    // A completion that uses helper() carries its definition from util.py, which is not open.
    let main = a.join("main.py");
    let text = "from util import helper\n\nvalue = helper(1)\nresult = ";
    std::fs::write(&main, text).unwrap();
    client.open(&uri(&main), "python", text).unwrap();
    let prompt_tokens = |client: &mut LspClient| {
        client.call("textDocument/inlineCompletion", inline_params(&uri(&main), 3, 9)).unwrap();
        client.status().unwrap()["engine"]["last"]["n_prompt_tokens"].as_u64().unwrap()
    };
    let with_definition = prompt_tokens(&mut client);
    status_when(&mut client, "main.py indexed", |s| s["n_indexed_files"] == 4);

    // util.py is deleted: its definition leaves the index and the prompt.
    std::fs::remove_file(a.join("util.py")).unwrap();
    let deleted = json!({"changes": [{"uri": uri(&a.join("util.py")), "type": 3}]});
    client.notify("workspace/didChangeWatchedFiles", deleted).unwrap();
    status_when(&mut client, "util.py forgotten", |s| s["n_indexed_files"] == 3);
    let without = prompt_tokens(&mut client);
    eprintln!(
        "prompt tokens with helper()'s definition in the index: {with_definition}, after util.py was deleted: {without}"
    );
    assert!(without < with_definition, "the prompt still carries helper(): {without} vs {with_definition} tokens");

    // A file created on disk is indexed; a folder removed from the workspace takes its files along.
    std::fs::write(a.join("extra.py"), "def extra():\n    pass\n").unwrap();
    let created = json!({"changes": [{"uri": uri(&a.join("extra.py")), "type": 1}]});
    client.notify("workspace/didChangeWatchedFiles", created).unwrap();
    status_when(&mut client, "extra.py indexed", |s| s["n_indexed_files"] == 4);
    let removed = json!({"event": {"added": [], "removed": [{"uri": uri(&b), "name": "b"}]}});
    client.notify("workspace/didChangeWorkspaceFolders", removed).unwrap();
    status_when(&mut client, "folder b forgotten", |s| s["n_indexed_files"] == 3);
    let added = json!({"event": {"added": [{"uri": uri(&b), "name": "b"}], "removed": []}});
    client.notify("workspace/didChangeWorkspaceFolders", added).unwrap();
    status_when(&mut client, "folder b indexed again", |s| s["n_indexed_files"] == 4);
    shut_down(client);
    let _ = (std::fs::remove_dir_all(a), std::fs::remove_dir_all(b));
}
