//! `nib bench lookup`: how fast multi-line suggestions are generated with prompt-lookup decoding and without,
//! on the same prompts (two engines, the same model, one with `engine.lookup_decoding` off), and whether the text
//! is the same. The end-to-end test of that sameness shares `prompt` and `generate`.

use nib_engine::{CancelToken, Engine, EngineError, Event, GenerateRequest, Priority, PriorityHandle, PromptText};
use nib_prompt::{Budget, Template};
use nib_vocab::{TokenId, Tokenizer};
use ropey::Rope;
use serde::Serialize;

/// The prompt a completion at the end of `text` gets: the window mode's, within `n_tokens`.
pub fn prompt(tokenizer: &dyn Tokenizer, template: &Template, text: &str, n_tokens: usize) -> Vec<TokenId> {
    let rope = Rope::from_str(text);
    let budget = Budget { n_tokens, suffix_percent: 0, n_suffix_max: usize::MAX, n_context_tokens: 0 };
    match nib_prompt::build(tokenizer, template, &rope, rope.len_chars(), budget) {
        Ok(prompt) => prompt.tokens,
        // A template that does not fit the model: the plain prefix, as a prefix-only template lays it out.
        Err(_) => tokenizer.bos().into_iter().chain(tokenizer.tokenize(text, false)).collect(),
    }
}

/// One greedy generation: its text, and what the engine says it cost.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub text: String,
    pub n_generated: usize,
    /// From the first token to the last: generation alone, the prompt's evaluation left out.
    pub generate_ms: f64,
    pub n_drafted: usize,
    pub n_draft_accepted: usize,
}

impl Run {
    /// Tokens generated per second after the first.
    pub fn tokens_per_s(&self) -> f64 {
        if self.generate_ms <= 0.0 {
            0.0
        } else {
            self.n_generated.saturating_sub(1) as f64 * 1000.0 / self.generate_ms
        }
    }
}

/// Generates greedily from `prompt` until `max_tokens` or the model's end, with no stop sequence: a multi-line
/// suggestion, as long as the model writes.
pub async fn generate(engine: &Engine, prompt: Vec<TokenId>, max_tokens: usize) -> Result<Run, EngineError> {
    let mut events = engine.generate(GenerateRequest {
        prompt,
        max_tokens,
        stop: Vec::new(),
        cancel: CancelToken::default(),
        owner: Some("nib-bench-lookup".into()),
        priority: PriorityHandle::new(Priority::Foreground),
        grammar: None,
        schema: None,
        text: PromptText::None,
        sampling: None,
    });
    let mut text = String::new();
    while let Some(event) = events.recv().await {
        match event {
            Event::Text(piece) => text.push_str(&piece),
            Event::Done { stats, .. } => {
                return Ok(Run {
                    text,
                    n_generated: stats.n_generated_tokens,
                    generate_ms: stats.total_ms - stats.ttft_ms,
                    n_drafted: stats.n_drafted_tokens,
                    n_draft_accepted: stats.n_draft_accepted,
                });
            }
            Event::Failed(err) => return Err(err),
            Event::Started { .. } | Event::Logprob(_) => {}
        }
    }
    Err(EngineError::Stopped)
}

/// One prompt's figures: the median of its runs without lookup decoding and with it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub without: Run,
    pub with: Run,
    /// Every run with lookup decoding wrote the text written without it.
    pub same_text: bool,
}

/// Runs each named prompt `runs` times on each engine, alternating, and keeps each side's median run by speed.
pub async fn bench(
    without: &Engine,
    with: &Engine,
    cases: &[(String, Vec<TokenId>)],
    max_tokens: usize,
    runs: usize,
) -> Result<Vec<Row>, EngineError> {
    let mut rows = Vec::new();
    for (name, prompt) in cases {
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for _ in 0..runs.max(1) {
            off.push(generate(without, prompt.clone(), max_tokens).await?);
            on.push(generate(with, prompt.clone(), max_tokens).await?);
        }
        let same_text = on.iter().all(|run| run.text == off[0].text);
        rows.push(Row { name: name.clone(), without: median(off), with: median(on), same_text });
    }
    Ok(rows)
}

fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.tokens_per_s().total_cmp(&b.tokens_per_s()));
    runs.swap_remove(runs.len() / 2)
}

/// A table of the rows, then the speed-up over the rows whose name starts with each group's prefix.
pub fn render(rows: &[Row], groups: &[&str]) -> String {
    let mut out = String::from(
        "| prompt | tokens | tok/s without | tok/s with | speed-up | drafted | accepted | same text |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {:.1} | {:.1} | {:.2}x | {} | {} | {} |\n",
            row.name,
            row.with.n_generated,
            row.without.tokens_per_s(),
            row.with.tokens_per_s(),
            speedup(std::slice::from_ref(row)),
            row.with.n_drafted,
            row.with.n_draft_accepted,
            if row.same_text { "yes" } else { "NO" },
        ));
    }
    for group in groups {
        let members: Vec<Row> = rows.iter().filter(|r| r.name.starts_with(group)).cloned().collect();
        if !members.is_empty() {
            out.push_str(&format!("\n{group}*: {:.2}x over {} prompts", speedup(&members), members.len()));
        }
    }
    out.push('\n');
    out
}

/// Generation time without over generation time with, over the same tokens.
fn speedup(rows: &[Row]) -> f64 {
    let rate = |runs: &mut dyn Iterator<Item = &Run>| {
        let (tokens, ms) =
            runs.fold((0.0, 0.0), |(t, m), run| (t + run.n_generated.saturating_sub(1) as f64, m + run.generate_ms));
        if ms > 0.0 { tokens / ms } else { 0.0 }
    };
    let without = rate(&mut rows.iter().map(|r| &r.without));
    let with = rate(&mut rows.iter().map(|r| &r.with));
    if without > 0.0 { with / without } else { 0.0 }
}
