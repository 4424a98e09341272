//! Next edits over stdio: edits typed as an editor sends them, then `nib/nextEdits` and
//! `textDocument/copilotInlineEdit` at the cursor, and the acceptance command counted in `nib/status`.

use serde_json::{Value, json};

use nib_bench::lsp_client::LspClient;

use crate::support::{init, model_path, serve, shut_down};

const URI: &str = "file:///work/report.py";
const REPORT: &str = "\
def report(rows):
    total = 0
    for row in rows:
        total += row.amount
    print(\"€ 😀\", total)
    return total
";

/// A client that sends its edits and keeps its documents' versions.
struct Editor {
    client: LspClient,
    version: i32,
}

impl Editor {
    fn started() -> Editor {
        let mut client = serve(&model_path());
        init(&mut client, json!({}));
        Editor { client, version: 1 }
    }

    fn open(&mut self, uri: &str, text: &str) {
        self.client.open(uri, "python", text).unwrap();
    }

    /// Replaces `line`'s columns `start..end` with `text`, as one change.
    fn replace(&mut self, uri: &str, line: u32, start: u32, end: u32, text: &str) {
        self.version += 1;
        let range = json!({"start": {"line": line, "character": start}, "end": {"line": line, "character": end}});
        let params = json!({"textDocument": {"uri": uri, "version": self.version},
            "contentChanges": [{"range": range, "text": text}]});
        self.client.notify("textDocument/didChange", params).unwrap();
    }

    /// Types `text` at `line`:`col` a character at a time; the cursor ends after it.
    fn type_at(&mut self, uri: &str, line: u32, col: u32, text: &str) -> u32 {
        for (i, c) in (0u32..).zip(text.chars()) {
            self.replace(uri, line, col + i, col + i, &c.to_string());
        }
        col + text.chars().count() as u32
    }

    fn next_edits(&mut self, uri: &str, line: u32, character: u32) -> Value {
        let at = json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}});
        self.client.call("nib/nextEdits", at).unwrap()
    }
}

fn range(line: u32, start: u32, end: u32) -> Value {
    json!({"start": {"line": line, "character": start}, "end": {"line": line, "character": end}})
}

/// `total` renamed to `balance` at its definition: the old name deleted, the new one typed.
fn renamed(editor: &mut Editor) -> u32 {
    editor.open(URI, REPORT);
    editor.replace(URI, 1, 4, 9, "");
    editor.type_at(URI, 1, 4, "balance")
}

#[test]
fn a_rename_typed_at_its_definition_is_proposed_at_the_next_use_and_its_acceptance_counted() {
    let mut editor = Editor::started();
    let cursor = renamed(&mut editor);

    let answer = editor.next_edits(URI, 1, cursor);
    let edits = answer["edits"].as_array().expect("edits");
    let ranges: Vec<&Value> = edits.iter().map(|e| &e["range"]).collect();
    // UTF-16 columns, the encoding negotiated: the emoji before `total` on line 4 counts two.
    assert_eq!(ranges, [&range(3, 8, 13), &range(4, 18, 23), &range(5, 11, 16)], "{answer}");
    for edit in edits {
        assert_eq!((&edit["newText"], &edit["kind"], &edit["uri"]), (&json!("balance"), &json!("rename"), &json!(URI)));
        assert_eq!(edit["command"]["command"], "nib.acceptNextEdit");
        assert_eq!(edit["command"]["arguments"], json!([edit["id"]]));
    }
    assert_eq!(answer["targets"], json!([]));

    let at =
        json!({"textDocument": {"uri": URI, "version": editor.version}, "position": {"line": 1, "character": cursor}});
    let copilot = editor.client.call("textDocument/copilotInlineEdit", at).unwrap();
    let first = &copilot["edits"][0];
    assert_eq!(first["text"], "balance", "{copilot}");
    assert_eq!(first["range"], range(3, 8, 13));
    assert_eq!(first["textDocument"], json!({"uri": URI, "version": editor.version}));
    assert_eq!(first["command"]["command"], "nib.acceptNextEdit");

    // The client applies the first edit, then runs its command; a second run of it counts nothing.
    editor.replace(URI, 3, 8, 13, "balance");
    let accept = json!({"command": "nib.acceptNextEdit", "arguments": [edits[0]["id"]]});
    assert_eq!(editor.client.call("workspace/executeCommand", accept.clone()).unwrap(), Value::Null);
    editor.client.call("workspace/executeCommand", accept).unwrap();
    let counts = editor.client.status().unwrap()["next_edits"].clone();
    assert_eq!((&counts["n_shown"], &counts["n_accepted"]), (&json!(6), &json!(1)), "{counts}");
    assert_eq!(counts["by_kind"]["rename"], json!({"n_shown": 6, "n_accepted": 1}), "{counts}");
    shut_down(editor.client);
}

#[test]
fn an_ambiguous_rename_proposes_nothing() {
    let mut editor = Editor::started();
    // Two loops bind `row`: which one the rename means is not known.
    let text = "def f(rows):\n    for row in rows:\n        print(row)\n    for row in rows:\n        print(row)\n";
    editor.open(URI, text);
    editor.replace(URI, 1, 8, 11, "");
    let cursor = editor.type_at(URI, 1, 8, "item");
    assert_eq!(editor.next_edits(URI, 1, cursor), json!({"edits": [], "targets": []}));
    shut_down(editor.client);
}

#[test]
fn a_parameter_added_points_at_the_calls_in_another_open_document() {
    let mut editor = Editor::started();
    let orders = "file:///work/orders.py";
    editor.open(URI, "def make_invoice(customer, items):\n    return {\"customer\": customer, \"items\": items}\n");
    editor.open(orders, "from report import make_invoice\n\n\ndef checkout(cart):\n    return make_invoice(cart.customer, cart.items)\n");
    let cursor = editor.type_at(URI, 0, 32, ", currency");
    let answer = editor.next_edits(URI, 0, cursor);
    assert_eq!(answer["edits"], json!([]), "{answer}");
    let targets = answer["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 1, "{answer}");
    assert_eq!((&targets[0]["uri"], &targets[0]["kind"]), (&json!(orders), &json!("callSite")), "{answer}");
    assert_eq!(targets[0]["range"]["start"]["line"], 4, "{answer}");
    shut_down(editor.client);
}

#[test]
fn an_unknown_document_a_position_past_the_end_or_plain_text_answers_empty() {
    let mut editor = Editor::started();
    let cursor = renamed(&mut editor);
    let empty = json!({"edits": [], "targets": []});
    assert_eq!(editor.next_edits("file:///work/not-open.py", 1, cursor), empty);
    assert_eq!(editor.next_edits(URI, 400, 0), empty);
    let at = json!({"textDocument": {"uri": "file:///work/not-open.py", "version": 1},
        "position": {"line": 0, "character": 0}});
    assert_eq!(editor.client.call("textDocument/copilotInlineEdit", at).unwrap(), json!({"edits": []}));
    // A document without a tree: nothing to propose from.
    let notes = "file:///work/notes.txt";
    editor.client.open(notes, "plaintext", "total = 0\nprint(total)\n").unwrap();
    editor.replace(notes, 0, 0, 5, "");
    let end = editor.type_at(notes, 0, 0, "sum");
    assert_eq!(editor.next_edits(notes, 0, end), empty);
    // An id never shown is no error: the edit was applied all the same.
    let accept = json!({"command": "nib.acceptNextEdit", "arguments": ["nope"]});
    assert_eq!(editor.client.call("workspace/executeCommand", accept).unwrap(), Value::Null);
    assert_eq!(editor.client.status().unwrap()["next_edits"]["n_accepted"], 0);
    // Still answering.
    assert_eq!(editor.next_edits(URI, 1, cursor)["edits"].as_array().map(Vec::len), Some(3));
    shut_down(editor.client);
}

/// The model path (`next_edit.model = "on"`, the `instruct` format) against a real llama-server's OpenAI-compatible
/// API behind the recording proxy: what the model is asked carries the rename as a diff and the region around the
/// cursor, marked; whatever it proposes lies in that region and comes after the exact edits, as `model`.
#[test]
fn the_model_is_asked_with_the_recent_edits_and_the_marked_region() {
    let server = nib_testkit::llama_process::LlamaServer::start(&model_path(), &[]).unwrap_or_else(|e| panic!("{e}"));
    let proxy = nib_testkit::faults::FaultProxy::start(&server.url()).unwrap();
    let mut cmd = crate::support::nib_at(&crate::support::fresh_home());
    cmd.args(["serve", "--backend", "openai", "--engine-url", &format!("{}/v1", proxy.url())]);
    let mut client = LspClient::spawn(cmd).unwrap();
    let options = json!({"next_edit": {"model": "on", "max_tokens": 96}, "engine": {"timeout_ms": 120_000}});
    crate::support::init_with(&mut client, json!({}), options);
    // Only a model that is ready is asked.
    crate::support::wait_ready(&mut client);
    let mut editor = Editor { client, version: 1 };
    let cursor = renamed(&mut editor);
    let answer = editor.next_edits(URI, 1, cursor);
    let edits = answer["edits"].as_array().expect("edits");
    let exact = edits.iter().take_while(|e| e["kind"] == "rename").count();
    assert_eq!(exact, 3, "the exact edits come first: {answer}");
    for edit in &edits[exact..] {
        assert_eq!(edit["kind"], "model", "{answer}");
        let line = edit["range"]["start"]["line"].as_u64().unwrap_or(u64::MAX);
        assert!(line <= 9, "a model edit inside the region around line 1: {answer}");
    }
    let asked =
        proxy.wire().into_iter().find(|r| r.contains("POST /v1/chat/completions")).expect("the model was asked");
    for part in ["<|region_start|>", "<|region_end|>", "<|cursor|>", "-    total = 0", "+    balance = 0"] {
        assert!(asked.contains(&part.replace('"', "\\\"")), "{part} in what the model was asked:\n{asked}");
    }
    shut_down(editor.client);
}
