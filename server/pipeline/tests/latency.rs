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
use nib_pipeline::completion::cold::short_owner;
use nib_pipeline::completion::{Ahead, Completer, Request, Suggestion, Trigger};
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
    completer.warm(
        Request { rope: &rest.rope, cursor: rest.cursor, document: Some(URI), syntax: None, trigger: Trigger::Invoked },
        Ahead::Rest,
    );
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
    // The jump's whole window is cold: its short window shows first (400 ms, then 300 ms of tokens).
    scripted.push(Script::default().evaluate(100, ms(400)).tokens(ms(100), &["len", "(items", ")"]));
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
    assert_eq!(
        took,
        ms(400 + 700 + 2300),
        "the evaluation yields at its next step (500 ms), the short window takes 700 ms, then 2.3 s of its own:\n{}",
        scripted.timeline()
    );
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

#[tokio::test(start_paused = true)]
async fn warming_where_the_user_is_likely_to_go_runs_at_idle_priority_on_a_sequence_of_its_own() {
    let (completer, scripted) = completer(settings());
    let t0 = Instant::now();
    // The place of a file's last edit: 80 tokens, evaluated 8 at a time in 80 ms steps.
    scripted.push(Script::default().evaluate(80, ms(800)).token(ms(100), "  # total"));
    scripted.push(sum_items());
    let last_edit = returning();
    let at = Request {
        rope: &last_edit.rope,
        cursor: last_edit.cursor,
        document: Some(URI),
        syntax: None,
        trigger: Trigger::Invoked,
    };
    completer.warm(at, Ahead::Elsewhere);
    sleep_until(t0 + ms(100)).await;
    let warm = scripted.job(0).expect("a warm-ahead job");
    assert_eq!(warm.priority.get(), Priority::Background);
    assert!(
        warm.owner.as_deref().is_some_and(|o| o != URI),
        "it took the document's own KV sequence: {:?}",
        warm.owner
    );
    // The user types at the cursor, elsewhere in the document: the warm-ahead yields at its next step.
    let cursor = doc(URI, "def mean(values):\n    return $0\n");
    let (typed, took) = answer(&completer, &cursor, Trigger::Automatic).await;
    let warm = scripted.job(0).expect("the warm-ahead job");
    assert_eq!(warm.outcome, Some(Outcome::Done(StopReason::Cancelled)), "{}", scripted.timeline());
    assert_eq!(typed.text, "sum(items)");
    assert!(took <= ms(80 + 350), "the keystroke waited {took:?} for the warm-ahead: {}", scripted.timeline());
    assert_eq!(scripted.job(1).map(|j| j.owner), Some(Some(URI.to_owned())));
}

/// The settings of the two-speed tests: a whole window of 1,024 tokens, whose first evaluation (more than 256
/// tokens, longer than `short_window_ms` at the prompt rate assumed before one is measured) is cold.
fn two_speeds() -> CompletionConfig {
    CompletionConfig { n_prompt_tokens: 1024, ..settings() }
}

/// The short window's job: 256 tokens in 600 ms, then `sum(items)` a token every 100 ms.
fn short_window() -> Script {
    Script::default().evaluate(256, ms(600)).tokens(ms(100), &["sum", "(items", ")"])
}

/// The whole window's job: 1,000 tokens in 4 s (64-token steps of 250 ms), then `total(items)`.
fn whole_window() -> Script {
    Script::default().evaluate(1000, ms(4000)).tokens(ms(100), &["total", "(items", ")"])
}

#[tokio::test(start_paused = true)]
async fn a_cold_place_answers_from_a_short_window_and_the_whole_window_evaluated_behind_it_replaces_it() {
    let (completer, scripted) = completer(two_speeds());
    let t0 = Instant::now();
    scripted.push(short_window());
    scripted.push(whole_window());
    let (first, took) = answer(&completer, &long(180), Trigger::Automatic).await;
    assert_eq!((first.text.as_str(), first.reason, took), ("sum(items)", StopReason::ShortWindow, ms(900)));
    let (short, whole) = (scripted.job(0).expect("the short window"), scripted.job(1).expect("the whole window"));
    assert_eq!(short.owner, Some(short_owner(URI)), "a KV sequence of its own");
    assert_eq!((whole.owner.as_deref(), whole.priority.get()), (Some(URI), Priority::Late));
    let n_chars = |prompt: &str| prompt.chars().count();
    assert!((200..=256).contains(&n_chars(&short.prompt)), "{} tokens", n_chars(&short.prompt));
    assert!(n_chars(&whole.prompt) > 3 * n_chars(&short.prompt), "{}", scripted.timeline());
    // `nib/suggestionReady` waits for the whole window, which answers the same place from the cache.
    completer.settled(URI).await;
    assert_eq!(t0.elapsed(), ms(900 + 4300), "{}", scripted.timeline());
    let (again, took) = answer(&completer, &long(180), Trigger::Automatic).await;
    assert_eq!((again.text.as_str(), again.reason, took), ("total(items)", StopReason::Cached, Duration::ZERO));
    assert!(again.stats.n_prompt_tokens > 700, "the whole window's prompt: {:?}", again.stats);
    // Warm now: typing there (not what was shown) answers from the whole window, without a short one.
    scripted.push(Script::default().evaluate(1, ms(20)).tokens(ms(50), &["otal(items)"]));
    let (typed, took) = answer(&completer, &long(180).typed("x"), Trigger::Automatic).await;
    assert_eq!((typed.text.as_str(), typed.reason, took), ("otal(items)", StopReason::EndOfGeneration, ms(70)));
    assert_eq!(scripted.job(2).and_then(|j| j.owner).as_deref(), Some(URI));
}

#[tokio::test(start_paused = true)]
async fn typing_during_the_whole_window_evaluation_is_answered_from_the_short_window_and_never_waits_for_it() {
    let (completer, scripted) = completer(two_speeds());
    let t0 = Instant::now();
    scripted.push(short_window());
    scripted.push(whole_window());
    scripted.push(Script::default().evaluate(1, ms(20)).tokens(ms(50), &["um(items)"]));
    scripted.push(whole_window());
    let (first, _) = answer(&completer, &long(180), Trigger::Automatic).await;
    assert_eq!(first.reason, StopReason::ShortWindow);
    sleep_until(t0 + ms(1100)).await;
    let (typed, took) = answer(&completer, &long(180).typed("x"), Trigger::Automatic).await;
    // Not what was shown. The whole window yields at its next 64-token step (1,150 ms), then 70 ms of the short
    // window's own.
    assert_eq!((typed.text.as_str(), typed.reason), ("um(items)", StopReason::ShortWindow), "{}", scripted.timeline());
    assert_eq!(took, ms(50 + 70), "{}", scripted.timeline());
    assert_eq!(scripted.job(2).and_then(|j| j.owner), Some(short_owner(URI)));
    // The whole window carries on for the text as it is now, from what the KV cache kept.
    let whole = scripted.job(3).expect("the whole window again");
    assert_eq!((whole.owner.as_deref(), whole.priority.get()), (Some(URI), Priority::Late));
    completer.settled(URI).await;
    assert_eq!(t0.elapsed(), ms(1220 + 4300), "{}", scripted.timeline());
    let (again, took) = answer(&completer, &long(180).typed("x"), Trigger::Automatic).await;
    assert_eq!((again.text.as_str(), again.reason, took), ("total(items)", StopReason::Cached, Duration::ZERO));
}

/// Asks explicitly at `doc`'s cursor: the suggestion, and the partial results with when they came after `t0`.
async fn ask_explicitly(completer: &Completer, doc: &Doc, t0: Instant) -> (Suggestion, Vec<(Duration, String)>) {
    let partials = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let seen = partials.clone();
    let request = Request {
        rope: &doc.rope,
        cursor: doc.cursor,
        document: Some(doc.uri),
        syntax: None,
        trigger: Trigger::Invoked,
    };
    let on_partial = move |text: &str| seen.lock().push((t0.elapsed(), text.to_owned()));
    let asked = completer.complete(request, CancelToken::default(), on_partial).await.expect("a suggestion");
    let partials = partials.lock().clone();
    (asked, partials)
}

#[tokio::test(start_paused = true)]
async fn an_explicit_request_at_a_cold_place_shows_the_short_window_at_once_and_answers_with_the_whole() {
    let (completer, scripted) = completer(two_speeds());
    let t0 = Instant::now();
    scripted.push(short_window());
    scripted.push(whole_window());
    let (asked, partials) = ask_explicitly(&completer, &long(180), t0).await;
    assert_eq!((asked.text.as_str(), asked.reason), ("total(items)", StopReason::EndOfGeneration));
    assert_eq!(t0.elapsed(), ms(900 + 4300));
    let at = |text: &str| partials.iter().find(|(_, t)| t == text).map(|(at, _)| *at);
    assert_eq!(at("sum(items)"), Some(ms(900)), "the short window's suggestion, as partial results: {partials:?}");
    assert_eq!(partials.last(), Some(&(ms(5200), "total(items)".to_owned())));
    let whole = scripted.job(1).expect("the whole window");
    assert_eq!(whole.priority.get(), Priority::Foreground, "the user waits for it");
}

#[tokio::test(start_paused = true)]
async fn an_explicit_request_at_a_cold_place_waits_for_the_start_of_the_short_window_only() {
    let (completer, scripted) = completer(CompletionConfig { partial_after_ms: 200, ..two_speeds() });
    let t0 = Instant::now();
    // A long line from the short window: its first words at 700 ms, the rest a token every 100 ms after.
    let long_line = ["sum", "(items", ", key", "=abs", ", start", "=0", ")"];
    scripted.push(Script::default().evaluate(256, ms(600)).tokens(ms(100), &long_line));
    scripted.push(whole_window());
    let (asked, partials) = ask_explicitly(&completer, &long(180), t0).await;
    assert_eq!((asked.text.as_str(), asked.reason), ("total(items)", StopReason::EndOfGeneration));
    assert_eq!(partials.first(), Some(&(ms(700), "sum".to_owned())), "the short window's first word: {partials:?}");
    // Its start shown, the short job stops at its next token and the whole window answers at 5.2 s, not at 5.6 s
    // as it did when it waited for the short window's whole line (1,300 ms).
    let (short, whole) = (scripted.job(0).expect("the short window"), scripted.job(1).expect("the whole window"));
    assert_eq!(whole.priority.get(), Priority::Foreground, "the user waits for it");
    assert_eq!(t0.elapsed(), ms(900 + 4300), "{}", scripted.timeline());
    assert_eq!(short.outcome, Some(Outcome::Done(StopReason::Cancelled)), "{}", scripted.timeline());
    assert!(scripted.job(2).is_none(), "the rest of the short window is not generated after: {}", scripted.timeline());
}
