//! Bookkeeping of the tokens held in the KV cache, for prefix reuse.
//!
//! Invariant: `tokens[i]` is exactly what the cache holds at position `i` of
//! the sequence; every cache mutation in the worker goes through this type in
//! the same step, and any failed mutation clears both.

use crate::prompt::TokenId;

/// What a new prompt costs given what is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReusePlan {
    /// Cached tokens kept as they are.
    pub n_keep: usize,
    /// Prompt tokens to evaluate, from `n_keep` to the end.
    pub n_evaluate: usize,
}

#[derive(Debug, Default)]
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

    /// Keep the longest common prefix, but always evaluate at least one prompt
    /// token: the next token is sampled from the logits of the last one.
    pub fn plan(&self, prompt: &[TokenId]) -> ReusePlan {
        let common = self.tokens.iter().zip(prompt).take_while(|(a, b)| a == b).count();
        let n_keep = common.min(prompt.len().saturating_sub(1));
        ReusePlan { n_keep, n_evaluate: prompt.len() - n_keep }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(tokens: &[TokenId]) -> CachedTokens {
        let mut c = CachedTokens::default();
        c.extend(tokens);
        c
    }

    #[test]
    fn empty_cache_evaluates_everything() {
        assert_eq!(CachedTokens::default().plan(&[1, 2, 3]), ReusePlan { n_keep: 0, n_evaluate: 3 });
    }

    #[test]
    fn typing_one_token_evaluates_only_the_tail() {
        assert_eq!(cached(&[1, 2, 3]).plan(&[1, 2, 3, 4]), ReusePlan { n_keep: 3, n_evaluate: 1 });
    }

    #[test]
    fn an_identical_prompt_still_evaluates_its_last_token() {
        assert_eq!(cached(&[1, 2, 3]).plan(&[1, 2, 3]), ReusePlan { n_keep: 2, n_evaluate: 1 });
    }

    #[test]
    fn generated_tokens_beyond_the_prompt_are_dropped() {
        // The cache holds the last prompt plus what was generated after it.
        let c = cached(&[1, 2, 3, 9, 9]);
        assert_eq!(c.plan(&[1, 2, 5, 6]), ReusePlan { n_keep: 2, n_evaluate: 2 });
    }

    #[test]
    fn accepting_a_suggestion_reuses_the_generated_tokens() {
        let c = cached(&[1, 2, 3, 7, 8]);
        assert_eq!(c.plan(&[1, 2, 3, 7, 8, 4]), ReusePlan { n_keep: 5, n_evaluate: 1 });
    }

    #[test]
    fn an_empty_prompt_keeps_nothing() {
        assert_eq!(cached(&[1]).plan(&[]), ReusePlan { n_keep: 0, n_evaluate: 0 });
    }
}
