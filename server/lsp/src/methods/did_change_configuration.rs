//! `workspace/didChangeConfiguration`: new settings apply as `initializationOptions` did, over the config
//! file (read again); they replace the options sent before. The whole configuration is compared with the one in
//! effect, key by key: what applies live is applied, what only takes effect at start (the model, `engine.*`,
//! `next_edit.*`, plugins...: `nib_pipeline::settings`) is reported, never dropped silently.

use serde_json::Value;
use tower_lsp_server::ls_types::*;

use crate::NibServer;
use nib_pipeline::config::{self, Config};
use nib_pipeline::settings;

pub async fn handle(server: &NibServer, params: DidChangeConfigurationParams) {
    let Ok(session) = server.session() else { return };
    let Some(sent) = nib_settings(&params.settings) else { return };
    let config = match Config::load().and_then(|config| config.with_init_options(sent)) {
        Ok(config) => config.with_command_line(&server.cli),
        Err(err) => {
            let message = format!("nib: settings not applied: {err}; the ones before stay in effect");
            warn_user(server, message).await;
            return;
        }
    };
    let changes = {
        let mut running = session.settings.lock();
        let changes = settings::changes(&running, &config);
        *running = settings::live_part(&running, &config);
        session.completer.set_config(running.completion.clone());
        session.reviews.set_config(running.review.clone());
        changes
    };
    // The model the settings name counts, not the key: the command line may choose it whatever they say.
    let mut at_start: Vec<String> = changes.at_start.into_iter().filter(|key| key != "model").collect();
    let model = config::resolve_model(server.cli.model.as_deref(), &config);
    if model != session.model() {
        at_start.insert(0, format!("model ({})", model.path.display()));
    }
    if at_start.is_empty() {
        server.client.log_message(MessageType::INFO, "nib: settings applied").await;
    } else {
        let message = format!(
            "nib: {} take effect only when nib starts: restart it to apply them (the other settings apply now)",
            at_start.join(", ")
        );
        warn_user(server, message).await;
    }
}

async fn warn_user(server: &NibServer, message: String) {
    tracing::warn!("{message}");
    server.client.show_message(MessageType::WARNING, message).await;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
}
