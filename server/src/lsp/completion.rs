//! `textDocument/inlineCompletion` and `textDocument/completion`: both ask the
//! completion pipeline for one suggestion at the cursor and shape it.

use serde::{Deserialize, Serialize};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::*;

use super::{NibServer, convert};
use crate::completion::{self, CompletionError, Suggestion};
use crate::documents::{Document, PositionEncoding};
use crate::engine::CancelToken;

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

/// A suggestion and where it goes.
struct Placed {
    suggestion: Suggestion,
    document: Document,
    cursor: usize,
}

impl NibServer {
    pub(super) async fn inline_completion(&self, params: InlineParams) -> Result<InlineCompletionList> {
        let at = params.base.text_document_position;
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
            .suggest(&at.text_document.uri, at.position, move |doc, cursor, text| {
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
        let Some(p) = self.suggest(&at.text_document.uri, at.position, |_, _, _| {}).await? else {
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
        mut on_partial: impl FnMut(&Document, usize, &str),
    ) -> Result<Option<Placed>> {
        let session = self.session()?;
        let key = uri.as_str();
        let document = session.documents.snapshot(key).map_err(|e| Error::invalid_params(e.to_string()))?;
        let cursor = document
            .char_offset(convert::position(position, session.documents.encoding()))
            .map_err(|e| Error::invalid_params(format!("{key}: {e}")))?;
        let cancel = CancelToken::default();
        if let Some(older) = session.in_flight.insert(key.to_owned(), cancel.clone()) {
            older.cancel();
        }
        let request =
            completion::Request { rope: &document.rope, cursor, document: Some(key), syntax: document.syntax.as_ref() };
        let result =
            session.completer.complete(request, cancel.clone(), |text| on_partial(&document, cursor, text)).await;
        let superseded = session.in_flight.remove_if(key, |_, t| t.same_as(&cancel)).is_none();
        match result {
            _ if superseded => Ok(None),
            Ok(suggestion) if suggestion.text.is_empty() => Ok(None),
            Ok(suggestion) => Ok(Some(Placed { suggestion, document, cursor })),
            Err(CompletionError::ModelUnavailable(_)) => Ok(None),
            Err(err) => {
                tracing::error!("completion failed: {err}");
                Err(Error { message: err.to_string().into(), ..Error::internal_error() })
            }
        }
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
