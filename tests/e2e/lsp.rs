//! LSP conversations with `nib serve` over stdio, on the real default model.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use nib_bench::lsp_client::{LspClient, inline_params};

use crate::support::{init, model_path, ready, serve, shut_down};

const URI: &str = "file:///work/sample.py";
const SAMPLE: &str = include_str!("../fixtures/sample.py");
/// The cursor in SAMPLE: after `        return ` in `total_value` (0-based line 23).
const LINE: u32 = 23;
const COL: u32 = 15;

fn started() -> LspClient {
    let mut client = serve(&model_path());
    let result = init(&mut client, json!({}));
    assert_eq!(result["serverInfo"]["name"], "nib");
    client
}

fn insert(client: &mut LspClient, version: i32, line: u32, character: u32, text: &str) {
    client.insert(URI, version, line, character, text).unwrap();
}

fn inline(client: &mut LspClient, uri: &str, line: u32, character: u32) -> Value {
    client.call("textDocument/inlineCompletion", inline_params(uri, line, character)).unwrap()
}

fn first_item(list: &Value) -> &Value {
    &list["items"][0]
}

#[test]
fn completes_then_reuses_the_prompt_after_a_keystroke() {
    let mut client = started();
    client.open(URI, "python", SAMPLE).unwrap();

    let list = inline(&mut client, URI, LINE, COL);
    let text = first_item(&list)["insertText"].as_str().expect("an inline completion item").to_owned();
    assert!(!text.trim().is_empty(), "empty suggestion: {list}");
    let cursor = json!({"line": LINE, "character": COL});
    assert_eq!(first_item(&list)["range"], json!({"start": cursor, "end": cursor}));
    let cold = client.status().unwrap()["engine"]["last"].clone();
    assert_eq!(cold["n_reused_tokens"], 0, "{cold}");

    // Type a character the suggestion does not start with: the model runs again on a warm cache.
    let typed = if text.starts_with('(') { "x" } else { "(" };
    insert(&mut client, 2, LINE, COL, typed);
    let list = inline(&mut client, URI, LINE, COL + 1);
    let warm = client.status().unwrap()["engine"]["last"].clone();
    let reused = warm["n_reused_tokens"].as_f64().unwrap() / warm["n_prompt_tokens"].as_f64().unwrap();
    assert!(reused >= 0.9, "only {:.0} % of the prompt was reused: {warm}", reused * 100.0);
    assert!(warm["n_evaluated_tokens"].as_u64().unwrap() < 10, "{warm}");
    assert_eq!(warm["cache"], "hot", "{warm}");
    assert!(warm["ttft_ms"].as_f64().unwrap() > 0.0);

    // Type the first character of that suggestion: the rest comes from the cache, without the model.
    if let Some(shown) = first_item(&list)["insertText"].as_str().filter(|t| t.chars().count() > 1) {
        let first = shown.chars().next().unwrap().to_string();
        insert(&mut client, 3, LINE, COL + 1, &first);
        let list = inline(&mut client, URI, LINE, COL + 1 + first.len() as u32);
        assert_eq!(first_item(&list)["insertText"].as_str(), Some(&shown[first.len()..]), "{list}");
        assert_eq!(client.status().unwrap()["engine"]["last"]["cache"], "completion");
    }
    // The same pipeline as a classic completion item, at the end of the line being typed.
    let doc = client.call("nib/document", json!({"uri": URI})).unwrap();
    let line = doc["text"].as_str().unwrap().lines().nth(LINE as usize).unwrap().to_owned();
    let params = json!({"textDocument": {"uri": URI}, "position": {"line": LINE, "character": line.len()}});
    let items = client.call("textDocument/completion", params).unwrap();
    let items = items.as_array().expect("a completion item array");
    assert!(items.len() <= 1, "{items:?}");
    if let Some(item) = items.first() {
        assert!(!item["textEdit"]["newText"].as_str().unwrap().is_empty(), "{item}");
        assert_eq!(item["textEdit"]["range"]["end"]["character"], line.len(), "{item}");
    }

    let status = client.status().unwrap();
    assert_eq!(status["model"]["state"], "ready", "{status}");
    assert_eq!(status["model"]["info"]["has_fim_tokens"], false);
    assert_eq!(status["engine"]["n_failed"], 0, "{status}");
    shut_down(client);
}

#[test]
fn ten_requests_back_to_back_are_each_answered_once() {
    let mut client = started();
    client.open(URI, "python", SAMPLE).unwrap();
    let ids: Vec<i64> = (0..10)
        .map(|_| client.request("textDocument/inlineCompletion", inline_params(URI, LINE, COL)).unwrap())
        .collect();
    let mut answers: HashMap<i64, Value> = HashMap::new();
    for &id in &ids {
        answers.insert(id, client.response(id).unwrap());
    }
    // Each newer request supersedes the older ones; the newest gets the suggestion.
    let last = &answers[ids.last().unwrap()];
    assert!(!first_item(&last["result"])["insertText"].as_str().unwrap_or("").is_empty(), "{last}");
    for answer in answers.values() {
        assert!(answer["result"]["items"].is_array(), "{answer}");
    }
    // Still responsive, and no request was answered twice.
    assert_eq!(client.status().unwrap()["model"]["state"], "ready");
    let extra: Vec<Value> =
        client.drain().into_iter().filter(|m| ids.contains(&m["id"].as_i64().unwrap_or(-1))).collect();
    assert!(extra.is_empty(), "answered twice: {extra:?}");
    shut_down(client);
}

#[test]
fn rapid_edits_are_applied_in_order() {
    let mut client = started();
    client.open(URI, "python", "").unwrap();
    let mut expected = String::new();
    for (i, c) in "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n"
        .chars()
        .cycle()
        .take(400)
        .enumerate()
    {
        let line = expected.matches('\n').count() as u32;
        let character = expected.rsplit('\n').next().unwrap().len() as u32;
        insert(&mut client, i as i32 + 2, line, character, &c.to_string());
        expected.push(c);
        if i % 97 == 0 {
            // Completions in between must not reorder the edits around them.
            client.request("textDocument/inlineCompletion", inline_params(URI, line, character + 1)).unwrap();
        }
    }
    let doc = client.call("nib/document", json!({"uri": URI})).unwrap();
    assert_eq!(doc["version"], 401);
    assert_eq!(doc["text"].as_str().unwrap(), expected);
    shut_down(client);
}

#[test]
fn partial_results_stream_before_the_response() {
    let mut client = started();
    client.open(URI, "python", SAMPLE).unwrap();
    let mut params = inline_params(URI, LINE, COL);
    params["partialResultToken"] = json!("p1");
    let id = client.request("textDocument/inlineCompletion", params).unwrap();
    let response = client.response(id).unwrap();
    let final_text = first_item(&response["result"])["insertText"].as_str().unwrap().to_owned();
    let partials: Vec<String> = client
        .drain()
        .into_iter()
        .filter(|m| m["method"] == "$/progress" && m["params"]["token"] == "p1")
        .map(|m| m["params"]["value"][0]["insertText"].as_str().unwrap().to_owned())
        .collect();
    assert!(!partials.is_empty(), "no $/progress before the response");
    for pair in partials.windows(2) {
        assert!(pair[1].starts_with(&pair[0]), "partials must grow: {partials:?}");
    }
    assert!(final_text.starts_with(partials.last().unwrap().trim_end()), "{partials:?} vs {final_text:?}");
    shut_down(client);
}

#[test]
fn bad_input_gets_clear_errors_and_the_server_lives_on() {
    let mut client = started();
    client.open(URI, "python", SAMPLE).unwrap();

    // A body that is not JSON, then one that is JSON but not JSON-RPC.
    client.send_raw(b"Content-Length: 12\r\n\r\n{not json!!}").unwrap();
    client.send(&json!({"hello": "world"})).unwrap();
    client.send_raw(b"no header at all\r\n\r\n").unwrap();
    for _ in 0..3 {
        let error = client.wait_for("a parse error", |m| m["id"].is_null() && m["error"]["code"] == -32700).unwrap();
        assert!(!error["error"]["message"].as_str().unwrap().is_empty());
    }
    // An unknown document.
    let id = client.request("textDocument/inlineCompletion", inline_params("file:///nope.py", 0, 0)).unwrap();
    let error = &client.response(id).unwrap()["error"];
    assert_eq!(error["code"], -32602, "{error}");
    assert!(error["message"].as_str().unwrap().contains("not open"), "{error}");
    // A line far past the end.
    let id = client.request("textDocument/inlineCompletion", inline_params(URI, 1_000_000, 0)).unwrap();
    let error = &client.response(id).unwrap()["error"];
    assert!(error["message"].as_str().unwrap().contains("out of range"), "{error}");
    // A column past the end of its line is clamped, as LSP says.
    let list = inline(&mut client, URI, LINE, 10_000);
    assert!(list["items"].is_array());
    // An edit out of range is refused and the buffer kept.
    insert(&mut client, 2, 5_000, 0, "x");
    let doc = client.call("nib/document", json!({"uri": URI})).unwrap();
    assert_eq!(doc["text"].as_str().unwrap(), SAMPLE);
    // A cancelled request still gets exactly one response.
    let id = client.request("textDocument/inlineCompletion", inline_params(URI, LINE, COL)).unwrap();
    client.notify("$/cancelRequest", json!({"id": id})).unwrap();
    let response = client.response(id).unwrap();
    assert!(response.get("result").is_some() || response["error"]["code"] == -32800, "{response}");

    assert_eq!(client.status().unwrap()["model"]["state"], "ready");
    shut_down(client);
}

#[test]
fn a_missing_model_is_reported_and_requests_get_empty_results() {
    let missing = std::path::Path::new("/nonexistent/model.gguf");
    let mut client = serve(missing);
    init(&mut client, json!({}));
    let shown = client.wait_for("window/showMessage", |m| m["method"] == "window/showMessage").unwrap();
    let message = shown["params"]["message"].as_str().unwrap();
    assert!(message.contains("/nonexistent/model.gguf") && message.contains("Fix"), "{message}");
    client.open(URI, "python", SAMPLE).unwrap();
    assert_eq!(inline(&mut client, URI, LINE, COL), json!({"items": []}));
    let status = client.status().unwrap();
    assert_eq!(status["model"]["state"], "failed");
    assert!(status["model"]["error"].as_str().unwrap().contains("/nonexistent/model.gguf"), "{status}");
    shut_down(client);
}

#[test]
fn a_corrupt_model_is_reported_not_loaded() {
    let dir = std::env::temp_dir().join(format!("nib-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A real model cut short, and a file that only looks like GGUF.
    let real = std::fs::read(model_path()).unwrap();
    let truncated = dir.join("truncated.gguf");
    std::fs::write(&truncated, &real[..real.len() / 3]).unwrap();
    let garbage = dir.join("garbage.gguf");
    std::fs::write(&garbage, b"GGUF\x03\x00\x00\x00 this is not a model").unwrap();
    for model in [truncated, garbage] {
        let mut client = serve(&model);
        init(&mut client, json!({}));
        client.wait_for("window/showMessage", |m| m["method"] == "window/showMessage").unwrap();
        let status = client.status().unwrap();
        assert_eq!(status["model"]["state"], "failed", "{status}");
        shut_down(client);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn utf8_is_used_when_the_client_offers_it() {
    let mut client = serve(&model_path());
    let result = init(&mut client, json!({"general": {"positionEncodings": ["utf-8", "utf-16"]}}));
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-8");
    client.open(URI, "python", "s = '𝄞'\n").unwrap();
    // Byte column 10 is after the 4-byte clef and its closing quote.
    insert(&mut client, 2, 0, 10, " + 'x'");
    let doc = client.call("nib/document", json!({"uri": URI})).unwrap();
    assert_eq!(doc["text"], "s = '𝄞' + 'x'\n");
    shut_down(client);
}

#[test]
fn the_workspace_is_indexed_and_documents_parsed_by_language() {
    let root = std::env::temp_dir().join(format!("nib-workspace-{}", std::process::id()));
    for (path, text) in [
        ("util.py", "def helper(x):\n    return x * 2\n"),
        ("src/lib.rs", "pub fn twice(x: u32) -> u32 {\n    x * 2\n}\n"),
        ("node_modules/dep/index.js", "function skipped() {}\n"),
        ("notes.md", "# not code\n"),
    ] {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    let mut client = serve(&model_path());
    let root_uri = format!("file://{}", root.display());
    let params = json!({"processId": null, "rootUri": root_uri, "capabilities": {},
        "initializationOptions": {"completion": {"deadline_ms": 600_000}}});
    let result = client.call("initialize", params).unwrap();
    assert_eq!(result["capabilities"]["textDocumentSync"]["save"], true, "{result}");
    client.notify("initialized", json!({})).unwrap();
    let mut n_indexed = 0;
    for _ in 0..200 {
        n_indexed = client.status().unwrap()["n_indexed_files"].as_u64().unwrap();
        if n_indexed >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(n_indexed, 2, "util.py and src/lib.rs; not node_modules, not markdown");

    // The grammar comes from the languageId, else from the extension; other text is plain.
    let docs = [
        ("file:///w/a.tsx", "typescriptreact", Some("tsx")),
        ("file:///w/b.rs", "plaintext", Some("rust")),
        ("file:///w/c.txt", "plaintext", None),
    ];
    for (uri, language_id, _) in docs {
        client.open(uri, language_id, "x\n").unwrap();
    }
    for (uri, _, syntax) in docs {
        let doc = client.call("nib/document", json!({"uri": uri})).unwrap();
        assert_eq!(doc["syntax"], json!(syntax), "{uri}: {doc}");
    }
    // A saved, edited document is indexed again; completing in it uses the index and answers.
    let uri = format!("{root_uri}/main.py");
    client.open(&uri, "python", "from util import helper\n\nvalue = helper(").unwrap();
    client.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}})).unwrap();
    let answer = inline(&mut client, &uri, 2, 15);
    assert!(answer["items"].is_array(), "{answer}");
    assert!(client.status().unwrap()["n_indexed_files"].as_u64().unwrap() >= 3);
    shut_down(client);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_client_that_asks_gets_the_status_pushed_when_it_changes_and_only_then() {
    let is_status = |m: &Value| m["method"] == "nib/statusChanged";
    let mut client = ready(&model_path(), json!({"statusChanged": true, "completion": {"prefetch": false}}));
    // The first push comes at once; then one whenever something changes, none while nothing does.
    let first = client.wait_for("the first status", is_status).unwrap();
    assert_eq!(first["params"]["version"], env!("CARGO_PKG_VERSION"), "{first}");
    client.open(URI, "python", SAMPLE).unwrap();
    let opened = client.wait_for("the status after didOpen", |m| is_status(m) && m["params"]["n_open_documents"] == 1);
    let opened = opened.unwrap();
    assert_eq!(opened["params"], client.status().unwrap(), "the push is nib/status's answer");
    let result = inline(&mut client, URI, LINE, COL);
    let completed = |m: &Value| is_status(m) && m["params"]["engine"]["n_completed"].as_u64() >= Some(1);
    client.wait_for("the status after a completion", completed).unwrap();
    client.drain();
    std::thread::sleep(Duration::from_millis(1500));
    let idle: Vec<Value> = client.drain().into_iter().filter(is_status).collect();
    assert!(idle.is_empty(), "pushed while nothing changed (after {result}): {idle:?}");
    shut_down(client);

    // A client that did not ask gets none.
    let mut client = ready(&model_path(), json!({}));
    client.open(URI, "python", SAMPLE).unwrap();
    client.status().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(!client.drain().iter().any(is_status), "pushed to a client that did not ask");
    shut_down(client);
}
