//! Jobs on the engine that outlive the requests that started them: a task per job collects its text into the
//! completion cache, and every request for the same prompt waits on the same job, within its deadline, showing the
//! start of a suggestion that is still being written.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::confidence::Logprobs;
use super::postprocess::{self, Mode};
use super::site::Site;
use super::{Answers, Completer, CompletionError, Request, Suggestion, Trigger, cold};
use nib_engine::{
    CancelToken, CompletionStats, EngineError, Event, GenerateRequest, Infill, Priority, PriorityHandle, PromptText,
    StopReason,
};
use nib_prompt::{Prompt, TokenId};

/// A job on the engine, and what it has produced so far.
#[derive(Clone)]
pub(super) struct Running {
    owner: Option<String>,
    prompt: Arc<[TokenId]>,
    pub(super) cancel: CancelToken,
    priority: PriorityHandle,
    pub(super) progress: watch::Receiver<Progress>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Progress {
    raw: String,
    logprobs: Logprobs,
    /// A cold prompt (`COLD_TOKENS` or more to evaluate) is being evaluated.
    evaluating: bool,
    pub(super) done: Option<Result<(StopReason, CompletionStats), EngineError>>,
}

/// A prompt to generate for, its cache key, and the KV sequence it goes to.
pub(super) struct Job<'a> {
    pub(super) prompt: &'a Prompt,
    pub(super) key: u64,
    pub(super) owner: Option<&'a str>,
}

/// How generating for a request ended: the model's text, or an answer given without it.
pub(super) enum Generated {
    Text(StopReason, String, CompletionStats, Logprobs),
    Answered(Suggestion),
}

/// How waiting for a job ended.
enum Waited {
    Done(StopReason, String, CompletionStats),
    Failed(EngineError),
    /// The request was outdated by a newer one or an edit.
    Superseded,
    /// The deadline passed; the text so far.
    OutOfTime(String),
    /// `partial_after_ms` passed with some text: the start of the suggestion.
    Partial(String),
}

/// A prompt with this many tokens to evaluate is cold: it takes longer than a keystroke's wait.
const COLD_TOKENS: usize = 64;

/// A newer prompt carries on an evaluation when it shares all of it but this many tokens at the end:
/// typing changes the tokens at the cursor, and with a prefix-suffix-middle template the short suffix after it.
const CARRY_ON_TOKENS: usize = 64;

/// How often a waiting request looks whether it has been superseded.
pub(super) const SUPERSEDED_POLL: Duration = Duration::from_millis(20);

/// When a request stops waiting for its job: past `deadline` it answers with what is there, past `partial_by` with
/// the start of the suggestion; text less sure than `gate` is never shown.
struct Limits {
    deadline: Instant,
    partial_by: Option<Instant>,
    gate: f32,
}

impl Completer {
    fn limits(&self, trigger: Trigger, started: Instant) -> Limits {
        let config = self.config();
        let (wait_ms, gate) = match trigger {
            Trigger::Automatic => (config.deadline_ms, config.min_confidence),
            Trigger::Invoked => (config.invoked_timeout_ms, 0.0),
        };
        // A block suggestion takes a keystroke's time per line or two: the user sees its start at once.
        let partial_after = Duration::from_millis(config.partial_after_ms);
        let partial_by = (trigger == Trigger::Automatic && !partial_after.is_zero()).then(|| started + partial_after);
        Limits { deadline: started + Duration::from_millis(wait_ms), partial_by, gate }
    }

    /// Runs `job` for `request` (or waits on the job already running its prompt) until its text is complete: the
    /// text, or the answer given without it (superseded, out of time, the start of the suggestion). A job
    /// pre-empted before its text was complete is started again (from what it left in the KV cache).
    pub(super) async fn generate(
        &self,
        (request, job, site, cancel): (Request<'_>, &Job<'_>, &Site, &CancelToken),
        answers: &Answers<'_>,
        on_partial: &mut impl FnMut(&str),
    ) -> Result<Generated, CompletionError> {
        let Limits { deadline, mut partial_by, gate } = self.limits(request.trigger, answers.started);
        let answered = |suggestion| Ok(Generated::Answered(suggestion));
        loop {
            if cancel.is_outdated() {
                return answered(answers.early(String::new(), StopReason::Cancelled, None));
            }
            if Instant::now() >= deadline {
                self.engine.record_deadline_answer();
                return answered(answers.early(String::new(), StopReason::Deadline, None));
            }
            let Some((running, own)) = self.running_for(request.trigger, job, &site.mode) else {
                return answered(answers.early(String::new(), StopReason::Evaluating, None));
            };
            if request.trigger == Trigger::Invoked {
                running.priority.set(Priority::Foreground);
            }
            let (waited, logprobs) =
                self.wait(&running, &site.mode, cancel, (partial_by, deadline), (gate, &mut *on_partial)).await;
            match waited {
                // Stopped by another request or by a completion it yielded to: start again unless its text is
                // complete (the KV cache keeps what it evaluated).
                Waited::Done(StopReason::Cancelled, raw, stats) => {
                    if postprocess::cut(&raw, &site.mode).1 {
                        return Ok(Generated::Text(StopReason::Enough, raw, stats, logprobs));
                    }
                }
                Waited::Done(reason, raw, stats) => return Ok(Generated::Text(reason, raw, stats, logprobs)),
                // A job shared with a request that dropped it: this request runs its own.
                Waited::Failed(EngineError::Stopped) if !own => {}
                Waited::Failed(err) => return Err(err.into()),
                Waited::Superseded => {
                    if own {
                        running.cancel.outdate();
                    }
                    return answered(answers.early(String::new(), StopReason::Cancelled, None));
                }
                Waited::OutOfTime(raw) => {
                    // Answer with what there is; the job goes on into the cache, behind any completion.
                    running.priority.set(Priority::Late);
                    self.engine.record_deadline_answer();
                    let (text, confidence) = site.finished_with(raw, &logprobs).await;
                    return answered(self.gate(request.trigger, answers.early(text, StopReason::Deadline, confidence)));
                }
                Waited::Partial(raw) => {
                    let (text, confidence) = site.finished_with(raw, &logprobs).await;
                    if !text.is_empty() {
                        running.priority.set(Priority::Late);
                        self.engine.record_partial_answer();
                        // Held back, it still answers as partial: `nib/suggestionReady` follows if the whole passes.
                        return answered(
                            self.gate(request.trigger, answers.early(text, StopReason::Partial, confidence)),
                        );
                    }
                    // Its start alone would show nothing (it repeats what follows the cursor): wait for the whole.
                    partial_by = None;
                }
            }
        }
    }

    /// The job running `job`'s prompt, and whether this request started it. `None` for a keystroke that would wait
    /// on its document's cold evaluation: it waits for nobody, and the evaluation goes on for the requests after
    /// it, at full speed, skipping the generation for a prompt that is gone.
    fn running_for(&self, trigger: Trigger, job: &Job<'_>, mode: &Mode) -> Option<(Running, bool)> {
        if let Some(running) = self.with_running(|r| r.get(&job.key).cloned()) {
            return Some((running, false));
        }
        if trigger == Trigger::Automatic
            && let Some(evaluation) = job.owner.and_then(|d| self.evaluation(d))
            && carries_on(&evaluation.prompt, &job.prompt.tokens)
        {
            evaluation.priority.set(Priority::Foreground);
            evaluation.cancel.outdate();
            self.engine.record_evaluating_answer();
            return None;
        }
        Some((self.start(job.key, job.prompt, mode, job.owner, Priority::Foreground), true))
    }

    /// Follows `job` until it ends, the request is superseded, `deadline` passes, or `partial_by` passes with
    /// text to show. Text that `gate` (the least confidence shown) holds back is not shown as it grows either.
    /// With the outcome come the tokens' log-probabilities so far.
    async fn wait(
        &self,
        job: &Running,
        mode: &Mode,
        cancel: &CancelToken,
        (partial_by, deadline): (Option<tokio::time::Instant>, tokio::time::Instant),
        (gate, on_partial): (f32, &mut impl FnMut(&str)),
    ) -> (Waited, Logprobs) {
        let mut progress = job.progress.clone();
        let mut shown_so_far = String::new();
        loop {
            let now = progress.borrow_and_update().clone();
            let (so_far, complete) = postprocess::cut(&now.raw, mode);
            let sure = || now.logprobs.confidence(&now.raw, &so_far).is_none_or(|c| c >= gate);
            if so_far != shown_so_far && !so_far.is_empty() && sure() {
                on_partial(&so_far);
                shown_so_far = so_far;
            }
            if complete {
                // Enough text: stop the engine; the job caches what it has.
                job.cancel.enough();
            }
            // Its text is for the document as it was: it answers only a request that is still current.
            if cancel.is_outdated() {
                return (Waited::Superseded, now.logprobs);
            }
            match now.done {
                Some(Ok((reason, stats))) => return (Waited::Done(reason, now.raw, stats), now.logprobs),
                Some(Err(err)) => return (Waited::Failed(err), now.logprobs),
                None => {}
            }
            if let Some(by) = partial_by
                && !complete
                && tokio::time::Instant::now() >= by
            {
                // Whole lines, else whole words: what is shown is never cut mid-word.
                let lines = now.raw.rfind('\n').map(|end| &now.raw[..end]).filter(|l| !l.trim().is_empty());
                let ready = lines.unwrap_or_else(|| postprocess::whole_words(&now.raw));
                if !ready.trim().is_empty() {
                    return (Waited::Partial(ready.to_owned()), now.logprobs);
                }
            }
            let poll = (tokio::time::Instant::now() + SUPERSEDED_POLL).min(deadline);
            match tokio::time::timeout_at(poll, progress.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return (Waited::Failed(EngineError::Stopped), now.logprobs),
                Err(_) if tokio::time::Instant::now() < deadline => {}
                Err(_) => return (Waited::OutOfTime(postprocess::whole_words(&now.raw).to_owned()), now.logprobs),
            }
        }
    }

    /// Starts a job whose events a task of its own collects, so it outlives the request that started it:
    /// its text goes into the completion cache (under `key`), and later requests for the same prompt wait on it.
    pub(super) fn start(
        &self,
        key: u64,
        prompt: &Prompt,
        mode: &Mode,
        owner: Option<&str>,
        priority: Priority,
    ) -> Running {
        let request = GenerateRequest {
            prompt: prompt.tokens.clone(),
            max_tokens: self.config().max_tokens as usize,
            stop: mode.stop_sequences(),
            cancel: CancelToken::default(),
            owner: owner.map(str::to_owned),
            priority: PriorityHandle::new(priority),
            grammar: None,
            schema: None,
            text: PromptText::Completion { text: prompt.text.text.clone(), infill: infill(prompt) },
            sampling: None,
        };
        let (progress_tx, progress) = watch::channel(Progress::default());
        let job = Running {
            owner: request.owner.clone(),
            prompt: prompt.tokens.as_slice().into(),
            cancel: request.cancel.clone(),
            priority: request.priority.clone(),
            progress,
        };
        self.with_running(|r| r.insert(key, job.clone()));
        let events = self.engine.generate(request);
        let (this, job_ended, mode) = (self.clone(), job.clone(), mode.clone());
        self.tasks.spawn("completion job", async move {
            this.collect(key, &job_ended, &mode, events, progress_tx).await;
            tracing::debug!(n_chars = job_ended.progress.borrow().raw.len(), "job ended");
            this.with_running(|r| r.remove(&key));
            this.n_ended.send_modify(|n| *n += 1);
        });
        job
    }

    /// `start`'s task: follows the job's events into its progress until it is done, and puts a finished text into
    /// the completion cache.
    async fn collect(
        &self,
        key: u64,
        job: &Running,
        mode: &Mode,
        mut events: mpsc::UnboundedReceiver<Event>,
        progress: watch::Sender<Progress>,
    ) {
        // The sequence holds the whole prompt once the job generates, or ends other than pre-empted.
        let evaluated = || {
            if let Some(owner) = &job.owner {
                self.cold.lock().evaluated(owner, &job.prompt);
            }
        };
        let (mut now, mut generating) = (Progress::default(), false);
        while now.done.is_none() {
            let event = events.recv().await;
            if !generating && matches!(event, Some(Event::Logprob(_) | Event::Text(_))) {
                generating = true;
                evaluated();
            }
            match event {
                Some(Event::Started { n_evaluate }) => {
                    tracing::debug!(n_evaluate, "job started");
                    now.evaluating = n_evaluate >= COLD_TOKENS;
                }
                Some(Event::Logprob(logprob)) => now.logprobs.push(now.raw.len(), logprob),
                Some(Event::Text(text)) => {
                    now.evaluating = false;
                    now.raw.push_str(&text);
                }
                Some(Event::Done { reason, stats }) => {
                    if reason != StopReason::Cancelled && !generating {
                        evaluated();
                    }
                    self.cold.lock().measured(&stats);
                    now.evaluating = false;
                    let finished = matches!(
                        reason,
                        StopReason::EndOfGeneration
                            | StopReason::StopSequence
                            | StopReason::MaxTokens
                            | StopReason::Enough
                    );
                    if finished || postprocess::cut(&now.raw, mode).1 {
                        self.with_cache(|c| c.put(key, now.raw.clone(), now.logprobs.clone()));
                    }
                    now.done = Some(Ok((reason, stats)));
                }
                Some(Event::Failed(err)) => now.done = Some(Err(err)),
                None => now.done = Some(Err(EngineError::Stopped)),
            }
            progress.send_replace(now.clone());
        }
    }

    /// The cold evaluation running for `document`, if any.
    pub(super) fn evaluation(&self, document: &str) -> Option<Running> {
        self.with_running(|r| {
            r.values().find(|j| j.owner.as_deref() == Some(document) && j.progress.borrow().evaluating).cloned()
        })
    }

    /// Waits until no job for `document` runs: a suggestion answered empty for lack of time is then
    /// in the completion cache, or the prompt it waited for is in the KV cache.
    /// A document's short window counts: the whole window it waits for is evaluated behind it.
    pub async fn settled(&self, document: &str) {
        let mut n_ended = self.n_ended.subscribe();
        let short = cold::short_owner(document);
        loop {
            let ours = |owner: &Option<String>| owner.as_deref().is_some_and(|o| o == document || o == short);
            let busy = self.with_running(|r| r.values().any(|j| ours(&j.owner)))
                || self.cold.lock().wanted.contains_key(document);
            if !busy || n_ended.changed().await.is_err() {
                return;
            }
        }
    }
}

/// A fill-in-the-middle prompt's parts, for servers that lay out the prompt themselves.
pub(super) fn infill(prompt: &Prompt) -> Option<Infill> {
    let text = &prompt.text;
    text.fills_middle.then(|| Infill {
        prefix: text.prefix.clone(),
        suffix: text.suffix.clone(),
        extra: text.extra.clone(),
    })
}

/// Whether `newer` carries on `older`'s evaluation: the same text up to near its end.
pub(super) fn carries_on(older: &[TokenId], newer: &[TokenId]) -> bool {
    let common = older.iter().zip(newer).take_while(|(a, b)| a == b).count();
    common + CARRY_ON_TOKENS >= older.len().min(newer.len())
}
