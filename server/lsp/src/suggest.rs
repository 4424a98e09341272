//! The path `textDocument/inlineCompletion` and `textDocument/completion` share: snapshot, cursor, pipeline;
//! and, for a request answered empty for lack of time, the task that tells the client once its suggestion
//! is there (`nib/suggestionReady`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::*;

use crate::acceptance::{ACCEPTED_COMMAND, Kind, Shown};
use crate::session::{PARSE_WAIT, Requests, Session};
use crate::tasks::Tasks;
use crate::{convert, model_setup};
use nib_engine::{CancelToken, StopReason};
use nib_pipeline::completion::{self, Completer, CompletionError, Suggestion, Trigger};
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

/// Snapshot, cursor, pipeline. `None` when there is nothing to suggest: no model, an empty suggestion, or a
/// newer request for the same document.
pub async fn suggest(
    session: &Session,
    client: &Client,
    tasks: &Tasks,
    uri: &Uri,
    position: Position,
    trigger: Trigger,
    on_partial: impl FnMut(&Document, usize, &str),
) -> Result<Option<Placed>> {
    if trigger == Trigger::Invoked {
        // The user asked: with the model still missing after a failed or cancelled download, offer it again.
        model_setup::on_explicit_request(session.model_setup_context(client, tasks));
    }
    let suggester = Suggester {
        documents: session.documents.clone(),
        completer: session.completer.clone(),
        requests: session.requests.clone(),
    };
    let (placed, suggestion) = suggester.suggest(uri, position, trigger, on_partial).await?;
    let awaiting = &session.requests.awaiting;
    // Answered empty, or with the start of its suggestion: say when the whole suggestion is there. One task
    // per document: a later answer only moves the position it waits for.
    if matches!(suggestion.map(|s| s.reason), Some(StopReason::Deadline | StopReason::Partial | StopReason::Evaluating))
    {
        if awaiting.insert(uri.as_str().to_owned(), position).is_none() {
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
        p.shown = session.acceptance.with(|a| a.shown(shown, &p.document.rope, std::time::Instant::now())).flatten();
    }
    Ok(placed)
}

impl Suggester {
    /// The suggestion (also when it is empty or superseded), and where it goes when there is one to show.
    async fn suggest(
        &self,
        uri: &Uri,
        position: Position,
        trigger: Trigger,
        mut on_partial: impl FnMut(&Document, usize, &str),
    ) -> Result<(Option<Placed>, Option<Suggestion>)> {
        let key = uri.as_str();
        let asked = std::time::Instant::now();
        // Its place first, in arrival order: a newer request outdates this one also while its tree is parsed.
        let in_flight = InFlight::new(&self.requests, key);
        let document =
            self.documents.parsed(key, PARSE_WAIT).await.map_err(|e| Error::invalid_params(e.to_string()))?;
        let cursor = document
            .char_offset(convert::position(position, self.documents.encoding()))
            .map_err(|e| Error::invalid_params(format!("{key}: {e}")))?;
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
        let superseded = in_flight.superseded();
        drop(in_flight);
        if !superseded && result.is_ok() {
            self.requests.answered(asked);
        }
        match result {
            _ if superseded => Ok((None, None)),
            Ok(suggestion) if suggestion.text.is_empty() => Ok((None, Some(suggestion))),
            Ok(suggestion) => {
                let placed = Placed { suggestion: suggestion.clone(), document, cursor, shown: None };
                Ok((Some(placed), Some(suggestion)))
            }
            Err(CompletionError::ModelUnavailable(_)) => Ok((None, None)),
            Err(err) => {
                tracing::error!("completion failed: {err}");
                Err(Error { message: err.to_string().into(), ..Error::internal_error() })
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
        // The latest request answered empty, unless the client has asked again since.
        let Some(position) = requests.awaiting.get(key).map(|p| *p).filter(|_| settled) else { break None };
        let Ok(version) = documents.snapshot(key).map(|d| d.version) else { break None };
        if requests.in_flight.contains_key(key) {
            // The client is asking itself; its answer decides whether this task still has work.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        }
        // Asked as the client will ask again, so that its request finds this suggestion in the cache.
        match suggester.suggest(&uri, position, Trigger::Automatic, |_, _, _| {}).await {
            Ok((Some(_), _)) => break Some((position, version)),
            Ok((None, Some(s))) if matches!(s.reason, StopReason::Deadline | StopReason::Evaluating) => continue,
            _ => break None,
        }
    };
    let current = requests.awaiting.remove(key).map(|(_, p)| p);
    tracing::debug!(?ready, ?current, "suggestion ready check");
    let Some((position, version)) = ready.filter(|(p, _)| current == Some(*p)) else { return };
    if documents.snapshot(key).is_ok_and(|d| d.version == version) {
        let text_document = VersionedTextDocumentIdentifier { uri: uri.clone(), version };
        client.send_notification::<SuggestionReady>(CursorParams { text_document, position }).await;
    }
}
