//! `initialize`: settings, the engine, the session, and what nib offers the client.

use std::sync::Arc;

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use crate::acceptance::{self, Acceptance, Totals, Tracker};
use crate::last_edits::{LastEdits, LastEditsError};
use crate::model_setup::{self, ClientCan, ModelSetup};
use crate::next_edits::{self, NextEditStats};
use crate::servers::Editor;
use crate::session::{Requests, Session, Start};
use crate::{NibServer, client_options, convert, review};
use nib_engine::Priority;
use nib_pipeline::completion::Completer;
use nib_pipeline::config::{self, Config};
use nib_pipeline::review::Reviewer;
use nib_pipeline::review::cache::ReviewCache;
use nib_prompt::context::Workspace;
use nib_text::documents::DocumentStore;

pub async fn handle(server: &NibServer, params: InitializeParams) -> Result<InitializeResult> {
    let encoding = convert::negotiate_encoding(&params);
    let mut warnings = Vec::new();
    let mut config = Config::load().unwrap_or_else(|err| {
        warnings.push(format!("nib: {err}; using defaults"));
        Config::default()
    });
    if let Some(options) = &params.initialization_options {
        match config.clone().with_init_options(&client_options::settings_only(options)) {
            Ok(merged) => config = merged,
            Err(err) => warnings.push(format!("nib: initializationOptions: {err}; ignoring them")),
        }
    }
    let config = config.with_command_line(&server.cli);
    let model = config::resolve_model(server.cli.model.as_deref(), &config);
    let workspace = Arc::new(Workspace::default());
    // Every workspace folder is indexed.
    let folders: Vec<&Uri> = params.workspace_folders.iter().flatten().map(|f| &f.uri).collect();
    #[allow(deprecated)] // root_uri: older clients send only that.
    let roots = if folders.is_empty() { params.root_uri.iter().collect() } else { folders };
    let roots: Vec<_> = roots.into_iter().filter_map(convert::file_path).collect();
    // Plugin commands run in the first workspace folder (where a project keeps its own).
    let plugins = nib_pipeline::plugins::start(&config, roots.first().cloned());
    workspace.set_roots(roots);
    // An engine given before `initialize` (the tests' scripted one) is used as it is.
    let engine = server.engine.get().cloned().unwrap_or_else(|| nib_pipeline::engine::start(&config, &model));
    let _ = server.engine.set(engine.clone());
    let caps = &params.capabilities;
    let can_watch_files =
        caps.workspace.as_ref().and_then(|w| w.did_change_watched_files.as_ref()).and_then(|w| w.dynamic_registration)
            == Some(true);
    // Pull only from clients that can be told to pull again when a review finishes (Neovim 0.11
    // pulls, but only after edits): the others get pushed diagnostics.
    let refresh = caps.workspace.as_ref().and_then(|w| w.diagnostics.as_ref()).and_then(|d| d.refresh_support);
    let pull = caps.text_document.as_ref().is_some_and(|t| t.diagnostic.is_some()) && refresh == Some(true);
    let editor = params.client_info.as_ref().map(|c| Editor { name: c.name.clone(), version: c.version.clone() });
    let cache = Arc::new(ReviewCache::new(Some(config::nib_home().join("review-cache"))));
    let reviewer = Reviewer::new(engine.clone(), config.review.limits(), cache, Priority::Background)
        .with_plugins(plugins.clone());
    // Earlier runs' acceptance figures, only when the user asked to keep them.
    let earlier = match config.completion.keep_acceptance {
        true => tokio::task::spawn_blocking(|| acceptance::load(&acceptance::file())).await.unwrap_or_else(|e| {
            Err(acceptance::AcceptanceError::Read { path: acceptance::file(), source: std::io::Error::other(e) })
        }),
        false => Ok(Totals::default()),
    };
    let earlier = earlier.unwrap_or_else(|err| {
        warnings.push(format!("nib: {err}; acceptance figures start from zero"));
        Totals::default()
    });
    // Where files were last edited in earlier runs: a file opened again is warmed there.
    let last_edits = tokio::task::spawn_blocking(|| LastEdits::load(&LastEdits::file()))
        .await
        .unwrap_or_else(|e| Err(LastEditsError::Read { path: LastEdits::file(), source: std::io::Error::other(e) }))
        .unwrap_or_else(|err| {
            warnings.push(format!("nib: {err}; files opened again are not warmed where they were last edited"));
            LastEdits::default()
        });
    let settings = parking_lot::Mutex::new(config.clone());
    let session = Session {
        settings,
        documents: Arc::new(DocumentStore::new(encoding)),
        completer: Completer::new(engine, config.completion, workspace)
            .with_plugins(plugins)
            .with_tasks(server.tasks.clone()),
        reviews: Arc::new(review::Reviews::new(reviewer, config.review.clone(), pull)),
        requests: Arc::new(Requests::default()),
        next_edits: NextEditStats::default(),
        acceptance: Arc::new(Acceptance::new(Tracker::with_earlier(earlier))),
        last_edits: Arc::new(last_edits),
        model_setup: Arc::new(ModelSetup::new(ClientCan::new(caps, params.initialization_options.as_ref()), model)),
        start: Start {
            engine_config: config.engine,
            can_watch_files,
            push_status: client_options::wants(params.initialization_options.as_ref(), client_options::STATUS_CHANGED),
            warnings,
            editor,
            next_edit: config.next_edit,
        },
    };
    if server.session.set(Arc::new(session)).is_err() {
        return Err(Error::invalid_request());
    }
    Ok(InitializeResult {
        capabilities: ServerCapabilities {
            position_encoding: Some(convert::encoding_kind(encoding)),
            text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..TextDocumentSyncOptions::default()
            })),
            completion_provider: Some(CompletionOptions::default()),
            inline_completion_provider: Some(OneOf::Left(true)),
            // Pull for clients that pull, push for the rest: never both to one client.
            diagnostic_provider: pull.then(|| {
                DiagnosticServerCapabilities::Options(DiagnosticOptions {
                    identifier: Some("nib".into()),
                    inter_file_dependencies: false,
                    workspace_diagnostics: false,
                    ..DiagnosticOptions::default()
                })
            }),
            code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                ..CodeActionOptions::default()
            })),
            execute_command_provider: Some(ExecuteCommandOptions {
                commands: vec![
                    review::REVIEW_COMMAND.into(),
                    next_edits::ACCEPT_COMMAND.into(),
                    acceptance::ACCEPTED_COMMAND.into(),
                    model_setup::SETUP_COMMAND.into(),
                ],
                ..ExecuteCommandOptions::default()
            }),
            workspace: Some(WorkspaceServerCapabilities {
                workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                    supported: Some(true),
                    change_notifications: Some(OneOf::Left(true)),
                }),
                file_operations: None,
            }),
            ..ServerCapabilities::default()
        },
        server_info: Some(ServerInfo { name: "nib".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
        offset_encoding: None,
    })
}
