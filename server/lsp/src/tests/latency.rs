//! The rules of `docs/lsp-extensions.md` ("Latency behaviour") that live in the language server, one test per
//! rule, named after it: the real server over a pipe, its engine `nib-scripted`'s, every time exact on tokio's
//! paused clock. The pipeline's rules are tested in `nib-pipeline` (`tests/latency.rs`).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::sleep_until;

use super::{Client, start};
use nib_engine::{Priority, StopReason};
use nib_scripted::{Outcome, Script, Scripted};

const URI: &str = "file:///work/orders.py";
const OTHER: &str = "file:///work/report.py";
const BUSY: &str = "file:///work/busy.py";
const QUEUED: &str = "file:///work/queued.py";

/// How soon a superseded request answers: a waiting request looks every 20 ms.
const AT_ONCE: Duration = Duration::from_millis(20);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The settings under test; `partial_after_ms` 0: wait for the whole suggestion (up to `deadline_ms`).
fn settings(partial_after_ms: u64) -> Value {
    json!({ "deadline_ms": 1000, "partial_after_ms": partial_after_ms, "prefetch": false, "n_candidates": 1 })
}

async fn open(client: &mut Client, uri: &str, text: &str) {
    let document = json!({ "uri": uri, "languageId": "python", "version": 1, "text": text });
    client.notify("textDocument/didOpen", json!({ "textDocument": document })).await;
}

/// An automatic `textDocument/inlineCompletion` at (`line`, `character`).
async fn ask(client: &mut Client, uri: &str, line: u32, character: u32) -> i64 {
    let params = json!({
        "textDocument": { "uri": uri },
        "position": { "line": line, "character": character },
        "context": { "triggerKind": 2 },
    });
    client.request("textDocument/inlineCompletion", params).await
}

/// The suggestions of an inline completion's answer.
fn texts(answer: &Value) -> Vec<String> {
    let items = answer["items"].as_array().expect("an InlineCompletionList");
    items.iter().map(|item| item["insertText"].as_str().unwrap_or_default().to_owned()).collect()
}

/// Types `text` at (`line`, `character`), making the document `version`.
async fn type_at(client: &mut Client, uri: &str, version: i32, (line, character): (u32, u32), text: &str) {
    let at = json!({ "line": line, "character": character });
    let params = json!({
        "textDocument": { "uri": uri, "version": version },
        "contentChanges": [{ "range": { "start": at, "end": at }, "text": text }],
    });
    client.notify("textDocument/didChange", params).await;
}

async fn shut_down(client: &mut Client) {
    let id = client.request("shutdown", Value::Null).await;
    client.response(id).await;
    client.notify("exit", Value::Null).await;
}

const RETURNING: &str = "def total(items):\n    return \n";

/// `sum(items)` a token every 100 ms, once 10 prompt tokens are evaluated (50 ms).
fn sum_items() -> Script {
    Script::default().evaluate(10, ms(50)).tokens(ms(100), &["sum", "(items", ")"])
}

#[tokio::test(start_paused = true)]
async fn a_newer_request_or_an_edit_supersedes_the_older_which_answers_empty_at_once() {
    let (engine, scripted) = Scripted::engine();
    let (mut client, server) = start(engine, settings(0)).await;
    let test = async {
        for (uri, name) in [(URI, "total"), (OTHER, "mean"), (BUSY, "count"), (QUEUED, "first")] {
            open(&mut client, uri, &format!("def {name}(items):\n    return \n")).await;
        }
        // Generating: a newer request answers the older one empty at once, and the job stops at its next token.
        scripted.push(sum_items());
        scripted.push(sum_items());
        let older = ask(&mut client, URI, 1, 11).await;
        sleep_until(client.t0() + ms(200)).await;
        let newer = ask(&mut client, URI, 1, 11).await;
        let (at, answer) = client.response(older).await;
        assert_eq!(texts(&answer), Vec::<String>::new());
        assert!(at - ms(200) <= AT_ONCE, "answered at {at:?}");
        assert_eq!(scripted.ended(0).await, Outcome::Done(StopReason::Cancelled));
        let generating = scripted.job(0).expect("the older request's job");
        assert_eq!((generating.ended_at, generating.n_tokens), (Some(ms(250)), 2), "{}", scripted.timeline());
        // The newer request starts again from what the engine kept.
        let (at, answer) = client.response(newer).await;
        assert_eq!((at, texts(&answer)), (ms(250 + 350), vec!["sum(items)".to_owned()]));

        // Evaluating: an edit answers the request empty at once; the evaluation finishes (the text typed since
        // usually extends its prompt), then stops before generating.
        scripted.push(Script::default().evaluate(256, ms(2000)).tokens(ms(100), &["len", "(items)"]));
        let asked = client.t0().elapsed();
        let evaluating = ask(&mut client, OTHER, 1, 11).await;
        sleep_until(client.t0() + asked + ms(110)).await;
        type_at(&mut client, OTHER, 2, (1, 11), "l").await;
        let (at, answer) = client.response(evaluating).await;
        assert_eq!(texts(&answer), Vec::<String>::new());
        assert!(at - (asked + ms(110)) <= AT_ONCE, "answered at {at:?}");
        assert_eq!(scripted.ended(2).await, Outcome::Done(StopReason::Cancelled));
        let evaluation = scripted.job(2).expect("the evaluation");
        assert_eq!((evaluation.ended_at, evaluation.n_tokens), (Some(asked + ms(2000)), 0), "{}", scripted.timeline());

        // Queued behind another completion: an edit answers it empty at once, and its job never reaches the model.
        scripted.push(Script::default().evaluate(10, ms(50)).tokens(ms(300), &["sum", "(items", ")"]));
        let asked = client.t0().elapsed();
        let running = ask(&mut client, BUSY, 1, 11).await;
        sleep_until(client.t0() + asked + ms(100)).await;
        let queued = ask(&mut client, QUEUED, 1, 11).await;
        sleep_until(client.t0() + asked + ms(150)).await;
        type_at(&mut client, QUEUED, 2, (1, 11), "e").await;
        let (at, answer) = client.response(queued).await;
        assert_eq!(texts(&answer), Vec::<String>::new());
        assert!(at - (asked + ms(150)) <= AT_ONCE, "answered at {at:?}");
        let (_, answer) = client.response(running).await;
        assert_eq!(texts(&answer), vec!["sum(items)".to_owned()]);
        assert_eq!(scripted.ended(4).await, Outcome::Done(StopReason::Cancelled), "{}", scripted.timeline());
        assert!(!scripted.job(4).expect("the queued job").started, "{}", scripted.timeline());
        shut_down(&mut client).await;
    };
    tokio::join!(server, test);
}

#[tokio::test(start_paused = true)]
async fn past_partial_after_ms_whole_lines_answer_and_suggestion_ready_says_when_the_rest_is_there() {
    let (engine, scripted) = Scripted::engine();
    let (mut client, server) = start(engine, settings(200)).await;
    let test = async {
        let t0 = client.t0();
        open(&mut client, URI, "def total(items):\n    return sum(items)\n\n").await;
        // A block: its first line by 100 ms, the second at 400 ms.
        let lines = Script::default().evaluate(10, ms(50)).token(ms(50), "print(total([1, 2]))\n");
        scripted.push(lines.token(ms(300), "print(total([3]))\n"));
        let asked = ask(&mut client, URI, 2, 0).await;
        let (at, answer) = client.response(asked).await;
        assert_eq!((at, texts(&answer)), (ms(200), vec!["print(total([1, 2]))".to_owned()]), "{}", scripted.timeline());
        // The rest goes on into the cache; the client hears once it is there.
        let (at, ready) = client.notification("nib/suggestionReady").await;
        assert_eq!(scripted.job(0).and_then(|j| j.ended_at), Some(ms(400)), "{}", scripted.timeline());
        assert!(at >= ms(400), "{at:?}");
        let place = json!({ "textDocument": { "uri": URI, "version": 1 }, "position": { "line": 2, "character": 0 } });
        assert_eq!(ready, place);
        // Asking again there gets the whole suggestion at once.
        let again = ask(&mut client, URI, 2, 0).await;
        let before = t0.elapsed();
        let (at, answer) = client.response(again).await;
        assert_eq!(at, before);
        assert_eq!(texts(&answer), vec!["print(total([1, 2]))\nprint(total([3]))".to_owned()]);
        assert_eq!(scripted.played().len(), 1);

        // Not sent once the document has moved on: `len(` at 190 ms answers, the rest comes at 470 ms.
        open(&mut client, OTHER, "def count(items):\n    return \n").await;
        let script = Script::default().evaluate(10, ms(50)).token(ms(140), "len(").token(ms(140), "items");
        scripted.push(script.token(ms(140), ")"));
        let asked_at = t0.elapsed();
        let asked = ask(&mut client, OTHER, 1, 11).await;
        let (at, answer) = client.response(asked).await;
        assert_eq!(texts(&answer), vec!["len(".to_owned()], "{}", scripted.timeline());
        // A waiting request looks when text comes and every 20 ms: past `partial_after_ms`, within that.
        assert!((ms(200)..=ms(200) + AT_ONCE).contains(&(at - asked_at)), "answered at {at:?}");
        type_at(&mut client, OTHER, 2, (0, 0), "# ").await;
        assert_eq!(scripted.ended(1).await, Outcome::Done(StopReason::EndOfGeneration));
        sleep_until(t0 + asked_at + ms(1000)).await;
        assert!(!client.has("nib/suggestionReady"));
        shut_down(&mut client).await;
    };
    tokio::join!(server, test);
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_the_work_then_saves_the_kv_sequences() {
    let (engine, scripted) = Scripted::engine();
    let (mut client, server) = start(engine, settings(200)).await;
    let test = async {
        let t0 = client.t0();
        open(&mut client, URI, RETURNING).await;
        open(&mut client, OTHER, "def mean(values):\n    return \n").await;
        // Busy: a job that stalls after its first token, and another queued behind it.
        scripted.push(Script::default().evaluate(10, ms(50)).token(ms(50), "sum").stalls());
        let busy = ask(&mut client, URI, 1, 11).await;
        let queued = ask(&mut client, OTHER, 1, 11).await;
        sleep_until(t0 + ms(500)).await;
        let id = client.request("shutdown", Value::Null).await;
        let (at, _) = client.response(id).await;
        assert!(at < ms(520), "{at:?}: the work stops at once, the KV sequences are saved after it");
        let (_, answer) = client.response(busy).await;
        assert_eq!(texts(&answer), Vec::<String>::new());
        assert_eq!(texts(&client.response(queued).await.1), Vec::<String>::new());
        let timeline = scripted.timeline();
        let stalled = scripted.job(0).expect("the busy job");
        assert_eq!(stalled.outcome, Some(Outcome::Done(StopReason::Cancelled)), "{timeline}");
        assert_eq!(scripted.n_persisted(), 1, "{timeline}");
        let order: Vec<&str> = timeline.lines().map(|l| l.split("  ").last().unwrap_or_default()).collect();
        let at = |what: &str| order.iter().position(|l| l.starts_with(what)).expect(what);
        assert!(at("job 0 ended") < at("persisted") && at("persisted") < at("stopped"), "{timeline}");
        client.notify("exit", Value::Null).await;
    };
    tokio::join!(server, test);
}

#[tokio::test(start_paused = true)]
async fn a_cold_place_answers_from_a_short_window_and_suggestion_ready_brings_the_whole_window() {
    let (engine, scripted) = Scripted::engine();
    let completion = json!({ "deadline_ms": 4000, "partial_after_ms": 0, "prefetch": false, "n_candidates": 1,
        "n_prompt_tokens": 1024 });
    let (mut client, server) = start(engine, completion).await;
    let test = async {
        let t0 = client.t0();
        let lines: Vec<String> =
            (0..200).map(|i| if i == 180 { "v = ".into() } else { format!("v{i:03} = {i}") }).collect();
        open(&mut client, URI, &(lines.join("\n") + "\n")).await;
        // The short window: 600 ms to evaluate, `sum(items)` by 900 ms; the whole window behind it takes 4.3 s.
        scripted.push(Script::default().evaluate(256, ms(600)).tokens(ms(100), &["sum", "(items", ")"]));
        scripted.push(Script::default().evaluate(1000, ms(4000)).tokens(ms(100), &["total", "(items", ")"]));
        // Typing while the whole window is evaluated: the short window answers, without waiting for it.
        scripted.push(Script::default().evaluate(1, ms(20)).tokens(ms(50), &["um(items)"]));
        scripted.push(Script::default().evaluate(1000, ms(4000)).tokens(ms(100), &["total", "(items", ")"]));
        let asked_at = t0.elapsed();
        let asked = ask(&mut client, URI, 180, 4).await;
        let (at, answer) = client.response(asked).await;
        assert_eq!(
            (at - asked_at, texts(&answer)),
            (ms(900), vec!["sum(items)".to_owned()]),
            "{}",
            scripted.timeline()
        );
        sleep_until(t0 + asked_at + ms(1100)).await;
        type_at(&mut client, URI, 2, (180, 4), "x").await;
        let typed = ask(&mut client, URI, 180, 5).await;
        let (at, answer) = client.response(typed).await;
        assert_eq!(texts(&answer), vec!["um(items)".to_owned()], "{}", scripted.timeline());
        assert!(at - (asked_at + ms(1100)) <= ms(256 + 70), "answered at {at:?}: {}", scripted.timeline());
        // Once the whole window's suggestion is in the cache, the client hears, and asking again gets it.
        let (at, ready) = client.notification("nib/suggestionReady").await;
        let ended = scripted.job(3).and_then(|j| j.ended_at).expect("the whole window's job ended");
        assert!(at >= ended, "{at:?}: {}", scripted.timeline());
        let place =
            json!({ "textDocument": { "uri": URI, "version": 2 }, "position": { "line": 180, "character": 5 } });
        assert_eq!(ready, place);
        let again = ask(&mut client, URI, 180, 5).await;
        let (_, answer) = client.response(again).await;
        assert_eq!(texts(&answer), vec!["total(items)".to_owned()]);
        assert_eq!(scripted.played().len(), 4, "{}", scripted.timeline());
        shut_down(&mut client).await;
    };
    tokio::join!(server, test);
}

#[tokio::test(start_paused = true)]
async fn a_switch_to_another_document_warms_where_it_was_last_edited_at_idle_priority() {
    let (engine, scripted) = Scripted::engine();
    let (mut client, server) = start(engine, settings(0)).await;
    let test = async {
        let long: String = (0..40).map(|i| format!("x{i} = {i}\n")).collect::<String>() + RETURNING;
        open(&mut client, URI, &long).await;
        open(&mut client, OTHER, RETURNING).await;
        // The last edit of URI, 41 lines down.
        type_at(&mut client, URI, 2, (41, 11), "s").await;
        for _ in 0..4 {
            scripted.push(sum_items());
        }
        let rest = |uri: &str, version: i32, line: u32| json!({ "textDocument": { "uri": uri, "version": version }, "position": { "line": line, "character": 0 } });
        client.notify("nib/cursorRest", rest(OTHER, 1, 1)).await;
        sleep_until(client.t0() + ms(1000)).await;
        // Back to URI, at its top: the rest there is warmed, and where it was last edited, behind it.
        client.notify("nib/cursorRest", rest(URI, 2, 0)).await;
        sleep_until(client.t0() + ms(3000)).await;
        let played = scripted.played();
        let owners: Vec<_> = played.iter().map(|j| (j.owner.clone(), j.priority.get())).collect();
        let ahead = Some(format!("{URI} ahead"));
        assert_eq!(
            owners,
            vec![
                (Some(OTHER.to_owned()), Priority::Late),
                (Some(URI.to_owned()), Priority::Late),
                (ahead, Priority::Background)
            ],
            "{}",
            scripted.timeline()
        );
        assert_ne!(played[2].prompt, played[1].prompt, "the same place twice");
        // Resting again in the same document is no switch: its rest alone is warmed.
        client.notify("nib/cursorRest", rest(URI, 2, 1)).await;
        sleep_until(client.t0() + ms(5000)).await;
        let played = scripted.played();
        assert_eq!(played.len(), 4, "{}", scripted.timeline());
        assert_eq!((played[3].owner.as_deref(), played[3].priority.get()), (Some(URI), Priority::Late));
        shut_down(&mut client).await;
    };
    tokio::join!(server, test);
}
