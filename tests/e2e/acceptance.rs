//! Acceptance figures end to end: `nib serve` on the real model infers from the edits that follow a suggestion
//! that it was accepted whole, a word of it, or accepted and undone, and `nib/status` counts it.

use nib_bench::lsp_client::{LspClient, inline_params};
use serde_json::{Value, json};

use crate::support::{fresh_home, init, init_with, model_path, serve, serve_at, shut_down, textwrap_with};

/// `textwrap.py` with one `return` statement cut after `self.`, and where the cursor goes.
fn real_file() -> (String, u32, u32) {
    let (text, line) = textwrap_with("        return self.");
    (text, line, 20)
}

/// The suggestion an explicit request gets in `uri` at the cursor.
fn suggestion(client: &mut LspClient, uri: &str, line: u32, col: u32) -> String {
    suggested_item(client, uri, line, col)["insertText"].as_str().unwrap_or_default().to_owned()
}

/// The inline completion item an explicit request gets in `uri` at the cursor.
fn suggested_item(client: &mut LspClient, uri: &str, line: u32, col: u32) -> Value {
    let mut params = inline_params(uri, line, col);
    params["context"]["triggerKind"] = json!(1);
    let result = client.call("textDocument/inlineCompletion", params).unwrap();
    let item = result["items"][0].clone();
    assert!(item["insertText"].as_str().is_some_and(|t| !t.is_empty()), "an explicit request answered empty: {result}");
    item
}

/// Where `text` inserted at (`line`, `col`) ends, in UTF-16 columns.
fn end_of(line: u32, col: u32, text: &str) -> (u32, u32) {
    let n_breaks = text.matches('\n').count() as u32;
    let last = text.rsplit('\n').next().unwrap_or_default();
    let n_units = last.encode_utf16().count() as u32;
    if n_breaks == 0 { (line, col + n_units) } else { (line + n_breaks, n_units) }
}

fn acceptance(client: &mut LspClient) -> Value {
    client.status().unwrap()["acceptance"].clone()
}

#[test]
fn accepted_whole_a_word_and_undone_suggestions_are_counted_per_language_and_kind() {
    let mut client = serve(&model_path());
    init(&mut client, json!({}));
    let (text, line, col) = real_file();

    // Accepted whole: the editor inserts the suggestion in one edit.
    let whole = "file:///work/whole.py";
    client.open(whole, "python", &text).unwrap();
    let item = suggested_item(&mut client, whole, line, col);
    let first = item["insertText"].as_str().unwrap_or_default().to_owned();
    let kind = |s: &str| if s.contains('\n') { "invoked_block" } else { "invoked_line" };
    client.insert(whole, 2, line, col, &first).unwrap();
    // The editor then runs the item's command, as VS Code does: the acceptance is not counted twice.
    let command = &item["command"];
    assert_eq!(command["command"], "nib.acceptedSuggestion", "{item}");
    let run = json!({"command": command["command"], "arguments": command["arguments"]});
    client.call("workspace/executeCommand", run).unwrap();
    let figures = acceptance(&mut client);
    let python = &figures["by_language"]["python"];
    assert_eq!((python["shown"].as_u64(), python["accepted_whole"].as_u64()), (Some(1), Some(1)), "{figures}");
    assert_eq!(python["chars_accepted"].as_u64(), Some(first.chars().count() as u64), "{figures}");
    assert_eq!(figures["by_kind"][kind(&first)]["accepted_whole"], 1, "{figures}");
    assert_eq!(figures["total"]["acceptance_rate"], 1.0, "{figures}");

    // Its first word: an editor's "accept next word".
    let word = "file:///work/word.py";
    client.open(word, "python", &text).unwrap();
    let second = suggestion(&mut client, word, line, col);
    let n_word = second.chars().take_while(|c| c.is_alphanumeric() || *c == '_').count();
    assert!(n_word >= 2 && n_word < second.chars().count(), "no first word to accept in {second:?}");
    let first_word: String = second.chars().take(n_word).collect();
    client.insert(word, 2, line, col, &first_word).unwrap();

    // Accepted, then undone: the editor deletes what it inserted.
    let undone = "file:///work/undone.py";
    client.open(undone, "python", &text).unwrap();
    let third = suggestion(&mut client, undone, line, col);
    client.insert(undone, 2, line, col, &third).unwrap();
    let (end_line, end_col) = end_of(line, col, &third);
    let range = json!({"start": {"line": line, "character": col}, "end": {"line": end_line, "character": end_col}});
    let change =
        json!({"textDocument": {"uri": undone, "version": 3}, "contentChanges": [{"range": range, "text": ""}]});
    client.notify("textDocument/didChange", change).unwrap();

    let figures = acceptance(&mut client);
    let python = &figures["by_language"]["python"];
    let counts = ["shown", "accepted_whole", "accepted_word", "accepted_line", "reversals"].map(|k| python[k].as_u64());
    assert_eq!(counts, [Some(3), Some(2), Some(1), Some(0), Some(1)], "{figures}");
    let chars = (first.chars().count() + n_word + third.chars().count()) as u64;
    assert_eq!(python["chars_accepted"].as_u64(), Some(chars), "{figures}");
    // The undone text was judged at once: nothing of it retained.
    assert_eq!(python["chars_retained_30s"], 0, "{figures}");
    assert_eq!(figures["by_kind"][kind(&third)]["reversals"], 1, "{figures}");
    shut_down(client);
}

#[test]
fn kept_figures_are_saved_at_shutdown_in_nib_home_and_counted_by_the_next_run() {
    let home = fresh_home();
    let options = json!({"completion": {"deadline_ms": 600_000, "partial_after_ms": 0, "keep_acceptance": true}});
    let mut client = serve_at(&model_path(), &home);
    init_with(&mut client, json!({}), options.clone());
    let (text, line, col) = real_file();
    let uri = "file:///work/kept.py";
    client.open(uri, "python", &text).unwrap();
    let accepted = suggestion(&mut client, uri, line, col);
    client.insert(uri, 2, line, col, &accepted).unwrap();
    assert_eq!(acceptance(&mut client)["total"]["accepted_whole"], 1);
    shut_down(client);

    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("acceptance.json")).expect("saved")).expect("JSON");
    assert_eq!(saved["counts"]["python"].as_object().map(|kinds| kinds.len()), Some(1), "{saved}");
    // Nothing else of it is left in NIB_HOME: the file was written under a temporary name, then renamed.
    let names: Vec<String> = std::fs::read_dir(&home)
        .expect("NIB_HOME")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.starts_with("acceptance"))
        .collect();
    assert_eq!(names, ["acceptance.json"]);

    let mut client = serve_at(&model_path(), &home);
    init_with(&mut client, json!({}), options);
    let figures = acceptance(&mut client);
    assert_eq!((figures["total"]["shown"].as_u64(), figures["total"]["accepted_whole"].as_u64()), (Some(1), Some(1)));
    shut_down(client);
    // A run that accepted nothing adds nothing.
    let again: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("acceptance.json")).expect("saved")).expect("JSON");
    assert_eq!(again, saved);
    let _ = std::fs::remove_dir_all(&home);
}
