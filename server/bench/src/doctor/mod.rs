//! `nib doctor`: what nib runs on and with, a short measurement, and recommendations with the figure behind
//! each. The report's field names are stable (`--json`); the CLI prints it.

mod machine;
mod recommend;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ropey::Rope;
use serde::Serialize;

use nib_engine::{CancelToken, Engine, EngineHealth, ModelInfo, ModelState, Vocabulary};
use nib_pipeline::completion::{Completer, Request, Trigger};
use nib_pipeline::config::{CommandLine, Config, ConfigFile, ModelChoice, SettingSource};
use nib_pipeline::plugins::{PluginState, PluginStatus};
use nib_prompt::Template;
use nib_prompt::context::Workspace;

pub use machine::Machine;
pub use recommend::{Facts, Recommendation, recommend};

/// The measurement's file, compiled in so it runs anywhere; the cursor is where `.ci/demo` completes.
const SAMPLE: &str = include_str!("../../../../tests/fixtures/sample.py");
const SAMPLE_LINE: usize = 23;
const SAMPLE_COLUMN: usize = 15;
/// Warm keystrokes measured after the cold prompt.
const KEYSTROKES: usize = 5;
/// The whole measurement's bound.
const MEASURE_LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize)]
pub struct Doctor {
    /// False when something is broken: see `problems`.
    pub ok: bool,
    pub problems: Vec<String>,
    pub machine: Machine,
    pub model: ModelReport,
    pub engine: EngineReport,
    pub nib_home: HomeReport,
    pub config: ConfigReport,
    /// The configured plugins, started as `nib serve` would start them: their state and any failure.
    pub plugins: Vec<PluginStatus>,
    pub measurement: Option<Measurement>,
    pub recommendations: Vec<Recommendation>,
}

#[derive(Debug, Serialize)]
pub struct ModelReport {
    pub path: PathBuf,
    /// Where the path came from: "--model", "$NIB_MODEL", "the configuration", "the editor's first-run choice",
    /// "the default model".
    pub source: String,
    pub loaded: bool,
    /// What the engine knows of it once loaded (`None` when it failed).
    pub info: Option<ModelInfo>,
    /// The model's size fits in the memory available (`None` when either is unknown).
    pub fits_in_memory: Option<bool>,
    pub template: Option<String>,
    pub template_why: String,
}

#[derive(Debug, Serialize)]
pub struct EngineReport {
    /// "local", "llama-server" or "openai".
    pub backend: String,
    /// The server's URL, for a remote backend.
    pub url: Option<String>,
    /// The model loaded, or the server answered what it runs (llama-server's `/props`, OpenAI's `/models`).
    pub answers: bool,
    pub health: EngineHealth,
    /// Review by surprise needs the log-probabilities of the text the model reads: `None` when the backend
    /// gives them, else why not.
    pub surprise_unavailable: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HomeReport {
    pub path: PathBuf,
    pub writable: bool,
    pub snapshots_bytes: u64,
    pub review_cache_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct ConfigReport {
    pub file: ConfigFile,
    /// Why the file could not be read or applied.
    pub error: Option<String>,
    /// Every setting in force (defaults, then the file, then the command line).
    pub in_force: serde_json::Value,
    /// The settings in force that are not defaults, each with where it came from (file, environment, command line).
    pub sources: Vec<SettingSource>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub cold_prompt_tokens: usize,
    pub cold_ttft_ms: f64,
    /// A second cold prompt's tokens over its time to the first token (the first pays for paging the model in).
    pub prompt_tokens_per_s: f64,
    /// The tokens of that second prompt.
    pub prompt_tokens: usize,
    /// Tokens after the first over the time after it, across the measured completions.
    pub generation_tokens_per_s: f64,
    pub warm_keystrokes: usize,
    pub warm_ttft_ms_median: f64,
    pub seconds: f64,
}

/// What `nib doctor` was given: the configuration (`None` with the error when it failed) and the engine started
/// on the resolved model.
pub struct Input<'a> {
    pub config: Result<Config, String>,
    /// What the command line set, to attribute settings to it.
    pub command_line: &'a CommandLine,
    pub model: &'a ModelChoice,
    pub engine: &'a Engine,
    pub nib_home: &'a Path,
}

/// Starts the configured plugins in the current folder, waits for them (bounded), and stops them.
async fn plugins(config: &Config) -> Vec<PluginStatus> {
    if config.plugins.is_empty() && config.engine.backend == nib_engine::BackendKind::Local {
        return Vec::new();
    }
    let plugins = nib_pipeline::plugins::start(config, std::env::current_dir().ok());
    tokio::task::spawn_blocking(move || {
        plugins.wait_started(PLUGIN_START_TIMEOUT);
        let status = plugins.status();
        plugins.stop();
        status
    })
    .await
    .unwrap_or_default()
}

/// How long the doctor waits for plugins to start.
const PLUGIN_START_TIMEOUT: Duration = Duration::from_secs(10);

/// Examines everything; waits for the model (bounded for a server) and measures at most ~10 s.
pub async fn examine(input: Input<'_>) -> Doctor {
    let mut problems = Vec::new();
    let (config, config_error) = match &input.config {
        Ok(config) => (config.clone(), None),
        Err(error) => (Config::default(), Some(error.clone())),
    };
    let file = ConfigFile::read().unwrap_or_default();
    // Unknown keys are the usual reason a file is refused: name them rather than repeat the parser's message.
    if !file.unknown_keys.is_empty() {
        problems.push(format!("unknown keys in the config file: {}", file.unknown_keys.join(", ")));
    } else if let Some(error) = &config_error {
        problems.push(format!("the configuration: {error}"));
    }
    let machine = Machine::probe();
    let nib_home = home(input.nib_home);
    if !nib_home.writable {
        problems.push(format!(
            "NIB_HOME {} is not writable: snapshots and the review cache cannot be kept",
            nib_home.path.display()
        ));
    }

    let wait = Duration::from_millis(u64::from(config.engine.timeout_ms).max(10_000));
    let state = tokio::time::timeout(wait, input.engine.ready()).await.unwrap_or(ModelState::Loading);
    let remote = input.model.remote.clone();
    let (info, tokenizer) = match state {
        ModelState::Ready { info, tokenizer } => (Some(info), Some(tokenizer)),
        ModelState::Failed(error) => {
            problems.push(input.model.problem(&error));
            (None, None)
        }
        ModelState::Loading => {
            problems.push(input.model.problem("the model did not load in time"));
            (None, None)
        }
    };
    let (template, template_why) = template(&config, info.as_ref(), tokenizer.as_deref());
    let fits_in_memory = match (&info, machine.memory_available_bytes) {
        (Some(info), Some(free)) if info.n_bytes > 0 => Some(info.n_bytes < free),
        _ => None,
    };
    if fits_in_memory == Some(false) {
        problems.push("the model is larger than the memory available".into());
    }
    let plugins = plugins(&config).await;
    for plugin in plugins.iter().filter(|p| matches!(p.state, PluginState::Failed | PluginState::Restarting)) {
        problems.push(format!("plugin {}: {}", plugin.name, plugin.last_error.as_deref().unwrap_or("?")));
    }
    let measurement = match &info {
        Some(_) => measure(input.engine, &config).await,
        None => None,
    };
    let recommendations = match (&info, &measurement) {
        (Some(info), Some(m)) => recommend(&Facts {
            cores: machine.cores,
            n_params: info.n_params,
            n_layers: info.n_layers,
            n_ctx_train: info.n_ctx_train,
            has_fim_tokens: info.has_fim_tokens,
            gpu: machine.gpus().next().map(|d| format!("{} ({})", d.name, d.description)),
            gpu_backend_built: machine.backends_built.len() > 1,
            max_tokens: config.completion.max_tokens,
            deadline_ms: config.completion.deadline_ms,
            review_max_tokens: config.review.max_tokens,
            prompt_tokens_per_s: m.prompt_tokens_per_s,
            generation_tokens_per_s: m.generation_tokens_per_s,
            warm_ttft_ms: m.warm_ttft_ms_median,
        }),
        _ => Vec::new(),
    };
    // A refused file set nothing: the defaults and the command line are in force.
    let no_file = ConfigFile::default();
    let sources = setting_sources(&config, if config_error.is_some() { &no_file } else { &file }, input.command_line);
    Doctor {
        plugins,
        ok: problems.is_empty(),
        problems,
        model: ModelReport {
            path: input.model.path.clone(),
            source: input.model.source.describe().to_owned(),
            loaded: info.is_some(),
            info,
            fits_in_memory,
            template,
            template_why,
        },
        engine: EngineReport {
            backend: config.engine.backend.name().to_owned(),
            answers: tokenizer.is_some(),
            url: remote,
            health: input.engine.health(),
            surprise_unavailable: input.engine.scoring().err(),
        },
        nib_home,
        config: ConfigReport {
            sources,
            file,
            error: config_error,
            in_force: serde_json::to_value(&config).unwrap_or_default(),
        },
        machine,
        measurement,
        recommendations,
    }
}

/// The template the completer will use, and why.
fn template(config: &Config, info: Option<&ModelInfo>, tokenizer: Option<&dyn Vocabulary>) -> (Option<String>, String) {
    let (Some(info), Some(tokenizer)) = (info, tokenizer) else { return (None, "the model is not loaded".into()) };
    let configured = config.completion.template.as_deref();
    match Template::choose(configured, tokenizer, &info.name) {
        Err(err) => (None, err.to_string()),
        Ok(template) => {
            let why = match (configured, info.has_fim_tokens, template.name.as_str()) {
                (Some(_), _, _) => "set by completion.template".to_owned(),
                (None, false, _) => "the model has no FIM tokens: it continues the text before the cursor".to_owned(),
                (None, true, name) => format!("the model's FIM tokens and name fit {name}"),
            };
            (Some(template.name), why)
        }
    }
}

/// One cold prompt of the sample file, a few warm keystrokes, and a second cold prompt, through the completion pipeline
/// (`crate::typing`, as `nib bench typing`), bounded by `MEASURE_LIMIT`.
async fn measure(engine: &Engine, config: &Config) -> Option<Measurement> {
    let completion = nib_pipeline::config::CompletionConfig { prefetch: false, ..config.completion.clone() };
    let completer = Completer::new(engine.clone(), completion, Arc::new(Workspace::default()));
    let rope = Rope::from_str(SAMPLE);
    let cursor = rope.line_to_char(SAMPLE_LINE) + SAMPLE_COLUMN;
    let started = Instant::now();
    let report = tokio::time::timeout(MEASURE_LIMIT, crate::typing(&completer, rope, cursor, KEYSTROKES)).await;
    let report = match report {
        Ok(Ok(report)) => report,
        Ok(Err(err)) => {
            tracing::warn!("doctor: the measurement failed: {err}");
            return None;
        }
        Err(_) => return None,
    };
    // The first prompt also pays for paging the model in and starting threads: the prompt rate comes from a
    // second, unrelated one (the sample commented out: no prefix or shifted text to reuse).
    let other = Rope::from_str(&SAMPLE.lines().map(|l| format!("# {l}\n")).collect::<String>());
    let request =
        Request { rope: &other, cursor: other.len_chars(), document: None, syntax: None, trigger: Trigger::Invoked };
    let left = MEASURE_LIMIT.saturating_sub(started.elapsed());
    let second = match tokio::time::timeout(left, completer.complete(request, CancelToken::default(), |_| {})).await {
        Ok(Ok(suggestion)) => suggestion.stats,
        _ => report.cold.clone(),
    };
    let cold = &report.cold;
    let all = [cold, &second].into_iter().chain(&report.warm);
    let (generated, generating_ms) = all
        .filter(|s| s.n_generated_tokens > 1)
        .fold((0, 0.0), |(n, ms), s| (n + s.n_generated_tokens - 1, ms + (s.total_ms - s.ttft_ms).max(0.0)));
    Some(Measurement {
        cold_prompt_tokens: cold.n_evaluated_tokens,
        cold_ttft_ms: cold.ttft_ms,
        prompt_tokens: second.n_evaluated_tokens,
        prompt_tokens_per_s: second.n_evaluated_tokens as f64 / (second.ttft_ms.max(0.001) / 1000.0),
        generation_tokens_per_s: generated as f64 / (generating_ms.max(0.001) / 1000.0),
        warm_keystrokes: report.warm.len(),
        warm_ttft_ms_median: report.warm_ttft_ms_median,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Where each setting not a default came from; `$NIB_MODEL` as `resolve_model` reads it.
fn setting_sources(config: &Config, file: &ConfigFile, cli: &CommandLine) -> Vec<SettingSource> {
    let env_model = std::env::var_os("NIB_MODEL").filter(|v| !v.is_empty()).map(PathBuf::from);
    nib_pipeline::config::setting_sources(config, file, cli, env_model.as_deref())
}

fn home(path: &Path) -> HomeReport {
    let probe = path.join(format!(".doctor-{}", std::process::id()));
    let writable = std::fs::create_dir_all(path).and_then(|()| std::fs::write(&probe, b"")).is_ok();
    let _ = std::fs::remove_file(&probe);
    HomeReport {
        path: path.to_path_buf(),
        writable,
        snapshots_bytes: disk_used(&path.join("snapshots")),
        review_cache_bytes: disk_used(&path.join("review-cache")),
    }
}

/// Bytes of the files under `dir` (0 when it does not exist); symlinks are not followed.
fn disk_used(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => disk_used(&entry.path()),
            Ok(t) if t.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}
