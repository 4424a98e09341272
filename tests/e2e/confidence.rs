//! Confidence: an automatic request holds back a suggestion the model was unsure of (`completion.min_confidence`,
//! set here above anything a model reaches, so the outcome does not hang on the model's figures) and counts it,
//! while an explicit request at the same place always answers; the suggestion's confidence comes from the
//! generated tokens' log-probabilities, in process (`cli.rs`) and from remote servers (`remote.rs`).

use nib_bench::lsp_client::{LspClient, inline_params};
use serde_json::json;

use crate::support::{model_path, ready, shut_down, textwrap_with};

const URI: &str = "file:///work/textwrap.py";

fn ask(client: &mut LspClient, line: u32, character: u32, explicit: bool) -> Vec<String> {
    let mut params = inline_params(URI, line, character);
    params["context"]["triggerKind"] = json!(if explicit { 1 } else { 2 });
    let result = client.call("textDocument/inlineCompletion", params).expect("inline completion");
    let items = result["items"].as_array().cloned().unwrap_or_default();
    items.iter().map(|item| item["insertText"].as_str().unwrap_or_default().to_owned()).collect()
}

#[test]
fn an_unsure_automatic_suggestion_is_held_back_while_an_explicit_one_answers() {
    // Every probability is below 1: with this threshold every automatic suggestion is one the model was unsure of.
    let options = json!({"completion": {"min_confidence": 1.0, "n_candidates": 1, "prefetch": false,
        "deadline_ms": 600_000, "partial_after_ms": 0, "invoked_timeout_ms": 600_000}});
    let mut client = ready(&model_path(), options);
    let typed = "        return self.";
    let (text, line) = textwrap_with(typed);
    client.open(URI, "python", &text).expect("didOpen");

    let automatic = ask(&mut client, line, typed.len() as u32, false);
    assert!(automatic.is_empty(), "an unsure automatic suggestion is held back: {automatic:?}");
    let status = client.status().unwrap();
    assert_eq!(status["engine"]["n_held_back"], 1, "the held-back suggestion is counted: {status}");
    assert_eq!(status["settings"]["completion"]["min_confidence"], 1.0, "{status}");

    let explicit = ask(&mut client, line, typed.len() as u32, true);
    assert_eq!(explicit.len(), 1, "an explicit request always answers: {explicit:?}");
    assert!(!explicit[0].trim().is_empty(), "{explicit:?}");
    let status = client.status().unwrap();
    assert_eq!(status["engine"]["n_held_back"], 1, "an explicit answer is never held back: {status}");
    // The in-process engine scores text the model reads, which review by surprise needs.
    assert_eq!(status["capabilities"]["surprise"], true, "{status}");
    shut_down(client);
}
