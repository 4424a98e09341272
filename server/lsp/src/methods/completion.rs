//! `textDocument/completion`: the inline suggestion as one classic completion item.

use tower_lsp_server::jsonrpc::Error;
use tower_lsp_server::ls_types::*;

use crate::arrival::{Arrival, Empty, Unanswered};
use crate::suggest::{accepted_command, suggest};
use crate::{NibServer, convert};
use nib_pipeline::completion::Trigger;

impl Empty for Option<CompletionResponse> {
    fn empty() -> Option<CompletionResponse> {
        Some(CompletionResponse::Array(Vec::new()))
    }
}

pub async fn handle(server: &NibServer, params: CompletionParams) -> Result<Option<CompletionResponse>, Unanswered> {
    let session = server.session()?;
    let at = params.text_document_position;
    let encoding = session.documents.encoding();
    let uri = &at.text_document.uri;
    let arrival =
        Arrival::new(&session.documents, uri, at.position).map_err(|e| Error::invalid_params(e.to_string()))?;
    let no_partials = |_: &_, _, _: &_| {};
    let Some(p) = suggest(session, &server.client, &server.tasks, &arrival, Trigger::Automatic, no_partials).await?
    else {
        return Ok(Option::empty());
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
        command: accepted_command(uri, p.shown),
        ..CompletionItem::default()
    };
    Ok(Some(CompletionResponse::Array(vec![item])))
}
