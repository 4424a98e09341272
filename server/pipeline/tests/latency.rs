//! The latency rules of `docs/lsp-extensions.md` ("Latency behaviour") that live in the completion pipeline, one
//! test per rule, named after it. The engine is `nib-scripted`'s: each job plays given tokens at given times on
//! tokio's paused clock, so seconds of typing run in milliseconds and every time below is exact. The rules that
//! live in the language server (superseding, `nib/suggestionReady`, shutdown) are tested in `nib-lsp`.

use std::sync::Arc;
use std::time::Duration;

use ropey::Rope;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};

use nib_engine::{CancelToken, Priority, StopReason};
use nib_pipeline::completion::{Completer, Request, Suggestion, Trigger};
use nib_pipeline::config::CompletionConfig;
use nib_prompt::context::Workspace;
use nib_scripted::{Outcome, Script, Scripted};

const URI: &str = "file:///work/orders.py";
const OTHER: &str = "file:///work/report.py";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A document and a cursor, marked `$0`.
#[derive(Clone)]
struct Doc {
    uri: &'static str,
    rope: Rope,
    cursor: usize,
}

fn doc(uri: &'static str, marked: &str) -> Doc {
    let cursor = marked.find("$0").expect("a $0 cursor");
    let text = marked.replace("$0", "");
    Doc { uri, cursor: text[..cursor].chars().count(), rope: Rope::from_str(&text) }
}

/// A document longer than the prompt's window (`settings`), with the cursor on line `line`: a jump far from
/// it changes the window, so its prompt does not carry on the one before.
fn long(line: usize) -> Doc {
    let lines: Vec<String> =
        (0..200).map(|i| if i == line { "v = $0".into() } else { format!("v{i:03} = {i}") }).collect();
    doc(URI, &(lines.join("\n") + "\n"))
}

impl Doc {
    /// The document with `text` typed at the cursor.
    fn typed(&self, text: &str) -> Doc {
        let mut rope = self.rope.clone();
        rope.insert(self.cursor, text);
        Doc { uri: self.uri, rope, cursor: self.cursor + text.chars().count() }
    }
}

/// The settings under test: prefetch only where a test turns it on, so that jobs are the requests' own.
fn settings() -> CompletionConfig {
    let (deadline_ms, n_prompt_tokens) = (1000, 512);
    CompletionConfig {
        deadline_ms,
        n_prompt_tokens,
        partial_after_ms: 0,
        prefetch: false,
        ..CompletionConfig::default()
    }
}

fn completer(config: CompletionConfig) -> (Completer, Scripted) {
    let (engine, scripted) = Scripted::engine();
    (Completer::new(engine, config, Arc::new(Workspace::default())), scripted)
}

/// Asks for a completion at `doc`'s cursor on a task of its own; it answers with the suggestion and how long it
/// took. `cancel` outdated stands for a newer request or an edit of the document, as the server does it.
fn ask(completer: &Completer, doc: &Doc, trigger: Trigger, cancel: &CancelToken) -> JoinHandle<(Suggestion, Duration)> {
    let (completer, doc, cancel) = (completer.clone(), doc.clone(), cancel.clone());
    tokio::spawn(async move {
        let asked = Instant::now();
        let request = Request { rope: &doc.rope, cursor: doc.cursor, document: Some(doc.uri), syntax: None, trigger };
        let suggestion = completer.complete(request, cancel, |_| {}).await.expect("the scripted engine completes");
        (suggestion, asked.elapsed())
    })
}

async fn answer(completer: &Completer, doc: &Doc, trigger: Trigger) -> (Suggestion, Duration) {
    ask(completer, doc, trigger, &CancelToken::default()).await.expect("the request's task ends")
}

fn returning() -> Doc {
    doc(URI, "def total(items):\n    return $0\n")
}

/// `sum(items)` a token every 100 ms, once 10 prompt tokens are evaluated (50 ms).
fn sum_items() -> Script {
    Script::default().evaluate(10, ms(50)).tokens(ms(100), &["sum", "(items", ")"])
}

#[tokio::test(start_paused = true)]
async fn a_job_outlives_its_request_and_a_later_request_for_its_prompt_waits_on_it() {
    let (completer, scripted) = completer(settings());
    let t0 = Instant::now();
    scripted.push(sum_items());
    let first = ask(&completer, &returning(), Trigger::Automatic, &CancelToken::default());
    // The client gives up on the first request (`$/cancelRequest` drops its future) while its job generates.
    sleep_until(t0 + ms(170)).await;
    first.abort();
    sleep_until(t0 + ms(200)).await;
    let (second, took) = answer(&completer, &returning(), Trigger::Automatic).await;
    assert_eq!(scripted.played().len(), 1, "the second request waits on the first one's job:\n{}", scripted.timeline());
    assert_eq!((second.text.as_str(), second.reason), ("sum(items)", StopReason::EndOfGeneration));
    assert_eq!(took, ms(150), "answered when the job ended, at 350 ms");
    // Its text is in the completion cache: the same prompt is answered at once, without the model.
    let (third, took) = answer(&completer, &returning(), Trigger::Automatic).await;
    assert_eq!((third.text.as_str(), third.reason, took), ("sum(items)", StopReason::Cached, Duration::ZERO));
    assert_eq!(scripted.played().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn past_deadline_ms_an_automatic_request_answers_whole_words_and_the_job_goes_on_behind_completions() {
    let (completer, scripted) = completer(settings());
    let t0 = Instant::now();
    // 100 ms to evaluate, then `sum` at 300 ms, `(ite` at 700 ms, `ms)` at 1100 ms.
    let slow = Script::default().evaluate(10, ms(100)).token(ms(200), "sum").token(ms(400), "(ite");
    scripted.push(slow.token(ms(400), "ms)"));
    let (late, took) = answer(&completer, &returning(), Trigger::Automatic).await;
    assert_eq!(took, ms(1000));
    assert_eq!((late.text.as_str(), late.reason), ("sum(", StopReason::Deadline), "whole words only");
    let job = scripted.job(0).expect("the request's job");
    assert_eq!(job.priority.get(), Priority::Late, "it goes on behind any completion a user waits for");
    assert_eq!(scripted.ended(0).await, Outcome::Done(StopReason::EndOfGeneration));
    assert_eq!(Instant::now() - t0, ms(1100));
    let (cached, took) = answer(&completer, &returning(), Trigger::Automatic).await;
    assert_eq!((cached.text.as_str(), cached.reason, took), ("sum(items)", StopReason::Cached, Duration::ZERO));

    // A completion a user waits for comes first: the late job stops at its next token.
    let (completer, scripted) = self::completer(settings());
    let t0 = Instant::now();
    // `sum` at 500 ms, `(items` at 900 ms, `)` at 1300 ms.
    scripted.push(Script::default().evaluate(10, ms(100)).tokens(ms(400), &["sum", "(items", ")"]));
    scripted.push(sum_items());
    let (late, _) = answer(&completer, &returning(), Trigger::Automatic).await;
    assert_eq!(late.reason, StopReason::Deadline);
    let elsewhere = doc(OTHER, "def mean(items):\n    return $0\n");
    let (first, took) = answer(&completer, &elsewhere, Trigger::Automatic).await;
    let late_job = scripted.job(0).expect("the late job");
    assert_eq!(late_job.outcome, Some(Outcome::Done(StopReason::Cancelled)), "{}", scripted.timeline());
    assert_eq!(late_job.ended_at, Some(ms(1300)), "at its next token");
    assert_eq!(scripted.job(1).and_then(|j| j.started_at), Some(ms(1300)));
    assert_eq!((first.text.as_str(), took), ("sum(items)", ms(300 + 350)));
    assert_eq!(Instant::now() - t0, ms(1650));
}

#[tokio::test(start_paused = true)]
async fn a_cold_prompt_does_not_hold_keystrokes_hostage_and_a_jump_gets_its_own_job() {
    let (completer, scripted) = completer(settings());
    let t0 = Instant::now();
    // A cold prompt: 256 tokens to evaluate, 2 s.
    let cold = || Script::default().evaluate(256, ms(2000)).tokens(ms(100), &["sum", "(items", ")"]);
    scripted.push(cold());
    let first_request = CancelToken::default();
    let first = ask(&completer, &returning(), Trigger::Automatic, &first_request);
    // A keystroke: the server outdates the older request, and asks again with a prompt that carries on.
    sleep_until(t0 + ms(100)).await;
    first_request.outdate();
    let (typed, took) = answer(&completer, &returning().typed("s"), Trigger::Automatic).await;
    assert_eq!((typed.text.as_str(), typed.reason, took), ("", StopReason::Evaluating, Duration::ZERO));
    let (superseded, _) = first.await.expect("the first request ends");
    assert_eq!(superseded.reason, StopReason::Cancelled);
    // The evaluation goes on for the requests after it, and skips generating for a cursor that is gone.
    assert_eq!(scripted.ended(0).await, Outcome::Done(StopReason::Cancelled));
    let evaluation = scripted.job(0).expect("the evaluation");
    assert_eq!((evaluation.ended_at, evaluation.n_tokens), (Some(ms(2000)), 0), "{}", scripted.timeline());
    assert_eq!(scripted.played().len(), 1, "the keystroke started no job");

    // The same when nobody waits for the evaluation (it warms the place where the cursor rested, behind any
    // completion): the keystroke brings it to the front and it still skips generating.
    let (completer, scripted) = self::completer(settings());
    scripted.push(cold());
    let rest = returning();
    completer.warm(Request {
        rope: &rest.rope,
        cursor: rest.cursor,
        document: Some(URI),
        syntax: None,
        trigger: Trigger::Invoked,
    });
    sleep(ms(100)).await;
    assert_eq!(scripted.job(0).map(|j| j.priority.get()), Some(Priority::Late));
    let (typed, took) = answer(&completer, &returning().typed("s"), Trigger::Automatic).await;
    assert_eq!((typed.reason, took), (StopReason::Evaluating, Duration::ZERO));
    assert_eq!(scripted.ended(0).await, Outcome::Done(StopReason::Cancelled));
    let evaluation = scripted.job(0).expect("the evaluation");
    assert_eq!((evaluation.priority.get(), evaluation.n_tokens), (Priority::Foreground, 0), "{}", scripted.timeline());

    // A jump: a request whose prompt does not carry on gets its own job, and the evaluation yields to it.
    let (completer, scripted) = self::completer(settings());
    let t0 = Instant::now();
    scripted.push(cold());
    scripted.push(sum_items());
    let first_request = CancelToken::default();
    let first = ask(&completer, &long(180), Trigger::Automatic, &first_request);
    sleep_until(t0 + ms(100)).await;
    first_request.outdate();
    let (jumped, took) = answer(&completer, &long(20), Trigger::Automatic).await;
    assert_eq!(first.await.expect("the first request ends").0.reason, StopReason::Cancelled);
    let evaluation = scripted.job(0).expect("the evaluation");
    // 256 tokens in 4 steps of 500 ms: it stops at the step after the jump's job was queued.
    assert_eq!(evaluation.outcome, Some(Outcome::Done(StopReason::Cancelled)), "{}", scripted.timeline());
    assert_eq!((evaluation.ended_at, evaluation.n_tokens), (Some(ms(500)), 0));
    assert_eq!(scripted.job(1).and_then(|j| j.started_at), Some(ms(500)));
    assert_eq!((jumped.text.as_str(), jumped.reason, took), ("sum(items)", StopReason::EndOfGeneration, ms(750)));
}

#[tokio::test(start_paused = true)]
async fn an_explicit_request_after_a_jump_never_answers_empty_for_lack_of_time() {
    let (completer, scripted) = completer(settings());
    let t0 = Instant::now();
    let cold = || Script::default().evaluate(256, ms(2000)).tokens(ms(100), &["sum", "(items", ")"]);
    scripted.push(cold());
    scripted.push(cold());
    let first_request = CancelToken::default();
    let first = ask(&completer, &long(180), Trigger::Automatic, &first_request);
    sleep_until(t0 + ms(100)).await;
    first_request.outdate();
    // The user jumps and asks: the evaluation under way does not answer for it, and its own cold prompt takes
    // longer than `deadline_ms`.
    let (asked, took) = answer(&completer, &long(20), Trigger::Invoked).await;
    assert!(first.await.is_ok());
    assert_eq!((asked.text.as_str(), asked.reason), ("sum(items)", StopReason::EndOfGeneration));
    assert_eq!(took, ms(400 + 2000 + 300), "the evaluation yields at its next step (500 ms), then 2.3 s of its own");
    assert!(took > ms(settings().deadline_ms));
}

#[tokio::test(start_paused = true)]
async fn prefetch_computes_the_next_suggestion_at_idle_priority_and_any_request_preempts_it() {
    let (completer, scripted) = completer(CompletionConfig { prefetch: true, ..settings() });
    let t0 = Instant::now();
    scripted.push(sum_items());
    // The next suggestion: a prompt of 80 new tokens, evaluated 8 at a time in 80 ms steps.
    scripted.push(Script::default().evaluate(80, ms(800)).token(ms(100), "  # total"));
    scripted.push(sum_items());
    let (first, took) = answer(&completer, &returning(), Trigger::Automatic).await;
    assert_eq!((first.text.as_str(), took), ("sum(items)", ms(350)));
    // Once the user has paused (300 ms), the suggestion after this one, as if it were accepted, at idle priority.
    sleep_until(t0 + ms(700)).await;
    let prefetch = scripted.job(1).expect("a prefetch job");
    assert_eq!(prefetch.priority.get(), Priority::Background);
    assert!(prefetch.prompt.contains("return sum(items)"), "{}", prefetch.prompt);
    // A request comes (in another document): the prefetch yields at its next step (steps end at 730, 810... ms).
    sleep_until(t0 + ms(770)).await;
    let elsewhere = doc(OTHER, "def mean(values):\n    return $0\n");
    let (other, took) = answer(&completer, &elsewhere, Trigger::Automatic).await;
    let prefetch = scripted.job(1).expect("the prefetch job");
    assert_eq!(prefetch.outcome, Some(Outcome::Done(StopReason::Cancelled)), "{}", scripted.timeline());
    assert_eq!(prefetch.ended_at, Some(ms(810)));
    assert_eq!((other.text.as_str(), took), ("sum(items)", ms(40 + 350)));

    // A request within the pause: no prefetch at all.
    let (completer, scripted) = self::completer(CompletionConfig { prefetch: true, ..settings() });
    scripted.push(sum_items());
    let (first, _) = answer(&completer, &returning(), Trigger::Automatic).await;
    assert_eq!(first.text, "sum(items)");
    sleep(ms(100)).await;
    let (again, _) = answer(&completer, &returning().typed("s"), Trigger::Automatic).await;
    sleep(ms(1000)).await;
    assert_eq!(again.reason, StopReason::Cached, "typed through the suggestion shown");
    assert_eq!(scripted.played().len(), 1, "{}", scripted.timeline());
}
