//! `textDocument/inlineCompletion` and `textDocument/completion`: both ask the
//! completion pipeline for one suggestion at the cursor and shape it.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::notification::Notification;

use tower_lsp_server::Client;
use tower_lsp_server::ls_types::*;

use super::{NibServer, Session, convert};
use nib_engine::{CancelToken, StopReason};
use nib_pipeline::completion::{self, CompletionError, Suggestion, Trigger};
use nib_text::documents::{Document, PositionEncoding};

/// `InlineCompletionParams` plus the partial result token that ls-types leaves out.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineParams {
    #[serde(flatten)]
    base: InlineCompletionParams,
    partial_result_token: Option<ProgressToken>,
}

/// `$/progress` carrying a partial result (ls-types only models work-done progress).
enum PartialResult {}

#[derive(Debug, Serialize, Deserialize)]
struct PartialResultParams {
    token: ProgressToken,
    value: Vec<InlineCompletionItem>,
}

impl Notification for PartialResult {
    type Params = PartialResultParams;
    const METHOD: &'static str = "$/progress";
}

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
struct Placed {
    suggestion: Suggestion,
    document: Document,
    cursor: usize,
}

impl NibServer {
    pub(super) async fn inline_completion(&self, params: InlineParams) -> Result<InlineCompletionList> {
        let at = params.base.text_document_position;
        let trigger = match params.base.context.trigger_kind {
            InlineCompletionTriggerKind::INVOKED => Trigger::Invoked,
            _ => Trigger::Automatic,
        };
        let encoding = self.session()?.documents.encoding();
        let partial = params.partial_result_token;
        // One forwarding task keeps the partial results in order, and all of them before the response.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let forwarder = partial.is_some().then(|| {
            let client = self.client.clone();
            tokio::spawn(async move {
                while let Some(params) = rx.recv().await {
                    client.send_notification::<PartialResult>(params).await;
                }
            })
        });
        let placed = self
            .suggest(&at.text_document.uri, at.position, trigger, move |doc, cursor, text| {
                if let Some(token) = &partial {
                    let item = inline_item(text.to_owned(), doc, cursor, encoding);
                    let _ = tx.send(PartialResultParams { token: token.clone(), value: vec![item] });
                }
            })
            .await;
        if let Some(forwarder) = forwarder {
            let _ = forwarder.await;
        }
        let placed = placed?;
        let items =
            placed.map(|p| inline_item(p.suggestion.text, &p.document, p.cursor, encoding)).into_iter().collect();
        Ok(InlineCompletionList { items })
    }

    pub(super) async fn classic_completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let at = params.text_document_position;
        let encoding = self.session()?.documents.encoding();
        let Some(p) = self.suggest(&at.text_document.uri, at.position, Trigger::Automatic, |_, _, _| {}).await? else {
            return Ok(Some(CompletionResponse::Array(Vec::new())));
        };
        // Clients filter items by the word before the cursor, so the item replaces that word.
        let line_start = p.document.rope.line_to_char(p.document.rope.char_to_line(p.cursor));
        let word_start = (line_start..p.cursor)
            .rev()
            .take_while(|&i| {
                let c = p.document.rope.char(i);
                c.is_alphanumeric() || c == '_'
            })
            .last()
            .unwrap_or(p.cursor);
        let word = p.document.rope.slice(word_start..p.cursor).to_string();
        let new_text = format!("{word}{}", p.suggestion.text);
        let first_line = new_text.lines().next().unwrap_or_default();
        let label = if new_text.contains('\n') { format!("{first_line}…") } else { first_line.to_owned() };
        let item = CompletionItem {
            label,
            kind: Some(CompletionItemKind::TEXT),
            detail: Some("nib".into()),
            filter_text: Some(new_text.clone()),
            sort_text: Some("0".into()),
            insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                range: convert::to_range(&p.document.rope, word_start, p.cursor, encoding),
                new_text,
            })),
            ..CompletionItem::default()
        };
        Ok(Some(CompletionResponse::Array(vec![item])))
    }

    /// The shared path: snapshot, cursor, pipeline. `None` when there is nothing to suggest:
    /// no model, an empty suggestion, or a newer request for the same document.
    async fn suggest(
        &self,
        uri: &Uri,
        position: Position,
        trigger: Trigger,
        on_partial: impl FnMut(&Document, usize, &str),
    ) -> Result<Option<Placed>> {
        let session = self.session()?;
        let (placed, suggestion) = suggest(session, uri, position, trigger, on_partial).await?;
        let (client, session, uri) = (self.client.clone(), session.clone(), uri.clone());
        // Answered empty, or with the start of its suggestion: say when the whole suggestion is there. One task
        // per document: a later answer only moves the position it waits for.
        if matches!(suggestion.map(|s| s.reason), Some(StopReason::Deadline | StopReason::Evaluating)) {
            if session.awaiting.insert(uri.as_str().to_owned(), position).is_none() {
                tokio::spawn(tell_when_ready(client, session, uri));
            }
        } else if placed.is_some() {
            session.awaiting.remove(uri.as_str());
        }
        Ok(placed)
    }

    /// `nib/cursorRest`: evaluate the prompt where the cursor rests, before the user types there.
    pub(super) async fn cursor_rest(&self, params: CursorParams) {
        let Ok(session) = self.session() else { return };
        let key = params.text_document.uri.as_str();
        let Ok(document) = session.documents.parsed(key, super::PARSE_WAIT).await else { return };
        let position = convert::position(params.position, session.documents.encoding());
        let Ok(cursor) = document.char_offset(position) else { return };
        if document.version != params.text_document.version {
            return;
        }
        let request = completion::Request {
            rope: &document.rope,
            cursor,
            document: Some(key),
            syntax: document.syntax(),
            trigger: Trigger::Invoked,
        };
        session.completer.warm(request);
    }
}

/// Snapshot, cursor, pipeline; the suggestion (also when it is empty or superseded), and where it goes
/// when there is one to show.
async fn suggest(
    session: &Session,
    uri: &Uri,
    position: Position,
    trigger: Trigger,
    mut on_partial: impl FnMut(&Document, usize, &str),
) -> Result<(Option<Placed>, Option<Suggestion>)> {
    let key = uri.as_str();
    // Its place first, in arrival order: a newer request outdates this one also while its tree is parsed.
    let in_flight = InFlight::new(session, key);
    let document =
        session.documents.parsed(key, super::PARSE_WAIT).await.map_err(|e| Error::invalid_params(e.to_string()))?;
    let cursor = document
        .char_offset(convert::position(position, session.documents.encoding()))
        .map_err(|e| Error::invalid_params(format!("{key}: {e}")))?;
    let cancel = in_flight.cancel.clone();
    let request =
        completion::Request { rope: &document.rope, cursor, document: Some(key), syntax: document.syntax(), trigger };
    let result = session.completer.complete(request, cancel.clone(), |text| on_partial(&document, cursor, text)).await;
    let superseded = in_flight.superseded();
    drop(in_flight);
    match result {
        _ if superseded => Ok((None, None)),
        Ok(suggestion) if suggestion.text.is_empty() => Ok((None, Some(suggestion))),
        Ok(suggestion) => Ok((Some(Placed { suggestion: suggestion.clone(), document, cursor }), Some(suggestion))),
        Err(CompletionError::ModelUnavailable(_)) => Ok((None, None)),
        Err(err) => {
            tracing::error!("completion failed: {err}");
            Err(Error { message: err.to_string().into(), ..Error::internal_error() })
        }
    }
}

/// A request's place in `Session::in_flight`, which it leaves when it ends, also when the client cancels it
/// (tower-lsp then drops its future): a stale entry would hold back `tell_when_ready`.
struct InFlight<'a> {
    session: &'a Session,
    key: &'a str,
    cancel: CancelToken,
}

impl<'a> InFlight<'a> {
    /// Outdates the document's older request, if any.
    fn new(session: &'a Session, key: &'a str) -> InFlight<'a> {
        let cancel = CancelToken::default();
        if let Some(older) = session.in_flight.insert(key.to_owned(), cancel.clone()) {
            older.outdate();
        }
        InFlight { session, key, cancel }
    }

    /// Whether a newer request has taken the place.
    fn superseded(&self) -> bool {
        !self.session.in_flight.get(self.key).is_some_and(|t| t.same_as(&self.cancel))
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.session.in_flight.remove_if(self.key, |_, t| t.same_as(&self.cancel));
    }
}

/// Once the work a request was answered empty (or with part of its suggestion) for is done, computes its
/// suggestion (from the caches, or
/// the few tokens typed since) and tells the client, if the document and the request are still current:
/// a client that stopped typing is not left without a suggestion.
async fn tell_when_ready(client: Client, session: Arc<Session>, uri: Uri) {
    let key = uri.as_str();
    let until = tokio::time::Instant::now() + READY_WITHIN;
    let ready = loop {
        let settled = tokio::time::timeout_at(until, session.completer.settled(key)).await.is_ok();
        // The latest request answered empty, unless the client has asked again since.
        let Some(position) = session.awaiting.get(key).map(|p| *p).filter(|_| settled) else { break None };
        let Ok(version) = session.documents.snapshot(key).map(|d| d.version) else { break None };
        if session.in_flight.contains_key(key) {
            // The client is asking itself; its answer decides whether this task still has work.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        }
        // Asked as the client will ask again, so that its request finds this suggestion in the cache.
        match suggest(&session, &uri, position, Trigger::Automatic, |_, _, _| {}).await {
            Ok((Some(_), _)) => break Some((position, version)),
            Ok((None, Some(s))) if matches!(s.reason, StopReason::Deadline | StopReason::Evaluating) => continue,
            _ => break None,
        }
    };
    let current = session.awaiting.remove(key).map(|(_, p)| p);
    tracing::debug!(?ready, ?current, "suggestion ready check");
    let Some((position, version)) = ready.filter(|(p, _)| current == Some(*p)) else { return };
    if session.documents.snapshot(key).is_ok_and(|d| d.version == version) {
        let text_document = VersionedTextDocumentIdentifier { uri: uri.clone(), version };
        client.send_notification::<SuggestionReady>(CursorParams { text_document, position }).await;
    }
}

fn inline_item(insert_text: String, doc: &Document, cursor: usize, encoding: PositionEncoding) -> InlineCompletionItem {
    InlineCompletionItem {
        insert_text,
        filter_text: None,
        range: Some(convert::to_range(&doc.rope, cursor, cursor, encoding)),
        command: None,
        insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
    }
}
