//! The moments a user first meets nib, end to end on the real model and a real file of several hundred
//! lines: an explicit request on a cold prompt, a short window answering first and typing while the whole
//! window is evaluated, the cursor resting, a file opened again, and the tokens a FIM template evaluates per
//! keystroke.

use std::time::{Duration, Instant};

use nib_bench::lsp_client::inline_params;
use serde_json::{Value, json};

use crate::support::{
    fim_model_path, fresh_home, init_with, model_path, ready, serve_at, shut_down, stdlib_file, textwrap_with,
    wait_ready,
};

const URI: &str = "file:///work/textwrap.py";

/// textwrap.py (~490 lines) with the rest of a line ~340 lines down blanked: a prompt of ~1,500 tokens.
/// Returns the text and the cursor (0-based line, column).
fn cold_file() -> (String, u32, u32) {
    let (text, line) = textwrap_with("        return ");
    (text, line, 15)
}

fn explicit(uri: &str, line: u32, character: u32) -> Value {
    let mut params = inline_params(uri, line, character);
    params["context"]["triggerKind"] = json!(1);
    params
}

fn insert_text(result: &Value) -> &str {
    result["items"][0]["insertText"].as_str().unwrap_or_default()
}

#[test]
fn an_explicit_request_on_a_cold_prompt_answers_with_a_suggestion() {
    // The default deadline; a long cap on the explicit request, for a slow machine.
    let mut client = ready(&model_path(), json!({"completion": {"invoked_timeout_ms": 600_000}}));
    let (text, line, col) = cold_file();
    client.open(URI, "python", &text).unwrap();
    let result = client.call("textDocument/inlineCompletion", explicit(URI, line, col)).unwrap();
    let engine = client.status().unwrap()["engine"].clone();
    assert!(!insert_text(&result).is_empty(), "an explicit request answered empty: {result}\n{engine}");
    assert!(engine["last"]["n_prompt_tokens"].as_u64() > Some(1200), "not a cold prompt of real size: {engine}");
    assert_eq!(engine["n_deadline_answers"], 0, "{engine}");
    shut_down(client);
}

#[test]
fn a_cold_place_answers_from_a_short_window_and_the_whole_window_replaces_it_without_holding_typing_back() {
    // No deadline to race: what is measured is which window answered, and typing's waits.
    let mut client = ready(&model_path(), json!({"completion": {"prefetch": false, "deadline_ms": 600_000}}));
    let (text, line, col) = cold_file();
    client.open(URI, "python", &text).unwrap();
    // The first automatic request at a cold place answers from a short window: 256 tokens before a prompt rate
    // is measured, on a KV sequence of its own.
    let result = client.call("textDocument/inlineCompletion", inline_params(URI, line, col)).unwrap();
    let status = client.status().unwrap();
    let last = &status["engine"]["last"];
    assert!(!insert_text(&result).is_empty(), "the short window answered empty: {result}\n{last}");
    assert!(last["n_prompt_tokens"].as_u64() <= Some(256), "not the short window: {last}");
    let short = insert_text(&result).to_owned();

    // Typing while the whole window is evaluated behind it: each keystroke is answered from the short window,
    // the whole window's evaluation yielding to it at its next step.
    let mut slowest = Duration::ZERO;
    let mut col = col;
    for (i, c) in "self._".chars().enumerate() {
        client.insert(URI, 2 + i as i32, line, col, &c.to_string()).unwrap();
        col += 1;
        let asked = Instant::now();
        client.call("textDocument/inlineCompletion", inline_params(URI, line, col)).unwrap();
        slowest = slowest.max(asked.elapsed());
        let last = client.status().unwrap()["engine"]["last"].clone();
        assert!(last["n_prompt_tokens"].as_u64() <= Some(320), "a keystroke waited for the whole window: {last}");
    }
    // One step of the whole window's evaluation and a short generation: nowhere near its seconds.
    assert!(slowest < Duration::from_millis(2000), "a keystroke waited {slowest:?}");

    // The client stopped typing: once the whole window's suggestion is in the cache nib says so, and asking
    // again gets it.
    let ready = client.wait_for("nib/suggestionReady", |m| m["method"] == "nib/suggestionReady").unwrap();
    let params = &ready["params"];
    assert_eq!(params["textDocument"]["uri"], URI, "{ready}");
    assert_eq!(params["textDocument"]["version"], 7, "{ready}");
    assert_eq!(params["position"], json!({"line": line, "character": col}), "{ready}");
    let result = client.call("textDocument/inlineCompletion", inline_params(URI, line, col)).unwrap();
    let last = client.status().unwrap()["engine"]["last"].clone();
    assert!(!insert_text(&result).is_empty(), "{result}");
    assert_eq!(last["cache"], "completion", "the suggestion was not ready in the cache: {last}");
    assert!(last["n_prompt_tokens"].as_u64() > Some(1200), "not the whole window: {last} (short: {short:?})");
    shut_down(client);
}

#[test]
fn a_resting_cursor_gets_its_prompt_evaluated_ahead() {
    // The suggestion shown whatever the model's confidence: what is checked is where it came from.
    let mut client = ready(&model_path(), json!({"completion": {"prefetch": false, "min_confidence": 0.0}}));
    let (text, line, col) = cold_file();
    client.open(URI, "python", &text).unwrap();
    let at = json!({"textDocument": {"uri": URI, "version": 1}, "position": {"line": line, "character": col}});
    client.notify("nib/cursorRest", at).unwrap();
    // Up to two minutes: the editor tests may share the two cores meanwhile.
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.status().unwrap()["engine"]["n_completed"] == 0 {
        assert!(Instant::now() < deadline, "the resting cursor's prompt was never evaluated");
        std::thread::sleep(Duration::from_millis(50));
    }
    let result = client.call("textDocument/inlineCompletion", inline_params(URI, line, col)).unwrap();
    let last = client.status().unwrap()["engine"]["last"].clone();
    assert!(!insert_text(&result).is_empty(), "{result}");
    assert_eq!(last["cache"], "completion", "{last}");
    shut_down(client);
}

#[test]
fn a_file_opened_again_is_warmed_where_it_was_last_edited() {
    let home = fresh_home();
    let start = |home| {
        let mut client = serve_at(&model_path(), home);
        init_with(&mut client, json!({}), json!({"completion": {"prefetch": false}}));
        wait_ready(&mut client);
        client
    };
    // A first run: an edit at a cold place ~340 lines down, then the file closes and the server ends.
    let (text, line, col) = cold_file();
    let mut client = start(&home);
    client.open(URI, "python", &text).unwrap();
    client.insert(URI, 2, line, col, "s").unwrap();
    client.notify("textDocument/didClose", json!({"textDocument": {"uri": URI}})).unwrap();
    shut_down(client);
    let saved = std::fs::read_to_string(home.join("snapshots/last-edits.json")).expect("the last edits were saved");
    assert!(saved.contains(URI), "{saved}");

    // The next run: opening the file warms that place, with no request and no cursor resting there.
    let (text, _) = textwrap_with("        return s");
    let mut client = start(&home);
    client.open(URI, "python", &text).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.status().unwrap()["engine"]["n_completed"] == 0 {
        assert!(Instant::now() < deadline, "the place of the last edit was never evaluated");
        std::thread::sleep(Duration::from_millis(50));
    }
    let result = client.call("textDocument/inlineCompletion", explicit(URI, line, col + 1)).unwrap();
    let last = client.status().unwrap()["engine"]["last"].clone();
    assert!(!insert_text(&result).is_empty(), "{result}");
    assert_eq!(last["cache"], "completion", "the suggestion there was not computed ahead: {last}");
    shut_down(client);
}

/// Prompt tokens evaluated for each of `n` keystrokes typed at the end of a line (after an explicit request
/// there), with the FIM-declaring model and `template`.
fn evaluated_per_keystroke(template: &str, n: usize) -> Vec<u64> {
    let options = json!({"completion": {"template": template, "prefetch": false, "deadline_ms": 600_000,
        "invoked_timeout_ms": 600_000, "max_tokens": 4}});
    let mut client = ready(&fim_model_path(), options);
    let (text, line, mut col) = cold_file();
    client.open(URI, "python", &text).unwrap();
    client.call("textDocument/inlineCompletion", explicit(URI, line, col)).unwrap();
    let mut evaluated = Vec::new();
    // Letters the meaningless model is unlikely to have suggested, so each one reaches the model.
    for (i, c) in "zqxjzqxjzqxj".chars().take(n).enumerate() {
        client.insert(URI, 2 + i as i32, line, col, &c.to_string()).unwrap();
        col += 1;
        client.call("textDocument/inlineCompletion", inline_params(URI, line, col)).unwrap();
        let last = client.status().unwrap()["engine"]["last"].clone();
        assert!(last["n_prompt_tokens"].as_u64() > Some(1000) && last["cache"] != "completion", "{last}");
        evaluated.push(last["n_evaluated_tokens"].as_u64().unwrap_or(u64::MAX));
    }
    shut_down(client);
    evaluated
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

#[test]
fn typing_with_a_prefix_suffix_middle_template_evaluates_a_short_suffix() {
    let evaluated = evaluated_per_keystroke("psm", 6);
    assert!(median(evaluated.clone()) <= 32, "prompt tokens evaluated per keystroke: {evaluated:?}");
}

#[test]
fn typing_with_a_suffix_first_template_evaluates_only_the_end() {
    // llama.cpp's suffix-first order, and the one Code Llama (like StarCoder) was trained with.
    for template in ["spm", "codellama"] {
        let evaluated = evaluated_per_keystroke(template, 6);
        assert!(median(evaluated.clone()) <= 4, "{template}: prompt tokens evaluated per keystroke: {evaluated:?}");
    }
}

#[test]
fn a_jump_up_within_the_window_finds_its_prompt_in_the_kv_cache() {
    // Each answer waits for its whole suggestion, so that the engine's last job is the jump's.
    let options = json!({"completion": {"prefetch": false, "deadline_ms": 600_000, "invoked_timeout_ms": 600_000,
        "partial_after_ms": 0}});
    let mut client = ready(&model_path(), options);
    let (text, line, col) = cold_file();
    client.open(URI, "python", &text).unwrap();
    client.call("textDocument/inlineCompletion", explicit(URI, line, col)).unwrap();
    // The user jumps 30 lines up and types there.
    client.call("textDocument/inlineCompletion", inline_params(URI, line - 30, 0)).unwrap();
    let last = client.status().unwrap()["engine"]["last"].clone();
    assert!(last["n_prompt_tokens"].as_u64() > Some(600), "the window lost its context: {last}");
    assert!(last["n_evaluated_tokens"].as_u64() <= Some(4), "the jump evaluated its prompt again: {last}");
    shut_down(client);
}

#[test]
fn a_block_suggestion_shows_its_start_at_once_and_the_rest_follows() {
    // The body of `_fix_sentence_endings` blanked to one indented line: the model writes a block there.
    let text = stdlib_file("textwrap.py");
    let lines: Vec<&str> = text.lines().collect();
    let def = lines.iter().position(|l| l.starts_with("    def _fix_sentence_endings")).expect("textwrap.py");
    let body = def + 8;
    let next = lines.iter().position(|l| l.starts_with("    def _handle_long_word")).expect("textwrap.py");
    let text = [&lines[..body], &["        "], &lines[next - 1..]].concat().join("\n") + "\n";
    // Whatever is written answers at once, however unsure the model was of it.
    // One window: the start and the rest of one suggestion, not a short window's then the whole one's.
    let options = json!({"completion": {"prefetch": false, "partial_after_ms": 1, "deadline_ms": 600_000,
        "short_window_ms": 0, "min_confidence": 0.0}});
    let mut client = ready(&model_path(), options);
    client.open(URI, "python", &text).unwrap();
    let at = inline_params(URI, body as u32, 8);
    let first = insert_text(&client.call("textDocument/inlineCompletion", at.clone()).unwrap()).to_owned();
    client.wait_for("nib/suggestionReady", |m| m["method"] == "nib/suggestionReady").unwrap();
    let whole = insert_text(&client.call("textDocument/inlineCompletion", at).unwrap()).to_owned();
    assert!(!first.trim().is_empty(), "answered empty");
    assert!(
        whole.starts_with(&first) && whole.lines().count() > first.lines().count(),
        "first {first:?}, then {whole:?}"
    );
    shut_down(client);
}
