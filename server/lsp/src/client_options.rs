//! The client's own keys in `initializationOptions`: what it can do for nib, beside nib's settings.

use serde_json::Value;

/// The client answers `nib/chooseModelFile` (the first-run dialog's "Choose a file...").
pub const CHOOSE_MODEL_FILE: &str = "chooseModelFile";
/// The client wants `nib/statusChanged` pushed instead of asking for `nib/status` again and again.
pub const STATUS_CHANGED: &str = "statusChanged";

/// Whether the client set `key` to `true`.
pub fn wants(options: Option<&Value>, key: &str) -> bool {
    options.and_then(|o| o.get(key)).and_then(Value::as_bool) == Some(true)
}

/// The options without the client's own keys: nib's settings.
pub fn settings_only(options: &Value) -> Value {
    let mut settings = options.clone();
    if let Some(object) = settings.as_object_mut() {
        object.remove(CHOOSE_MODEL_FILE);
        object.remove(STATUS_CHANGED);
    }
    settings
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_clients_own_keys_are_not_settings() {
        let options = json!({"chooseModelFile": true, "statusChanged": true, "completion": {"max_tokens": 8}});
        assert_eq!(settings_only(&options), json!({"completion": {"max_tokens": 8}}));
        assert!(wants(Some(&options), STATUS_CHANGED));
        assert!(!wants(Some(&json!({"statusChanged": "yes"})), STATUS_CHANGED));
        assert!(!wants(None, CHOOSE_MODEL_FILE));
        assert_eq!(settings_only(&json!([])), json!([]));
    }
}
