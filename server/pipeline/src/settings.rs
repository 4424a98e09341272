//! Every setting as one list, read from the config types' JSON schema: its dotted key, default, doc and when it
//! applies. The schema is the one source: the README's block, docs/settings.md, VS Code's settings and
//! docs/config.schema.json are generated from it (tests/generated.rs), and a changed configuration is split by it
//! into what applies now and what waits for a restart.

use serde_json::{Map, Value};

use crate::config::Config;

/// When a changed setting takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// At once, on `workspace/didChangeConfiguration`.
    Live,
    /// When nib starts: a change is reported, not applied.
    AtStart,
}

/// One setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// `completion.deadline_ms`; a section's own entry (`plugins`) when it is a list.
    pub path: String,
    /// Its doc comment.
    pub doc: String,
    pub default: Value,
    pub applies: Applies,
    /// The JSON schema's type: "integer", "number", "boolean", "string", "array"; "string" for enums.
    pub kind: &'static str,
    /// An enum's values, with their docs.
    pub values: Vec<(String, String)>,
    /// Unset (`null`) by default, and may be.
    pub optional: bool,
}

/// The config's JSON schema, with nib's own `x-applies` on each section and on keys that differ from theirs.
pub fn schema() -> Value {
    schemars::schema_for!(Config).to_value()
}

/// Every setting, in the order of the config types.
pub fn keys() -> Vec<Key> {
    let schema = schema();
    let defs = schema.get("$defs").cloned().unwrap_or_default();
    let mut keys = Vec::new();
    collect(&schema, &defs, "", Applies::Live, &mut keys);
    keys
}

fn collect(object: &Value, defs: &Value, prefix: &str, applies: Applies, keys: &mut Vec<Key>) {
    let Some(properties) = object.get("properties").and_then(Value::as_object) else { return };
    let defaults = object.get("default").and_then(Value::as_object);
    for (name, property) in properties {
        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        let applies = match property.get("x-applies").and_then(Value::as_str) {
            Some("start") => Applies::AtStart,
            Some(_) => Applies::Live,
            None => applies,
        };
        let resolved = resolve(property, defs);
        if resolved.get("properties").is_some() {
            collect(&resolved, defs, &path, applies, keys);
            continue;
        }
        let default =
            property.get("default").or_else(|| defaults.and_then(|d| d.get(name))).cloned().unwrap_or(Value::Null);
        let (kind, optional) = kind(&resolved);
        let doc = text(property).or_else(|| text(&resolved)).unwrap_or_default();
        keys.push(Key { path, doc, default, applies, kind, values: values(&resolved, defs), optional });
    }
}

/// `property` with a `$ref` (alone, or the non-null arm of `anyOf`) replaced by its definition.
fn resolve(property: &Value, defs: &Value) -> Value {
    let reference =
        property.get("$ref").or_else(|| property.get("anyOf")?.as_array()?.iter().find_map(|arm| arm.get("$ref")));
    let Some(name) = reference.and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) else {
        return property.clone();
    };
    let mut resolved = defs.get(name).cloned().unwrap_or_default();
    if property.get("anyOf").is_some()
        && let Some(object) = resolved.as_object_mut()
    {
        object.insert("x-optional".into(), Value::Bool(true));
    }
    resolved
}

fn kind(schema: &Value) -> (&'static str, bool) {
    let mut optional = schema.get("x-optional").is_some();
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => vec!["string"],
    };
    optional |= types.contains(&"null");
    let kind = match types.iter().find(|t| **t != "null") {
        Some(&"integer") => "integer",
        Some(&"number") => "number",
        Some(&"boolean") => "boolean",
        Some(&"array") => "array",
        _ => "string",
    };
    (kind, optional)
}

/// An enum's values and their docs: schemars writes `enum` when no value has a doc, else `oneOf` with `const`s.
fn values(schema: &Value, defs: &Value) -> Vec<(String, String)> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values.iter().filter_map(Value::as_str).map(|v| (v.to_owned(), String::new())).collect();
    }
    let Some(arms) = schema.get("oneOf").and_then(Value::as_array) else { return Vec::new() };
    arms.iter()
        .map(|arm| resolve(arm, defs))
        .flat_map(|arm| {
            let doc = text(&arm).unwrap_or_default();
            let names: Vec<String> = match (arm.get("const"), arm.get("enum")) {
                (Some(Value::String(one)), _) => vec![one.clone()],
                (_, Some(Value::Array(many))) => many.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                _ => Vec::new(),
            };
            names.into_iter().map(move |name| (name, doc.clone()))
        })
        .collect()
}

/// A doc comment as one paragraph.
fn text(schema: &Value) -> Option<String> {
    let description = schema.get("description")?.as_str()?;
    Some(description.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The settings whose values differ between two configs, split by when they apply.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    pub live: Vec<String>,
    pub at_start: Vec<String>,
}

/// What changed from `old` to `new`, key by key (a list such as `plugins` as one key).
pub fn changes(old: &Config, new: &Config) -> Changes {
    let keys = keys();
    let (old, new) = (flat(old, &keys), flat(new, &keys));
    let mut changes = Changes::default();
    for key in keys {
        if old.get(&key.path) != new.get(&key.path) {
            match key.applies {
                Applies::Live => changes.live.push(key.path),
                Applies::AtStart => changes.at_start.push(key.path),
            }
        }
    }
    changes
}

/// `new` with every setting that applies only at start kept as it is in `running`: what a changed configuration
/// can apply now.
pub fn live_part(running: &Config, new: &Config) -> Config {
    let (Ok(mut merged), Ok(old)) = (serde_json::to_value(new), serde_json::to_value(running)) else {
        return running.clone();
    };
    for key in keys().into_iter().filter(|k| k.applies == Applies::AtStart) {
        if let Some(value) = lookup(&old, &key.path) {
            set(&mut merged, &key.path, value.clone());
        }
    }
    serde_json::from_value(merged).unwrap_or_else(|_| running.clone())
}

fn flat(config: &Config, keys: &[Key]) -> Map<String, Value> {
    let value = serde_json::to_value(config).unwrap_or_default();
    keys.iter().filter_map(|k| Some((k.path.clone(), lookup(&value, &k.path)?.clone()))).collect()
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |value, name| value.get(name))
}

fn set(value: &mut Value, path: &str, new: Value) {
    let mut names: Vec<&str> = path.split('.').collect();
    let Some(last) = names.pop() else { return };
    let parent = names.into_iter().try_fold(value, |value, name| value.get_mut(name));
    if let Some(Value::Object(object)) = parent {
        object.insert(last.to_owned(), new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_doc_a_default_and_when_it_applies() {
        let keys = keys();
        let find = |path: &str| keys.iter().find(|k| k.path == path).unwrap_or_else(|| panic!("no {path}"));
        let deadline = find("completion.deadline_ms");
        assert_eq!(
            (deadline.kind, &deadline.default, deadline.applies),
            ("integer", &Value::from(4000), Applies::Live)
        );
        assert!(deadline.doc.starts_with("Time budget per automatic request"), "{deadline:?}");
        assert_eq!(find("engine.n_batch").applies, Applies::AtStart);
        assert_eq!(find("completion.keep_acceptance").applies, Applies::AtStart);
        assert_eq!(find("plugins").kind, "array");
        let model = find("model");
        assert!(model.optional && model.default.is_null(), "{model:?}");
        let backend = find("engine.backend");
        let names: Vec<&str> = backend.values.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["local", "llama-server", "openai"]);
        assert!(backend.values[1].1.contains("llama-server"), "{backend:?}");
        let severity: Vec<&str> = find("review.min_severity").values.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(severity, ["info", "warning", "error"]);
        for key in &keys {
            assert!(!key.doc.is_empty(), "{} has no doc comment", key.path);
        }
    }

    #[test]
    fn a_change_applies_now_or_waits_for_a_restart_and_start_keys_stay_until_then() {
        let old = Config::default();
        let mut new = old.clone();
        new.completion.deadline_ms = 900;
        new.completion.keep_acceptance = true;
        new.engine.n_ctx = 8192;
        new.next_edit.max_edits = 2;
        new.plugins.push(Default::default());
        let changes = changes(&old, &new);
        assert_eq!(changes.live, ["completion.deadline_ms"]);
        assert_eq!(changes.at_start, ["completion.keep_acceptance", "engine.n_ctx", "next_edit.max_edits", "plugins"]);
        let applied = live_part(&old, &new);
        assert_eq!(applied.completion.deadline_ms, 900);
        assert!(!applied.completion.keep_acceptance);
        assert_eq!(
            (&applied.engine, &applied.next_edit, &applied.plugins),
            (&old.engine, &old.next_edit, &old.plugins)
        );
        assert_eq!(super::changes(&old, &old), Changes::default());
    }
}
