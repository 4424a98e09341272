//! One module per command. What they share: the `--model` argument, the engine bootstrap, reading a source file.

pub mod bench;
pub mod complete;
pub mod eval;
pub mod eval_review;
pub mod review;
pub mod serve;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;

use nib_engine::{Engine, ModelInfo, ModelState, ModelTokenizer};
use nib_pipeline::completion::CompletionError;
use nib_pipeline::config::{self, Config, ModelChoice};
use nib_text::documents::MAX_DOCUMENT_BYTES;

#[derive(Args)]
pub struct ModelArg {
    /// GGUF model file (overrides $NIB_MODEL and the config).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
}

impl ModelArg {
    /// The config, and the model that `--model`, the environment or the config names.
    pub fn resolve(&self) -> Result<(Config, ModelChoice)> {
        let config = Config::load()?;
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

/// The one bootstrap of every command that runs the model in-process; it returns before the model has loaded.
pub fn start(config: Config, model: ModelChoice) -> Result<Started> {
    let engine = Engine::start(config.engine.clone(), model.path.clone(), config::nib_home().join("snapshots"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(Started { config, model, stop: StopEngine(engine.clone()), engine, runtime })
}

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
    pub fn ready(&self) -> Result<(ModelInfo, Arc<ModelTokenizer>)> {
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
