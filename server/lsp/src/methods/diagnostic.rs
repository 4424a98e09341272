//! `textDocument/diagnostic`: the latest review's findings, for clients that pull.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use crate::NibServer;

pub async fn handle(server: &NibServer, params: DocumentDiagnosticParams) -> Result<DocumentDiagnosticReportResult> {
    let items = server.session()?.reviews.diagnostics(params.text_document.uri.as_str());
    Ok(DocumentDiagnosticReportResult::Report(DocumentDiagnosticReport::Full(RelatedFullDocumentDiagnosticReport {
        related_documents: None,
        full_document_diagnostic_report: FullDocumentDiagnosticReport { result_id: None, items },
    })))
}
