//! `workspace/didChangeConfiguration`: new settings apply as `initializationOptions` did, over the config
//! file (read again); they replace the options sent before. What only takes effect at start (the model,
//! `engine.*`) is reported, not ignored.

use serde::Serialize;
use serde_json::Value;
use tower_lsp_server::ls_types::*;

use crate::NibServer;
use nib_pipeline::config::{self, Config};

pub async fn handle(server: &NibServer, params: DidChangeConfigurationParams) {
    let Ok(session) = server.session() else { return };
    let Some(settings) = nib_settings(&params.settings) else { return };
    let config = match Config::load().and_then(|config| config.with_init_options(settings)) {
        Ok(config) => config.with_command_line(&server.cli),
        Err(err) => {
            let message = format!("nib: settings not applied: {err}; the ones before stay in effect");
            warn_user(server, message).await;
            return;
        }
    };
    session.completer.set_config(config.completion.clone());
    session.reviews.set_config(config.review.clone());
    let mut at_start = changed_keys("engine", &session.start.engine_config, &config.engine);
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
