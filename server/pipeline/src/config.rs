//! One `Config` with defaults, fed by the config file and the LSP
//! `initializationOptions`, and the model resolution order.
//!
//! Model resolution, first match wins: `--model PATH`, `$NIB_MODEL`,
//! `initializationOptions.model`, the config file's `model`, the model chosen in an editor's first-run dialog
//! (`$NIB_HOME/chosen-model.json`, while its file exists), the catalogue's default model in `$NIB_HOME/models`.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use nib_engine::{BackendKind, EngineConfig};

use crate::next_edit::NextEditConfig;
use crate::plugins::PluginConfig;
use crate::review::{Limits, Severity};

/// Everything a user can set. Every field has a default, so `{}` is a valid config.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Path to a GGUF model file (unset: the model chosen in an editor's first-run dialog, else the catalogue's
    /// default).
    #[schemars(extend("x-applies" = "start"))]
    pub model: Option<PathBuf>,
    /// The engine is set up once, when nib starts.
    #[schemars(extend("x-applies" = "start"))]
    pub engine: EngineConfig,
    #[schemars(extend("x-applies" = "live"))]
    pub completion: CompletionConfig,
    #[schemars(extend("x-applies" = "live"))]
    pub review: ReviewConfig,
    /// Next edits from the model (`nib/nextEdits`): on for models trained for it.
    #[schemars(extend("x-applies" = "start"))]
    pub next_edit: NextEditConfig,
    /// Plugins, in the order they run (`[[plugins]]`, docs/plugins.md describes their keys).
    #[schemars(extend("x-applies" = "start"), with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub plugins: Vec<PluginConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    /// Review a file in the background when the editor saves it.
    pub on_save: bool,
    /// Findings below this severity are not reported.
    pub min_severity: Severity,
    /// Repository-relative path globs to review (`src/**/*.rs`); empty: all.
    pub include: Vec<String>,
    /// Repository-relative path globs never reviewed (`vendor/**`), even when `include` matches them.
    pub exclude: Vec<String>,
    /// A review unit's size in chars: a longer function is split along its children.
    pub unit_chars: u32,
    /// Tokens the model may write per unit.
    pub max_tokens: u32,
    /// The most findings reported for one file: the most severe, then the first.
    pub max_findings_per_file: u32,
    /// Review by surprise (rule `surprise`): lines with a token the model found unlikely where it was sure of
    /// something else. Off by default: on the mutation corpus it does not reach its target (README, Review by
    /// surprise).
    pub surprise: bool,
    /// How much likelier the model's choice must be than the token written, in nats (`ln(p_expected /
    /// p_actual)`), for a line to be reported. Chosen from `nib eval surprise` (README).
    pub surprise_threshold: f32,
}

impl Default for ReviewConfig {
    fn default() -> ReviewConfig {
        ReviewConfig {
            on_save: true,
            min_severity: Severity::Info,
            include: Vec::new(),
            exclude: Vec::new(),
            unit_chars: 3000,
            max_tokens: 384,
            max_findings_per_file: 10,
            surprise: false,
            surprise_threshold: 12.0,
        }
    }
}

impl ReviewConfig {
    pub fn limits(&self) -> Limits {
        Limits {
            unit_chars: self.unit_chars as usize,
            max_tokens: self.max_tokens as usize,
            max_findings_per_file: self.max_findings_per_file as usize,
            surprise: self.surprise.then_some(self.surprise_threshold),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CompletionConfig {
    /// Token budget of the prompt (prefix + suffix + template tokens).
    pub n_prompt_tokens: u32,
    /// Share of the prompt budget given to the text after the cursor, in percent.
    pub suffix_percent: u32,
    /// Most tokens generated for one suggestion.
    pub max_tokens: u32,
    /// Most lines in a multi-line suggestion.
    pub max_lines: u32,
    /// Time budget per automatic request (the user is typing): past it, answer with the text so far and
    /// finish in the background.
    pub deadline_ms: u64,
    /// An automatic request whose suggestion is still being written answers this long after it came with what
    /// is ready (its whole lines, else its whole words); the rest goes on into the cache and
    /// `nib/suggestionReady` says when it is there. 0: wait for the whole suggestion (up to `deadline_ms`).
    pub partial_after_ms: u64,
    /// Time cap on an explicit request (the user asked): it answers when the suggestion is complete.
    pub invoked_timeout_ms: u64,
    /// A cold prompt (more than 256 tokens not in the KV cache) that would take longer than this to evaluate is
    /// answered first from a short window around the cursor, sized by the measured prompt rate to fit this time
    /// (never under 256 tokens); the whole window is evaluated behind it and replaces its suggestion
    /// (`nib/suggestionReady`). 0: always wait for the whole window.
    pub short_window_ms: u64,
    /// The most suggestions an explicit request answers with: the greedy one, then distinct sampled
    /// alternatives that are ready within `invoked_timeout_ms`. 1: the greedy one only. Automatic requests
    /// always answer with one.
    pub n_candidates: u32,
    /// Automatic requests hold back a suggestion whose confidence (the probability the model gave its first
    /// line, 0 to 1) is below this: the model was guessing. Explicit requests always answer. 0: show every
    /// suggestion. A backend that gives no probabilities is never held back. The default is chosen from
    /// `nib eval --trigger automatic` (README, Confidence).
    pub min_confidence: f32,
    /// The most suffix tokens an automatic request's prompt carries (prefix-suffix-middle templates evaluate
    /// the suffix again at every keystroke); explicit requests and warm-ahead get the whole suffix share.
    pub typing_suffix_tokens: u32,
    /// After a suggestion, compute the next one as if it were accepted, at idle priority.
    pub prefetch: bool,
    /// Finished completions kept for reuse.
    pub cache_entries: u32,
    /// A prompt template from prompts/fim (a family: "qwen", "starcoder2"..., or "psm", "spm",
    /// "prefix-only"); unset: chosen from the model's tokens and name.
    pub template: Option<String>,
    /// What the prompt carries: the text before the cursor only, the window around it, or the
    /// window plus context from the file and the workspace.
    pub context: ContextMode,
    /// Tokens of the prompt budget set aside for context (in `full` mode).
    pub context_tokens: u32,
    /// Keep the acceptance figures across runs in `$NIB_HOME/acceptance.json` (read at start, written at
    /// shutdown); they are never sent anywhere either way.
    #[schemars(extend("x-applies" = "start"))]
    pub keep_acceptance: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContextMode {
    /// Prefix-only prompting, whatever the model.
    Prefix,
    /// The model's template with the prefix and suffix windows. The default: with the small models
    /// measured here (`nib eval`), context gained no accuracy and cost KV reuse while typing.
    #[default]
    Window,
    /// The window plus the file's header, enclosing signatures, definitions and recent code.
    Full,
}

impl ContextMode {
    pub fn name(self) -> &'static str {
        match self {
            ContextMode::Prefix => "prefix",
            ContextMode::Window => "window",
            ContextMode::Full => "full",
        }
    }
}

impl Default for CompletionConfig {
    fn default() -> CompletionConfig {
        CompletionConfig {
            n_prompt_tokens: 1536,
            suffix_percent: 25,
            max_tokens: 64,
            max_lines: 8,
            deadline_ms: 4000,
            partial_after_ms: 200,
            invoked_timeout_ms: 30_000,
            short_window_ms: 1000,
            n_candidates: 3,
            min_confidence: 0.002,
            typing_suffix_tokens: 24,
            prefetch: true,
            cache_entries: 256,
            template: None,
            context: ContextMode::Window,
            context_tokens: 384,
            keep_acceptance: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("invalid settings: {0}")]
    Options(serde_json::Error),
}

impl Config {
    /// The config file (`$NIB_CONFIG`, else `<config dir>/nib/config.toml`), or defaults if there is none.
    pub fn load() -> Result<Config, ConfigError> {
        let Some(path) = config_path() else { return Ok(Config::default()) };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|source| ConfigError::Parse { path, source }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Overlays LSP `initializationOptions` or `workspace/didChangeConfiguration` settings (same shape as
    /// the config file, in JSON). Their `model` ranks below `$NIB_MODEL`, which `resolve_model` applies.
    /// `null` is no options, and an empty array an empty object: Lua cannot tell `{}` from `[]`, and
    /// Neovim sends an empty table as `[]`.
    pub fn with_init_options(mut self, options: &serde_json::Value) -> Result<Config, ConfigError> {
        if options.is_null() {
            return Ok(self);
        }
        let mut merged = serde_json::to_value(&self).map_err(ConfigError::Options)?;
        merge_json(&mut merged, options).map_err(|message| ConfigError::Options(serde::de::Error::custom(message)))?;
        self = serde_json::from_value(merged).map_err(ConfigError::Options)?;
        Ok(self)
    }
}

/// The config file nib reads: `$NIB_CONFIG`, else `<config dir>/nib/config.toml`; `None` without a config dir.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os("NIB_CONFIG") {
        Some(path) => Some(PathBuf::from(path)),
        None => dirs::config_dir().map(|dir| dir.join("nib/config.toml")),
    }
}

/// What the config file sets, for `nib doctor`: its keys (dotted), and those nib does not know.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigFile {
    pub path: Option<PathBuf>,
    pub exists: bool,
    pub keys: Vec<String>,
    pub unknown_keys: Vec<String>,
}

impl ConfigFile {
    /// Reads the file again as plain TOML, so a file `Config::load` refuses can still be described.
    pub fn read() -> Result<ConfigFile, ConfigError> {
        config_path().map_or(Ok(ConfigFile::default()), ConfigFile::read_at)
    }

    fn read_at(path: PathBuf) -> Result<ConfigFile, ConfigError> {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ConfigFile { path: Some(path), ..ConfigFile::default() });
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let table: toml::Table =
            toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.clone(), source })?;
        let mut keys = Vec::new();
        leaf_keys("", &serde_json::to_value(&table).unwrap_or_default(), &mut keys);
        let known = known_keys();
        let unknown_keys = keys.iter().filter(|key| setting_of(key, &known).is_none()).cloned().collect();
        Ok(ConfigFile { path: Some(path), exists: true, keys, unknown_keys })
    }
}

/// Every setting's dotted key.
fn known_keys() -> Vec<String> {
    let mut known = Vec::new();
    leaf_keys("", &serde_json::to_value(Config::default()).unwrap_or_default(), &mut known);
    known
}

/// The setting a file's key belongs to: the key itself, or the setting it is inside (a table of a list-valued
/// setting); `None` for a key nib does not know.
fn setting_of<'a>(key: &str, known: &'a [String]) -> Option<&'a String> {
    known.iter().find(|k| key == k.as_str() || key.starts_with(&format!("{k}.")))
}

/// Where a setting in force came from, for `nib doctor`. Settings not listed are defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingSource {
    /// The dotted key, as the config file spells it ("engine.backend").
    pub key: String,
    /// The value in force, as JSON.
    pub value: serde_json::Value,
    pub source: SourceKind,
    /// What set it: the config file's path, "$NIB_MODEL", or the flag ("--backend").
    pub by: String,
}

/// The kinds of places a setting comes from, besides the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    ConfigFile,
    Environment,
    CommandLine,
}

/// The settings in force that are not defaults, each with where it came from: the config file's (known) keys,
/// then `$NIB_MODEL` (`env_model`), then the command line, a later one replacing an earlier one, as they win.
/// `$NIB_MODEL` and `--model` choose the model without changing `in_force.model`, so their value is their own.
pub fn setting_sources(
    in_force: &Config,
    file: &ConfigFile,
    cli: &CommandLine,
    env_model: Option<&Path>,
) -> Vec<SettingSource> {
    let values = serde_json::to_value(in_force).unwrap_or_default();
    let known = known_keys();
    let mut out: Vec<SettingSource> = Vec::new();
    let mut set = |key: &str, value: serde_json::Value, source: SourceKind, by: String| {
        let entry = SettingSource { key: key.to_owned(), value, source, by };
        match out.iter_mut().find(|s| s.key == key) {
            Some(earlier) => *earlier = entry,
            None => out.push(entry),
        }
    };
    let file_path = file.path.as_ref().map_or_else(String::new, |p| p.display().to_string());
    for key in file.keys.iter().filter_map(|key| setting_of(key, &known)) {
        let value = key.split('.').try_fold(&values, |v, part| v.get(part)).cloned().unwrap_or_default();
        set(key, value, SourceKind::ConfigFile, file_path.clone());
    }
    let path_value = |path: &Path| serde_json::Value::from(path.display().to_string());
    if let Some(path) = env_model {
        set("model", path_value(path), SourceKind::Environment, "$NIB_MODEL".into());
    }
    if let Some(path) = &cli.model {
        set("model", path_value(path), SourceKind::CommandLine, "--model".into());
    }
    if let Some(backend) = cli.backend {
        set(
            "engine.backend",
            serde_json::to_value(backend).unwrap_or_default(),
            SourceKind::CommandLine,
            "--backend".into(),
        );
    }
    if let Some(url) = &cli.engine_url {
        set("engine.url", url.as_str().into(), SourceKind::CommandLine, "--engine-url".into());
    }
    out
}

/// The dotted paths of `value`'s leaves (a table's entries, recursively; anything else is a leaf).
fn leaf_keys(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
    match value.as_object() {
        Some(table) if !table.is_empty() || prefix.is_empty() => {
            for (key, value) in table {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                leaf_keys(&path, value, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

/// The resolved model path and where it came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    pub path: PathBuf,
    pub source: ModelSource,
    /// The server that runs the model instead, when a remote backend is configured: its URL.
    pub remote: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    CommandLine,
    Environment,
    ConfigOrInitOptions,
    /// Chosen (a file, or a model downloaded) in an editor's first-run dialog, remembered in `chosen_model_file`.
    Chosen,
    Default,
}

impl ModelSource {
    pub fn describe(self) -> &'static str {
        match self {
            ModelSource::CommandLine => "--model",
            ModelSource::Environment => "$NIB_MODEL",
            ModelSource::ConfigOrInitOptions => "the configuration",
            ModelSource::Chosen => "the editor's first-run choice",
            ModelSource::Default => "the default model",
        }
    }
}

impl ModelChoice {
    /// One message for a model that cannot be used: what failed, where the path came from, and the fix.
    pub fn problem(&self, error: &str) -> String {
        if let Some(url) = &self.remote {
            return format!(
                "{error}. Fix: start the server at {url}, or point engine.url (--engine-url) at one; \
                 nib asks again on its own."
            );
        }
        let fix = match self.source {
            ModelSource::Default => {
                "Fix: run `nib models pull` to download it, or point --model, $NIB_MODEL or the `model` setting at a GGUF file."
            }
            _ => "Fix: point it at a readable GGUF file, or unset it to use the default model.",
        };
        format!("{error} (model path from {}). {fix}", self.source.describe())
    }
}

/// Applies the resolution order. `config.model` already holds the init option
/// or, below it, the config file's value.
pub fn resolve_model(cli: Option<&Path>, config: &Config) -> ModelChoice {
    let env = std::env::var_os("NIB_MODEL").filter(|v| !v.is_empty()).map(PathBuf::from);
    let (path, source) = if let Some(path) = cli {
        (path.to_path_buf(), ModelSource::CommandLine)
    } else if let Some(path) = env {
        (path, ModelSource::Environment)
    } else if let Some(path) = &config.model {
        (path.clone(), ModelSource::ConfigOrInitOptions)
    } else if let Some(path) = chosen_model().filter(|path| path.is_file()) {
        (path, ModelSource::Chosen)
    } else {
        (default_model_path(), ModelSource::Default)
    };
    let remote = (config.engine.backend != BackendKind::Local).then(|| config.engine.url.clone());
    ModelChoice { path, source, remote }
}

/// Where the model chosen in an editor's first-run dialog is remembered: `{"model": "/path/to/file.gguf"}`.
pub fn chosen_model_file() -> PathBuf {
    nib_home().join("chosen-model.json")
}

#[derive(Serialize, Deserialize)]
struct Chosen {
    model: PathBuf,
}

/// The model chosen in a first-run dialog, if one was (and the file says so readably).
fn chosen_model() -> Option<PathBuf> {
    let text = std::fs::read_to_string(chosen_model_file()).ok()?;
    serde_json::from_str::<Chosen>(&text).ok().map(|chosen| chosen.model)
}

/// Remembers `model` as the choice made in a first-run dialog: the next start uses it when nothing is configured.
/// Written whole (a temporary file, then renamed).
pub fn remember_chosen_model(model: &Path) -> std::io::Result<()> {
    let file = chosen_model_file();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = file.with_extension(format!("json.{}", std::process::id()));
    std::fs::write(&temporary, serde_json::to_vec(&Chosen { model: model.to_path_buf() })?)?;
    std::fs::rename(&temporary, &file)
}

/// What the command line sets: it wins over the environment, the client's options and the config file.
#[derive(Debug, Clone, Default)]
pub struct CommandLine {
    pub model: Option<PathBuf>,
    pub backend: Option<BackendKind>,
    pub engine_url: Option<String>,
}

impl Config {
    pub fn with_command_line(mut self, cli: &CommandLine) -> Config {
        if let Some(backend) = cli.backend {
            self.engine.backend = backend;
        }
        if let Some(url) = &cli.engine_url {
            self.engine.url = url.clone();
        }
        self
    }
}

pub use nib_models::{default_model_path, nib_home};

/// Overlays `overlay` on `base`, key by key. A table given as a list is refused: serde would read a struct
/// from it field by field, in declaration order.
fn merge_json(base: &mut serde_json::Value, overlay: &serde_json::Value) -> Result<(), String> {
    match (base, overlay) {
        (serde_json::Value::Object(base), serde_json::Value::Object(overlay)) => {
            for (key, value) in overlay {
                merge_json(base.entry(key.clone()).or_insert(serde_json::Value::Null), value)?;
            }
        }
        (serde_json::Value::Object(_), serde_json::Value::Array(overlay)) if overlay.is_empty() => {}
        (serde_json::Value::Object(_), serde_json::Value::Array(overlay)) => {
            return Err(format!(
                "expected a table of settings, got the list {}",
                serde_json::Value::from(overlay.clone())
            ));
        }
        (base, overlay) => *base = overlay.clone(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_config_file_s_keys_are_listed_and_unknown_ones_named() {
        let path = std::env::temp_dir().join(format!("nib-config-keys-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "model = \"m.gguf\"\n[engine]\nn_gpu_layers = 8\nbogus = 1\n[review]\ninclude = [\"src/**\"]\n",
        )
        .unwrap();
        let file = ConfigFile::read_at(path.clone());
        let _ = std::fs::remove_file(&path);
        let file = file.unwrap();
        assert!(file.exists);
        assert_eq!(file.keys, ["engine.bogus", "engine.n_gpu_layers", "model", "review.include"]);
        assert_eq!(file.unknown_keys, ["engine.bogus"]);
    }

    use super::*;

    #[test]
    fn init_options_overlay_the_config() {
        let base: Config = toml::from_str("model = '/a.gguf'\n[completion]\nmax_tokens = 10\n").unwrap();
        let merged =
            base.with_init_options(&serde_json::json!({"model": "/b.gguf", "completion": {"max_lines": 3}})).unwrap();
        assert_eq!(merged.model.as_deref(), Some(Path::new("/b.gguf")));
        assert_eq!(merged.completion.max_tokens, 10);
        assert_eq!(merged.completion.max_lines, 3);
        assert_eq!(merged.engine, EngineConfig::default());
    }

    #[test]
    fn no_options_change_nothing_however_a_client_spells_them() {
        let base: Config = toml::from_str("[completion]\nmax_tokens = 10\n[review]\nexclude = ['a/**']\n").unwrap();
        for none in [serde_json::json!(null), serde_json::json!({}), serde_json::json!([])] {
            assert_eq!(base.clone().with_init_options(&none).unwrap(), base, "{none}");
        }
        // An empty Lua table inside, too; a list setting may still be emptied.
        let options = serde_json::json!({"completion": [], "review": {"exclude": []}});
        let merged = base.clone().with_init_options(&options).unwrap();
        assert_eq!(merged.completion, base.completion);
        assert!(merged.review.exclude.is_empty());
        assert!(base.clone().with_init_options(&serde_json::json!([1])).is_err());
        assert!(base.with_init_options(&serde_json::json!({"engine": [4096]})).is_err());
    }

    #[test]
    fn unknown_options_are_reported() {
        assert!(Config::default().with_init_options(&serde_json::json!({"modle": "x"})).is_err());
        assert!(toml::from_str::<Config>("[engine]\nn_ctxx = 1\n").is_err());
    }

    #[test]
    fn each_setting_not_a_default_says_where_it_came_from() {
        let file = ConfigFile {
            path: Some("/etc/nib.toml".into()),
            exists: true,
            keys: ["completion.max_tokens", "engine.backend", "engine.bogus", "model", "review.include"]
                .map(String::from)
                .to_vec(),
            unknown_keys: vec!["engine.bogus".into()],
        };
        let loaded: Config = toml::from_str(
            "model = '/cfg.gguf'\n[completion]\nmax_tokens = 10\n[engine]\nbackend = 'llama-server'\n\
             [review]\ninclude = ['src/**']\n",
        )
        .unwrap();
        let cli = CommandLine { engine_url: Some("http://127.0.0.1:9".into()), ..CommandLine::default() };
        let in_force = loaded.with_command_line(&cli);
        let sources = setting_sources(&in_force, &file, &cli, Some(Path::new("/env.gguf")));
        let got: Vec<_> = sources.iter().map(|s| (s.key.as_str(), s.value.to_string(), s.by.as_str())).collect();
        assert_eq!(
            got,
            [
                ("completion.max_tokens", "10".to_owned(), "/etc/nib.toml"),
                ("engine.backend", "\"llama-server\"".to_owned(), "/etc/nib.toml"),
                ("model", "\"/env.gguf\"".to_owned(), "$NIB_MODEL"),
                ("review.include", "[\"src/**\"]".to_owned(), "/etc/nib.toml"),
                ("engine.url", "\"http://127.0.0.1:9\"".to_owned(), "--engine-url"),
            ]
        );
        assert_eq!(sources[2].source, SourceKind::Environment);
        // The command line wins over the environment and the file, key by key.
        let cli = CommandLine { model: Some("/cli.gguf".into()), backend: Some(BackendKind::Openai), engine_url: None };
        let sources = setting_sources(&in_force.with_command_line(&cli), &file, &cli, Some(Path::new("/env.gguf")));
        let by = |key: &str| sources.iter().find(|s| s.key == key).map(|s| (s.by.clone(), s.value.to_string()));
        assert_eq!(by("model"), Some(("--model".into(), "\"/cli.gguf\"".into())));
        assert_eq!(by("engine.backend"), Some(("--backend".into(), "\"openai\"".into())));
        // Nothing set: nothing listed, every setting is a default.
        assert!(setting_sources(&Config::default(), &ConfigFile::default(), &CommandLine::default(), None).is_empty());
    }

    #[test]
    fn the_command_line_wins() {
        let config = Config { model: Some("/cfg.gguf".into()), ..Config::default() };
        let choice = resolve_model(Some(Path::new("/cli.gguf")), &config);
        assert_eq!(choice, ModelChoice { path: "/cli.gguf".into(), source: ModelSource::CommandLine, remote: None });
    }
}
