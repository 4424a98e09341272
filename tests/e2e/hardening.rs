//! What a long-running server must survive: edits racing a generation, big and minified files.

use std::time::{Duration, Instant};

use nib_bench::lsp_client::{LspClient, inline_params};
use serde_json::{Value, json};

use crate::support::{fresh_home, init_with, model_path, ready, serve_at, shut_down, stdlib_file};

const URI: &str = "file:///work/calendar.py";

#[test]
fn an_edit_during_generation_answers_empty_not_text_for_the_old_document() {
    // Long blocks, so the edit lands while the model is still writing.
    let mut client =
        ready(&model_path(), json!({"completion": {"max_tokens": 256, "max_lines": 40, "prefetch": false}}));
    let text = stdlib_file("calendar.py");
    client.open(URI, "python", &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("class TextCalendar")).unwrap() as u32 + 1;
    let mut raced = 0;
    for (attempt, col) in [4u32, 8, 0].into_iter().enumerate() {
        let mut params = inline_params(URI, line, col);
        params["context"]["triggerKind"] = json!(1);
        params["partialResultToken"] = json!(format!("p{attempt}"));
        let id = client.request("textDocument/inlineCompletion", params).unwrap();
        let token = json!(format!("p{attempt}"));
        let first = client
            .wait_for("a partial result or the answer", |m| {
                (m["method"] == "$/progress" && m["params"]["token"] == token) || m["id"] == id
            })
            .unwrap();
        if first["id"] == id {
            continue; // Answered before any edit could race it.
        }
        // An edit far above the cursor: the document the text was written for is gone.
        client.insert(URI, 2 + raced, 0, 0, "#").unwrap();
        let response = client.response(id).unwrap();
        raced += 1;
        assert_eq!(response["result"]["items"], json!([]), "a superseded request answered text: {response}");
    }
    assert!(raced > 0, "no request was still generating when its edit came");
    // The server is fine, and the next request, for the document as it is, gets a suggestion.
    let mut params = inline_params(URI, line + 3, 4);
    params["context"]["triggerKind"] = json!(1);
    let result = client.call("textDocument/inlineCompletion", params).unwrap();
    assert!(result["items"].is_array(), "{result}");
    shut_down(client);
}

/// An explicit request on a real file, so that a memory baseline holds what any session holds.
fn warm_up(client: &mut LspClient) {
    let text = stdlib_file("calendar.py");
    client.open(URI, "python", &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("class TextCalendar")).unwrap() as u32 + 1;
    let mut explicit = inline_params(URI, line, 4);
    explicit["context"]["triggerKind"] = json!(1);
    client.call("textDocument/inlineCompletion", explicit).unwrap();
}

#[test]
fn a_two_megabyte_minified_file_costs_little_memory_and_answers_in_time() {
    let mut client = ready(&model_path(), json!({}));
    warm_up(&mut client);
    let before = client.rss_bytes().unwrap();

    let bundle = nib_bench::soak::minified_bundle(0);
    let uri = "file:///work/dist/app.js";
    client.open(uri, "javascript", &bundle).unwrap();
    let middle = (bundle.len() / 2) as u32;
    let mut slowest = Duration::ZERO;
    for (i, typed) in ["v", "a", "r", " ", "x"].iter().enumerate() {
        client.insert(uri, 2 + i as i32, 0, middle + i as u32, typed).unwrap();
        let asked = Instant::now();
        let result =
            client.call("textDocument/inlineCompletion", inline_params(uri, 0, middle + 1 + i as u32)).unwrap();
        slowest = slowest.max(asked.elapsed());
        assert!(result["items"].is_array(), "{result}");
    }
    client.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}})).unwrap();
    let status = client.status().unwrap();
    let after = client.rss_bytes().unwrap();
    let grown = after.saturating_sub(before) as f64 / 1e6;
    eprintln!(
        "rss {:.0} MB -> {:.0} MB (+{grown:.1} MB); slowest keystroke {slowest:?}",
        before as f64 / 1e6,
        after as f64 / 1e6
    );
    assert!(grown < 50.0, "a 2 MB file took {grown:.1} MB: {status}");
    // The default deadline is 4 s; the answer must not wait on parsing or tokenizing the whole line.
    assert!(slowest < Duration::from_secs(6), "a keystroke in the bundle waited {slowest:?}");
    let doc = client.call("nib/document", json!({"uri": uri})).unwrap();
    assert_eq!((&doc["syntax"], &doc["generated"]), (&Value::Null, &json!(true)), "a minified file was parsed");
    shut_down(client);
}

/// A 20 MB file (refused: over the size limit), a binary one and a 2 MB single line, opened and closed: the
/// memory they took goes back to the system (glibc kept ~90 MiB of it before the server trimmed its heap).
#[test]
fn big_documents_give_their_memory_back_when_they_close() {
    let mut client = ready(&model_path(), json!({"completion": {"prefetch": false}}));
    warm_up(&mut client);
    std::thread::sleep(Duration::from_secs(1));
    let before = client.rss_bytes().unwrap();

    let big: String = (0..).map(|i| format!("value_{i} = compute({i}, 'a string')\n")).take(600_000).collect();
    // Bytes of every kind, as a binary file opened by mistake reads: NULs, controls, stray high characters.
    let binary: String = (0..3_000_000u32).map(|i| char::from_u32((i * 7919) % 0x800).unwrap_or('\u{fffd}')).collect();
    let bundle = nib_bench::soak::minified_bundle(0);
    assert!(big.len() > 20_000_000, "{}", big.len());
    for (uri, language, text) in [
        ("file:///work/big.py", "python", &big),
        ("file:///work/blob.bin", "plaintext", &binary),
        ("file:///work/dist/app.js", "javascript", &bundle),
    ] {
        client.open(uri, language, text).unwrap();
        client.status().unwrap();
        client.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}})).unwrap();
        client.status().unwrap();
    }
    // The server trims its heap half a second after a big document goes.
    std::thread::sleep(Duration::from_secs(2));
    let after = client.rss_bytes().unwrap();
    let kept = after.saturating_sub(before) as f64 / (1 << 20) as f64;
    eprintln!("rss {} MiB -> {} MiB after big documents opened and closed", before >> 20, after >> 20);
    assert!(kept <= 20.0, "{kept:.1} MiB kept after the big documents closed");
    shut_down(client);
}

/// Typing on a 2 MB minified line, after the cursor rested there (as editors say): every keystroke reuses the
/// prompt evaluated before it, as on any other line, so nothing answers at the deadline or empty while the
/// prompt is evaluated again. The window of a line that long is cut by characters at fixed places: cut by tokens
/// from the cursor, it moved at every keystroke and each was a cold prompt.
#[test]
fn typing_on_a_minified_line_answers_like_any_other_line() {
    let mut client = ready(&model_path(), json!({"completion": {"prefetch": false}}));
    let bundle = nib_bench::soak::minified_bundle(0);
    let uri = "file:///work/dist/app.js";
    client.open(uri, "javascript", &bundle).unwrap();
    let middle = (bundle.len() / 2) as u32;
    let at = json!({"textDocument": {"uri": uri, "version": 1}, "position": {"line": 0, "character": middle}});
    client.notify("nib/cursorRest", at).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.status().unwrap()["engine"]["n_completed"] == 0 {
        assert!(Instant::now() < deadline, "the resting cursor's prompt was never evaluated");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut suggestions = Vec::new();
    for (i, typed) in ["v", "a", "r", " ", "x"].iter().enumerate() {
        client.insert(uri, 2 + i as i32, 0, middle + i as u32, typed).unwrap();
        let result =
            client.call("textDocument/inlineCompletion", inline_params(uri, 0, middle + 1 + i as u32)).unwrap();
        let items = result["items"].as_array().cloned().unwrap_or_default();
        suggestions.push(items.first().map(|item| item["insertText"].clone()).unwrap_or(Value::Null));
    }
    let status = client.status().unwrap();
    let engine = &status["engine"];
    assert_eq!(engine["n_deadline_answers"], 0, "a keystroke waited for the deadline: {status}");
    assert_eq!(engine["n_evaluating_answers"], 0, "a keystroke found its prompt evaluating again: {status}");
    assert!(
        suggestions.iter().any(|s| s.as_str().is_some_and(|s| !s.is_empty())),
        "every keystroke answered empty: {suggestions:?} {status}"
    );
    shut_down(client);
}

#[test]
fn a_shutdown_while_the_engine_is_busy_is_orderly_and_saves_the_sequence() {
    let home = fresh_home();
    let mut client = serve_at(&model_path(), &home);
    init_with(&mut client, json!({}), json!({}));
    let text = stdlib_file("calendar.py");
    client.open(URI, "python", &text).unwrap();
    let line = text.lines().count() as u32 - 2;
    let mut explicit = inline_params(URI, line, 0);
    explicit["context"]["triggerKind"] = json!(1);
    let busy = client.request("textDocument/inlineCompletion", explicit).unwrap();
    // Well into the cold prompt's evaluation (several thousand tokens: many seconds on two cores).
    while client.status().unwrap()["engine"]["n_jobs"] == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let asked = Instant::now();
    let _ = busy; // Answered or not: the client is going away.
    shut_down(client);
    let took = asked.elapsed();
    let saved: Vec<_> = std::fs::read_dir(home.join("snapshots")).unwrap().filter_map(Result::ok).collect();
    assert!(saved.iter().any(|e| e.path().extension().is_some_and(|x| x == "snap")), "nothing saved: {saved:?}");
    // The busy job stops within a step, the sequence is written, the engine frees llama.cpp, the process exits.
    assert!(took < Duration::from_secs(10), "shutting down took {took:?}");
}

#[test]
fn a_minute_of_soak_answers_every_request_without_errors() {
    let json = std::env::temp_dir().join(format!("nib-soak-test-{}.json", std::process::id()));
    let output = crate::support::nib()
        .args(["bench", "soak", "--minutes", "1", "--json"])
        .arg(&json)
        .arg("--model")
        .arg(model_path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let minutes: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    let minute = &minutes[0];
    assert!(minute["n_requests"].as_u64() > Some(50), "{stdout}");
    assert_eq!(minute["n_errors"], 0, "{stdout}");
    assert!(minute["n_requests"].as_u64() > minute["n_empty"].as_u64(), "every answer empty: {stdout}");
}

#[test]
fn two_servers_with_different_models_share_a_home_without_losing_snapshots() {
    let home = fresh_home();
    let text = stdlib_file("textwrap.py");
    let line = text.lines().count() as u32 - 1;
    let explicit = || {
        let mut params = inline_params(URI, line, 0);
        params["context"]["triggerKind"] = json!(1);
        params
    };
    // Side by side, as the Neovim plugin runs one server per project root. One KV sequence each: no short window
    // first (it has a sequence of its own).
    let mut first = serve_at(&model_path(), &home);
    let mut second = serve_at(&crate::support::fim_model_path(), &home);
    for client in [&mut first, &mut second] {
        init_with(client, json!({}), json!({"completion": {"short_window_ms": 0}}));
        client.open(URI, "python", &text).unwrap();
    }
    let answered = first.call("textDocument/inlineCompletion", explicit()).unwrap();
    second.call("textDocument/inlineCompletion", explicit()).unwrap();
    shut_down(first);
    shut_down(second);
    let files: Vec<_> = std::fs::read_dir(home.join("snapshots")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 2, "one snapshot per model, nothing else: {files:?}");

    // The first model's sequence is still there for it: restored, not evaluated again.
    let mut again = serve_at(&model_path(), &home);
    init_with(&mut again, json!({}), json!({"completion": {"short_window_ms": 0}}));
    again.open(URI, "python", &text).unwrap();
    let restored = again.call("textDocument/inlineCompletion", explicit()).unwrap();
    let last = again.status().unwrap()["engine"]["last"].clone();
    assert_eq!(last["cache"], "snapshot", "{last}");
    assert_eq!(restored, answered);
    shut_down(again);
}
