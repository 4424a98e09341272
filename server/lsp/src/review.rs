//! Review diagnostics: a saved file is reviewed in the background (below
//! completions, cancelled by a newer save), and its findings published — pushed
//! with `publishDiagnostics`, or pulled with `textDocument/diagnostic` by
//! clients that declare pull support, never both (`textDocument/codeAction` turns replacements into quick
//! fixes).

use dashmap::DashMap;
use parking_lot::RwLock;
use serde_json::json;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::*;

use crate::session::{PARSE_WAIT, Session};
use nib_engine::CancelToken;
use nib_pipeline::config::ReviewConfig;
use nib_pipeline::review::{FileToReview, Finding, Reviewer, Severity, noise};
use nib_pipeline::tasks::Tasks;
use nib_text::documents::PositionEncoding;

/// How long to wait for a client to acknowledge `workspace/diagnostic/refresh`.
const REFRESH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The command a client runs to review a document now (argument: its URI).
pub const REVIEW_COMMAND: &str = "nib.review";

/// What the session keeps for reviews.
pub struct Reviews {
    reviewer: Reviewer,
    /// Replaced whole when the client's settings change; each review reads the current one.
    config: RwLock<ReviewConfig>,
    /// The client pulls diagnostics (and can be asked to pull again): store them and ask it to
    /// refresh, never push.
    pub pull: bool,
    /// The review running per document: a newer save cancels it.
    running: DashMap<String, CancelToken>,
    /// The latest diagnostics per document.
    published: DashMap<String, Vec<Diagnostic>>,
}

impl Reviews {
    pub fn new(reviewer: Reviewer, config: ReviewConfig, pull: bool) -> Reviews {
        Reviews { reviewer, config: RwLock::new(config), pull, running: DashMap::new(), published: DashMap::new() }
    }

    /// The settings in effect.
    pub fn config(&self) -> ReviewConfig {
        self.config.read().clone()
    }

    /// New settings, for the reviews that start from now on.
    pub fn set_config(&self, config: ReviewConfig) {
        *self.config.write() = config;
    }

    /// Reviews running now, one per document at most.
    pub fn n_running(&self) -> usize {
        self.running.len()
    }

    pub fn cancel_all(&self) {
        self.running.iter().for_each(|entry| entry.value().cancel());
    }

    pub fn diagnostics(&self, uri: &str) -> Vec<Diagnostic> {
        self.published.get(uri).map(|d| d.clone()).unwrap_or_default()
    }
}

/// Reviews `uri` in the background and publishes what it finds.
pub fn start(client: Client, tasks: &Tasks, session: &Session, uri: Uri) {
    let cancel = CancelToken::default();
    if let Some(older) = session.reviews.running.insert(uri.as_str().to_owned(), cancel.clone()) {
        older.cancel();
    }
    let (documents, workspace, reviews) =
        (session.documents.clone(), session.workspace().clone(), session.reviews.clone());
    tasks.spawn("review", async move {
        let key = uri.as_str();
        let Ok(doc) = documents.parsed(key, PARSE_WAIT).await else { return };
        let path = workspace.label(key);
        let config = reviews.config();
        // Generated files (the CLI's limit is the same size) are not the user's code to review.
        if doc.generated || !noise::selected(&path, &config.include, &config.exclude) {
            return;
        }
        let file = FileToReview {
            path: &path,
            language: doc.syntax().map_or("text", |s| s.language.name()),
            rope: &doc.rope,
            syntax: doc.syntax(),
            focus: None,
        };
        let findings = match reviews.reviewer.with_limits(config.limits()).review(file, &cancel, |_, _| {}).await {
            Ok((findings, stats)) => {
                tracing::info!(uri = key, n_findings = findings.len(), ?stats, "reviewed");
                findings
            }
            Err(err) => {
                tracing::info!("review of {key} ended: {err}");
                return;
            }
        };
        reviews.running.remove_if(key, |_, t| t.same_as(&cancel));
        let encoding = documents.encoding();
        let diagnostics: Vec<Diagnostic> = findings
            .iter()
            .filter(|f| f.severity >= config.min_severity && !noise::suppressed(&doc.rope, f))
            .map(|f| diagnostic(f, encoding))
            .collect();
        // A document closed meanwhile keeps no diagnostics.
        if documents.snapshot(key).is_err() {
            return;
        }
        reviews.published.insert(key.to_owned(), diagnostics.clone());
        if reviews.pull {
            // A client that never answers must not keep this task alive.
            let _ = tokio::time::timeout(REFRESH_TIMEOUT, client.workspace_diagnostic_refresh()).await;
        } else {
            client.publish_diagnostics(uri, diagnostics, Some(doc.version)).await;
        }
    });
}

/// Forgets a closed document's review and, for push clients, clears what was shown.
pub async fn clear(client: &Client, session: &Session, uri: &Uri) {
    if let Some((_, running)) = session.reviews.running.remove(uri.as_str()) {
        running.cancel();
    }
    if session.reviews.published.remove(uri.as_str()).is_some() && !session.reviews.pull {
        client.publish_diagnostics(uri.clone(), Vec::new(), None).await;
    }
}

fn diagnostic(f: &Finding, encoding: PositionEncoding) -> Diagnostic {
    let position = |p: &nib_pipeline::review::Position| Position {
        line: p.line,
        character: match encoding {
            PositionEncoding::Utf8 => p.utf8,
            PositionEncoding::Utf16 => p.utf16,
        },
    };
    Diagnostic {
        range: Range { start: position(&f.start), end: position(&f.end) },
        severity: Some(match f.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Info => DiagnosticSeverity::INFORMATION,
        }),
        code: Some(NumberOrString::String(f.rule.clone())),
        source: Some("nib".into()),
        message: f.message.clone(),
        data: Some(json!({"replacement": f.replacement, "fingerprint": f.fingerprint})),
        ..Diagnostic::default()
    }
}
