//! Two speeds for a cold prompt: what the completer knows about the KV cache (the whole-window prompt each
//! document's sequence last evaluated), the prompt rate it measured, and from them how short the first window
//! must be to answer within `completion.short_window_ms`. The whole window a document waits for is remembered
//! here too, so that one task per document evaluates the latest one behind the short answers (`behind`); and the
//! short window's answer itself (`answer_short`).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

use super::cache::Place;
use super::job::{Generated, Job, carries_on};
use super::postprocess::Mode;
use super::site::Site;
use super::{Answers, Completer, CompletionError, Request, Suggestion, Trigger};
use nib_engine::{CachedTokens, CancelToken, CompletionStats, ModelState, Priority, StopReason, Vocabulary};
use nib_prompt::{Budget, Prompt, Template, TokenId};

/// A prompt with more than this many tokens to evaluate gets a short window first; the short window is never
/// smaller either: fewer lines of code would cost more in quality than the wait they save.
pub const MIN_SHORT_TOKENS: usize = 256;

/// The prompt rate assumed before one is measured (tokens per second): the default model on two slow cores.
const ASSUMED_RATE: f64 = 256.0;

/// Evaluations shorter than this say little about the rate (the first token's sampling weighs in).
const MIN_MEASURED_TOKENS: usize = 128;

/// How much a new measurement moves the rate: the machine's load changes, but one slow job is not a trend.
const RATE_WEIGHT: f64 = 0.3;

/// Documents whose evaluated prompt is remembered.
const N_DOCUMENTS: usize = 64;

/// The KV sequence of a document's short windows: one of its own, so the whole window's is never disturbed.
pub fn short_owner(document: &str) -> String {
    // A space never occurs in a URI.
    format!("{document} short-window")
}

/// The whole window a document's latest cold request waits for.
#[derive(Clone)]
pub struct Whole {
    pub key: u64,
    pub prompt: Prompt,
    pub mode: Mode,
}

pub struct Cold {
    /// Measured prompt rate, tokens per second.
    rate: Option<f64>,
    /// The whole-window prompt each document's KV sequence holds, as far as the completer knows.
    evaluated: LruCache<String, CachedTokens>,
    /// Per document, the whole window being evaluated behind its short answers.
    pub wanted: HashMap<String, Whole>,
    /// Documents whose suggestion on screen came from a short window.
    short_shown: LruCache<String, ()>,
}

impl Default for Cold {
    fn default() -> Cold {
        let n = NonZeroUsize::new(N_DOCUMENTS).unwrap_or(NonZeroUsize::MIN);
        Cold { rate: None, evaluated: LruCache::new(n), wanted: HashMap::new(), short_shown: LruCache::new(n) }
    }
}

impl Cold {
    /// The prompt rate measured so far (tokens per second), if any.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// Learns the prompt rate from a finished job's figures: its evaluation is the time to its first token.
    pub fn measured(&mut self, stats: &CompletionStats) {
        let seconds = (stats.ttft_ms - stats.queue_ms) / 1000.0;
        if stats.n_evaluated_tokens < MIN_MEASURED_TOKENS || stats.n_generated_tokens == 0 || seconds <= 0.0 {
            return;
        }
        let rate = stats.n_evaluated_tokens as f64 / seconds;
        self.rate = Some(match self.rate {
            Some(old) => old + RATE_WEIGHT * (rate - old),
            None => rate,
        });
    }

    /// A suggestion was answered for `document`, from a short window or not.
    pub fn shown(&mut self, document: &str, short: bool) {
        if short {
            self.short_shown.put(document.to_owned(), ());
        } else {
            self.short_shown.pop(document);
        }
    }

    /// Whether `document`'s suggestion on screen came from a short window whose whole window is ready now:
    /// typing through it gives way to the whole window's.
    pub fn replaced(&self, document: &str) -> bool {
        self.short_shown.contains(document) && !self.wanted.contains_key(document)
    }

    /// `document`'s sequence now holds `prompt` (its job evaluated it whole).
    pub fn evaluated(&mut self, document: &str, prompt: &[TokenId]) {
        let mut cached = CachedTokens::default();
        cached.extend(prompt);
        self.evaluated.put(document.to_owned(), cached);
    }

    /// How many of `prompt`'s tokens `document`'s sequence lacks, reusing what the engine would.
    pub fn n_to_evaluate(&mut self, document: &str, prompt: &[TokenId], can_shift: bool) -> usize {
        match self.evaluated.get(document) {
            Some(cached) => cached.plan(prompt, can_shift).n_evaluate,
            None => prompt.len(),
        }
    }

    /// The short window's budget: what the prompt rate evaluates in `budget_ms`, at least `MIN_SHORT_TOKENS`.
    pub fn n_short(&self, budget_ms: u64) -> usize {
        let rate = self.rate.unwrap_or(ASSUMED_RATE);
        ((rate * budget_ms as f64 / 1000.0) as usize).max(MIN_SHORT_TOKENS)
    }
}

/// The short window's budget when `n_to_evaluate` tokens would take longer than it allows, else `None` (the
/// whole window answers within the budget anyway).
pub fn short_budget(n_to_evaluate: usize, n_short: usize, n_whole: usize) -> Option<usize> {
    (n_to_evaluate > n_short.max(MIN_SHORT_TOKENS) && n_short < n_whole).then_some(n_short)
}

impl Completer {
    /// Whether a whole window is being evaluated for `document` behind its short window's suggestions.
    pub fn whole_pending(&self, document: &str) -> bool {
        self.cold.lock().wanted.contains_key(document)
    }

    /// The prompt rate measured so far, tokens per second, which sizes the short window.
    pub fn prompt_rate(&self) -> Option<f64> {
        self.cold.lock().rate()
    }

    /// For a request whose whole window (`whole`) is cold, and would take longer than `completion.short_window_ms`
    /// to evaluate: its document and the prompt of a short window around the cursor, which fits that time.
    /// Only where the engine keeps a KV sequence per window: a server keeps its own cache (llama-server one slot),
    /// where the short window would evict the whole one.
    pub(super) async fn short_window<'r>(
        &self,
        tokenizer: &Arc<dyn Vocabulary>,
        template: &Template,
        request: Request<'r>,
        whole: &Prompt,
    ) -> Result<Option<(&'r str, Prompt)>, CompletionError> {
        let budget_ms = self.config().short_window_ms;
        let in_process = !self.engine.health().destination.contains("://");
        let Some(document) = request.document.filter(|_| budget_ms > 0 && in_process) else { return Ok(None) };
        let can_shift = match self.engine.state() {
            ModelState::Ready { info, .. } => !info.sliding_window,
            _ => false,
        };
        let n_short = {
            let mut cold = self.cold.lock();
            let n_to_evaluate = cold.n_to_evaluate(document, &whole.tokens, can_shift);
            short_budget(n_to_evaluate, cold.n_short(budget_ms), whole.tokens.len())
        };
        let Some(n_short) = n_short else { return Ok(None) };
        let budget = Budget { n_tokens: n_short, n_context_tokens: 0, ..self.budget(request.trigger, template) };
        let owner = short_owner(document);
        let short = self.prompt_in(tokenizer, template, request, budget, Some(&owner)).await?;
        Ok((!short.tokens.is_empty()).then_some((document, short)))
    }

    /// Evaluates `whole` for `document` behind the short windows' jobs, at `Late` priority, and generates its
    /// suggestion into the completion cache; one task per document follows the latest whole window wanted
    /// (typing moves it on), starting a job again where a completion pre-empted it. `settled` waits for it.
    fn behind(&self, document: &str, whole: Whole) {
        let older = self.cold.lock().wanted.insert(document.to_owned(), whole.clone());
        let Some(older) = older else {
            let (this, document) = (self.clone(), document.to_owned());
            self.tasks.spawn("whole window", async move { this.drive(&document).await });
            return;
        };
        if older.key != whole.key
            && let Some(job) = self.with_running(|r| r.get(&older.key).cloned())
        {
            // Typing carries the evaluation on (the KV cache keeps it); a jump makes it useless.
            if carries_on(&older.prompt.tokens, &whole.prompt.tokens) {
                job.cancel.outdate()
            } else {
                job.cancel.cancel()
            }
        }
    }

    /// `behind`'s task for `document`.
    async fn drive(&self, document: &str) {
        loop {
            let Some(whole) = self.cold.lock().wanted.get(document).cloned() else { break };
            let cached = self.with_cache(|c| c.get(whole.key)).is_some();
            let job = match self.with_running(|r| r.get(&whole.key).cloned()) {
                _ if cached => None,
                Some(job) => Some(job),
                None => Some(self.start(whole.key, &whole.prompt, &whole.mode, Some(document), Priority::Late)),
            };
            let ended = match job {
                Some(job) => {
                    let mut progress = job.progress.clone();
                    let done = progress.wait_for(|p| p.done.is_some()).await.ok().and_then(|p| p.done.clone());
                    // Cancelled by `cancel_all` (shutting down) rather than pre-empted: nothing more to do.
                    if job.cancel.is_cancelled()
                        && self.cold.lock().wanted.get(document).is_none_or(|w| w.key == whole.key)
                    {
                        None
                    } else {
                        done
                    }
                }
                None => Some(Ok((StopReason::Cached, CompletionStats::default()))),
            };
            let mut cold = self.cold.lock();
            let still_wanted = cold.wanted.get(document).is_some_and(|w| w.key == whole.key);
            match ended {
                // Pre-empted by a completion, or outdated by typing: again, for the latest whole window.
                Some(Ok((StopReason::Cancelled, _))) => {}
                Some(Ok(_)) if !still_wanted => {}
                _ => {
                    cold.wanted.remove(document);
                    break;
                }
            }
        }
        self.n_ended.send_modify(|n| *n += 1);
    }

    /// A cold place's answer from a short window around the cursor (`short`), with the whole window evaluated
    /// behind it. An automatic request answers with the short window's suggestion. An explicit one, whose user would
    /// wait long, sees its start at once as partial results and gets `None`: the whole window's suggestion is its
    /// answer, and its evaluation does not wait for the rest of the short one's, which is dropped.
    pub(super) async fn answer_short(
        &self,
        (request, document, short, whole): (Request<'_>, &str, &Prompt, Whole),
        (site, cancel, answers, seen): (&Site, &CancelToken, &Answers<'_>, &Option<(&str, Place)>),
        on_partial: &mut impl FnMut(&str),
    ) -> Result<Option<Suggestion>, CompletionError> {
        let owner = short_owner(document);
        let short_job = Job { prompt: short, key: self.cache_key(&short.tokens, &site.mode), owner: Some(&owner) };
        if request.trigger == Trigger::Invoked {
            // The preview waits as a keystroke does: the start of the short window's suggestion once
            // `partial_after_ms` has passed. Then its job stops: the whole window's answer, which the user waits
            // for, replaces the rest (which would only delay it, and take `nib/status`'s last job after it).
            let preview = Request { trigger: Trigger::Automatic, ..request };
            match self.generate((preview, &short_job, site, cancel), answers, on_partial).await? {
                Generated::Answered(suggestion) if suggestion.reason == StopReason::Cancelled => {
                    return Ok(Some(suggestion));
                }
                Generated::Answered(_) => {
                    if let Some(job) = self.with_running(|r| r.get(&short_job.key).cloned()) {
                        job.cancel.cancel();
                    }
                }
                Generated::Text(_, raw, ..) => {
                    let text = site.finished(raw).await;
                    if !text.is_empty() {
                        on_partial(&text);
                    }
                }
            }
            return Ok(None);
        }
        let n_whole = whole.prompt.tokens.len();
        self.behind(document, whole);
        let suggestion = match self.with_cache(|c| c.get(short_job.key)) {
            Some((raw, logprobs)) => {
                let (text, confidence) = site.finished_with(raw, &logprobs).await;
                answers.cached(&self.engine, text, short.tokens.len(), confidence)
            }
            None => match self.generate((request, &short_job, site, cancel), answers, on_partial).await? {
                Generated::Answered(suggestion) => return Ok(Some(self.shown_if_partial(seen, suggestion))),
                Generated::Text(_, raw, stats, logprobs) => {
                    let (text, confidence) = site.finished_with(raw, &logprobs).await;
                    answers.generated(text, confidence, StopReason::ShortWindow, stats)
                }
            },
        };
        let suggestion = Suggestion { reason: StopReason::ShortWindow, ..suggestion };
        tracing::debug!(n_short = short.tokens.len(), n_whole, "short window answered");
        self.cold.lock().shown(document, true);
        Ok(Some(self.shown(seen, self.gate(request.trigger, suggestion))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(n_evaluated_tokens: usize, queue_ms: f64, ttft_ms: f64) -> CompletionStats {
        CompletionStats { n_evaluated_tokens, queue_ms, ttft_ms, n_generated_tokens: 1, ..Default::default() }
    }

    #[test]
    fn the_short_window_fits_the_measured_rate_and_never_goes_under_256_tokens() {
        let mut cold = Cold::default();
        assert_eq!(cold.n_short(1000), 256, "assumed before any measurement");
        cold.measured(&stats(1500, 100.0, 3100.0));
        assert_eq!(cold.n_short(1000), 500);
        // Too short to say anything, or never generated: ignored.
        cold.measured(&stats(64, 0.0, 10.0));
        cold.measured(&CompletionStats { n_generated_tokens: 0, ..stats(1500, 0.0, 100.0) });
        assert_eq!(cold.rate(), Some(500.0));
        // A slower machine moves it by a share at a time.
        cold.measured(&stats(1000, 0.0, 10_000.0));
        assert_eq!(cold.rate().map(f64::round), Some(380.0));
        cold.measured(&stats(1000, 0.0, 100_000.0));
        assert_eq!(cold.n_short(1000), 269);
        let mut slow = Cold::default();
        slow.measured(&stats(1000, 0.0, 20_000.0));
        assert_eq!(slow.n_short(1000), 256);
    }

    #[test]
    fn only_a_prompt_that_takes_longer_than_the_budget_gets_a_short_window() {
        assert_eq!(short_budget(1500, 300, 1536), Some(300));
        assert_eq!(short_budget(256, 256, 1536), None, "256 tokens or fewer: the whole window");
        assert_eq!(short_budget(290, 300, 1536), None, "within the budget");
        assert_eq!(short_budget(1500, 2000, 1536), None, "a fast engine: the whole window fits");
    }

    #[test]
    fn what_a_document_lacks_follows_what_its_sequence_evaluated() {
        let mut cold = Cold::default();
        let prompt: Vec<TokenId> = (0..1000).collect();
        assert_eq!(cold.n_to_evaluate("a", &prompt, false), 1000, "never evaluated");
        cold.evaluated("a", &prompt[..990]);
        assert_eq!(cold.n_to_evaluate("a", &prompt, false), 10);
        assert_eq!(cold.n_to_evaluate("b", &prompt, false), 1000, "another document's sequence");
        let jumped: Vec<TokenId> = (5000..6000).collect();
        assert_eq!(cold.n_to_evaluate("a", &jumped, false), 1000);
        assert_ne!(short_owner("file:///a.py"), "file:///a.py");
    }
}
