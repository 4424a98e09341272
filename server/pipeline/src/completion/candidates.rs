//! Several suggestions for an explicit request: the greedy one, then the same prompt sampled with one seed after
//! another, the empty and repeated ones dropped, the most confident first.

use std::time::Duration;

use super::confidence::Logprobs;
use super::job::{SUPERSEDED_POLL, infill};
use super::postprocess::{self, Mode};
use super::{Completer, CompletionError, Request, Suggestion, Trigger};
use nib_engine::{CancelToken, Event, GenerateRequest, Priority, PriorityHandle, PromptText, Sampling, StopReason};
use nib_prompt::Prompt;

/// How alternatives to the greedy suggestion are drawn (the seed varies): warm enough to differ, within the
/// likely tokens so that they stay plausible code.
const ALTERNATIVES: Sampling = Sampling { temperature: 0.8, top_k: 40, top_p: 0.95, seed: 0 };

impl Completer {
    /// `complete`, and for an explicit request up to `completion.n_candidates - 1` alternatives: the same prompt
    /// (in the KV cache by then) generated again with sampling, one seed after another, each post-processed as
    /// the first, the empty and repeated ones dropped, those ready within `invoked_timeout_ms` of the request.
    /// The first suggestion is `complete`'s, and is cached as it is; alternatives are not cached.
    pub async fn complete_candidates(
        &self,
        request: Request<'_>,
        cancel: CancelToken,
        on_partial: impl FnMut(&str),
    ) -> Result<Suggestion, CompletionError> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(self.config().invoked_timeout_ms);
        let n_candidates = self.config().n_candidates as usize;
        let (mut suggestion, basis) = self.suggest(request, cancel.clone(), on_partial).await?;
        let complete = !matches!(
            suggestion.reason,
            StopReason::Cancelled | StopReason::Deadline | StopReason::Partial | StopReason::Evaluating
        );
        if request.trigger != Trigger::Invoked || n_candidates < 2 || suggestion.text.trim().is_empty() || !complete {
            return Ok(suggestion);
        }
        // Answered from the suggestion being typed through, before any prompt: the alternatives need one.
        let (prompt, site) = match basis {
            Some(basis) => basis,
            None => match self.basis(request).await {
                Ok(basis) => basis,
                Err(err) => {
                    tracing::debug!("no alternatives: {err}");
                    return Ok(suggestion);
                }
            },
        };
        // The engine refuses an empty prompt, and a refused job clears its cache.
        if prompt.tokens.is_empty() {
            return Ok(suggestion);
        }
        let mut candidates = vec![suggestion.text.clone()];
        let mut confidences = vec![suggestion.confidence];
        // Sampling may repeat a candidate: a few more draws than needed, all within the deadline.
        let n_draws = u32::try_from(n_candidates - 1).unwrap_or(u32::MAX).saturating_mul(2);
        for seed in 1..=n_draws {
            let sampled = self.sample(&prompt, &site.mode, request.document, seed, &cancel, deadline).await;
            let Some((raw, logprobs)) = sampled else { break };
            let (text, confidence) = site.finished_with(raw, &logprobs).await;
            confidences.push(confidence);
            candidates.push(text);
            if distinct(&candidates, n_candidates).len() == n_candidates {
                break;
            }
        }
        let confidence_of = |text: &String| candidates.iter().position(|c| c == text).and_then(|i| confidences[i]);
        let alternatives = distinct(&candidates, n_candidates).into_iter().skip(1).map(|text| {
            let confidence = confidence_of(&text);
            (text, confidence)
        });
        suggestion.alternatives = most_confident_first(alternatives.collect());
        Ok(suggestion)
    }

    /// `prompt` generated with sampling from `seed`: the raw text and its tokens' log-probabilities, or `None`
    /// when it failed, was superseded or was not done by `deadline`. Its text is not cached: the cache holds
    /// the greedy answer for the prompt.
    async fn sample(
        &self,
        prompt: &Prompt,
        mode: &Mode,
        owner: Option<&str>,
        seed: u32,
        cancel: &CancelToken,
        deadline: tokio::time::Instant,
    ) -> Option<(String, Logprobs)> {
        let job = CancelToken::default();
        let request = GenerateRequest {
            prompt: prompt.tokens.clone(),
            max_tokens: self.config().max_tokens as usize,
            stop: mode.stop_sequences(),
            cancel: job.clone(),
            owner: owner.map(str::to_owned),
            priority: PriorityHandle::new(Priority::Foreground),
            grammar: None,
            schema: None,
            text: PromptText::Completion { text: prompt.text.text.clone(), infill: infill(prompt) },
            sampling: Some(Sampling { seed, ..ALTERNATIVES }),
        };
        let mut events = self.engine.generate(request);
        let (mut raw, mut logprobs) = (String::new(), Logprobs::default());
        loop {
            if cancel.is_outdated() {
                job.cancel();
                return None;
            }
            let poll = (tokio::time::Instant::now() + SUPERSEDED_POLL).min(deadline);
            match tokio::time::timeout_at(poll, events.recv()).await {
                Ok(Some(Event::Started { .. })) => {}
                Ok(Some(Event::Logprob(logprob))) => logprobs.push(raw.len(), logprob),
                Ok(Some(Event::Text(text))) => {
                    raw.push_str(&text);
                    if postprocess::cut(&raw, mode).1 {
                        job.enough();
                    }
                }
                Ok(Some(Event::Done { reason: StopReason::Cancelled, .. })) => return None,
                Ok(Some(Event::Done { .. })) => return Some((raw, logprobs)),
                Ok(Some(Event::Failed(_)) | None) => return None,
                Err(_) if tokio::time::Instant::now() < deadline => {}
                Err(_) => {
                    job.cancel();
                    return None;
                }
            }
        }
    }
}

/// The first `n` candidates that say something and differ from those before them, in order: two that differ
/// only in trailing whitespace are the same suggestion.
pub(super) fn distinct(candidates: &[String], n: usize) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for candidate in candidates {
        if kept.len() == n {
            break;
        }
        let said = candidate.trim_end();
        if !said.trim_start().is_empty() && !kept.iter().any(|k| k.trim_end() == said) {
            kept.push(candidate.clone());
        }
    }
    kept
}

/// Alternatives ordered by confidence, most confident first; those without one last, in their order.
pub(super) fn most_confident_first(mut alternatives: Vec<(String, Option<f32>)>) -> Vec<String> {
    alternatives.sort_by(|(_, a), (_, b)| match (a, b) {
        (Some(a), Some(b)) => b.total_cmp(a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    alternatives.into_iter().map(|(text, _)| text).collect()
}
