//! `textDocument/codeAction`: a quick fix for each nib diagnostic in the request that carries a replacement.

use std::collections::HashMap;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

pub async fn handle(params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
    let uri = params.text_document.uri;
    let actions: Vec<CodeActionOrCommand> = params
        .context
        .diagnostics
        .into_iter()
        .filter(|d| d.source.as_deref() == Some("nib"))
        .filter_map(|d| {
            let replacement = d.data.as_ref()?.get("replacement")?.as_str()?.to_owned();
            let edit = TextEdit { range: d.range, new_text: replacement };
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("nib: apply the suggested fix ({})", d.message),
                kind: Some(CodeActionKind::QUICKFIX),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                    ..Default::default()
                }),
                diagnostics: Some(vec![d]),
                ..CodeAction::default()
            }))
        })
        .collect();
    Ok((!actions.is_empty()).then_some(actions))
}
