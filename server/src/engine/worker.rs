//! The engine thread: loads the model, then runs jobs one at a time with
//! longest-common-prefix reuse of the KV cache (sequence 0).

use std::io::Read;
use std::num::NonZeroU32;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::watch;

use super::kv::CachedTokens;
use super::stats::{CacheHit, CompletionStats, EngineCounters};
use super::tokenizer::ModelTokenizer;
use super::{EngineError, Event, Job, ModelInfo, ModelState, StopReason};
use crate::config::EngineConfig;
use crate::prompt::{Special, TokenId, Tokenizer};

/// llama.cpp's backend may be initialised once per process.
fn backend() -> Result<&'static LlamaBackend, EngineError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp logs through tracing (target "llama-cpp-2"), filtered like everything else.
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| EngineError::Llama(e.clone()))
}

pub(super) fn run(
    config: EngineConfig,
    model_path: PathBuf,
    state: watch::Sender<ModelState>,
    jobs: std::sync::mpsc::Receiver<Job>,
    counters: Arc<Mutex<EngineCounters>>,
) {
    let loaded = load_model(&model_path).and_then(|model| {
        let backend = backend()?;
        Ok((backend, Arc::new(model)))
    });
    let (backend, model) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return refuse_all(err, &state, &jobs, &counters),
    };
    let mut worker = match Worker::new(backend, &model, &config) {
        Ok(worker) => worker,
        Err(err) => return refuse_all(err, &state, &jobs, &counters),
    };
    let tokenizer = Arc::new(ModelTokenizer::new(model.clone()));
    let info = model_info(&model, tokenizer.as_ref(), &model_path);
    tracing::info!(model = %info.name, path = %model_path.display(), fim = info.has_fim_tokens, "model loaded");
    state.send_replace(ModelState::Ready { info, tokenizer });

    while let Ok(job) = jobs.recv() {
        if let Ok(mut c) = counters.lock() {
            c.n_jobs += 1;
        }
        if job.request.cancel.is_cancelled() || job.events.is_closed() {
            bump(&counters, |c| c.n_cancelled += 1);
            continue;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| worker.generate(&job)));
        let event = match outcome {
            Ok(Ok((reason, stats))) => {
                bump(&counters, |c| {
                    c.record(&stats);
                    if reason == StopReason::Cancelled { c.n_cancelled += 1 } else { c.n_completed += 1 }
                });
                Event::Done { reason, stats }
            }
            Ok(Err(err)) => {
                worker.reset();
                bump(&counters, |c| c.n_failed += 1);
                Event::Failed(err)
            }
            Err(panic) => {
                worker.reset();
                bump(&counters, |c| c.n_failed += 1);
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!("engine job panicked: {message}");
                Event::Failed(EngineError::Panicked(message))
            }
        };
        let _ = job.events.send(event);
    }
}

fn bump(counters: &Mutex<EngineCounters>, f: impl FnOnce(&mut EngineCounters)) {
    if let Ok(mut c) = counters.lock() {
        f(&mut c);
    }
}

/// The model could not be loaded: say so, and answer every job with that error.
fn refuse_all(
    err: EngineError,
    state: &watch::Sender<ModelState>,
    jobs: &std::sync::mpsc::Receiver<Job>,
    counters: &Mutex<EngineCounters>,
) {
    let message = match &err {
        EngineError::ModelUnavailable(message) => message.clone(),
        other => other.to_string(),
    };
    tracing::error!("{message}");
    state.send_replace(ModelState::Failed(message));
    while let Ok(job) = jobs.recv() {
        bump(counters, |c| {
            c.n_jobs += 1;
            c.n_failed += 1;
        });
        let _ = job.events.send(Event::Failed(err.clone()));
    }
}

fn load_model(path: &Path) -> Result<LlamaModel, EngineError> {
    load_with(path, &LlamaModelParams::default())
}

pub(super) fn load_vocabulary(path: &Path) -> Result<LlamaModel, EngineError> {
    load_with(path, &LlamaModelParams::default().with_vocab_only(true))
}

/// Checks the file before llama.cpp sees it, so the common mistakes get a clear message.
fn load_with(path: &Path, params: &LlamaModelParams) -> Result<LlamaModel, EngineError> {
    let unavailable = |why: String| EngineError::ModelUnavailable(why);
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|e| unavailable(format!("cannot read model file {}: {e}", path.display())))?;
    if &magic != b"GGUF" {
        return Err(unavailable(format!("{} is not a GGUF model file", path.display())));
    }
    let backend = backend()?;
    LlamaModel::load_from_file(backend, path, params)
        .map_err(|e| unavailable(format!("llama.cpp cannot load {}: {e} (is the file complete?)", path.display())))
}

fn model_info(model: &LlamaModel, tokenizer: &dyn Tokenizer, path: &Path) -> ModelInfo {
    let has = |s| tokenizer.special(s).is_some();
    ModelInfo {
        path: path.to_path_buf(),
        name: model.meta_val_str("general.name").unwrap_or_else(|_| "unknown".into()),
        architecture: model.meta_val_str("general.architecture").unwrap_or_else(|_| "unknown".into()),
        n_bytes: model.size(),
        n_ctx_train: model.n_ctx_train(),
        has_fim_tokens: has(Special::FimPre) && has(Special::FimSuf) && has(Special::FimMid),
    }
}

struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    n_batch: usize,
    cached: CachedTokens,
}

impl<'m> Worker<'m> {
    fn new(backend: &LlamaBackend, model: &'m LlamaModel, config: &EngineConfig) -> Result<Worker<'m>, EngineError> {
        let n_threads = match config.n_threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()) as i32,
            n => n as i32,
        };
        let flash = if config.flash_attention {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED
        } else {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED
        };
        let n_batch = config.n_batch.max(1);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(config.n_ctx.max(64)))
            .with_n_batch(n_batch)
            .with_n_ubatch(n_batch)
            .with_n_threads(n_threads)
            .with_n_threads_batch(n_threads)
            .with_flash_attention_policy(flash)
            // Sliding-window models otherwise drop old entries that prefix reuse relies on.
            .with_swa_full(true);
        let ctx = model
            .new_context(backend, params)
            .map_err(|e| EngineError::Llama(format!("cannot create a context: {e}")))?;
        Ok(Worker {
            model,
            ctx,
            batch: LlamaBatch::new(n_batch as usize, 1),
            n_batch: n_batch as usize,
            cached: CachedTokens::default(),
        })
    }

    /// Forgets the whole cache: after a failure its contents are unknown.
    fn reset(&mut self) {
        self.ctx.clear_kv_cache();
        self.cached.clear();
    }

    fn generate(&mut self, job: &Job) -> Result<(StopReason, CompletionStats), EngineError> {
        let request = &job.request;
        let started = Instant::now();
        let ms = |t: Instant| t.duration_since(job.submitted).as_secs_f64() * 1000.0;
        let n_ctx = self.ctx.n_ctx() as usize;
        let prompt = &request.prompt;
        if prompt.is_empty() || prompt.len() >= n_ctx {
            return Err(EngineError::PromptTooLong { n_prompt: prompt.len(), n_ctx });
        }
        let max_tokens = request.max_tokens.min(n_ctx - prompt.len());
        let mut stats =
            CompletionStats { n_prompt_tokens: prompt.len(), queue_ms: ms(started), ..CompletionStats::default() };
        let cancelled = || request.cancel.is_cancelled() || job.events.is_closed();

        let plan = self.cached.plan(prompt);
        self.ctx
            .clear_kv_cache_seq(Some(0), Some(plan.n_keep as u32), None)
            .map_err(|e| EngineError::Llama(e.to_string()))?;
        self.cached.truncate(plan.n_keep);
        stats.n_reused_tokens = plan.n_keep;
        stats.cache = if plan.n_keep > 0 { CacheHit::Hot } else { CacheHit::Cold };
        stats.n_evaluated_tokens = plan.n_evaluate;

        for chunk in prompt[plan.n_keep..].chunks(self.n_batch) {
            if cancelled() {
                stats.total_ms = ms(Instant::now());
                return Ok((StopReason::Cancelled, stats));
            }
            self.decode(chunk)?;
        }

        let mut sampler = LlamaSampler::greedy();
        let mut text = Utf8Stream::default();
        let mut emitted = String::new();
        let vocab = self.model.vocab();
        let reason = loop {
            let token = sampler.sample(&self.ctx, self.batch.n_tokens() - 1);
            if stats.n_generated_tokens == 0 {
                stats.ttft_ms = ms(Instant::now());
            }
            stats.n_generated_tokens += 1;
            if vocab.is_eog(token) {
                break StopReason::EndOfGeneration;
            }
            text.push(&vocab.token_to_piece(token, false, None));
            let full = format!("{emitted}{}", text.pending());
            if let Some(cut) = request.stop.iter().filter_map(|s| full.find(s.as_str())).min() {
                if cut > emitted.len() {
                    let _ = job.events.send(Event::Text(full[emitted.len()..cut].to_owned()));
                }
                break StopReason::StopSequence;
            }
            let fresh = text.take_complete();
            if !fresh.is_empty() {
                emitted.push_str(&fresh);
                let _ = job.events.send(Event::Text(fresh));
            }
            if stats.n_generated_tokens >= max_tokens {
                break StopReason::MaxTokens;
            }
            if cancelled() {
                break StopReason::Cancelled;
            }
            self.decode(&[token.0])?;
        };
        stats.total_ms = ms(Instant::now());
        Ok((reason, stats))
    }

    /// Evaluates `tokens` at the end of the cached sequence; logits for the last one only.
    fn decode(&mut self, tokens: &[TokenId]) -> Result<(), EngineError> {
        let start = self.cached.len();
        self.batch.clear();
        for (i, &token) in tokens.iter().enumerate() {
            let is_last = i + 1 == tokens.len();
            self.batch
                .add(LlamaToken(token), (start + i) as i32, &[0], is_last)
                .map_err(|e| EngineError::Llama(e.to_string()))?;
        }
        self.ctx.decode(&mut self.batch).map_err(|e| EngineError::Llama(format!("decode: {e}")))?;
        self.cached.extend(tokens);
        Ok(())
    }
}

/// Joins token pieces into text without splitting a UTF-8 character.
#[derive(Default)]
struct Utf8Stream {
    bytes: Vec<u8>,
}

impl Utf8Stream {
    fn push(&mut self, piece: &[u8]) {
        self.bytes.extend_from_slice(piece);
    }

    /// The longest complete UTF-8 prefix; invalid bytes become U+FFFD.
    fn take_complete(&mut self) -> String {
        let n = match std::str::from_utf8(&self.bytes) {
            Ok(_) => self.bytes.len(),
            // An incomplete character at the end waits for the next piece.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.bytes.len(),
        };
        let out = String::from_utf8_lossy(&self.bytes[..n]).into_owned();
        self.bytes.drain(..n);
        out
    }

    /// All text so far, without consuming it.
    fn pending(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::Utf8Stream;

    #[test]
    fn utf8_stream_waits_for_the_rest_of_a_character() {
        let mut s = Utf8Stream::default();
        let bytes = "é".as_bytes();
        s.push(b"a");
        s.push(&bytes[..1]);
        assert_eq!(s.take_complete(), "a");
        s.push(&bytes[1..]);
        assert_eq!(s.take_complete(), "é");
        s.push(&[0xff, b'b']);
        assert_eq!(s.take_complete(), "\u{fffd}b");
    }
}
