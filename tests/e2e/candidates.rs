//! Several candidates: an explicit request answers the greedy suggestion, then distinct sampled alternatives
//! (`completion.n_candidates`); an automatic request, and `n_candidates = 1`, answer one; llama-server samples
//! them too. Prints what the alternatives cost: the median latency of explicit requests with 3 candidates
//! against 1.

use std::time::Instant;

use nib_bench::lsp_client::{LspClient, inline_params};
use nib_testkit::llama_process::LlamaServer;
use serde_json::json;

use crate::support::{fresh_home, init_with, model_path, nib_at, ready, shut_down, textwrap_with};

const URI: &str = "file:///work/textwrap.py";

/// Every automatic suggestion shown: holding back the unsure ones is `confidence.rs`'s subject.
fn serve(n_candidates: u32) -> LspClient {
    let options = json!({"completion": {"n_candidates": n_candidates, "prefetch": false, "min_confidence": 0.0,
        "deadline_ms": 600_000, "partial_after_ms": 0, "invoked_timeout_ms": 600_000}});
    ready(&model_path(), options)
}

/// The items' texts answering an inline completion at the end of `typed`; `explicit`: triggerKind 1.
fn items(client: &mut LspClient, line: u32, typed: &str, explicit: bool) -> Vec<String> {
    let mut params = inline_params(URI, line, typed.len() as u32);
    params["context"]["triggerKind"] = json!(if explicit { 1 } else { 2 });
    let result = client.call("textDocument/inlineCompletion", params).expect("inline completion");
    let items = result["items"].as_array().cloned().unwrap_or_default();
    items.iter().map(|item| item["insertText"].as_str().unwrap_or_default().to_owned()).collect()
}

fn replace(client: &mut LspClient, version: i32, text: &str) {
    let params = json!({"textDocument": {"uri": URI, "version": version}, "contentChanges": [{"text": text}]});
    client.notify("textDocument/didChange", params).expect("didChange");
}

/// Lines typed at the same place in turn: each a new prompt whose start is in the KV cache.
const TYPED: [&str; 4] =
    ["        return self.", "        chunks = self.", "        words = self.", "        result = self."];

/// Each explicit request along `TYPED` (the first, cold, is not timed): the items and the milliseconds taken.
fn explicit_requests(client: &mut LspClient) -> Vec<(Vec<String>, f64)> {
    let (text, line) = textwrap_with(TYPED[0]);
    client.open(URI, "python", &text).expect("didOpen");
    let mut answers = Vec::new();
    for (version, typed) in TYPED.iter().enumerate() {
        if version > 0 {
            replace(client, version as i32 + 1, &textwrap_with(typed).0);
        }
        let asked = Instant::now();
        let items = items(client, line, typed, true);
        answers.push((items, asked.elapsed().as_secs_f64() * 1000.0));
    }
    answers
}

fn median(mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

#[test]
fn explicit_requests_answer_distinct_candidates_the_greedy_one_first() {
    let mut one = serve(1);
    let single = explicit_requests(&mut one);
    shut_down(one);
    let mut three = serve(3);
    let several = explicit_requests(&mut three);

    for ((greedy, _), (candidates, _)) in single.iter().zip(&several) {
        assert_eq!(greedy.len(), 1, "n_candidates = 1 answers one item: {greedy:?}");
        assert!(candidates.len() <= 3, "at most n_candidates: {candidates:?}");
        assert_eq!(candidates.first(), greedy.first(), "the first candidate is the greedy suggestion");
        for (i, a) in candidates.iter().enumerate() {
            assert!(!a.trim().is_empty(), "no empty candidate: {candidates:?}");
            assert!(candidates[..i].iter().all(|b| b.trim_end() != a.trim_end()), "distinct: {candidates:?}");
        }
    }
    assert!(several[0].0.len() >= 2, "an explicit request on real code gets alternatives: {:?}", several[0].0);

    // Typing asks automatically: one suggestion, the greedy one.
    let (line, typed) = (textwrap_with(TYPED[0]).1, TYPED[3]);
    let greedy = several[3].0[0].clone();
    assert_eq!(items(&mut three, line, typed, false), vec![greedy.clone()]);
    // Typing the suggestion's first character, then asking: the rest of it first, alternatives after it.
    let first = greedy.chars().next().map(String::from).unwrap_or_default();
    three.insert(URI, TYPED.len() as i32 + 1, line, typed.len() as u32, &first).expect("didChange");
    let through = items(&mut three, line, &format!("{typed}{first}"), true);
    assert_eq!(through.first().map(String::as_str), Some(&greedy[first.len()..]), "{through:?}");
    assert!(through.iter().skip(1).all(|t| !t.trim().is_empty()), "{through:?}");
    shut_down(three);

    let ms = |answers: &[(Vec<String>, f64)]| answers[1..].iter().map(|(_, ms)| ms.round()).collect::<Vec<_>>();
    let n_alternatives: usize = several[1..].iter().map(|(items, _)| items.len() - 1).sum();
    eprintln!(
        "explicit request, warm prompt, median of {:?}: 1 candidate {:.0} ms, of {:?}: 3 candidates {:.0} ms \
         ({n_alternatives} alternatives); cold: 1 candidate {:.0} ms, 3 candidates {:.0} ms",
        ms(&single),
        median(ms(&single)),
        ms(&several),
        median(ms(&several)),
        single[0].1,
        several[0].1,
    );
}

#[test]
fn llama_server_samples_the_alternatives_too() {
    let server = LlamaServer::start(&model_path(), &[]).unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = nib_at(&fresh_home());
    cmd.args(["serve", "--backend", "llama-server", "--engine-url", &server.url()]);
    let mut client = LspClient::spawn(cmd).expect("start nib serve");
    let options = json!({"completion": {"prefetch": false, "deadline_ms": 600_000, "partial_after_ms": 0,
        "invoked_timeout_ms": 600_000}, "engine": {"timeout_ms": 120_000}});
    init_with(&mut client, json!({}), options);
    let (text, line) = textwrap_with(TYPED[0]);
    client.open(URI, "python", &text).expect("didOpen");
    let explicit = items(&mut client, line, TYPED[0], true);
    let automatic = items(&mut client, line, TYPED[0], false);
    assert_eq!(automatic.len(), 1, "{automatic:?}");
    assert_eq!(explicit.first(), automatic.first(), "the greedy suggestion first: {explicit:?}");
    assert!(explicit.len() >= 2, "alternatives from llama-server: {explicit:?}");
    shut_down(client);
}
