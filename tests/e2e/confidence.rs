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

/// The engine scores a span from one evaluation with logits at every position: each token's log-probability and
/// the model's most likely tokens there, consistent with what it generates, the same when the context comes from
/// the KV cache, and lower for a mutant than for the code it was made from.
#[test]
fn the_engine_scores_a_span_consistently_with_what_it_generates() {
    use nib_engine::{CancelToken, Engine, EngineConfig, Event, GenerateRequest, ModelState, Priority};
    use nib_engine::{PriorityHandle, PromptText, ScoreRequest};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let home = crate::support::fresh_home();
    let engine = Engine::start(EngineConfig::default(), model_path(), home.join("snapshots"));
    let ModelState::Ready { tokenizer, .. } = runtime.block_on(engine.ready()) else { panic!("the model loads") };
    // BOS first where the model wants one, as prompts have it.
    let tokens = |text: &str| tokenizer.bos().into_iter().chain(tokenizer.tokenize(text, false)).collect::<Vec<_>>();
    let context = "def total(prices):\n    result = 0\n    for price in prices:\n        result";
    let request = |span: &str, owner: &str| {
        let all = tokens(&format!("{context}{span}"));
        let n_context = tokens(context).len();
        ScoreRequest {
            tokens: all,
            n_context,
            top_k: 3,
            text: None,
            owner: Some(owner.into()),
            priority: PriorityHandle::new(Priority::Foreground),
            cancel: CancelToken::default(),
        }
    };
    let score = |request: ScoreRequest| runtime.block_on(engine.score(request)).expect("answered").expect("scored");

    let clean = score(request(" += price\n", "a"));
    let texts: String = clean.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, " += price\n", "{clean:?}");
    for s in &clean {
        assert!(s.logprob <= 0.0 && s.top.len() == 3, "{s:?}");
        assert!(s.top.windows(2).all(|w| w[0].logprob >= w[1].logprob), "most likely first: {s:?}");
        assert!(s.top[0].logprob >= s.logprob - 1e-4, "nothing beats the most likely: {s:?}");
    }
    // Again, its context now in the KV cache: the same figures.
    let reused_before = engine.counters().n_reused_tokens;
    let again = score(request(" += price\n", "a"));
    assert!(engine.counters().n_reused_tokens > reused_before, "the context came from the KV cache");
    for (a, b) in clean.iter().zip(&again) {
        assert!((a.logprob - b.logprob).abs() < 1e-3, "{a:?} vs {b:?}");
    }
    // A mutant's operator surprises the model more than the original's.
    let mutant = score(request(" -= price\n", "b"));
    assert!(mutant[0].logprob < clean[0].logprob, "{:?} vs {:?}", mutant[0], clean[0]);

    // Generating from the context: the first token's log-probability is the scored alternative's.
    let prompt = tokens(context);
    let mut events = engine.generate(GenerateRequest {
        prompt,
        max_tokens: 1,
        stop: Vec::new(),
        cancel: CancelToken::default(),
        owner: Some("a".into()),
        priority: PriorityHandle::new(Priority::Foreground),
        grammar: None,
        schema: None,
        text: PromptText::None,
        sampling: None,
    });
    let (mut logprob, mut text) = (None, String::new());
    while let Some(event) = runtime.block_on(events.recv()) {
        match event {
            Event::Logprob(lp) => logprob = Some(lp),
            Event::Text(t) => text.push_str(&t),
            Event::Done { .. } | Event::Failed(_) => break,
            Event::Started { .. } => {}
        }
    }
    let greedy = &clean[0].top[0];
    assert_eq!(text, greedy.text, "the greedy token is the most likely one scored");
    assert!(logprob.is_some_and(|lp| (lp - greedy.logprob).abs() < 1e-3), "{logprob:?} vs {greedy:?}");
    runtime.block_on(engine.stop(std::time::Duration::from_secs(10)));
}
