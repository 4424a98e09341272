//! Figures recorded for every completion and summed over the engine's life.

use serde::Serialize;

/// Which cache supplied the reused part of the prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheHit {
    /// Nothing reused: the whole prompt was evaluated.
    #[default]
    Cold,
    /// A common prefix with a sequence in the KV cache.
    Hot,
    /// A common prefix, plus a chunk after an edit moved into place.
    Shift,
    /// A saved sequence state restored (the warm tier).
    Snapshot,
    /// A finished completion reused: the model did no work.
    Completion,
}

/// One completion's cost. Times count from the moment the job was queued.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CompletionStats {
    pub cache: CacheHit,
    pub n_prompt_tokens: usize,
    /// Prompt tokens found in the KV cache and not evaluated again.
    pub n_reused_tokens: usize,
    pub n_evaluated_tokens: usize,
    pub n_generated_tokens: usize,
    /// Tokens drafted by prompt lookup (`lookup.rs`) and evaluated beside the token generated.
    pub n_drafted_tokens: usize,
    /// Drafted tokens the model went on to generate: each saved a step.
    pub n_draft_accepted: usize,
    /// Time spent waiting behind other jobs.
    pub queue_ms: f64,
    /// Time to first token: queued to first token sampled.
    pub ttft_ms: f64,
    pub total_ms: f64,
}

/// Totals since the engine started, plus the last completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EngineCounters {
    pub n_jobs: u64,
    /// Jobs stale or superseded before they reached the model.
    pub n_dropped: u64,
    pub n_completed: u64,
    /// Completions answered from the completion cache, without the model.
    pub n_cache_answers: u64,
    /// Completions answered at their deadline, their generation going on in the background.
    pub n_deadline_answers: u64,
    /// Completions answered with the start of their suggestion (`partial_after_ms`), the rest going on.
    pub n_partial_answers: u64,
    /// Completions answered at once, empty, while the document's prompt was evaluating for an earlier one.
    pub n_evaluating_answers: u64,
    /// Automatic requests' suggestions held back: the model was less sure of them than `min_confidence`.
    pub n_held_back: u64,
    pub n_cancelled: u64,
    pub n_failed: u64,
    pub n_prompt_tokens: u64,
    pub n_reused_tokens: u64,
    pub n_evaluated_tokens: u64,
    pub n_generated_tokens: u64,
    pub n_drafted_tokens: u64,
    pub n_draft_accepted: u64,
    pub last: Option<CompletionStats>,
}

impl EngineCounters {
    /// Adds a job's figures; `last` only follows what a user waited for, not background work or alternatives.
    pub fn record(&mut self, stats: &CompletionStats, foreground: bool) {
        self.n_prompt_tokens += stats.n_prompt_tokens as u64;
        self.n_reused_tokens += stats.n_reused_tokens as u64;
        self.n_evaluated_tokens += stats.n_evaluated_tokens as u64;
        self.n_generated_tokens += stats.n_generated_tokens as u64;
        self.n_drafted_tokens += stats.n_drafted_tokens as u64;
        self.n_draft_accepted += stats.n_draft_accepted as u64;
        if foreground {
            self.last = Some(stats.clone());
        }
    }
}

/// The `q` quantile by nearest rank; 0 for no data.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.0);
        assert_eq!(quantile(&(1..=20).map(f64::from).collect::<Vec<_>>(), 0.95), 19.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
