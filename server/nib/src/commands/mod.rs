//! One module per command. What they share: the `--model` argument, the engine bootstrap, reading a source file.

pub mod bench;
pub mod complete;
pub mod doctor;
pub mod eval;
pub mod eval_humaneval;
pub mod eval_review;
pub mod eval_surprise;
pub mod models;
pub mod review;
pub mod serve;
pub mod top;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, ValueEnum};

use nib_engine::{BackendKind, Engine, ModelInfo, ModelState, Vocabulary};
use nib_pipeline::completion::CompletionError;
use nib_pipeline::config::{self, CommandLine, Config, ModelChoice};
use nib_text::documents::MAX_DOCUMENT_BYTES;

#[derive(Args)]
pub struct ModelArg {
    /// GGUF model file (overrides $NIB_MODEL and the config). With `--backend openai`: a model whose
    /// vocabulary counts prompt tokens for the server.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// What runs the model (overrides engine.backend): in this process, or a server at --engine-url.
    #[arg(long, value_enum, value_name = "NAME")]
    pub backend: Option<BackendArg>,
    /// The server's URL (overrides engine.url): llama-server's root, or an OpenAI-compatible base URL
    /// ending in /v1.
    #[arg(long, value_name = "URL")]
    pub engine_url: Option<String>,
}

/// [`BackendKind`] as the command line spells it.
#[derive(Clone, Copy, ValueEnum)]
pub enum BackendArg {
    Local,
    LlamaServer,
    Openai,
}

impl ModelArg {
    /// What the command line sets, for the LSP server to apply over the client's options.
    pub fn command_line(&self) -> CommandLine {
        let backend = self.backend.map(|b| match b {
            BackendArg::Local => BackendKind::Local,
            BackendArg::LlamaServer => BackendKind::LlamaServer,
            BackendArg::Openai => BackendKind::Openai,
        });
        CommandLine { model: self.model.clone(), backend, engine_url: self.engine_url.clone() }
    }

    /// The engine flags given, for a `nib serve` this command starts.
    pub fn serve_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(backend) = self.backend {
            let name = backend.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default();
            args.extend(["--backend".to_owned(), name]);
        }
        if let Some(url) = &self.engine_url {
            args.extend(["--engine-url".to_owned(), url.clone()]);
        }
        args
    }

    /// The config, and the model that `--model`, the environment or the config names.
    pub fn resolve(&self) -> Result<(Config, ModelChoice)> {
        let config = Config::load()?.with_command_line(&self.command_line());
        let model = config::resolve_model(self.model.as_deref(), &config);
        Ok((config, model))
    }
}

/// An engine loading its model on its own thread, and a runtime to wait on it from the command's thread.
pub struct Started {
    pub config: Config,
    pub model: ModelChoice,
    pub engine: Engine,
    pub runtime: tokio::runtime::Runtime,
    /// Keep it until the command is done.
    pub stop: StopEngine,
}

/// The one bootstrap of every command that runs the model; it returns before the model has loaded.
pub fn start(config: Config, model: ModelChoice) -> Result<Started> {
    let engine = nib_pipeline::engine::start(&config, &model);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(Started { config, model, stop: StopEngine(engine.clone()), engine, runtime })
}

/// How long a command that runs once waits for its plugins to start (an interpreter, its imports).
pub const PLUGIN_START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Stops the engine when dropped, however the command ends (an error included): a process that exits while
/// llama.cpp loads or runs on the engine's thread can die in its destructors, by a signal instead of with the
/// command's exit code.
pub struct StopEngine(Engine);

impl Drop for StopEngine {
    fn drop(&mut self) {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_time().build() {
            runtime.block_on(self.0.stop(std::time::Duration::from_secs(10)));
        }
    }
}

impl Started {
    /// Waits for the model to load.
    pub fn ready(&self) -> Result<(ModelInfo, Arc<dyn Vocabulary>)> {
        match self.runtime.block_on(self.engine.ready()) {
            ModelState::Ready { info, tokenizer } => Ok((info, tokenizer)),
            ModelState::Failed(error) => bail!(self.model.problem(&error)),
            ModelState::Loading => bail!("the model did not load"),
        }
    }
}

/// A model that cannot be used is explained with where nib looked for it.
pub fn explain(err: CompletionError, model: &ModelChoice) -> anyhow::Error {
    match err {
        CompletionError::ModelUnavailable(error) => anyhow!(model.problem(&error)),
        other => anyhow!(other),
    }
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        bail!("{} is {} bytes, over nib's {MAX_DOCUMENT_BYTES}-byte limit", path.display(), bytes.len());
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "{} is not valid UTF-8 (bad byte at offset {}): nib completes text files only",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}
