//! Work nobody waits for, behind any completion a user waits for: the suggestion where the cursor rests or where
//! the user is likely to go, and the one that follows once the suggestion shown is accepted.

use std::sync::atomic::Ordering;
use std::time::Duration;

use ropey::Rope;
use tokio::task::JoinHandle;

use super::site::Site;
use super::{Completer, Request, Trigger};
use nib_engine::Priority;
use nib_text::syntax::{self, Syntax};

/// A prefetch waits this long for the user to stop typing: while typing, its work
/// would only delay the next keystroke's completion (measured with the replay benchmark).
const PREFETCH_IDLE: Duration = Duration::from_millis(300);

/// Where a warm-ahead goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ahead {
    /// Where the cursor rests: the user types there next. On the document's KV sequence, behind any completion a
    /// user waits for, in full steps.
    Rest,
    /// Where the user is likely to go (a file's last edit when it is opened again or switched to): at idle
    /// priority, on a KV sequence of its own, so that the cursor's stays.
    Elsewhere,
}

/// The KV sequence of a document's `Ahead::Elsewhere` warm-ahead. A request there later finds it: the engine
/// serves a prompt from the sequence that shares the most with it, whoever it was for.
pub fn ahead_owner(document: &str) -> String {
    // A space never occurs in a URI.
    format!("{document} ahead")
}

impl Completer {
    /// Evaluates the prompt at `request`'s place ahead of the user, and computes its suggestion: the requests that
    /// follow there find the prompt in the KV cache (or the suggestion in the cache). The task ends once its job is
    /// on the engine (or needs none).
    pub fn warm(&self, request: Request<'_>, ahead: Ahead) -> JoinHandle<Option<()>> {
        let (rope, cursor, document, syntax) =
            (request.rope.clone(), request.cursor, request.document.map(str::to_owned), request.syntax.cloned());
        let this = self.clone();
        self.tasks.spawn("warm", async move {
            let request = Request {
                rope: &rope,
                cursor,
                document: document.as_deref(),
                syntax: syntax.as_ref(),
                trigger: Trigger::Invoked,
            };
            match ahead {
                Ahead::Rest => this.in_background(request, Priority::Late, request.document).await,
                Ahead::Elsewhere => {
                    let sequence = document.as_deref().map(ahead_owner);
                    this.in_background(request, Priority::Background, sequence.as_deref()).await
                }
            }
        })
    }

    /// Computes, at idle priority, the suggestion that follows once `accepted` is accepted.
    pub(super) fn prefetch(&self, request: Request<'_>, accepted: &str, serial: u64) {
        let (rope, cursor, accepted) = (request.rope.clone(), request.cursor, accepted.to_owned());
        let n_accepted = accepted.chars().count();
        let (owner, syntax) = (request.document.map(str::to_owned), request.syntax.cloned());
        let this = self.clone();
        self.tasks.spawn("prefetch", async move {
            tokio::time::sleep(PREFETCH_IDLE).await;
            if this.n_requests.load(Ordering::Relaxed) != serial {
                return;
            }
            let inserted = this.tasks.spawn_blocking("prefetch", move || insert(&rope, syntax, cursor, &accepted));
            let Ok(Some((rope, syntax))) = inserted.await else {
                return;
            };
            // The request after an accepted suggestion is the next keystroke's.
            let cursor = cursor + n_accepted;
            let request = Request {
                rope: &rope,
                cursor,
                document: owner.as_deref(),
                syntax: syntax.as_ref(),
                trigger: Trigger::Automatic,
            };
            this.in_background(request, Priority::Background, request.document).await;
        });
    }

    /// Starts a job for `request`'s prompt that nobody waits for, unless its suggestion is cached or on its way,
    /// on `sequence`'s KV sequence (its window held where that sequence's last one started).
    async fn in_background(&self, request: Request<'_>, priority: Priority, sequence: Option<&str>) {
        let Ok((model_name, tokenizer)) = self.model().await else { return };
        let Ok(template) = self.template(tokenizer.as_ref(), &model_name) else { return };
        let budget = self.budget(request.trigger, &template);
        let Ok(prompt) = self.prompt_in(&tokenizer, &template, request, budget, sequence).await else { return };
        if prompt.tokens.is_empty() {
            return;
        }
        let site = Site::new(request.rope, request.cursor, self.config().max_lines as usize, request.syntax);
        let key = self.cache_key(&prompt.tokens, &site.mode);
        let known = self.with_cache(|c| c.get(key)).is_some() || self.with_running(|r| r.contains_key(&key));
        if known {
            return;
        }
        tracing::debug!(n_prompt = prompt.tokens.len(), ?priority, "background job");
        self.start(key, &prompt, &site.mode, sequence, priority);
    }
}

/// The document with `text` typed at `cursor`, its tree brought up to date.
fn insert(rope: &Rope, syntax: Option<Syntax>, cursor: usize, text: &str) -> (Rope, Option<Syntax>) {
    let edit = syntax::input_edit(rope, cursor, cursor, text);
    let mut edited = rope.clone();
    edited.insert(cursor, text);
    let syntax = syntax.and_then(|mut syntax| {
        syntax.edit(&edit);
        syntax.reparse(&edited)
    });
    (edited, syntax)
}
