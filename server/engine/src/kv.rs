//! Bookkeeping of the tokens held in one KV-cache sequence, and the plan for
//! reusing them: the longest common prefix, plus (when the model can shift
//! positions) one chunk after an inserted or removed span.
//!
//! Invariant: `tokens[i]` is exactly what the sequence holds at position `i`;
//! every cache mutation in the worker goes through this type in the same step,
//! and any failed mutation clears both.

use nib_vocab::TokenId;

/// Shorter matches are not worth a shift: evaluating them is about as cheap.
pub const MIN_SHIFT_TOKENS: usize = 32;
/// Tokens compared first when looking for a shifted chunk.
const PROBE: usize = 8;

/// Cached tokens `[from, from + len)` move down to prompt positions `[to, to + len)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    pub from: usize,
    pub to: usize,
    pub len: usize,
}

/// What a new prompt costs given what is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReusePlan {
    /// Cached prefix kept as it is.
    pub n_keep: usize,
    /// A chunk kept by shifting its positions.
    pub shift: Option<Shift>,
    /// Prompt tokens to evaluate.
    pub n_evaluate: usize,
}

impl ReusePlan {
    /// Prompt tokens that need no evaluation.
    pub fn n_reused(&self) -> usize {
        self.n_keep + self.shift.map_or(0, |s| s.len)
    }
}

#[derive(Debug, Default, Clone)]
pub struct CachedTokens {
    tokens: Vec<TokenId>,
}

impl CachedTokens {
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn tokens(&self) -> &[TokenId] {
        &self.tokens
    }

    /// The cheapest way to `prompt`. The last prompt token is always evaluated:
    /// the next token is sampled from its logits.
    pub fn plan(&self, prompt: &[TokenId], can_shift: bool) -> ReusePlan {
        let common = self.tokens.iter().zip(prompt).take_while(|(a, b)| a == b).count();
        let n_keep = common.min(prompt.len().saturating_sub(1));
        let shift = if can_shift { find_shift(&self.tokens, prompt, n_keep) } else { None };
        let n_reused = n_keep + shift.map_or(0, |s| s.len);
        ReusePlan { n_keep, shift, n_evaluate: prompt.len() - n_reused }
    }

    /// Makes the bookkeeping follow `plan`'s removals and shift, and returns the
    /// prompt ranges still to evaluate, in order. Their tokens are recorded
    /// ahead: should an evaluation fail, the worker clears everything anyway.
    pub fn apply(&mut self, plan: &ReusePlan, prompt: &[TokenId]) -> Vec<std::ops::Range<usize>> {
        let mut to_evaluate = Vec::new();
        match plan.shift {
            None => {
                self.tokens.truncate(plan.n_keep);
                to_evaluate.push(plan.n_keep..prompt.len());
            }
            Some(shift) => {
                self.tokens.truncate(plan.n_keep);
                self.tokens.extend_from_slice(&prompt[plan.n_keep..shift.to + shift.len]);
                to_evaluate.push(plan.n_keep..shift.to);
                to_evaluate.push(shift.to + shift.len..prompt.len());
            }
        }
        to_evaluate.retain(|r| !r.is_empty());
        to_evaluate
    }

    /// Records `tokens` as evaluated at positions `at..`.
    pub fn record(&mut self, at: usize, tokens: &[TokenId]) {
        if self.tokens.len() < at + tokens.len() {
            self.tokens.resize(at + tokens.len(), 0);
        }
        self.tokens[at..at + tokens.len()].copy_from_slice(tokens);
    }

    pub fn truncate(&mut self, n: usize) {
        self.tokens.truncate(n);
    }

    pub fn extend(&mut self, tokens: &[TokenId]) {
        self.tokens.extend_from_slice(tokens);
    }

    pub fn clear(&mut self) {
        self.tokens.clear();
    }
}

/// Finds where the cache holds the prompt's continuation after `start`, further
/// on: text after a removed span (an edit that deleted lines, the window
/// sliding down), which can move down into place. An inserted span cannot be
/// handled this way: llama.cpp only appends to a sequence, so new tokens may not
/// go before kept ones.
fn find_shift(cached: &[TokenId], prompt: &[TokenId], start: usize) -> Option<Shift> {
    // The last prompt token must stay out of the chunk: it is evaluated for its logits.
    let end = prompt.len().checked_sub(1)?;
    if cached.len() < start + MIN_SHIFT_TOKENS || end < start + MIN_SHIFT_TOKENS {
        return None;
    }
    let probe = &prompt[start..start + PROBE];
    (start + 1..=cached.len() - PROBE)
        .filter(|&j| &cached[j..j + PROBE] == probe)
        .map(|j| (j, cached[j..].iter().zip(&prompt[start..end]).take_while(|(a, b)| a == b).count()))
        .filter(|&(_, len)| len >= MIN_SHIFT_TOKENS)
        .max_by_key(|&(_, len)| len)
        .map(|(from, len)| Shift { from, to: start, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(tokens: &[TokenId]) -> CachedTokens {
        let mut c = CachedTokens::default();
        c.extend(tokens);
        c
    }

    fn seq(range: std::ops::Range<TokenId>) -> Vec<TokenId> {
        range.collect()
    }

    #[test]
    fn empty_cache_evaluates_everything() {
        let plan = CachedTokens::default().plan(&[1, 2, 3], true);
        assert_eq!(plan, ReusePlan { n_keep: 0, shift: None, n_evaluate: 3 });
    }

    #[test]
    fn typing_one_token_evaluates_only_the_tail() {
        assert_eq!(cached(&[1, 2, 3]).plan(&[1, 2, 3, 4], true), ReusePlan { n_keep: 3, shift: None, n_evaluate: 1 });
    }

    #[test]
    fn an_identical_prompt_still_evaluates_its_last_token() {
        assert_eq!(cached(&[1, 2, 3]).plan(&[1, 2, 3], true), ReusePlan { n_keep: 2, shift: None, n_evaluate: 1 });
    }

    #[test]
    fn generated_tokens_beyond_the_prompt_are_dropped() {
        let c = cached(&[1, 2, 3, 9, 9]);
        assert_eq!(c.plan(&[1, 2, 5, 6], true), ReusePlan { n_keep: 2, shift: None, n_evaluate: 2 });
    }

    #[test]
    fn accepting_a_suggestion_reuses_the_generated_tokens() {
        let c = cached(&[1, 2, 3, 7, 8]);
        assert_eq!(c.plan(&[1, 2, 3, 7, 8, 4], true).n_evaluate, 1);
    }

    #[test]
    fn an_insertion_cannot_shift_and_evaluates_from_the_edit() {
        // llama.cpp appends only: the new tokens cannot go before the kept ones.
        let old = seq(0..100);
        let mut new = seq(0..10);
        new.extend([500, 501, 502]);
        new.extend(10..100);
        let plan = cached(&old).plan(&new, true);
        assert_eq!(plan, ReusePlan { n_keep: 10, shift: None, n_evaluate: 93 });
    }

    #[test]
    fn a_removal_shifts_the_text_after_it_down() {
        let old = seq(0..100);
        let mut new = seq(0..20);
        new.extend(40..100);
        new.push(777);
        let plan = cached(&old).plan(&new, true);
        assert_eq!(plan.shift, Some(Shift { from: 40, to: 20, len: 60 }));
        assert_eq!(plan.n_evaluate, 1);
        let mut c = cached(&old);
        let ranges = c.apply(&plan, &new);
        assert_eq!(ranges, vec![80..81]);
        c.record(80, &new[80..]);
        assert_eq!(c.tokens(), &new[..]);
    }

    #[test]
    fn the_window_sliding_down_keeps_the_rest() {
        // The prompt lost its first lines (BOS stays): a removal right after BOS.
        let old = seq(0..200);
        let mut new = vec![0];
        new.extend(50..200);
        new.extend([900, 901]);
        let plan = cached(&old).plan(&new, true);
        assert_eq!(plan.n_keep, 1);
        assert_eq!(plan.shift, Some(Shift { from: 50, to: 1, len: 150 }));
        assert_eq!(plan.n_evaluate, 2);
    }

    #[test]
    fn no_shift_when_the_model_cannot_or_the_match_is_short() {
        let old = seq(0..100);
        let mut new = seq(0..10);
        new.extend(50..100);
        new.push(777);
        assert_eq!(cached(&old).plan(&new, false).shift, None);
        let mut short = seq(0..10);
        short.extend(80..100);
        short.push(777);
        assert_eq!(cached(&old).plan(&short, true).shift, None);
    }

    #[test]
    fn the_last_prompt_token_is_never_inside_the_chunk() {
        let old = seq(0..100);
        let mut new = seq(0..10);
        new.extend(20..100);
        let plan = cached(&old).plan(&new, true);
        let shift = plan.shift.unwrap();
        assert!(shift.to + shift.len < new.len());
        assert_eq!(plan.n_evaluate, 1);
    }

    #[test]
    fn an_empty_prompt_keeps_nothing() {
        assert_eq!(cached(&[1]).plan(&[], true), ReusePlan { n_keep: 0, shift: None, n_evaluate: 0 });
    }
}
