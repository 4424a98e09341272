//! The workspace as the client describes it after start: configuration changes, files changed on disk,
//! workspace folders added and removed.

use serde::Serialize;
use serde_json::Value;
use tower_lsp_server::ls_types::*;

use super::NibServer;
use nib_pipeline::config::{self, Config};
use nib_prompt::context;

/// How long to wait for a client to acknowledge the file watcher's registration.
const REGISTER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The watcher nib asks for: every file, since a deleted folder is reported as the folder alone; the index
/// thread drops what is not source (`syntax::source_files_at`).
const WATCH_GLOB: &str = "**/*";

impl NibServer {
    /// New settings apply as `initializationOptions` did, over the config file (read again); they replace the
    /// options sent before. What only takes effect at start (the model, `engine.*`) is reported, not ignored.
    pub(super) async fn configuration_changed(&self, params: DidChangeConfigurationParams) {
        let Ok(session) = self.session() else { return };
        let Some(settings) = nib_settings(&params.settings) else { return };
        let config = match Config::load().and_then(|config| config.with_init_options(settings)) {
            Ok(config) => config,
            Err(err) => {
                let message = format!("nib: settings not applied: {err}; the ones before stay in effect");
                self.warn_user(message).await;
                return;
            }
        };
        session.completer.set_config(config.completion.clone());
        session.reviews.set_config(config.review.clone());
        let mut at_start = changed_keys("engine", &session.engine_config, &config.engine);
        let model = config::resolve_model(self.cli_model.as_deref(), &config);
        if model != session.model {
            at_start.insert(0, format!("model ({})", model.path.display()));
        }
        if at_start.is_empty() {
            self.client.log_message(MessageType::INFO, "nib: settings applied").await;
        } else {
            let message = format!(
                "nib: {} take effect only when nib starts: restart it to apply them (the other settings apply now)",
                at_start.join(", ")
            );
            self.warn_user(message).await;
        }
    }

    /// Files nib does not have open changed on disk: index them again, forget the deleted ones. An open
    /// document's entry follows the editor's buffer instead.
    pub(super) async fn watched_files_changed(&self, params: DidChangeWatchedFilesParams) {
        let Ok(session) = self.session() else { return };
        let paths = params
            .changes
            .iter()
            .filter(|change| !session.documents.is_open(change.uri.as_str()))
            .filter_map(|change| context::uri_to_path(change.uri.as_str()))
            .collect();
        session.completer.workspace().files_changed(paths);
    }

    pub(super) async fn workspace_folders_changed(&self, params: DidChangeWorkspaceFoldersParams) {
        let Ok(session) = self.session() else { return };
        let workspace = session.completer.workspace();
        for folder in &params.event.removed {
            if let Some(root) = context::uri_to_path(folder.uri.as_str()) {
                workspace.remove_root(&root);
            }
        }
        for folder in &params.event.added {
            if let Some(root) = context::uri_to_path(folder.uri.as_str()) {
                workspace.add_root(root);
            }
        }
    }

    /// Asks a client that can watch files for nib to tell it about changes on disk, without holding up
    /// `initialized` (the client answers on its own time, or never).
    pub(super) fn watch_files(&self) {
        let client = self.client.clone();
        tokio::spawn(async move {
            let options = DidChangeWatchedFilesRegistrationOptions {
                watchers: vec![FileSystemWatcher { glob_pattern: GlobPattern::String(WATCH_GLOB.into()), kind: None }],
            };
            let registration = Registration {
                id: "nib-watched-files".into(),
                method: "workspace/didChangeWatchedFiles".into(),
                register_options: serde_json::to_value(options).ok(),
            };
            match tokio::time::timeout(REGISTER_TIMEOUT, client.register_capability(vec![registration])).await {
                Ok(Ok(())) => tracing::debug!("the client watches files for nib"),
                Ok(Err(error)) => tracing::info!(%error, "the client does not watch files for nib"),
                Err(_) => tracing::info!("the client did not answer the file watcher's registration"),
            }
        });
    }

    async fn warn_user(&self, message: String) {
        tracing::warn!("{message}");
        self.client.show_message(MessageType::WARNING, message).await;
    }
}

/// nib's part of `workspace/didChangeConfiguration` settings: the `nib` section (VS Code's convention), else
/// the whole; `None` when the client said nothing (`null`, `{}`, `[]`: eglot sends `{}` on connecting).
fn nib_settings(settings: &Value) -> Option<&Value> {
    if let Some(section) = settings.get("nib") {
        return Some(section);
    }
    let empty = match settings {
        Value::Null => true,
        Value::Object(object) => object.is_empty(),
        Value::Array(array) => array.is_empty(),
        _ => false,
    };
    (!empty).then_some(settings)
}

/// The `section.field` names whose values differ between `old` and `new`.
fn changed_keys(section: &str, old: &impl Serialize, new: &impl Serialize) -> Vec<String> {
    let (Ok(Value::Object(old)), Ok(Value::Object(new))) = (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Vec::new();
    };
    new.iter().filter(|(key, value)| old.get(*key) != Some(value)).map(|(key, _)| format!("{section}.{key}")).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use nib_pipeline::config::EngineConfig;

    #[test]
    fn settings_come_from_the_nib_section_or_the_whole_and_empty_ones_say_nothing() {
        let ours = json!({"completion": {"max_tokens": 8}});
        assert_eq!(nib_settings(&json!({"nib": ours})), Some(&ours));
        assert_eq!(nib_settings(&ours), Some(&ours));
        assert_eq!(nib_settings(&json!({"nib": {}})), Some(&json!({})));
        for nothing in [json!(null), json!({}), json!([])] {
            assert_eq!(nib_settings(&nothing), None, "{nothing}");
        }
    }

    #[test]
    fn changed_keys_name_the_fields_that_differ() {
        let old = EngineConfig::default();
        let new = EngineConfig { n_ctx: 4096, kv_shift: !old.kv_shift, ..old.clone() };
        assert_eq!(changed_keys("engine", &old, &new), ["engine.kv_shift", "engine.n_ctx"]);
        assert!(changed_keys("engine", &old, &old).is_empty());
    }
}
