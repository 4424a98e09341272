//! Which engine runs the model: llama.cpp in this process, or a server (`engine.backend`).

use nib_engine::{BackendKind, Engine};
use nib_plugins::redact::redact;

use crate::config::{self, Config, ModelChoice, ModelSource};

/// Starts the configured engine; it returns before the model has loaded (or the server has answered).
/// Nothing leaves the machine unless a remote backend is configured. An OpenAI-compatible server has no
/// tokenizer endpoint: a model the user names (never the default) lends it its vocabulary for token counts.
pub fn start(config: &Config, model: &ModelChoice) -> Engine {
    match config.engine.backend {
        BackendKind::Local => {
            Engine::start(config.engine.clone(), model.path.clone(), config::nib_home().join("snapshots"))
        }
        BackendKind::LlamaServer => nib_remote::start(&config.engine, None, guard(config)),
        BackendKind::Openai => {
            let vocabulary = (model.source != ModelSource::Default).then(|| model.path.clone());
            nib_remote::start(&config.engine, vocabulary, guard(config))
        }
    }
}

/// llama-server counts a prompt's tokens before the plugins' hooks have seen it: with `redact-secrets` on, what it
/// counts is redacted first.
fn guard(config: &Config) -> Option<nib_remote::TextGuard> {
    let remote = config.engine.backend != BackendKind::Local;
    nib_plugins::redacts_secrets(&config.plugins, remote).then_some(|text: &str| redact(text).text.into_owned())
}
