//! Prompt-lookup decoding: speculative decoding without a draft model. Code repeats its names and lines, so the
//! tokens that followed the latest earlier occurrence of the last few tokens (in the prompt or in what was
//! generated) are a good guess at what comes next. The worker evaluates such a draft in one batch with the token
//! just sampled and keeps it as far as greedy sampling agrees, so the text is the same as without it.
//!
//! A wrong draft costs a wider batch for nothing, so the `Gate` measures what drafting gains on this machine
//! and model and stops drafting while it does not pay (code that does not repeat, a busy CPU), trying again now
//! and then. Pure: evaluating and verifying are the worker's.

use std::time::{Duration, Instant};

use nib_vocab::TokenId;

/// The longest run of tokens looked up: longer ones rarely find a match that a shorter one would not.
const MAX_NGRAM: usize = 4;
/// The shortest: a single token (a space, a bracket) is followed by too many different things to guess from.
const MIN_NGRAM: usize = 2;
/// Tokens drafted at most: a batch this wide costs little more than one token, a wider one starts to.
pub const MAX_DRAFT: usize = 8;
/// Logits from a batch of two tokens or more whose two best are nearer than this are a near tie: on the CPU, a
/// batch goes through other kernels than one token (llamafile's sgemm), whose results differ in the last bits,
/// enough to flip a pick this close. Such a token is evaluated again alone, as plain decoding evaluates it.
const NEAR_TIE: f32 = 0.1;

/// The draft after `history`: the tokens that followed the latest earlier occurrence of its last `n` tokens,
/// for the largest `n` from `MAX_NGRAM` down to `MIN_NGRAM` that occurs earlier; at most `max` of them.
pub fn draft(history: &[TokenId], max: usize) -> &[TokenId] {
    let len = history.len();
    for n in (MIN_NGRAM..=MAX_NGRAM).rev() {
        if len <= n {
            continue;
        }
        let tail = &history[len - n..];
        // Latest first: the nearest repeat (the line above, the previous call) is the likeliest to go on alike.
        if let Some(start) = (0..len - n).rev().find(|&start| &history[start..start + n] == tail) {
            let next = start + n;
            return &history[next..(next + max).min(len)];
        }
    }
    &[]
}

/// Whether the best two of `logits` are within `NEAR_TIE` of each other.
pub fn near_tie(logits: &[f32]) -> bool {
    let (mut first, mut second) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for &logit in logits {
        if logit > first {
            (first, second) = (logit, first);
        } else if logit > second {
            second = logit;
        }
    }
    first - second < NEAR_TIE
}

/// One job's drafting: what the drafts are looked up in, and the draft evaluated with the last step.
pub struct Drafts {
    /// The prompt and every token sampled since.
    history: Vec<TokenId>,
    /// The last step's draft: evaluated after the token sampled before it, at batch indices 1 and on.
    draft: Vec<TokenId>,
    /// How many of its guesses sampling has confirmed.
    n_right: usize,
    /// How long the last step's evaluation took, until the gate is told.
    took: Option<Duration>,
}

impl Drafts {
    pub fn new(prompt: &[TokenId]) -> Drafts {
        Drafts { history: prompt.to_vec(), draft: Vec::new(), n_right: 0, took: None }
    }

    pub fn history(&self) -> &[TokenId] {
        &self.history
    }

    /// `token` was sampled. `Some(index)`: the draft guessed it, and the logits after it are at that index of
    /// the batch evaluated; `None`: they are still to evaluate.
    pub fn guessed(&mut self, token: TokenId) -> Option<i32> {
        self.history.push(token);
        if self.draft.get(self.n_right) != Some(&token) {
            return None;
        }
        self.n_right += 1;
        Some(self.n_right as i32)
    }

    /// Whether the logits sampled next come from a batch of two tokens or more (the last step's draft is not
    /// empty, and so far right).
    pub fn batched(&self) -> bool {
        !self.draft.is_empty()
    }

    /// The last token sampled was evaluated again alone (a near tie in the batch's logits): what is left of the
    /// draft is gone, and the step is not measured (it was two).
    pub fn alone(&mut self) {
        self.draft.clear();
        self.n_right = 0;
        self.took = None;
    }

    /// Tells `gate` what the last step cost and gained, once its draft is settled (the next step is due).
    pub fn measured(&mut self, gate: &mut Gate) {
        match self.took.take() {
            Some(took) if self.draft.is_empty() => gate.plain(took),
            Some(took) => gate.drafted(took, 1 + self.n_right),
            None => {}
        }
    }

    /// A step evaluated the token sampled last and `draft` after it, from `started` until now.
    pub fn evaluated(&mut self, draft: &[TokenId], started: Instant) {
        self.took = Some(started.elapsed());
        self.draft = draft.to_vec();
        self.n_right = 0;
    }
}

/// Smoothing of the measured times: recent steps count most, a few noisy ones do not flip the decision.
const WEIGHT: f64 = 0.1;
/// While drafting does not pay, one draft is tried again after this many tokens generated without one.
const RETRY_AFTER: u32 = 64;

/// Whether drafting pays: the time per token of a plain step (one token evaluated) against the time per token
/// kept of a drafted step (the token and its draft evaluated, as many kept as were right). Kept for the
/// engine's life, as both depend on the machine and the model more than on the job.
#[derive(Debug, Default)]
pub struct Gate {
    plain_ms: Option<f64>,
    drafted_ms: Option<f64>,
    /// Plain steps since drafting last stopped paying.
    waited: u32,
}

impl Gate {
    /// Whether the next step may draft.
    pub fn open(&mut self) -> bool {
        match (self.plain_ms, self.drafted_ms) {
            (Some(plain), Some(drafted)) if drafted > plain => {
                self.waited += 1;
                if self.waited < RETRY_AFTER {
                    return false;
                }
                self.waited = 0;
                true
            }
            _ => true,
        }
    }

    /// A step that evaluated one token, taking `took`.
    pub fn plain(&mut self, took: Duration) {
        smooth(&mut self.plain_ms, took.as_secs_f64() * 1000.0);
    }

    /// A step that evaluated a token and its draft, taking `took`, of which `n_kept` tokens were kept (the token
    /// sampled and the draft's right guesses; the token sampled from the last one's logits is not counted).
    pub fn drafted(&mut self, took: Duration, n_kept: usize) {
        smooth(&mut self.drafted_ms, took.as_secs_f64() * 1000.0 / n_kept.max(1) as f64);
    }
}

fn smooth(average: &mut Option<f64>, value: f64) {
    *average = Some(average.map_or(value, |a| a + WEIGHT * (value - a)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_what_followed_the_latest_repeat_of_the_longest_ngram() {
        // 1 2 3 9 ... 1 2 3 7 ... then 1 2 3: the latest "1 2 3" was followed by 7 8.
        let history = [1, 2, 3, 9, 9, 5, 1, 2, 3, 7, 8, 5, 1, 2, 3];
        assert_eq!(draft(&history, 2), [7, 8]);
        assert_eq!(draft(&history, 8), [7, 8, 5, 1, 2, 3]);
        // A longer n-gram wins over a nearer shorter one: "4 2 3" matches at the start only.
        let history = [4, 2, 3, 6, 6, 2, 3, 5, 4, 2, 3];
        assert_eq!(draft(&history, 1), [6]);
    }

    #[test]
    fn no_draft_without_a_repeat_of_two_tokens() {
        assert_eq!(draft(&[1, 2, 3, 4, 5], 8), [] as [TokenId; 0]);
        // A single repeated token is not enough.
        assert_eq!(draft(&[1, 2, 3, 4, 3], 8), [] as [TokenId; 0]);
        assert_eq!(draft(&[], 8), [] as [TokenId; 0]);
        assert_eq!(draft(&[1, 1], 8), [] as [TokenId; 0]);
        assert_eq!(draft(&[1, 1, 1], 8), [1]);
    }

    #[test]
    fn drafts_confirm_guesses_in_order_and_tell_the_gate_what_they_gained() {
        let mut gate = Gate::default();
        let mut drafts = Drafts::new(&[1, 2, 3, 4, 1, 2]);
        assert_eq!(drafts.guessed(3), None, "no draft evaluated yet");
        drafts.evaluated(&[4, 1, 2], Instant::now());
        assert_eq!(drafts.guessed(4), Some(1));
        assert_eq!(drafts.guessed(1), Some(2));
        assert_eq!(drafts.guessed(9), None, "a wrong guess: the logits after 9 are to evaluate");
        assert_eq!(drafts.history(), [1, 2, 3, 4, 1, 2, 3, 4, 1, 9]);
        drafts.measured(&mut gate);
        assert!(gate.drafted_ms.is_some() && gate.plain_ms.is_none(), "{gate:?}");
        drafts.evaluated(&[], Instant::now());
        assert_eq!(drafts.guessed(5), None);
        drafts.measured(&mut gate);
        assert!(gate.plain_ms.is_some(), "{gate:?}");
    }

    #[test]
    fn near_ties_are_the_two_best_logits_within_a_tenth() {
        assert!(near_tie(&[0.0, 3.0, 2.95, -1.0]));
        assert!(!near_tie(&[0.0, 3.0, 2.5, 2.8]));
        assert!(near_tie(&[1.0, 1.0]), "an exact tie");
        let mut drafts = Drafts::new(&[1, 2, 1]);
        assert!(!drafts.batched());
        drafts.evaluated(&[2, 1], Instant::now());
        assert!(drafts.batched());
        assert_eq!(drafts.guessed(2), Some(1));
        drafts.alone();
        assert!(!drafts.batched());
        assert_eq!(drafts.guessed(1), None, "the rest of the draft was dropped with its logits");
    }

    #[test]
    fn the_gate_closes_while_drafting_costs_more_per_token_and_retries_later() {
        let ms = Duration::from_millis;
        let mut gate = Gate::default();
        assert!(gate.open(), "open until measured");
        gate.plain(ms(10));
        gate.drafted(ms(14), 2);
        assert!(gate.open(), "7 ms a kept token beats 10");
        for _ in 0..40 {
            gate.drafted(ms(14), 1);
        }
        let closed = (0..RETRY_AFTER - 1).filter(|_| gate.open()).count();
        assert_eq!(closed, 0, "closed while a drafted token costs 14 ms against 10");
        assert!(gate.open(), "one draft is tried again after {RETRY_AFTER} tokens");
    }
}
