//! What a long-running server must survive: edits racing a generation, big and minified files.

use std::time::Duration;

use nib::bench::lsp_client::{LspClient, inline_params};
use serde_json::{Value, json};

use crate::support::{fresh_home, init_with, model_path, serve_at, shut_down, stdlib_file};

const URI: &str = "file:///work/calendar.py";

fn started(options: Value) -> LspClient {
    let mut client = serve_at(&model_path(), &fresh_home());
    init_with(&mut client, json!({}), options);
    while client.status().unwrap()["model"]["state"] != "ready" {
        std::thread::sleep(Duration::from_millis(20));
    }
    client
}

#[test]
fn an_edit_during_generation_answers_empty_not_text_for_the_old_document() {
    // Long blocks, so the edit lands while the model is still writing.
    let mut client = started(json!({"completion": {"max_tokens": 256, "max_lines": 40, "prefetch": false}}));
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
