//! The engine's settings: the `[engine]` section of nib's configuration.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Context window in tokens: prompt plus generated text.
    pub n_ctx: u32,
    /// Largest number of tokens given to one `decode` call.
    pub n_batch: u32,
    /// CPU threads for evaluating prompts; 0 means one per core.
    pub n_threads: u32,
    /// CPU threads for generating, one token at a time; 0 means half the cores, at least one. Generation is
    /// bound by memory, not arithmetic: on two cores a second thread gained 10 % when idle, and made every
    /// token 4x slower whenever another process took a core (its threads wait on each other at each step).
    pub n_threads_generate: u32,
    /// Flash attention: off was measured faster for the small evaluations of typing, on CPU.
    pub flash_attention: bool,
    /// KV-cache sequences kept hot (about one per recently used file); each has `n_ctx` tokens.
    pub n_seqs: u32,
    /// Reuse the text after an edit by shifting its cache positions (where the model allows it).
    pub kv_shift: bool,
    /// Prompt-lookup decoding: guess the next tokens from where the last few occurred before (in the prompt or
    /// the text generated), and check the guesses in one batch. Off by default: on the CPU, llama.cpp evaluates a
    /// batch of two tokens or more with other kernels than one token (llamafile's sgemm), so at a near tie the
    /// greedy pick can differ from the text without it.
    pub lookup_decoding: bool,
    /// Saved sequence states kept in memory, in MiB.
    pub snapshot_memory_mib: u64,
    /// Saved sequence states kept on disk under $NIB_HOME/snapshots, in MiB (0: none).
    pub snapshot_disk_mib: u64,
    /// What runs the model: in this process, or a server. The settings above are the local engine's.
    pub backend: BackendKind,
    /// llama-server: the server's root; openai: the base URL as OpenAI clients take it (ending in /v1).
    pub url: String,
    /// The model name sent to OpenAI-compatible servers (empty: the first the server lists).
    pub remote_model: String,
    /// The environment variable holding a bearer token for the server; never the token itself.
    pub api_key_env: String,
    /// A remote request's limit: to connect, and between two pieces of its answer.
    pub timeout_ms: u32,
    /// Layers offloaded to a GPU; unset: all of them when a GPU backend is built and a device is present,
    /// else none.
    pub n_gpu_layers: Option<u32>,
    /// The device the layers go to, by the name `nib doctor` lists ("CUDA0", "Vulkan1"..., "CPU": none of them);
    /// empty: the first GPU.
    pub device: String,
}

/// What runs the model.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// llama.cpp in this process.
    #[default]
    Local,
    /// llama.cpp's llama-server: `/completion`, `/infill`, `/tokenize`, `/props`.
    LlamaServer,
    /// An OpenAI-compatible server (vLLM, SGLang, TGI, Ollama, LM Studio, llama-server's `/v1`).
    Openai,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Local => "local",
            BackendKind::LlamaServer => "llama-server",
            BackendKind::Openai => "openai",
        }
    }
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            n_ctx: 2048,
            n_batch: 512,
            n_threads: 0,
            n_threads_generate: 0,
            flash_attention: false,
            n_seqs: 4,
            kv_shift: true,
            lookup_decoding: false,
            snapshot_memory_mib: 256,
            snapshot_disk_mib: 1024,
            backend: BackendKind::Local,
            url: "http://127.0.0.1:8012".into(),
            remote_model: String::new(),
            api_key_env: String::new(),
            timeout_ms: 10_000,
            n_gpu_layers: None,
            device: String::new(),
        }
    }
}
