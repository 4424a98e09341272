//! The completion pipeline: document snapshot + cursor -> prompt -> engine ->
//! post-processing -> a plain `Suggestion`. Used by the LSP handlers and the CLI
//! alike, so both take the same code path.

pub mod postprocess;

use ropey::Rope;

use crate::config::CompletionConfig;
use crate::documents::position::line_len_chars;
use crate::engine::{
    CancelToken, CompletionStats, Engine, EngineError, Event, GenerateRequest, ModelState, StopReason,
};
use crate::prompt::{self, Budget, Template, TemplateError};
use postprocess::{After, Mode};

/// A finished suggestion, to insert at the cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub text: String,
    pub reason: StopReason,
    pub stats: CompletionStats,
    pub template: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CompletionError {
    #[error("{0}")]
    ModelUnavailable(String),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Completes at char offset `cursor` of `rope`. `on_partial` sees the suggestion as it grows.
pub async fn complete(
    engine: &Engine,
    config: &CompletionConfig,
    rope: &Rope,
    cursor: usize,
    cancel: CancelToken,
    mut on_partial: impl FnMut(&str),
) -> Result<Suggestion, CompletionError> {
    let (info, tokenizer) = match engine.ready().await {
        ModelState::Ready { info, tokenizer } => (info, tokenizer),
        ModelState::Failed(message) => return Err(CompletionError::ModelUnavailable(message)),
        ModelState::Loading => return Err(CompletionError::ModelUnavailable("the model is still loading".into())),
    };
    let cursor = cursor.min(rope.len_chars());
    let line = rope.char_to_line(cursor);
    let line_start = rope.line_to_char(line);
    let line_end = line_start + line_len_chars(rope, line);
    let mode = Mode::detect(&rope.slice(line_start..cursor).to_string(), config.max_lines as usize);
    let rest_of_line = rope.slice(cursor..line_end).to_string();
    let next_line =
        (line + 1..rope.len_lines().min(line + 50)).map(|l| rope.line(l).to_string()).find(|l| !l.trim().is_empty());

    let template = Template::for_model(info.has_fim_tokens);
    let budget = Budget { n_tokens: config.n_prompt_tokens as usize, suffix_percent: config.suffix_percent as usize };
    // Tokenizing a whole window is CPU work: keep it off the async threads.
    let prompt = {
        let (rope, template) = (rope.clone(), template.clone());
        tokio::task::spawn_blocking(move || prompt::build(tokenizer.as_ref(), &template, &rope, cursor, budget))
            .await
            .map_err(|e| EngineError::Panicked(e.to_string()))??
    };

    let request = GenerateRequest {
        prompt: prompt.tokens,
        max_tokens: config.max_tokens as usize,
        stop: mode.stop_sequences(),
        cancel: cancel.clone(),
    };
    let mut events = engine.generate(request);
    let mut raw = String::new();
    let (reason, stats) = loop {
        match events.recv().await {
            Some(Event::Text(text)) => {
                raw.push_str(&text);
                let (so_far, complete) = postprocess::cut(&raw, &mode);
                if !so_far.is_empty() {
                    on_partial(&so_far);
                }
                if complete {
                    // Enough text: stop the engine, then collect its figures.
                    cancel.cancel();
                }
            }
            Some(Event::Done { reason, stats }) => break (reason, stats),
            Some(Event::Failed(err)) => return Err(err.into()),
            None => return Err(EngineError::Stopped.into()),
        }
    };
    // The last line is complete now that generation has ended.
    let (text, _) = postprocess::cut(&format!("{raw}\n"), &mode);
    let after = After { line: &rest_of_line, next_line: next_line.as_deref() };
    let text = postprocess::dedupe(&text, &mode, after);
    Ok(Suggestion { text, reason, stats, template: template.name })
}
