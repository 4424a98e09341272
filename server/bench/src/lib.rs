//! Benchmarks: `nib bench typing` (below), `nib bench replay` (`replay.rs`), `nib bench load` (`load.rs`),
//! `nib bench soak` (`soak.rs`) and `nib bench plugins` (`plugins.rs`); evaluations: `nib eval` (`eval.rs`) and its
//! review, surprise and HumanEval kinds. The synchronous LSP client (`lsp_client.rs`) is here because replay, soak
//! and load drive `nib serve` with it at run time; the end-to-end tests share it.
//!
//! `nib bench typing`: cold and warm time-to-first-token through the same
//! completion pipeline the server uses, typing one character at a time.

pub mod context;
pub mod eval;
pub mod humaneval;
pub mod llama_server;
pub mod load;
pub mod lookup;
pub mod lsp_client;
pub mod plugins;
pub mod replay;
pub mod review_eval;
pub mod soak;
pub mod surprise_eval;
pub mod trace;

pub use nib_engine::quantile;
use ropey::Rope;
use serde::Serialize;

use nib_engine::{CancelToken, CompletionStats};
use nib_pipeline::completion::{Completer, CompletionError, Request, Trigger};

#[derive(Debug, Serialize)]
pub struct TypingReport {
    pub cold: CompletionStats,
    /// One entry per typed character.
    pub warm: Vec<CompletionStats>,
    pub warm_ttft_ms_median: f64,
    pub warm_ttft_ms_p95: f64,
    /// Median share of prompt tokens reused from the KV cache while typing.
    pub warm_reuse_median: f64,
    /// Cold over warm median time to first token.
    pub speedup: f64,
}

/// Completes at `cursor`, then types `n_keystrokes` characters there (those of
/// the first suggestion, as a user accepting it would), completing after each.
pub async fn typing(
    completer: &Completer,
    mut rope: Rope,
    mut cursor: usize,
    n_keystrokes: usize,
) -> Result<TypingReport, CompletionError> {
    let complete = |rope: &Rope, cursor, trigger| {
        let rope = rope.clone();
        async move {
            let request = Request { rope: &rope, cursor, document: None, syntax: None, trigger };
            completer.complete(request, CancelToken::default(), |_| {}).await
        }
    };
    // The first request waits for the cold prompt, as one the user asked for does.
    let cold = complete(&rope, cursor, Trigger::Invoked).await?;
    let typed: Vec<char> =
        cold.text.chars().filter(|c| *c != '\n').chain(std::iter::repeat('x')).take(n_keystrokes).collect();
    let mut warm = Vec::with_capacity(n_keystrokes);
    for c in typed {
        rope.insert_char(cursor, c);
        cursor += 1;
        warm.push(complete(&rope, cursor, Trigger::Automatic).await?.stats);
    }
    let ttft: Vec<f64> = warm.iter().map(|s| s.ttft_ms).collect();
    let reuse: Vec<f64> = warm.iter().map(|s| s.n_reused_tokens as f64 / s.n_prompt_tokens.max(1) as f64).collect();
    let warm_ttft_ms_median = quantile(&ttft, 0.5);
    Ok(TypingReport {
        speedup: cold.stats.ttft_ms / warm_ttft_ms_median.max(f64::EPSILON),
        cold: cold.stats,
        warm_ttft_ms_p95: quantile(&ttft, 0.95),
        warm_reuse_median: quantile(&reuse, 0.5),
        warm_ttft_ms_median,
        warm,
    })
}

/// SplitMix64: tiny, seedable, and the same everywhere; what the benchmarks and fuzz tests draw from.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
