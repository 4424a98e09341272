//! `textDocument/inlineCompletion`: the suggestion at the cursor (and, asked for explicitly, its alternatives),
//! its partial results streamed as `$/progress` when the client asks for them.

use serde::{Deserialize, Serialize};
use tower_lsp_server::jsonrpc::Error;
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::*;

use crate::arrival::{Arrival, Empty, Unanswered};
use crate::suggest::{accepted_command, suggest};
use crate::{NibServer, convert};
use nib_pipeline::completion::Trigger;
use nib_text::documents::{Document, PositionEncoding};

pub const METHOD: &str = "textDocument/inlineCompletion";

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

impl Empty for InlineCompletionList {
    fn empty() -> InlineCompletionList {
        InlineCompletionList { items: Vec::new() }
    }
}

pub async fn handle(server: &NibServer, params: InlineParams) -> Result<InlineCompletionList, Unanswered> {
    let session = server.session()?;
    let at = params.base.text_document_position;
    let uri = &at.text_document.uri;
    let arrival =
        Arrival::new(&session.documents, uri, at.position).map_err(|e| Error::invalid_params(e.to_string()))?;
    let trigger = match params.base.context.trigger_kind {
        InlineCompletionTriggerKind::INVOKED => Trigger::Invoked,
        _ => Trigger::Automatic,
    };
    let encoding = session.documents.encoding();
    let partial = params.partial_result_token;
    // One forwarding task keeps the partial results in order, and all of them before the response.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let forwarder = partial.is_some().then(|| {
        let client = server.client.clone();
        server.tasks.spawn("partial results", async move {
            while let Some(params) = rx.recv().await {
                client.send_notification::<PartialResult>(params).await;
            }
        })
    });
    let on_partial = move |doc: &Document, cursor, text: &str| {
        if let Some(token) = &partial {
            let item = inline_item(text.to_owned(), doc, cursor, encoding, None);
            let _ = tx.send(PartialResultParams { token: token.clone(), value: vec![item] });
        }
    };
    let placed = suggest(session, &server.client, &server.tasks, &arrival, trigger, on_partial).await;
    if let Some(forwarder) = forwarder {
        let _ = forwarder.await;
    }
    // The suggestion first (with the command that counts its acceptance), then its alternatives (explicit
    // requests only), for the client to cycle through.
    let items = match placed? {
        Some(p) => {
            let first = inline_item(p.suggestion.text, &p.document, p.cursor, encoding, accepted_command(uri, p.shown));
            let others = p.suggestion.alternatives.into_iter();
            std::iter::once(first)
                .chain(others.map(|text| inline_item(text, &p.document, p.cursor, encoding, None)))
                .collect()
        }
        None => Vec::new(),
    };
    Ok(InlineCompletionList { items })
}

/// An item; a final one carries the command an editor runs once it has inserted it.
fn inline_item(
    insert_text: String,
    doc: &Document,
    cursor: usize,
    encoding: PositionEncoding,
    command: Option<Command>,
) -> InlineCompletionItem {
    InlineCompletionItem {
        insert_text,
        filter_text: None,
        range: Some(convert::to_range(&doc.rope, cursor, cursor, encoding)),
        command,
        insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
    }
}
