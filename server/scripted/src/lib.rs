//! A `Backend` for tests: each job plays a script (an evaluation that takes so long, then tokens at given
//! times, then an end, a failure or a stall) on tokio's clock, so a test under `tokio::time::pause()` runs
//! seconds of latency rules in milliseconds without llama.cpp. It keeps the rules every engine keeps (one job
//! at a time, completions first, a job that yields stops where `GenerateRequest::stops_evaluating` and
//! `stops_generating` say, stop sequences, `max_tokens`) and writes down what happened, for tests to check.
//!
//! A dev-dependency only: no shipped crate depends on it (`.ci/layers`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::time::sleep;

use nib_engine::{
    Backend, CancelToken, CompletionStats, Engine, EngineError, Event, GenerateRequest, Link, ModelInfo, ModelState,
    Priority, PriorityHandle, PromptText, StopReason, Vocabulary,
};
use nib_vocab::{Special, TokenId, Tokenizer};

/// Prompt tokens evaluated between checks for a waiting completion, as the in-process engine does: fewer for
/// idle work, so that a completion never waits long behind it.
const STEP: usize = 64;
const BACKGROUND_STEP: usize = 8;

/// How often a stalled job looks whether it is still wanted.
const STALL_POLL: Duration = Duration::from_millis(10);

/// What one job does once it reaches the model.
#[derive(Debug, Clone, Default)]
pub struct Script {
    n_evaluate: usize,
    evaluate_for: Duration,
    tokens: Vec<(Duration, String)>,
    finish: Finish,
}

#[derive(Debug, Clone, Default)]
enum Finish {
    #[default]
    EndOfGeneration,
    Fail(EngineError),
    /// No more tokens and no end: a server that hangs.
    Stall,
}

impl Script {
    /// Evaluates `n_tokens` prompt tokens (those not in the KV cache) in `time`, in steps of 64.
    pub fn evaluate(self, n_tokens: usize, time: Duration) -> Script {
        Script { n_evaluate: n_tokens, evaluate_for: time, ..self }
    }

    /// Then `text` as one token, `after` the one before it (or the evaluation).
    pub fn token(mut self, after: Duration, text: &str) -> Script {
        self.tokens.push((after, text.to_owned()));
        self
    }

    /// Then each of `texts` as a token, one every `every`.
    pub fn tokens(self, every: Duration, texts: &[&str]) -> Script {
        texts.iter().fold(self, |script, text| script.token(every, text))
    }

    /// Then `error` instead of the end of generation.
    pub fn fails(self, error: EngineError) -> Script {
        Script { finish: Finish::Fail(error), ..self }
    }

    /// Then nothing more until the job is no longer wanted.
    pub fn stalls(self) -> Script {
        Script { finish: Finish::Stall, ..self }
    }
}

/// A job as it reached the backend, and how it ended.
#[derive(Debug, Clone)]
pub struct Played {
    /// The prompt's text, as a server would get it.
    pub prompt: String,
    pub owner: Option<String>,
    pub priority: PriorityHandle,
    pub cancel: CancelToken,
    pub sampled: bool,
    /// Whether it reached the model: a job unwanted by the time its turn came is dropped without.
    pub started: bool,
    /// Tokens sent.
    pub n_tokens: usize,
    pub outcome: Option<Outcome>,
    /// When it reached the model and when it ended, on tokio's clock from the backend's start.
    pub started_at: Option<Duration>,
    pub ended_at: Option<Duration>,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done(StopReason),
    Failed(EngineError),
}

/// The test's handle on the backend: scripts to play, and what was played. Cheap to clone.
#[derive(Clone)]
pub struct Scripted(Arc<Inner>);

struct Inner {
    link: Link,
    state: Mutex<State>,
    wake: Notify,
    /// Completions queued, which a job that yields gives way to.
    pending_foreground: AtomicUsize,
    /// When the backend was made: the times in `timeline` count from here.
    epoch: tokio::time::Instant,
    /// Counts the jobs that have ended: `ended` waits on it.
    n_ended: watch::Sender<usize>,
}

#[derive(Default)]
struct State {
    scripts: VecDeque<Script>,
    queue: Vec<Queued>,
    persists: Vec<oneshot::Sender<()>>,
    stopping: bool,
    played: Vec<Played>,
    /// What happened, one line each, with the virtual time: for a failing test's message.
    timeline: Vec<String>,
    n_persisted: usize,
}

struct Queued {
    index: usize,
    request: GenerateRequest,
    events: mpsc::UnboundedSender<Event>,
    counted_foreground: bool,
}

impl Scripted {
    /// An engine whose jobs this backend plays, with its model ready, and the handle to script it. Runs its jobs
    /// on a task of the current tokio runtime.
    pub fn engine() -> (Engine, Scripted) {
        let mut handle = None;
        let engine = Engine::with_backend("scripted", |link| {
            let info = ModelInfo { name: "scripted".into(), has_fim_tokens: true, ..ModelInfo::default() };
            link.set_state(ModelState::Ready { info, tokenizer: Arc::new(Chars) });
            let inner = Arc::new(Inner {
                link,
                state: Mutex::default(),
                wake: Notify::new(),
                pending_foreground: AtomicUsize::new(0),
                epoch: tokio::time::Instant::now(),
                n_ended: watch::Sender::new(0),
            });
            tokio::spawn(run(inner.clone()));
            handle = Some(Scripted(inner.clone()));
            Arc::new(Scripted(inner))
        });
        (engine, handle.expect("with_backend calls make"))
    }

    /// The next job that reaches the model plays `script`; once the scripts run out, jobs end at once, empty.
    pub fn push(&self, script: Script) {
        self.0.state.lock().scripts.push_back(script);
    }

    /// Every job submitted so far, in order.
    pub fn played(&self) -> Vec<Played> {
        self.0.state.lock().played.clone()
    }

    /// Job `index`, once submitted.
    pub fn job(&self, index: usize) -> Option<Played> {
        self.0.state.lock().played.get(index).cloned()
    }

    /// How many times the backend saved what the next start could reuse.
    pub fn n_persisted(&self) -> usize {
        self.0.state.lock().n_persisted
    }

    /// What happened so far, a line each.
    pub fn timeline(&self) -> String {
        self.0.state.lock().timeline.join("\n")
    }

    /// Waits until job `index` has ended, and says how; panics after a minute (of tokio's clock) without.
    pub async fn ended(&self, index: usize) -> Outcome {
        let mut n_ended = self.0.n_ended.subscribe();
        let ended = async {
            loop {
                if let Some(outcome) = self.job(index).and_then(|p| p.outcome) {
                    return outcome;
                }
                n_ended.changed().await.expect("the backend lives as long as its handle");
            }
        };
        let outcome = tokio::time::timeout(Duration::from_secs(60), ended).await;
        outcome.unwrap_or_else(|_| panic!("job {index} did not end within a minute:\n{}", self.timeline()))
    }
}

impl Inner {
    fn note(&self, state: &mut State, line: String) {
        let ms = self.epoch.elapsed().as_millis();
        state.timeline.push(format!("{ms:>6} ms  {line}"));
    }

    fn log(&self, line: String) {
        let mut state = self.state.lock();
        self.note(&mut state, line);
    }

    fn completion_waits(&self) -> bool {
        self.pending_foreground.load(Ordering::Acquire) > 0
    }

    /// Ends job `index` with `event`, and writes down how.
    fn end(&self, index: usize, events: &mpsc::UnboundedSender<Event>, outcome: Outcome) {
        let event = match &outcome {
            Outcome::Done(reason) => Event::Done { reason: *reason, stats: CompletionStats::default() },
            Outcome::Failed(error) => Event::Failed(error.clone()),
        };
        let _ = events.send(event);
        let mut state = self.state.lock();
        self.note(&mut state, format!("job {index} ended: {outcome:?}"));
        let played = &mut state.played[index];
        played.outcome = Some(outcome);
        played.ended_at = Some(self.epoch.elapsed());
        drop(state);
        self.n_ended.send_modify(|n| *n += 1);
    }
}

impl Backend for Scripted {
    fn submit(&self, request: GenerateRequest, events: mpsc::UnboundedSender<Event>, _submitted: Instant) {
        let inner = &self.0;
        let mut state = inner.state.lock();
        let index = state.played.len();
        let prompt = match &request.text {
            PromptText::Completion { text, .. } => text.clone(),
            PromptText::Chat { system, user } => format!("{system}\n{user}"),
            PromptText::None => Chars.detokenize(&request.prompt),
        };
        let priority = request.priority.get();
        inner.note(&mut state, format!("job {index} queued: {priority:?}, {} prompt tokens", request.prompt.len()));
        state.played.push(Played {
            prompt,
            owner: request.owner.clone(),
            priority: request.priority.clone(),
            cancel: request.cancel.clone(),
            sampled: request.sampling.is_some(),
            started: false,
            n_tokens: 0,
            outcome: None,
            started_at: None,
            ended_at: None,
        });
        if state.stopping {
            drop(state);
            inner.end(index, &events, Outcome::Failed(EngineError::Stopped));
            return;
        }
        let counted_foreground = priority == Priority::Foreground;
        if counted_foreground {
            inner.pending_foreground.fetch_add(1, Ordering::AcqRel);
        }
        state.queue.push(Queued { index, request, events, counted_foreground });
        drop(state);
        inner.wake.notify_one();
    }

    fn persist(&self, done: oneshot::Sender<()>) {
        self.0.state.lock().persists.push(done);
        self.0.wake.notify_one();
    }

    fn stop(&self) {
        self.0.state.lock().stopping = true;
        self.0.wake.notify_one();
    }
}

/// What is next for the backend's task.
enum Turn {
    Play(Box<Queued>),
    Persist(Vec<oneshot::Sender<()>>),
    Stop(Vec<Queued>),
}

/// Runs jobs one at a time, as an engine thread does: between jobs it answers `persist` and sees `stop`.
async fn run(inner: Arc<Inner>) {
    loop {
        let notified = inner.wake.notified();
        let turn = {
            let mut state = inner.state.lock();
            if !state.persists.is_empty() {
                Some(Turn::Persist(std::mem::take(&mut state.persists)))
            } else if state.stopping {
                Some(Turn::Stop(std::mem::take(&mut state.queue)))
            } else {
                let priorities = state.queue.iter().map(|q| q.request.priority.get());
                nib_engine::next_job(priorities).map(|i| Turn::Play(Box::new(state.queue.remove(i))))
            }
        };
        match turn {
            None => notified.await,
            Some(Turn::Persist(waiting)) => {
                {
                    let mut state = inner.state.lock();
                    state.n_persisted += 1;
                    inner.note(&mut state, "persisted".into());
                }
                for done in waiting {
                    let _ = done.send(());
                }
            }
            Some(Turn::Stop(queued)) => {
                for job in queued {
                    inner.end(job.index, &job.events, Outcome::Failed(EngineError::Stopped));
                }
                inner.log("stopped".into());
                inner.link.stopped();
                return;
            }
            Some(Turn::Play(job)) => {
                if job.counted_foreground {
                    inner.pending_foreground.fetch_sub(1, Ordering::AcqRel);
                }
                play(&inner, *job).await;
            }
        }
    }
}

/// Plays the next script for `job`, stopping where an engine would.
async fn play(inner: &Inner, job: Queued) {
    let Queued { index, request, events, .. } = job;
    let closed = || events.is_closed();
    let end = |outcome| inner.end(index, &events, outcome);
    if request.unwanted(closed()) {
        // Stale or superseded by its turn: it never reaches the model.
        return end(Outcome::Done(StopReason::Cancelled));
    }
    let script = {
        let mut state = inner.state.lock();
        state.played[index].started = true;
        state.played[index].started_at = Some(inner.epoch.elapsed());
        inner.note(&mut state, format!("job {index} started: {:?}", request.priority.get()));
        state.scripts.pop_front().unwrap_or_default()
    };
    let _ = events.send(Event::Started { n_evaluate: script.n_evaluate });
    let step = if request.priority.get() == Priority::Background { BACKGROUND_STEP } else { STEP };
    let n_steps = script.n_evaluate.div_ceil(step).max(1);
    for _ in 0..n_steps {
        if request.stops_evaluating(closed(), inner.completion_waits()) {
            return end(Outcome::Done(StopReason::Cancelled));
        }
        sleep(script.evaluate_for / n_steps as u32).await;
    }
    if request.stops_generating(closed(), inner.completion_waits()) {
        return end(Outcome::Done(StopReason::Cancelled));
    }
    inner.log(format!("job {index} evaluated"));
    let mut text = String::new();
    for (n_tokens, (after, piece)) in (1..).zip(&script.tokens) {
        sleep(*after).await;
        let full = format!("{text}{piece}");
        inner.state.lock().played[index].n_tokens = n_tokens;
        if let Some(cut) = request.stop.iter().filter_map(|s| full.find(s.as_str())).min() {
            if cut > text.len() {
                let _ = events.send(Event::Text(full[text.len()..cut].to_owned()));
            }
            return end(Outcome::Done(StopReason::StopSequence));
        }
        let _ = events.send(Event::Text(piece.clone()));
        text = full;
        if n_tokens >= request.max_tokens {
            return end(Outcome::Done(StopReason::MaxTokens));
        }
        if request.stops_generating(closed(), inner.completion_waits()) {
            let reason = if request.cancel.is_enough() { StopReason::Enough } else { StopReason::Cancelled };
            return end(Outcome::Done(reason));
        }
    }
    match script.finish {
        Finish::EndOfGeneration => end(Outcome::Done(StopReason::EndOfGeneration)),
        Finish::Fail(error) => end(Outcome::Failed(error)),
        Finish::Stall => {
            while !request.stops_generating(closed(), inner.completion_waits()) {
                sleep(STALL_POLL).await;
            }
            end(Outcome::Done(StopReason::Cancelled))
        }
    }
}

/// One token per char, and the fill-in-the-middle tokens as ids below zero: prompts as long as their text.
#[derive(Debug)]
struct Chars;

const FIM: [(Special, TokenId, &str); 3] =
    [(Special::FimPre, -1, "<PRE>"), (Special::FimSuf, -2, "<SUF>"), (Special::FimMid, -3, "<MID>")];

impl Tokenizer for Chars {
    fn tokenize(&self, text: &str, _parse_special: bool) -> Vec<TokenId> {
        text.chars().map(|c| c as TokenId).collect()
    }

    fn special(&self, special: Special) -> Option<TokenId> {
        FIM.iter().find(|(s, ..)| *s == special).map(|(_, id, _)| *id)
    }

    fn detokenize(&self, tokens: &[TokenId]) -> String {
        let piece = |&id: &TokenId| match FIM.iter().find(|(_, fim, _)| *fim == id) {
            Some((.., name)) => (*name).to_owned(),
            None => u32::try_from(id).ok().and_then(char::from_u32).map(String::from).unwrap_or_default(),
        };
        tokens.iter().map(piece).collect()
    }
}

impl Vocabulary for Chars {
    fn chat(&self, _system: &str, _user: &str) -> Option<String> {
        None
    }
}
