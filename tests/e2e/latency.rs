//! The cache tiers, end to end on the real model: KV shift, snapshots on disk,
//! stale requests, and the deadline.

use std::path::Path;

use nib_bench::lsp_client::{LspClient, inline_params};
use serde_json::{Value, json};

use crate::support::{fresh_home, init, init_with, model_path, serve_at, shut_down};

const URI: &str = "file:///work/numbers.py";
const SAMPLE: &str = include_str!("../fixtures/sample.py");
const SAMPLE_URI: &str = "file:///work/sample.py";

/// A file whose continuation is all but certain: `v_1 = 1`, `v_2 = 2`, ...
fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("v_{i} = {i}\n")).collect()
}

fn complete_at_end(client: &mut LspClient, uri: &str, text: &str) -> (String, Value) {
    let line = text.lines().count() as u32;
    let result = client.call("textDocument/inlineCompletion", inline_params(uri, line, 0)).unwrap();
    let text = result["items"][0]["insertText"].as_str().unwrap_or_default().to_owned();
    (text, client.status().unwrap()["engine"]["last"].clone())
}

fn delete_lines(client: &mut LspClient, version: i32, from: u32, to: u32) {
    let range = json!({"start": {"line": from, "character": 0}, "end": {"line": to, "character": 0}});
    let params =
        json!({"textDocument": {"uri": URI, "version": version}, "contentChanges": [{"range": range, "text": ""}]});
    client.notify("textDocument/didChange", params).unwrap();
}

fn started(home: &Path) -> LspClient {
    let mut client = serve_at(&model_path(), home);
    init(&mut client, json!({}));
    client
}

#[test]
fn a_shifted_cache_predicts_what_a_cold_one_does() {
    let text = numbered(60);
    let mut client = started(&fresh_home());
    client.open(URI, "python", &text).unwrap();
    complete_at_end(&mut client, URI, &text);
    // Delete lines 10..20: the text after them moves down in the cache instead of being evaluated.
    delete_lines(&mut client, 2, 10, 20);
    let edited: String =
        text.lines().enumerate().filter(|(i, _)| !(10..20).contains(i)).map(|(_, l)| format!("{l}\n")).collect();
    let (shifted, stats) = complete_at_end(&mut client, URI, &edited);
    assert_eq!(stats["cache"], "shift", "{stats}");
    assert!(stats["n_evaluated_tokens"].as_u64().unwrap() < 10, "{stats}");
    shut_down(client);

    let mut cold = started(&fresh_home());
    cold.open(URI, "python", &edited).unwrap();
    let (expected, stats) = complete_at_end(&mut cold, URI, &edited);
    assert_eq!(stats["cache"], "cold", "{stats}");
    assert!(!expected.is_empty());
    assert_eq!(shifted, expected, "the shifted cache and a cold evaluation disagree");
    shut_down(cold);
}

#[test]
fn snapshots_survive_a_restart_and_damaged_ones_are_refused() {
    let home = fresh_home();
    // The first server evaluates the file; `shutdown` saves its sequence to disk.
    let mut client = started(&home);
    client.open(SAMPLE_URI, "python", SAMPLE).unwrap();
    let cold = client.call("textDocument/inlineCompletion", inline_params(SAMPLE_URI, 23, 15)).unwrap();
    shut_down(client);
    let snapshots = home.join("snapshots");
    let file = std::fs::read_dir(&snapshots)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "snap"))
        .expect("a snapshot on disk after shutdown");
    let pristine = std::fs::read(&file).unwrap();

    // Restored on the next start: the same answer, with next to nothing evaluated.
    let mut client = started(&home);
    client.open(SAMPLE_URI, "python", SAMPLE).unwrap();
    let warm = client.call("textDocument/inlineCompletion", inline_params(SAMPLE_URI, 23, 15)).unwrap();
    let stats = client.status().unwrap()["engine"]["last"].clone();
    assert_eq!(stats["cache"], "snapshot", "{stats}");
    assert!(stats["n_evaluated_tokens"].as_u64().unwrap() <= 1, "{stats}");
    assert_eq!(warm, cold);
    shut_down(client);

    let header_end = pristine.iter().position(|&b| b == b'\n').unwrap();
    type Damage = fn(file: &mut Vec<u8>, header_end: usize);
    let damages: [(&str, Damage); 3] = [
        ("truncated", |file, _| file.truncate(file.len() / 2)),
        ("flipped", |file, header_end| {
            let mid = header_end + (file.len() - header_end) / 2;
            file[mid] ^= 0xff;
        }),
        ("another model", |file, header_end| {
            let mut h: Value = serde_json::from_slice(&file[..header_end]).unwrap();
            h["model_id"] = json!("0000000000000000");
            file.splice(..header_end, serde_json::to_vec(&h).unwrap());
        }),
    ];
    for (what, damage) in damages {
        let mut damaged = pristine.clone();
        damage(&mut damaged, header_end);
        std::fs::write(&file, damaged).unwrap();
        let mut client = started(&home);
        client.open(SAMPLE_URI, "python", SAMPLE).unwrap();
        let answer = client.call("textDocument/inlineCompletion", inline_params(SAMPLE_URI, 23, 15)).unwrap();
        let stats = client.status().unwrap()["engine"]["last"].clone();
        assert_eq!(stats["cache"], "cold", "{what}: {stats}");
        assert_eq!(answer, cold, "{what}");
        assert!(!file.exists() || std::fs::read(&file).unwrap() != pristine, "{what}");
        shut_down(client);
    }
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn a_stale_request_never_reaches_the_model() {
    let mut client = serve_at(&model_path(), &fresh_home());
    // Few tokens: the busy job must outlast the queueing below, not a slow CI machine's patience.
    let options = json!({"completion": {"deadline_ms": 600_000, "partial_after_ms": 0, "prefetch": false, "max_tokens": 16,
            "short_window_ms": 0}});
    init_with(&mut client, json!({}), options);
    let big = numbered(100);
    client.open(URI, "python", &big).unwrap();
    client.open(SAMPLE_URI, "python", SAMPLE).unwrap();
    // Keep the engine busy with a cold prompt (one job: no short window first), queue a request behind it, then edit
    // its document.
    let busy = client.request("textDocument/inlineCompletion", inline_params(URI, 100, 0)).unwrap();
    while client.status().unwrap()["engine"]["n_jobs"] == 0 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let stale = client.request("textDocument/inlineCompletion", inline_params(SAMPLE_URI, 23, 15)).unwrap();
    client.insert(SAMPLE_URI, 2, 0, 0, "# edited\n").unwrap();
    let answer = client.response(stale).unwrap();
    assert_eq!(answer["result"], json!({"items": []}), "{answer}");
    client.response(busy).unwrap();
    let engine = client.status().unwrap()["engine"].clone();
    // Only the busy job reached the model: the stale one was dropped, at the engine or before it.
    let reached = engine["n_jobs"].as_u64().zip(engine["n_dropped"].as_u64()).map(|(jobs, dropped)| jobs - dropped);
    assert_eq!(reached, Some(1), "{engine}\n{}", client.stderr());
    assert_eq!(engine["n_completed"], 1, "{engine}");
    shut_down(client);
}

#[test]
fn past_its_deadline_a_request_answers_and_finishes_into_the_cache() {
    let mut client = serve_at(&model_path(), &fresh_home());
    init_with(&mut client, json!({}), json!({"completion": {"deadline_ms": 1, "prefetch": false}}));
    client.open(SAMPLE_URI, "python", SAMPLE).unwrap();
    // Time the request only, not the model's loading.
    crate::support::wait_ready(&mut client);
    let started = std::time::Instant::now();
    client.call("textDocument/inlineCompletion", inline_params(SAMPLE_URI, 23, 15)).unwrap();
    assert!(started.elapsed().as_millis() < 500, "the deadline did not cut the request short");
    // The same request again, once the background generation has finished, comes from the cache.
    // Up to two minutes: the editor tests' browsers and editors may share the two cores meanwhile.
    let mut cached = Value::Null;
    for _ in 0..1200 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let answer = client.call("textDocument/inlineCompletion", inline_params(SAMPLE_URI, 23, 15)).unwrap();
        if client.status().unwrap()["engine"]["last"]["cache"] == "completion" {
            cached = answer;
            break;
        }
    }
    assert!(!cached["items"][0]["insertText"].as_str().unwrap_or_default().is_empty(), "{cached}");
    shut_down(client);
}
