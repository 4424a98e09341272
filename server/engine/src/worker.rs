//! The engine thread: loads the model, then schedules and runs jobs one at a
//! time over a few KV-cache sequences (the hot tier, `slots.rs`), with saved
//! sequence states behind them (the warm tier, `snapshots.rs`).

use std::io::Read;
use std::num::NonZeroU32;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use llama_cpp_2::LlamaStateSeqFlags;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;

use super::devices::Placement;
use super::kv::ReusePlan;
use super::logprobs;
use super::lookup::{self, Drafts, Gate};
use super::slots::{MIN_SNAPSHOT_TOKENS, Slots};
use super::snapshots::{DiskTier, MemoryTier, Snapshot};
use super::stats::{CacheHit, CompletionStats};
use super::tokenizer::ModelTokenizer;
use super::{
    Alternative, EngineError, Event, GenerateRequest, Job, ModelInfo, ModelState, Msg, Priority, Sampling,
    ScoreRequest, Scores, Shared, StopReason, TokenScore, Work,
};
use crate::config::EngineConfig;
use nib_vocab::{Special, TokenId, Tokenizer};

/// Prompt tokens a background job evaluates between checks for waiting completions.
const BACKGROUND_STEP: usize = 8;
/// The same for other jobs: an outdated evaluation must yield soon to the completion after it, and a
/// cancelled one stop soon; bigger batches gain little prompt speed on a CPU.
const FOREGROUND_STEP: usize = 64;

/// How long saving every sequence before exit may wait for the disk.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A snapshot is restored only if it saves at least this many evaluations.
const MIN_RESTORE_GAIN: usize = 32;

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
    snapshot_dir: PathBuf,
    state: watch::Sender<ModelState>,
    messages: std::sync::mpsc::Receiver<Msg>,
    shared: Arc<Shared>,
    stopped: watch::Sender<bool>,
) {
    // Declared first, so dropped last: after the context and model are freed.
    let _stopped = Stopped(stopped);
    let mut model_path = model_path;
    // A model that failed to load may be replaced (one downloaded or chosen since): load that one instead.
    while let Some(next) = serve(&config, &model_path, &snapshot_dir, &state, &messages, &shared) {
        model_path = next;
        state.send_replace(ModelState::Loading);
    }
}

/// Loads `model_path` and runs jobs until the engine stops (`None`), or, when the model failed to load, until
/// another model is given (`Some`).
fn serve(
    config: &EngineConfig,
    model_path: &Path,
    snapshot_dir: &Path,
    state: &watch::Sender<ModelState>,
    messages: &std::sync::mpsc::Receiver<Msg>,
    shared: &Arc<Shared>,
) -> Option<PathBuf> {
    let loaded = load_model(model_path, config).and_then(|model| Ok((backend()?, model)));
    let (backend, (model, placement)) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return refuse_all(err, state, messages, shared),
    };
    let mut worker = match Worker::new(backend, &model, model_path, snapshot_dir, config, shared.clone()) {
        Ok(worker) => worker,
        Err(err) => return refuse_all(err, state, messages, shared),
    };
    let tokenizer = Arc::new(ModelTokenizer::new(model.clone()));
    let info = model_info(&model, tokenizer.as_ref(), model_path, placement);
    tracing::info!(model = %info.name, path = %model_path.display(), fim = info.has_fim_tokens, "model loaded");
    state.send_replace(ModelState::Ready { info, tokenizer });

    let mut queue: Vec<Job> = Vec::new();
    let mut stop = false;
    loop {
        if queue.is_empty() {
            match messages.recv() {
                Ok(msg) => stop |= worker.receive(msg, &mut queue),
                Err(_) => break,
            }
        }
        while let Ok(msg) = messages.try_recv() {
            stop |= worker.receive(msg, &mut queue);
        }
        if stop {
            for job in queue.drain(..) {
                job.fail(EngineError::Stopped);
            }
            break;
        }
        if queue.is_empty() {
            continue;
        }
        // Completions first, in arrival order; background work when nothing else waits.
        let next = super::next_job(queue.iter().map(Job::priority)).unwrap_or(0);
        let job = queue.remove(next);
        if job.counted_foreground {
            shared.pending_foreground.fetch_sub(1, Ordering::AcqRel);
        }
        shared.bump(|c| c.n_jobs += 1);
        if job.is_stale() {
            // Stale or superseded: it never reaches the model.
            shared.bump(|c| c.n_dropped += 1);
            match job.work {
                Work::Generate { events, .. } => {
                    let _ =
                        events.send(Event::Done { reason: StopReason::Cancelled, stats: CompletionStats::default() });
                }
                Work::Score { answer, .. } => {
                    let _ = answer.send(Err(EngineError::Cancelled));
                }
            }
            continue;
        }
        let submitted = job.submitted;
        match job.work {
            Work::Generate { request, events } => worker.run_generate(&request, &events, submitted),
            Work::Score { request, answer } => {
                let scores = worker.run_score(&request);
                let _ = answer.send(scores);
            }
        }
    }
    None
}

/// The model could not be loaded: say so, and answer every job with that error until the engine stops
/// (`None`) or another model is given (`Some`).
fn refuse_all(
    err: EngineError,
    state: &watch::Sender<ModelState>,
    messages: &std::sync::mpsc::Receiver<Msg>,
    shared: &Shared,
) -> Option<PathBuf> {
    let message = match &err {
        EngineError::ModelUnavailable(message) => message.clone(),
        other => other.to_string(),
    };
    tracing::error!("{message}");
    state.send_replace(ModelState::Failed(message));
    while let Ok(msg) = messages.recv() {
        match msg {
            Msg::Run(job) => {
                shared.bump(|c| {
                    c.n_jobs += 1;
                    c.n_failed += 1;
                });
                job.fail(err.clone());
            }
            Msg::Persist(done) => {
                let _ = done.send(());
            }
            Msg::Load(path) => return Some(path),
            Msg::Stop => return None,
        }
    }
    None
}

/// Tells `Engine::stop` that the engine thread has ended and freed llama.cpp's context.
struct Stopped(watch::Sender<bool>);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

fn load_model(path: &Path, config: &EngineConfig) -> Result<(Arc<LlamaModel>, Placement), EngineError> {
    // The backend first: devices are enumerated once it is up.
    backend()?;
    let (params, placement) = super::devices::model_params(config)?;
    Ok((Arc::new(load_with(path, &params)?), placement))
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

fn model_info(model: &LlamaModel, tokenizer: &dyn Tokenizer, path: &Path, placement: Placement) -> ModelInfo {
    let has = |s| tokenizer.special(s).is_some();
    let file_type = model.meta_val_str("general.file_type").ok().and_then(|t| t.parse().ok());
    ModelInfo {
        path: path.to_path_buf(),
        id: super::snapshots::model_id(path).unwrap_or_default(),
        name: model.meta_val_str("general.name").unwrap_or_else(|_| "unknown".into()),
        architecture: model.meta_val_str("general.architecture").unwrap_or_else(|_| "unknown".into()),
        n_bytes: model.size(),
        n_ctx_train: model.n_ctx_train(),
        has_fim_tokens: has(Special::FimPre) && has(Special::FimSuf) && has(Special::FimMid),
        n_params: model.n_params(),
        n_layers: model.n_layer(),
        quantization: file_type.map(file_type_name).unwrap_or_default().to_owned(),
        sliding_window: has_sliding_window(model),
        n_gpu_layers: placement.n_gpu_layers.min(model.n_layer()),
        device: placement.device,
    }
}

/// llama.cpp's `llama_ftype` names, as GGUF's `general.file_type` numbers them.
fn file_type_name(file_type: u32) -> &'static str {
    match file_type {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        _ => "other",
    }
}

/// Sliding-window attention: old entries leave the cache, so positions cannot
/// be shifted and a restored state can only be appended to.
fn has_sliding_window(model: &LlamaModel) -> bool {
    let arch = model.meta_val_str("general.architecture").unwrap_or_default();
    model.meta_val_str(&format!("{arch}.attention.sliding_window")).is_ok()
}

struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    n_batch: usize,
    /// Context per sequence.
    n_ctx_seq: usize,
    slots: Slots,
    memory: MemoryTier,
    disk: Option<DiskTier>,
    can_shift: bool,
    /// Restored states of sliding-window models cannot be truncated.
    append_only_restore: bool,
    shared: Arc<Shared>,
    /// The last grammar's sampler, for the next job with the same grammar.
    grammar: Option<(Arc<str>, LlamaSampler)>,
    /// Prompt-lookup decoding, unless the settings turn it off (`lookup.rs`).
    lookup: Option<Gate>,
}

impl<'m> Worker<'m> {
    fn new(
        backend: &LlamaBackend,
        model: &'m LlamaModel,
        model_path: &Path,
        snapshot_dir: &Path,
        config: &EngineConfig,
        shared: Arc<Shared>,
    ) -> Result<Worker<'m>, EngineError> {
        let n_cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as i32;
        let n_threads = match config.n_threads {
            0 => n_cores,
            n => n as i32,
        };
        let n_threads_generate = match config.n_threads_generate {
            0 => (n_cores / 2).max(1),
            n => n as i32,
        };
        let flash = if config.flash_attention {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED
        } else {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED
        };
        let n_batch = config.n_batch.max(1);
        let n_seqs = config.n_seqs.clamp(1, 64);
        let n_ctx_seq = config.n_ctx.max(64);
        let params = LlamaContextParams::default()
            // One stream per sequence: attention only looks at its own sequence.
            .with_n_ctx(NonZeroU32::new(n_ctx_seq * n_seqs))
            .with_n_seq_max(n_seqs)
            .with_kv_unified(false)
            .with_n_batch(n_batch)
            .with_n_ubatch(n_batch)
            .with_n_threads(n_threads_generate)
            .with_n_threads_batch(n_threads)
            .with_flash_attention_policy(flash)
            // Sliding-window models otherwise drop old entries that prefix reuse relies on.
            .with_swa_full(true);
        let ctx = model
            .new_context(backend, params)
            .map_err(|e| EngineError::Llama(format!("cannot create a context: {e}")))?;
        let swa = has_sliding_window(model);
        let disk = match super::snapshots::model_id(model_path) {
            Ok(id) if config.snapshot_disk_mib > 0 => {
                let dir = snapshot_dir.to_owned();
                match std::fs::create_dir_all(&dir) {
                    Ok(()) => Some(DiskTier::new(dir, id, n_ctx_seq, config.snapshot_disk_mib << 20)),
                    Err(e) => {
                        tracing::warn!("snapshots stay in memory: cannot create {}: {e}", dir.display());
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(Worker {
            model,
            ctx,
            batch: LlamaBatch::new(n_batch as usize, 1),
            n_batch: n_batch as usize,
            n_ctx_seq: n_ctx_seq as usize,
            slots: Slots::new(n_seqs as usize),
            memory: MemoryTier::new((config.snapshot_memory_mib as usize) << 20),
            disk,
            can_shift: config.kv_shift && !swa && !model.is_recurrent() && !model.is_hybrid(),
            append_only_restore: swa,
            shared,
            grammar: None,
            lookup: config.lookup_decoding.then(Gate::default),
        })
    }

    /// Takes a message; `true` when it asks the engine to stop.
    fn receive(&mut self, msg: Msg, queue: &mut Vec<Job>) -> bool {
        match msg {
            Msg::Run(job) => queue.push(*job),
            Msg::Persist(done) => {
                self.persist_all(FLUSH_TIMEOUT);
                let _ = done.send(());
            }
            // Only a model that failed to load is replaced (`Engine::load`); this one stays.
            Msg::Load(path) => tracing::warn!(path = %path.display(), "a model is loaded already; not loading another"),
            Msg::Stop => return true,
        }
        false
    }

    /// A sampler that follows `gbnf`, then picks greedily. Compiling a grammar costs more than a short
    /// answer: the last one is kept and reset (a review sends the same grammar for every unit).
    fn grammar_sampler(&mut self, gbnf: &Arc<str>) -> Result<LlamaSampler, EngineError> {
        if let Some((_, mut sampler)) = self.grammar.take().filter(|(kept, _)| kept == gbnf) {
            sampler.reset();
            return Ok(sampler);
        }
        let grammar =
            LlamaSampler::grammar(self.model, gbnf, "root").map_err(|e| EngineError::Grammar(e.to_string()))?;
        Ok(LlamaSampler::chain_simple([grammar, LlamaSampler::greedy()]))
    }

    /// A sampler that draws at random as `sampling` says, within `gbnf` if given. Built per job: a seeded
    /// generator carries state, so it is never shared with the next job.
    fn random_sampler(&self, gbnf: Option<&Arc<str>>, sampling: Sampling) -> Result<LlamaSampler, EngineError> {
        let grammar = gbnf
            .map(|gbnf| LlamaSampler::grammar(self.model, gbnf, "root"))
            .transpose()
            .map_err(|e| EngineError::Grammar(e.to_string()))?;
        let top_k = i32::try_from(sampling.top_k).unwrap_or(i32::MAX);
        let draw = [
            LlamaSampler::top_k(top_k),
            LlamaSampler::top_p(sampling.top_p, 1),
            LlamaSampler::temp(sampling.temperature),
            LlamaSampler::dist(sampling.seed),
        ];
        Ok(LlamaSampler::chain_simple(grammar.into_iter().chain(draw)))
    }

    /// Forgets the whole cache: after a failure its contents are unknown.
    fn reset(&mut self) {
        self.ctx.clear_kv_cache();
        self.slots.clear();
    }

    /// Whether a job over `n_tokens` can run at all: one that is empty or does not fit a sequence cannot.
    fn admit(&self, n_tokens: usize) -> Result<(), EngineError> {
        if n_tokens == 0 || n_tokens >= self.n_ctx_seq {
            return Err(EngineError::PromptTooLong { n_prompt: n_tokens, n_ctx: self.n_ctx_seq });
        }
        Ok(())
    }

    /// Runs `f`; a failure or a panic fails the job and resets the cache, whose contents are then unknown.
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, EngineError>) -> Result<T, EngineError> {
        let outcome = catch_unwind(AssertUnwindSafe(|| f(self)));
        let err = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => err,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!("engine job panicked: {message}");
                EngineError::Panicked(message)
            }
        };
        self.reset();
        Err(err)
    }

    /// Runs a generation job to its end and sends how it ended.
    fn run_generate(&mut self, request: &GenerateRequest, events: &UnboundedSender<Event>, submitted: Instant) {
        // A prompt refused here never touches the KV cache, which stays as it is.
        let outcome =
            self.admit(request.prompt.len()).and_then(|()| self.guarded(|w| w.generate(request, events, submitted)));
        let event = match outcome {
            Ok((reason, stats)) => {
                // A sampled alternative is extra to the suggestion the user waited for, whose figures `last` keeps;
                // an outdated job (an evaluation carried on for later requests) answered nobody.
                let foreground = request.priority.get() == Priority::Foreground
                    && request.sampling.is_none()
                    && !request.cancel.is_outdated();
                self.shared.bump(|c| {
                    c.record(&stats, foreground);
                    if reason == StopReason::Cancelled { c.n_cancelled += 1 } else { c.n_completed += 1 }
                });
                Event::Done { reason, stats }
            }
            Err(err) => {
                self.shared.bump(|c| c.n_failed += 1);
                Event::Failed(err)
            }
        };
        let _ = events.send(event);
    }

    /// Runs a scoring job to its end.
    fn run_score(&mut self, request: &ScoreRequest) -> Scores {
        let (tokens, n_vocab) = (&request.tokens, self.model.n_vocab());
        let outcome = if request.n_context == 0 || request.n_context > tokens.len() {
            Err(EngineError::Llama(format!("cannot score from token {} of {}", request.n_context, tokens.len())))
        } else if tokens.iter().any(|&t| t < 0 || t >= n_vocab) {
            Err(EngineError::Llama("a token outside the vocabulary".into()))
        } else if request.n_context == tokens.len() {
            return Ok(Vec::new());
        } else {
            self.admit(tokens.len()).and_then(|()| self.guarded(|w| w.score(request)))
        };
        self.shared.bump(|c| match &outcome {
            Ok(Some((_, stats))) => {
                c.record(stats, false);
                c.n_completed += 1;
            }
            Ok(None) => c.n_cancelled += 1,
            Err(_) => c.n_failed += 1,
        });
        match outcome {
            Ok(Some((scores, _))) => Ok(scores),
            Ok(None) => Err(EngineError::Cancelled),
            Err(err) => Err(err),
        }
    }

    /// The slot for a prompt whose reusable part is `planned` (snapshotting what it evicts, restoring `owner`'s
    /// snapshot when that reuses more), the plan for it, and which cache the reuse comes from.
    fn place(&mut self, owner: Option<&str>, planned: &[TokenId]) -> (usize, ReusePlan, CacheHit) {
        let choice = self.slots.choose(owner, planned, self.can_shift);
        let index = choice.index;
        if let Some(evicted) = &choice.evicts {
            self.snapshot(index, evicted);
        }
        let mut plan = choice.plan;
        let mut cache = match (plan.shift, plan.n_keep) {
            (Some(_), _) => CacheHit::Shift,
            (None, 0) => CacheHit::Cold,
            (None, _) => CacheHit::Hot,
        };
        if let Some(restored) = owner.and_then(|o| self.restore(index, o, planned, plan.n_reused())) {
            plan = restored;
            cache = CacheHit::Snapshot;
        }
        self.slots.touch(index, owner);
        (index, plan, cache)
    }

    /// Brings slot `index`'s sequence to `tokens` as `plan` says, evaluating what it does not reuse in steps
    /// (`step()` tokens, at most `n_batch`) so that `stop` is seen soon. Positions in `logits` get logits,
    /// handed to `read` with their index in the step's batch. `false`: stopped, keeping what was evaluated.
    fn evaluate(
        &mut self,
        index: usize,
        (tokens, plan): (&[TokenId], &ReusePlan),
        logits: std::ops::Range<usize>,
        (step, stop): (impl Fn() -> usize, impl Fn() -> bool),
        mut read: impl FnMut(&LlamaContext, i32, usize),
    ) -> Result<bool, EngineError> {
        let seq = index as i32;
        self.remove_and_shift(seq, plan)?;
        let ranges = self.slots.get_mut(index).cached.apply(plan, tokens);
        for range in ranges {
            let mut start = range.start;
            while start < range.end {
                if stop() {
                    self.slots.get_mut(index).cached.truncate(start);
                    self.ctx.clear_kv_cache_seq(Some(seq as u32), Some(start as u32), None).map_err(llama)?;
                    return Ok(false);
                }
                let end = (start + step().min(self.n_batch)).min(range.end);
                self.decode(index, start, &tokens[start..end], &logits)?;
                for at in start.max(logits.start)..end.min(logits.end) {
                    read(&self.ctx, (at - start) as i32, at);
                }
                start = end;
            }
        }
        Ok(true)
    }

    /// Scores an admitted span (`run_score`): `None` when it stopped first (cancelled, or yielding to a
    /// completion; asking again reuses the context evaluated so far).
    fn score(&mut self, request: &ScoreRequest) -> Result<Option<(Vec<TokenScore>, CompletionStats)>, EngineError> {
        let started = Instant::now();
        let (tokens, n_context) = (&request.tokens, request.n_context);
        // Logits are needed from the position before the span's first token: only what precedes it is reused.
        let (index, plan, cache) = self.place(request.owner.as_deref(), &tokens[..n_context]);
        let n_reused = plan.n_reused();
        let vocab = self.model.vocab();
        let piece =
            |t: TokenId| String::from_utf8_lossy(&vocab.token_to_piece(LlamaToken(t), false, None)).into_owned();
        let shared = self.shared.clone();
        let priority = || request.priority.get();
        let step = || if priority() == Priority::Background { BACKGROUND_STEP } else { FOREGROUND_STEP };
        let stop = || {
            request.cancel.is_cancelled()
                || (priority() != Priority::Foreground && shared.pending_foreground.load(Ordering::Acquire) > 0)
        };
        let mut scores = Vec::with_capacity(tokens.len() - n_context);
        let read = |ctx: &LlamaContext, i: i32, at: usize| {
            let next = tokens[at + 1];
            let Some((logprob, top)) = logprobs::scored(ctx.get_logits_ith(i), next as usize, request.top_k) else {
                return;
            };
            let top =
                top.into_iter().map(|(id, logprob)| Alternative { text: piece(id as TokenId), logprob }).collect();
            scores.push(TokenScore { text: piece(next), logprob, top });
        };
        let done = self.evaluate(index, (tokens, &plan), n_context - 1..tokens.len() - 1, (step, stop), read)?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let stats = CompletionStats {
            cache,
            n_prompt_tokens: tokens.len(),
            n_reused_tokens: n_reused,
            n_evaluated_tokens: tokens.len() - n_reused,
            ttft_ms: ms,
            total_ms: ms,
            ..CompletionStats::default()
        };
        Ok(done.then_some((scores, stats)))
    }

    /// Runs an admitted generation job (`admit`).
    fn generate(
        &mut self,
        request: &GenerateRequest,
        events: &UnboundedSender<Event>,
        submitted: Instant,
    ) -> Result<(StopReason, CompletionStats), EngineError> {
        let started = Instant::now();
        let ms = |t: Instant| t.duration_since(submitted).as_secs_f64() * 1000.0;
        let prompt = &request.prompt;
        let max_tokens = request.max_tokens.min(self.n_ctx_seq - prompt.len());
        let shared = self.shared.clone();
        let completion_waits = || shared.pending_foreground.load(Ordering::Acquire) > 0;
        let stop_evaluating = || request.stops_evaluating(events.is_closed(), completion_waits());
        let stop_generating = || request.stops_generating(events.is_closed(), completion_waits());

        let (index, plan, cache) = self.place(request.owner.as_deref(), prompt);
        let _ = events.send(Event::Started { n_evaluate: plan.n_evaluate });
        let mut stats = CompletionStats {
            cache,
            n_prompt_tokens: prompt.len(),
            n_reused_tokens: plan.n_reused(),
            n_evaluated_tokens: plan.n_evaluate,
            queue_ms: ms(started),
            ..CompletionStats::default()
        };

        // Prompts are evaluated in steps, so that waiting completions and cancellation are seen soon.
        let step = || if request.priority.get() == Priority::Background { BACKGROUND_STEP } else { FOREGROUND_STEP };
        let last = prompt.len() - 1..prompt.len();
        let evaluated = self.evaluate(index, (prompt, &plan), last, (step, stop_evaluating), |_, _, _| {})?;
        if !evaluated || stop_generating() {
            stats.total_ms = ms(Instant::now());
            return Ok((StopReason::Cancelled, stats));
        }

        let mut sampler = match (&request.grammar, request.sampling) {
            (Some(gbnf), None) => self.grammar_sampler(gbnf)?,
            (None, None) => LlamaSampler::greedy(),
            (grammar, Some(sampling)) => self.random_sampler(grammar.as_ref(), sampling)?,
        };
        let mut text = Utf8Stream::default();
        let mut emitted = String::new();
        let vocab = self.model.vocab();
        // Greedy picks are checked against drafts: sampling at random would seldom agree with one.
        let mut drafts = (request.sampling.is_none() && self.lookup.is_some()).then(|| Drafts::new(prompt));
        let mut at_batch = self.batch.n_tokens() - 1;
        let reason = loop {
            if let Some(drafts) = drafts.as_mut()
                && drafts.batched()
                && lookup::near_tie(self.ctx.get_logits_ith(at_batch))
            {
                at_batch = self.alone(index, drafts)?;
            }
            let token = sampler.sample(&self.ctx, at_batch);
            // The model's own probability, before sampling reshaped it: what the suggestion's confidence is built on.
            let logprob = logprobs::logprob(self.ctx.get_logits_ith(at_batch), token.0 as usize);
            let _ = events.send(Event::Logprob(logprob.unwrap_or(f32::MIN)));
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
                    let _ = events.send(Event::Text(full[emitted.len()..cut].to_owned()));
                }
                break StopReason::StopSequence;
            }
            let fresh = text.take_complete();
            if !fresh.is_empty() {
                emitted.push_str(&fresh);
                let _ = events.send(Event::Text(fresh));
            }
            if stats.n_generated_tokens >= max_tokens {
                break StopReason::MaxTokens;
            }
            if stop_generating() {
                break if request.cancel.is_enough() { StopReason::Enough } else { StopReason::Cancelled };
            }
            let remaining = max_tokens - stats.n_generated_tokens;
            at_batch = match drafts.as_mut() {
                Some(drafts) => self.step_with_drafts(index, drafts, token.0, remaining, &mut stats)?,
                None => {
                    let at = self.slots.get(index).cached.len();
                    self.decode(index, at, &[token.0], &(at..at + 1))?;
                    0
                }
            };
        };

        if let (Some(gbnf), None) = (&request.grammar, request.sampling) {
            self.grammar = Some((gbnf.clone(), sampler));
        }
        stats.total_ms = ms(Instant::now());
        Ok((reason, stats))
    }

    /// Makes the logits after `token` (just sampled) ready, and returns their index in the batch: from the batch
    /// already evaluated when the draft guessed `token`; else by evaluating `token` (where the rest of the draft
    /// was, now removed from the cache) with a new draft behind it, when the gate lets it.
    fn step_with_drafts(
        &mut self,
        index: usize,
        drafts: &mut Drafts,
        token: TokenId,
        remaining: usize,
        stats: &mut CompletionStats,
    ) -> Result<i32, EngineError> {
        if let Some(at_batch) = drafts.guessed(token) {
            stats.n_draft_accepted += 1;
            return Ok(at_batch);
        }
        let open = self.lookup.as_mut().is_some_and(|gate| {
            drafts.measured(gate);
            gate.open()
        });
        let at = drafts.history().len() - 1;
        if self.slots.get(index).cached.len() > at {
            // The draft's wrong guesses: removed, so that `at` is the end of the sequence again.
            self.slots.get_mut(index).cached.truncate(at);
            self.ctx.clear_kv_cache_seq(Some(index as u32), Some(at as u32), None).map_err(llama)?;
        }
        // Tokens past the last one wanted, the sequence's end or a batch would be drafted for nothing.
        let room = (self.n_ctx_seq - 1 - at).min(remaining.saturating_sub(1)).min(self.n_batch - 1);
        let draft = if open { lookup::draft(drafts.history(), room.min(lookup::MAX_DRAFT)) } else { &[] };
        let batch: Vec<TokenId> = std::iter::once(token).chain(draft.iter().copied()).collect();
        let started = Instant::now();
        self.decode(index, at, &batch, &(at..at + batch.len()))?;
        stats.n_drafted_tokens += batch.len() - 1;
        drafts.evaluated(&batch[1..], started);
        Ok(0)
    }

    /// Evaluates the last token of `drafts`' history again alone (as plain decoding would have), dropping what
    /// the batch evaluated after it; returns the index of its logits in the batch.
    fn alone(&mut self, index: usize, drafts: &mut Drafts) -> Result<i32, EngineError> {
        let at = drafts.history().len() - 1;
        let token = drafts.history()[at];
        self.slots.get_mut(index).cached.truncate(at);
        self.ctx.clear_kv_cache_seq(Some(index as u32), Some(at as u32), None).map_err(llama)?;
        self.decode(index, at, &[token], &(at..at + 1))?;
        drafts.alone();
        Ok(0)
    }

    /// Removes what `plan` does not keep from sequence `seq` and moves its shifted chunk.
    fn remove_and_shift(&mut self, seq: i32, plan: &ReusePlan) -> Result<(), EngineError> {
        let seq_u = Some(seq as u32);
        match plan.shift {
            None => {
                self.ctx.clear_kv_cache_seq(seq_u, Some(plan.n_keep as u32), None).map_err(llama)?;
            }
            Some(shift) => {
                let end = (shift.from + shift.len) as u32;
                self.ctx.clear_kv_cache_seq(seq_u, Some(end), None).map_err(llama)?;
                if shift.from > plan.n_keep {
                    self.ctx
                        .clear_kv_cache_seq(seq_u, Some(plan.n_keep as u32), Some(shift.from as u32))
                        .map_err(llama)?;
                }
                let delta = shift.to as i32 - shift.from as i32;
                if delta != 0 {
                    self.ctx.kv_cache_seq_add(seq, Some(shift.from as u32), Some(end), delta).map_err(llama)?;
                }
            }
        }
        Ok(())
    }

    /// Evaluates `tokens` at positions `at..` of slot `index`'s sequence, with logits at the positions in `logits`.
    fn decode(
        &mut self,
        index: usize,
        at: usize,
        tokens: &[TokenId],
        logits: &std::ops::Range<usize>,
    ) -> Result<(), EngineError> {
        self.batch.clear();
        for (i, &token) in tokens.iter().enumerate() {
            let wanted = logits.contains(&(at + i));
            self.batch.add(LlamaToken(token), (at + i) as i32, &[index as i32], wanted).map_err(llama)?;
        }
        self.ctx.decode(&mut self.batch).map_err(|e| EngineError::Llama(format!("decode: {e}")))?;
        self.slots.get_mut(index).cached.record(at, tokens);
        Ok(())
    }

    /// Saves slot `index` as `owner`'s snapshot, in memory and on disk.
    /// Keeps slot `index`'s sequence in the memory tier and queues it for the disk tier, whose writer
    /// thread writes it from memory: a completion waiting for the slot never waits for the disk.
    fn snapshot(&mut self, index: usize, owner: &str) {
        let Some(snapshot) = self.capture(index) else { return };
        if let Some(disk) = &self.disk {
            disk.save(owner, snapshot.clone());
        }
        self.memory.insert(owner, snapshot);
    }

    /// Slot `index`'s tokens and state bytes.
    fn capture(&self, index: usize) -> Option<Snapshot> {
        let (seq, flags) = (index as i32, LlamaStateSeqFlags::empty());
        let size = self.ctx.state_seq_get_size_ext(seq, flags);
        let mut state = vec![0u8; size];
        // SAFETY: `state` has the size llama.cpp just reported for this sequence.
        let written = unsafe { self.ctx.state_seq_get_data_ext(state.as_mut_ptr(), seq, flags) };
        if written != size {
            tracing::warn!(size, written, "cannot capture a KV sequence");
            return None;
        }
        Some(Snapshot { tokens: self.slots.get(index).cached.tokens().to_vec(), state: state.into() })
    }

    /// Loads state bytes (captured by `capture` for this model and context size) into slot `index`.
    fn load_state(&mut self, index: usize, state: &[u8]) -> bool {
        // SAFETY: the bytes come from `capture` with this model and context size, in memory or from a file
        // whose size and checksum were checked; llama.cpp checks the layout again and fails rather than
        // read past `state`.
        unsafe { self.ctx.state_seq_set_data_ext(state, index as i32, LlamaStateSeqFlags::empty()) }
    }

    /// Saves every slot that holds a document to disk and waits for the writes, at most `timeout` (before exit).
    fn persist_all(&mut self, timeout: std::time::Duration) {
        for index in 0..self.slots.len() {
            let slot = self.slots.get(index);
            if let Some(owner) = slot.owner.clone().filter(|_| slot.cached.len() >= MIN_SNAPSHOT_TOKENS)
                && let (Some(snapshot), Some(disk)) = (self.capture(index), &self.disk)
            {
                disk.save(&owner, snapshot);
            }
        }
        if let Some(disk) = &self.disk {
            disk.flush(timeout);
        }
    }

    /// Restores `owner`'s snapshot into slot `index` when it beats reusing `n_reused` tokens.
    fn restore(&mut self, index: usize, owner: &str, prompt: &[TokenId], n_reused: usize) -> Option<ReusePlan> {
        let worth = |tokens: &[TokenId], this: &Self| {
            let mut cached = super::kv::CachedTokens::default();
            cached.extend(tokens);
            let plan = cached.plan(prompt, this.can_shift);
            let appends = plan.n_keep == tokens.len() && plan.shift.is_none();
            let allowed = !this.append_only_restore || appends;
            (allowed && plan.n_reused() >= n_reused + MIN_RESTORE_GAIN).then_some(plan)
        };
        if let Some(snapshot) = self.memory.take(owner) {
            let Some(plan) = worth(&snapshot.tokens, self) else {
                self.memory.insert(owner, snapshot);
                return None;
            };
            // The slot holds it from now on; a later eviction snapshots it again.
            let _ = self.ctx.clear_kv_cache_seq(Some(index as u32), None, None);
            let cached = &mut self.slots.get_mut(index).cached;
            cached.clear();
            if self.load_state(index, &snapshot.state) {
                self.slots.get_mut(index).cached.extend(&snapshot.tokens);
                return Some(plan);
            }
            let _ = self.ctx.clear_kv_cache_seq(Some(index as u32), None, None);
        }
        let (header, state) = self.disk.as_ref()?.load(owner).ok()?;
        let plan = worth(&header.tokens, self)?;
        let _ = self.ctx.clear_kv_cache_seq(Some(index as u32), None, None);
        self.slots.get_mut(index).cached.clear();
        if self.load_state(index, &state) {
            self.slots.get_mut(index).cached.extend(&header.tokens);
            return Some(plan);
        }
        if let Some(disk) = &self.disk {
            tracing::warn!("removed a snapshot llama.cpp would not load: {}", disk.path(owner).display());
            disk.remove(owner);
        }
        let _ = self.ctx.clear_kv_cache_seq(Some(index as u32), None, None);
        None
    }
}

fn llama(e: impl std::fmt::Display) -> EngineError {
    EngineError::Llama(e.to_string())
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
