//! The path `textDocument/inlineCompletion` and `textDocument/completion` share: snapshot, cursor, pipeline;
//! and, for a request answered empty for lack of time, the task that tells the client once its suggestion
//! is there (`nib/suggestionReady`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::Error;
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::*;

use crate::acceptance::{ACCEPTED_COMMAND, Kind, Shown};
use crate::arrival::{Arrival, Superseded, Unanswered};
use crate::model_setup;
use crate::session::{PARSE_WAIT, Requests, Session};
use nib_engine::{CancelToken, StopReason};
use nib_pipeline::completion::{self, Completer, CompletionError, Suggestion, Trigger};
use nib_pipeline::tasks::Tasks;
use nib_text::documents::{Document, DocumentStore};

/// `nib/suggestionReady`: a request answered empty for lack of time now has its suggestion; asking again
/// at this position (of this version) gets it from the cache.
pub enum SuggestionReady {}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorParams {
    pub text_document: VersionedTextDocumentIdentifier,
    pub position: Position,
}

impl Notification for SuggestionReady {
    type Params = CursorParams;
    const METHOD: &'static str = "nib/suggestionReady";
}

/// Whether an answer has more to come: given at its deadline (empty or with its start), with its start, at once
/// while the prompt is evaluated, or from a short window while the whole one is evaluated.
fn follows(reason: StopReason) -> bool {
    matches!(reason, StopReason::Deadline | StopReason::Partial | StopReason::Evaluating | StopReason::ShortWindow)
}

/// How long a request answered empty for lack of time may wait for its suggestion in the background.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// A suggestion and where it goes.
pub struct Placed {
    pub suggestion: Suggestion,
    pub document: Document,
    pub cursor: usize,
    /// Its id in the acceptance figures, for the command an editor runs once it has inserted it.
    pub shown: Option<u64>,
}

/// The parts of the session a suggestion needs; what `tell_when_ready` takes instead of the session.
#[derive(Clone)]
struct Suggester {
    documents: Arc<DocumentStore>,
    completer: Completer,
    requests: Arc<Requests>,
}

/// The command that tells nib a suggestion was inserted (`acceptance::ACCEPTED_COMMAND`).
pub fn accepted_command(uri: &Uri, shown: Option<u64>) -> Option<Command> {
    let arguments = vec![serde_json::Value::from(uri.as_str()), serde_json::Value::from(shown?)];
    Some(Command { title: "Accepted".into(), command: ACCEPTED_COMMAND.into(), arguments: Some(arguments) })
}

/// The document as the request found it (`arrival`), the cursor, the pipeline. `None` when there is nothing to
/// suggest: no model, or an empty suggestion; superseded by an edit or a newer request for the same document.
pub async fn suggest(
    session: &Session,
    client: &Client,
    tasks: &Tasks,
    arrival: &Arrival,
    trigger: Trigger,
    on_partial: impl FnMut(&Document, usize, &str),
) -> Result<Option<Placed>, Unanswered> {
    if trigger == Trigger::Invoked {
        // The user asked: with the model still missing after a failed or cancelled download, offer it again.
        model_setup::on_explicit_request(session.model_setup_context(client, tasks));
    }
    let suggester = Suggester {
        documents: session.documents.clone(),
        completer: session.completer.clone(),
        requests: session.requests.clone(),
    };
    let (placed, suggestion) = suggester.suggest(arrival, trigger, on_partial).await?;
    let (awaiting, uri) = (&session.requests.awaiting, &arrival.uri);
    // Answered empty, or with the start of its suggestion: say when the whole suggestion is there. One task
    // per document: a later answer only moves the position it waits for.
    // A short window's suggestion typed through is replaced too, once its whole window is there.
    let pending = placed.is_some() && session.completer.whole_pending(uri.as_str());
    if suggestion.is_some_and(|s| follows(s.reason)) || pending {
        if awaiting.insert(uri.as_str().to_owned(), arrival.clone()).is_none() {
            tasks.spawn("tell when ready", tell_when_ready(client.clone(), suggester, uri.clone()));
        }
    } else if placed.is_some() {
        awaiting.remove(uri.as_str());
    }
    let mut placed = placed;
    if let Some(p) = &mut placed {
        let kind = Kind { invoked: trigger == Trigger::Invoked, block: p.suggestion.text.contains('\n') };
        let shown = Shown {
            uri: uri.as_str(),
            language: &p.document.language_id,
            kind,
            at: p.cursor,
            text: &p.suggestion.text,
        };
        p.shown = session.acceptance.with(|a| a.shown(shown, &p.document.rope, std::time::Instant::now()));
    }
    Ok(placed)
}

impl Suggester {
    /// The suggestion (also when it is empty), and where it goes when there is one to show.
    async fn suggest(
        &self,
        arrival: &Arrival,
        trigger: Trigger,
        mut on_partial: impl FnMut(&Document, usize, &str),
    ) -> Result<(Option<Placed>, Option<Suggestion>), Unanswered> {
        let key = arrival.uri.as_str();
        let asked = std::time::Instant::now();
        // Its place first, in arrival order: a newer request outdates this one also while its tree is parsed.
        let in_flight = InFlight::new(&self.requests, key);
        let document = arrival.parsed(&self.documents, PARSE_WAIT).await?;
        let cursor = arrival.cursor;
        let cancel = in_flight.cancel.clone();
        let request = completion::Request {
            rope: &document.rope,
            cursor,
            document: Some(key),
            syntax: document.syntax(),
            trigger,
        };
        // Automatic requests get the one suggestion `complete` gives; explicit ones their alternatives too.
        let on_partial = |text: &str| on_partial(&document, cursor, text);
        let result = self.completer.complete_candidates(request, cancel.clone(), on_partial).await;
        let superseded = in_flight.superseded() || !arrival.is_current(&self.documents);
        drop(in_flight);
        if !superseded && result.is_ok() {
            self.requests.answered(asked);
        }
        match result {
            _ if superseded => Err(Superseded.into()),
            Ok(suggestion) if suggestion.text.is_empty() => Ok((None, Some(suggestion))),
            Ok(suggestion) => {
                let placed = Placed { suggestion: suggestion.clone(), document, cursor, shown: None };
                Ok((Some(placed), Some(suggestion)))
            }
            Err(CompletionError::ModelUnavailable(_)) => Ok((None, None)),
            Err(err) => {
                tracing::error!("completion failed: {err}");
                Err(Error { message: err.to_string().into(), ..Error::internal_error() }.into())
            }
        }
    }
}

/// A request's place in `Requests::in_flight`, which it leaves when it ends, also when the client cancels it
/// (tower-lsp then drops its future): a stale entry would hold back `tell_when_ready`.
struct InFlight<'a> {
    requests: &'a Requests,
    key: &'a str,
    cancel: CancelToken,
}

impl<'a> InFlight<'a> {
    /// Outdates the document's older request, if any.
    fn new(requests: &'a Requests, key: &'a str) -> InFlight<'a> {
        let cancel = CancelToken::default();
        if let Some(older) = requests.in_flight.insert(key.to_owned(), cancel.clone()) {
            older.outdate();
        }
        InFlight { requests, key, cancel }
    }

    /// Whether a newer request has taken the place.
    fn superseded(&self) -> bool {
        !self.requests.in_flight.get(self.key).is_some_and(|t| t.same_as(&self.cancel))
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.requests.in_flight.remove_if(self.key, |_, t| t.same_as(&self.cancel));
    }
}

/// Once the work a request was answered empty (or with part of its suggestion) for is done, computes its
/// suggestion (from the caches, or the few tokens typed since) and tells the client, if the document and
/// the request are still current: a client that stopped typing is not left without a suggestion.
async fn tell_when_ready(client: Client, suggester: Suggester, uri: Uri) {
    let key = uri.as_str();
    let Suggester { documents, completer, requests } = &suggester;
    let until = tokio::time::Instant::now() + READY_WITHIN;
    let ready = loop {
        let settled = tokio::time::timeout_at(until, completer.settled(key)).await.is_ok();
        // The latest request answered empty, unless the client has asked again since; its position is in the
        // text it was asked about, so none once the document has moved on.
        let Some(arrival) = requests.awaiting.get(key).map(|a| a.clone()).filter(|_| settled) else { break None };
        if !arrival.is_current(documents) {
            break None;
        }
        if requests.in_flight.contains_key(key) {
            // The client is asking itself; its answer decides whether this task still has work.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        }
        // Asked as the client will ask again, so that its request finds this suggestion in the cache.
        // Only the whole suggestion, in the cache, is ready: the start of one, or a short window's while the whole
        // window is evaluated, would make the client ask again before its answer is there.
        match suggester.suggest(&arrival, Trigger::Automatic, |_, _, _| {}).await {
            Ok((_, Some(s))) if follows(s.reason) => continue,
            Ok((Some(_), _)) => break Some(arrival),
            _ => break None,
        }
    };
    let current = requests.awaiting.remove(key).map(|(_, a)| a);
    tracing::debug!(?ready, ?current, "suggestion ready check");
    let Some(arrival) = ready.filter(|a| current.as_ref() == Some(a)) else { return };
    if arrival.is_current(documents) {
        let text_document = VersionedTextDocumentIdentifier { uri: uri.clone(), version: arrival.version() };
        client.send_notification::<SuggestionReady>(CursorParams { text_document, position: arrival.position }).await;
    }
}
