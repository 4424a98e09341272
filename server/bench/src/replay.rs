//! `nib bench replay`: plays an edit trace through the real LSP path (a `nib
//! serve` process over stdio) and, optionally, the same requests against a
//! llama.cpp `llama-server`, and reports both per event kind.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ropey::Rope;
use serde::Serialize;
use serde_json::{Value, json};

use super::lsp_client::{ClientError, LspClient, inline_params};
use super::trace::{Action, Event, EventKind, Position, Replay};
use super::{llama_server, quantile};
use nib_pipeline::completion::postprocess::Mode;
use nib_pipeline::completion::syntax_check;
use nib_pipeline::config::CompletionConfig;
use nib_prompt::{self as prompt, Budget, Template, Tokenizer};
use nib_protocol::acceptance::{Report, Summary};
use nib_protocol::method;
use nib_text::documents::{Column, position};

/// One measured request.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub kind: EventKind,
    /// Request sent to first text seen by the client (to the response, when it is empty).
    pub ttft_ms: f64,
    /// Request sent to response received: what an editor waits before it can show anything.
    pub e2e_ms: f64,
    /// Prompt and evaluated tokens of this request; `None` when nib has no figures for it (see `cache`).
    pub n_prompt_tokens: Option<usize>,
    /// Prompt tokens found in a cache and not evaluated again: nib's KV cache, or a remote engine's prompt cache.
    pub n_reused_tokens: Option<usize>,
    pub n_evaluated_tokens: Option<usize>,
    /// Which cache answered (nib only): the engine's `last.cache`, `deadline` (answered at the deadline, its job
    /// still running), `partial` (answered with the start of its suggestion, its job still running), or `none`
    /// (the answer came without a completion that reached `last`).
    pub cache: Option<String>,
    /// Files in the symbol index after the answer, still growing while a workspace is indexed (nib only).
    pub n_indexed_files: Option<u64>,
    pub empty: bool,
    /// For an empty automatic answer from nib: request sent to the `nib/suggestionReady` for its position, when one
    /// came before the next request.
    pub ready_ms: Option<f64>,
    /// The JSON-RPC error the request was answered with: counted apart, never a latency or an empty answer.
    pub error: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Server(#[from] llama_server::HttpError),
    #[error("{0}")]
    Trace(String),
}

/// How to start `nib serve` for a replay.
#[derive(Debug, Clone)]
pub struct NibServe {
    pub binary: PathBuf,
    /// `--model`; none for a remote engine, which needs no model file.
    pub model: Option<PathBuf>,
    /// More `nib serve` arguments (e.g. `--backend llama-server --engine-url URL`).
    pub args: Vec<String>,
    /// Sent as `initializationOptions`.
    pub options: Value,
    /// The workspace root, indexed while the trace plays.
    pub workspace: Option<PathBuf>,
    /// Ask `nib/nextEdits` at the cursor after each edit, and time it. `nib bench load` does not: its figures
    /// are the completions'.
    pub next_edits: bool,
}

/// One `nib/nextEdits` request, sent after an edit.
#[derive(Debug, Clone, Serialize)]
pub struct NextEditSample {
    /// Request sent to response received.
    pub e2e_ms: f64,
    pub n_edits: usize,
    pub n_targets: usize,
    pub error: Option<Value>,
}

/// What a replay through `nib serve` measured.
#[derive(Debug, Clone)]
pub struct NibReplay {
    pub samples: Vec<Sample>,
    pub next_edits: Vec<NextEditSample>,
    /// The acceptance figures the server counted (`nib/status`'s `acceptance`) once the trace was played.
    pub acceptance: Summary,
    /// The prompt rate nib measured (`nib/status`'s `prompt_rate`, tokens per second) once the trace was played.
    pub prompt_rate: Option<f64>,
}

/// The text of every file as the replay goes, to build the peer's prompts.
struct Files {
    ropes: BTreeMap<String, Rope>,
}

impl Files {
    fn new(replay: &Replay) -> Files {
        Files { ropes: replay.files.iter().map(|(name, text)| (name.clone(), Rope::from_str(text))).collect() }
    }

    fn rope(&self, file: &str) -> Result<&Rope, ReplayError> {
        self.ropes.get(file).ok_or_else(|| ReplayError::Trace(format!("no file {file}")))
    }

    fn offset(&self, file: &str, at: Position) -> Result<usize, ReplayError> {
        let pos = position::Position { line: at.line, column: Column::Utf16(at.col) };
        position::to_char_offset(self.rope(file)?, pos).map_err(|e| ReplayError::Trace(format!("{file}: {e}")))
    }

    fn apply(&mut self, event: &Event) -> Result<(), ReplayError> {
        if let Some((at, text)) = &event.insert {
            let offset = self.offset(&event.file, *at)?;
            if let Some(rope) = self.ropes.get_mut(&event.file) {
                rope.insert(offset, text);
            }
        }
        Ok(())
    }
}

fn uri(file: &str) -> String {
    format!("file:///replay/{file}")
}

fn language_id(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("py") => "python",
        Some("rs") => "rust",
        Some("js") => "javascript",
        Some("ts") => "typescript",
        _ => "plaintext",
    }
}

/// When the next action may start: a keystroke waits out the rest of its interval, as a person typing would.
fn pace_until(replay: &Replay, event: &Event, started: Instant) -> Instant {
    match event.kind {
        EventKind::Type | EventKind::TypeCold | EventKind::Accept => {
            started + Duration::from_millis(replay.keystroke_ms)
        }
        _ => started,
    }
}

/// `{textDocument, position}`, the params of `nib/cursorRest` and `nib/suggestionReady`.
fn position_params(uri: &str, version: i32, at: Position) -> Value {
    json!({"textDocument": {"uri": uri, "version": version}, "position": {"line": at.line, "character": at.col}})
}

/// A request answered empty, watching for the `nib/suggestionReady` that says its suggestion is there.
struct Pending {
    sample: usize,
    /// What the notification carries: the document and position of the request.
    params: Value,
    sent: Instant,
}

/// A `nib serve` process being replayed to, and what it answered so far.
struct NibSession {
    client: LspClient,
    /// File -> the document version last sent.
    versions: BTreeMap<String, i32>,
    samples: Vec<Sample>,
    pending: Option<Pending>,
    /// `None` when next edits are not asked for.
    next_edits: Option<Vec<NextEditSample>>,
}

impl NibSession {
    /// Opens `file` on first use; returns its current version.
    fn open(&mut self, replay: &Replay, file: &str) -> Result<i32, ReplayError> {
        if let Some(version) = self.versions.get(file) {
            return Ok(*version);
        }
        let text = replay.files.get(file).ok_or_else(|| ReplayError::Trace(format!("no file {file}")))?;
        self.client.open(&uri(file), language_id(file), text)?;
        self.versions.insert(file.to_owned(), 1);
        Ok(1)
    }

    /// The cursor rests: `nib/cursorRest`, then a pause of `ms`.
    fn rest(&mut self, replay: &Replay, file: &str, cursor: Position, ms: u64) -> Result<(), ReplayError> {
        let version = self.open(replay, file)?;
        self.client.notify(method::CURSOR_REST, position_params(&uri(file), version, cursor))?;
        self.pause_until(Instant::now() + Duration::from_millis(ms))
    }

    /// The event's edit, then its request, measured; waits out a keystroke's interval after it.
    fn request(&mut self, replay: &Replay, event: &Event, token: &str) -> Result<(), ReplayError> {
        let mut version = self.open(replay, &event.file)?;
        // A notification that comes after the next request no longer helps the one before.
        self.pending = None;
        self.client.drain();
        let started = Instant::now();
        let uri = uri(&event.file);
        if let Some((at, text)) = &event.insert {
            version += 1;
            self.versions.insert(event.file.clone(), version);
            self.client.insert(&uri, version, at.line, at.col, text)?;
        }
        let mut params = inline_params(&uri, event.cursor.line, event.cursor.col);
        if event.kind.is_explicit() {
            params["context"]["triggerKind"] = json!(1);
        }
        params["partialResultToken"] = json!(token);
        let before = self.client.status()?;
        let sent = Instant::now();
        let id = self.client.request("textDocument/inlineCompletion", params)?;
        let is_response = |m: &Value| m["id"] == id && m.get("method").is_none();
        let (first_at, first) =
            self.client.wait_timed("the first text", |m| is_response(m) || m["params"]["token"] == token)?;
        let (done_at, response) = if is_response(&first) {
            (first_at, first)
        } else {
            self.client.wait_timed("the response", is_response)?
        };
        let error = response.get("error").cloned();
        let empty = error.is_none() && response["result"]["items"].as_array().is_none_or(Vec::is_empty);
        let status = self.client.status()?;
        let (engine, engine_before) = (&status["engine"], &before["engine"]);
        // An answer at the deadline has no figures yet: its job is still running. An answer that left `last` as it
        // was (empty at once, say) has none either: `last` belongs to an earlier request.
        let bumped = |key: &str| engine[key] != engine_before[key];
        let early = early_answer(event.kind, bumped("n_deadline_answers"), bumped("n_partial_answers"));
        let fresh = early.is_none() && engine["last"] != engine_before["last"];
        let count = |key: &str| engine["last"][key].as_u64().filter(|_| fresh).map(|n| n as usize);
        let cache = match (early, fresh) {
            (Some(early), _) => early,
            (None, true) => engine["last"]["cache"].as_str().unwrap_or("unknown"),
            (None, false) => "none",
        };
        if empty && !event.kind.is_explicit() {
            let params = position_params(&uri, version, event.cursor);
            self.pending = Some(Pending { sample: self.samples.len(), params, sent });
        }
        self.samples.push(Sample {
            kind: event.kind,
            ttft_ms: ms(first_at - sent),
            e2e_ms: ms(done_at - sent),
            n_prompt_tokens: count("n_prompt_tokens"),
            n_reused_tokens: count("n_reused_tokens"),
            n_evaluated_tokens: count("n_evaluated_tokens"),
            cache: Some(cache.to_owned()),
            empty,
            ready_ms: None,
            n_indexed_files: status["n_indexed_files"].as_u64(),
            error,
        });
        if event.insert.is_some() {
            self.next_edits(&uri, event.cursor)?;
        }
        self.pause_until(pace_until(replay, event, started))
    }

    /// `nib/nextEdits` at the cursor, timed, when next edits are asked for.
    fn next_edits(&mut self, uri: &str, at: Position) -> Result<(), ReplayError> {
        let Some(samples) = &mut self.next_edits else { return Ok(()) };
        let params = json!({"textDocument": {"uri": uri}, "position": {"line": at.line, "character": at.col}});
        let sent = Instant::now();
        let id = self.client.request(method::NEXT_EDITS, params)?;
        let response = self.client.response(id)?;
        let e2e_ms = ms(sent.elapsed());
        let count = |key: &str| response["result"][key].as_array().map_or(0, Vec::len);
        samples.push(NextEditSample {
            e2e_ms,
            n_edits: count("edits"),
            n_targets: count("targets"),
            error: response.get("error").cloned(),
        });
        Ok(())
    }

    /// Waits until `until`, noting when the pending empty answer's `nib/suggestionReady` arrives.
    fn pause_until(&mut self, until: Instant) -> Result<(), ReplayError> {
        if let Some(pending) = &self.pending {
            // By document and position; the version only where the notification carries one.
            let is_ready = |m: &Value| {
                let (params, version) = (&m["params"], &m["params"]["textDocument"]["version"]);
                m["method"] == method::SUGGESTION_READY
                    && params["textDocument"]["uri"] == pending.params["textDocument"]["uri"]
                    && params["position"] == pending.params["position"]
                    && (version.is_null() || *version == pending.params["textDocument"]["version"])
            };
            if let Some((at, _)) = self.client.wait_until(until, method::SUGGESTION_READY, is_ready)? {
                if let Some(sample) = self.samples.get_mut(pending.sample) {
                    sample.ready_ms = Some(ms(at - pending.sent));
                }
                self.pending = None;
            }
        }
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        Ok(())
    }
}

/// Replays through `nib serve`.
pub fn replay_nib(replay: &Replay, serve: &NibServe) -> Result<NibReplay, ReplayError> {
    // A fresh NIB_HOME: snapshots from earlier runs must not flatter the figures. One per call: replays may run
    // side by side (`nib bench load`).
    static N_HOMES: AtomicUsize = AtomicUsize::new(0);
    let n = N_HOMES.fetch_add(1, Ordering::Relaxed);
    let home = std::env::temp_dir().join(format!("nib-replay-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let mut command = Command::new(&serve.binary);
    command.arg("serve").args(&serve.args).env("NIB_HOME", &home);
    if let Some(model) = &serve.model {
        command.arg("--model").arg(model);
    }
    let mut session = NibSession {
        client: LspClient::spawn(command)?,
        versions: BTreeMap::new(),
        samples: Vec::new(),
        pending: None,
        next_edits: serve.next_edits.then(Vec::new),
    };
    let root_uri = serve.workspace.as_deref().map(nib_text::uri::from_path);
    session.client.initialize_in(root_uri.as_deref(), json!({}), serve.options.clone())?;
    for (i, action) in replay.actions.iter().enumerate() {
        match action {
            Action::Rest { file, cursor, ms } => session.rest(replay, file, *cursor, *ms)?,
            Action::Request(event) => session.request(replay, event, &format!("replay-{i}"))?,
        }
    }
    let mut status = session.client.status()?;
    let prompt_rate = status["prompt_rate"].as_f64();
    let acceptance = serde_json::from_value(status["acceptance"].take())
        .map_err(|e| ReplayError::Trace(format!("nib/status has no acceptance figures: {e}")))?;
    let (status, stderr) = session.client.shutdown()?;
    let _ = std::fs::remove_dir_all(&home);
    if !status.success() {
        return Err(ReplayError::Trace(format!("nib exited with {status}: {stderr}")));
    }
    let next_edits = session.next_edits.unwrap_or_default();
    Ok(NibReplay { samples: session.samples, next_edits, acceptance, prompt_rate })
}

/// The acceptance figures per kind of suggestion, one line each, and the total.
pub fn render_acceptance(summary: &Summary) -> String {
    let percent = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |r| format!("{:.0}%", r * 100.0));
    let line = |name: &str, r: &Report| {
        let f = &r.figures;
        format!(
            "{name:<16} shown {:>4}  accepted {:>4} ({} whole, {} word, {} line)  rate {:>4}  chars {:>5}  kept 30 s {:>4}  undone {}\n",
            f.shown,
            f.n_accepted(),
            f.accepted_whole,
            f.accepted_word,
            f.accepted_line,
            percent(r.acceptance_rate),
            f.chars_accepted,
            percent(r.retention_rate),
            f.reversals,
        )
    };
    let mut out = String::from("acceptance (counted by nib from the edits):\n");
    summary.by_kind.iter().for_each(|(kind, r)| out += &line(kind, r));
    out + &line("all", &summary.total)
}

/// Replays the same requests against llama-server's `/completion`, with the prefix window nib itself would send
/// (the default model has no FIM tokens). A rest is a pause: llama-server has nothing to warm ahead with.
pub fn replay_server(
    replay: &Replay,
    url: &str,
    tokenizer: &dyn Tokenizer,
    config: &CompletionConfig,
) -> Result<Vec<Sample>, ReplayError> {
    let mut files = Files::new(replay);
    let template = Template::prefix_only();
    let budget = Budget {
        n_tokens: config.n_prompt_tokens as usize,
        suffix_percent: config.suffix_percent as usize,
        n_suffix_max: usize::MAX,
        n_context_tokens: 0,
    };
    let mut samples = Vec::new();
    for action in &replay.actions {
        let event = match action {
            Action::Request(event) => event,
            Action::Rest { ms, .. } => {
                std::thread::sleep(Duration::from_millis(*ms));
                continue;
            }
        };
        let started = Instant::now();
        files.apply(event)?;
        let rope = files.rope(&event.file)?;
        let cursor = files.offset(&event.file, event.cursor)?;
        let prompt =
            prompt::build(tokenizer, &template, rope, cursor, budget).map_err(|e| ReplayError::Trace(e.to_string()))?;
        let line_start = rope.line_to_char(rope.char_to_line(cursor));
        let opens_block = syntax_check::opens_block(rope, None, cursor);
        let mode = Mode::detect(&rope.slice(line_start..cursor).to_string(), config.max_lines as usize, opens_block);
        let body = json!({
            "prompt": rope.slice(prompt.prefix_start..cursor).to_string(),
            "n_predict": config.max_tokens,
            "stop": mode.stop_sequences(),
            "cache_prompt": true,
            "stream": true,
            "temperature": 0.0,
            "top_k": 1,
        });
        let streamed = llama_server::complete(url, &body)?;
        samples.push(Sample {
            kind: event.kind,
            ttft_ms: streamed.ttft_ms,
            // The whole streamed response: what an editor waits for before it shows the suggestion.
            e2e_ms: streamed.total_ms,
            n_prompt_tokens: Some(prompt.tokens.len()),
            n_reused_tokens: None,
            n_evaluated_tokens: streamed.n_evaluated,
            cache: None,
            empty: streamed.content.trim().is_empty(),
            ready_ms: None,
            n_indexed_files: None,
            error: None,
        });
        std::thread::sleep(pace_until(replay, event, started).saturating_duration_since(Instant::now()));
    }
    Ok(samples)
}

/// The median and 95th percentile of some figure.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
}

impl Percentiles {
    /// `None` for no values: no figure is better than a made-up zero.
    fn of(values: &[f64]) -> Option<Percentiles> {
        (!values.is_empty()).then(|| Percentiles { p50: quantile(values, 0.5), p95: quantile(values, 0.95) })
    }
}

/// Figures for one event kind.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub kind: EventKind,
    pub n: usize,
    /// Requests answered with a JSON-RPC error; the other figures are over the rest.
    pub n_errors: usize,
    /// Answers without a suggestion. Latencies are over the others: an empty answer is not a fast one.
    pub n_empty: usize,
    /// Request sent to response received, over answers with a suggestion.
    pub e2e_ms: Option<Percentiles>,
    /// Request sent to first text, over answers with a suggestion.
    pub ttft_ms: Option<Percentiles>,
    /// Prompt tokens evaluated per request, over requests with figures.
    pub n_evaluated_tokens: Option<Percentiles>,
    /// Empty automatic answers, and how many of them got `nib/suggestionReady` before the next request.
    pub n_empty_automatic: usize,
    pub n_ready: usize,
    /// Request sent to `nib/suggestionReady`, over those that got one.
    pub ready_ms: Option<Percentiles>,
    /// Share of requests answered by each cache.
    pub cache_hits: BTreeMap<String, f64>,
}

/// Groups samples by event kind.
pub fn summarize(samples: &[Sample]) -> Vec<Row> {
    let mut kinds: Vec<EventKind> = samples.iter().map(|s| s.kind).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|kind| {
            let all = samples.iter().filter(|s| s.kind == kind);
            let n_errors = all.clone().filter(|s| s.error.is_some()).count();
            let of_kind: Vec<&Sample> = all.filter(|s| s.error.is_none()).collect();
            let answered: Vec<&&Sample> = of_kind.iter().filter(|s| !s.empty).collect();
            let e2e: Vec<f64> = answered.iter().map(|s| s.e2e_ms).collect();
            let ttft: Vec<f64> = answered.iter().map(|s| s.ttft_ms).collect();
            let evaluated: Vec<f64> = of_kind.iter().filter_map(|s| s.n_evaluated_tokens).map(|n| n as f64).collect();
            let ready: Vec<f64> = of_kind.iter().filter_map(|s| s.ready_ms).collect();
            let mut cache_hits = BTreeMap::new();
            for sample in &of_kind {
                if let Some(cache) = &sample.cache {
                    *cache_hits.entry(cache.clone()).or_insert(0.0) += 1.0 / of_kind.len() as f64;
                }
            }
            Row {
                kind,
                n: of_kind.len() + n_errors,
                n_errors,
                n_empty: of_kind.len() - answered.len(),
                e2e_ms: Percentiles::of(&e2e),
                ttft_ms: Percentiles::of(&ttft),
                n_evaluated_tokens: Percentiles::of(&evaluated),
                n_empty_automatic: if kind.is_explicit() { 0 } else { of_kind.len() - answered.len() },
                n_ready: ready.len(),
                ready_ms: Percentiles::of(&ready),
                cache_hits,
            }
        })
        .collect()
}

/// Figures for the `nib/nextEdits` requests of a replay.
#[derive(Debug, Clone, Serialize)]
pub struct NextEditRow {
    pub n: usize,
    pub n_errors: usize,
    /// Answers with at least one edit or target.
    pub n_proposing: usize,
    /// Request sent to response received, over all answers: an empty one is the usual answer, not a shortcut.
    pub e2e_ms: Option<Percentiles>,
}

pub fn summarize_next_edits(samples: &[NextEditSample]) -> NextEditRow {
    let answered: Vec<&NextEditSample> = samples.iter().filter(|s| s.error.is_none()).collect();
    let e2e: Vec<f64> = answered.iter().map(|s| s.e2e_ms).collect();
    NextEditRow {
        n: samples.len(),
        n_errors: samples.len() - answered.len(),
        n_proposing: answered.iter().filter(|s| s.n_edits + s.n_targets > 0).count(),
        e2e_ms: Percentiles::of(&e2e),
    }
}

/// One line for the next edits, after the table.
pub fn render_next_edits(row: &NextEditRow) -> String {
    format!(
        "next edits: {} requests, {} errors, {} proposing, e2e p50 {} ms, p95 {} ms\n",
        row.n,
        row.n_errors,
        row.n_proposing,
        cell(row.e2e_ms.map(|p| p.p50), 1),
        cell(row.e2e_ms.map(|p| p.p95), 1),
    )
}

/// A request that evaluated this many prompt tokens or more is a cold event.
const COLD_EVENT_TOKENS: usize = 256;

/// The cold events (requests whose own job evaluated `COLD_EVENT_TOKENS` or more prompt tokens), one line each:
/// what the editor waited for a suggestion (the answer, or for an empty one `nib/suggestionReady`), the tokens
/// evaluated, and the time `prompt_rate` (tokens per second) says that takes: how far it is from the bound.
pub fn render_cold(samples: &[Sample], prompt_rate: Option<f64>) -> String {
    let rate = cell(prompt_rate, 0);
    let mut out =
        format!("cold events (evaluated {COLD_EVENT_TOKENS}+ tokens; measured prompt rate {rate} tokens/s):\n");
    for (i, sample) in samples.iter().enumerate() {
        let Some(n) = sample.n_evaluated_tokens.filter(|&n| n >= COLD_EVENT_TOKENS) else { continue };
        let shown = if sample.empty { sample.ready_ms } else { Some(sample.e2e_ms) };
        let bound = prompt_rate.map(|rate| n as f64 / rate.max(f64::EPSILON) * 1000.0);
        out.push_str(&format!(
            "#{i:<4} {:<16} e2e {:>8} ms  shown {:>8} ms  evaluated {n:>5} tokens  bound {:>8} ms\n",
            sample.kind.label(),
            cell(Some(sample.e2e_ms), 1),
            cell(shown, 1),
            cell(bound, 1),
        ));
    }
    out
}

/// A figure for the table, `-` when there is none.
fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

/// The side-by-side table, as text; the ratios are nib / llama-server, end to end.
pub fn render(name: &str, nib: &[Row], server: Option<&[Row]>) -> String {
    let mut out = format!("trace {name}\n");
    out.push_str(&format!(
        "{:<16} {:>4} {:>4} {:>5} {:>8} {:>8} {:>8} {:>8} {:>5} {:>5} {:>7} {:>8}  {:<32}",
        "event",
        "n",
        "err",
        "empty",
        "e2e p50",
        "e2e p95",
        "ttft p50",
        "ttft p95",
        "eval",
        "ev95",
        "ready",
        "ready ms",
        "nib caches"
    ));
    if server.is_some() {
        out.push_str(&format!(
            " {:>8} {:>8} {:>8} {:>5} {:>5} {:>6} {:>6}",
            "srv e2e", "srv e95", "srv ttft", "eval", "empty", "p50 x", "p95 x"
        ));
    }
    out.push('\n');
    for row in nib {
        let caches: Vec<String> = row.cache_hits.iter().map(|(k, v)| format!("{k} {:.0}%", v * 100.0)).collect();
        let ready = match row.n_empty_automatic {
            0 => "-".to_owned(),
            n => format!("{}/{n}", row.n_ready),
        };
        out.push_str(&format!(
            "{:<16} {:>4} {:>4} {:>5} {:>8} {:>8} {:>8} {:>8} {:>5} {:>5} {:>7} {:>8}  {:<32}",
            row.kind.label(),
            row.n,
            row.n_errors,
            row.n_empty,
            cell(row.e2e_ms.map(|p| p.p50), 1),
            cell(row.e2e_ms.map(|p| p.p95), 1),
            cell(row.ttft_ms.map(|p| p.p50), 1),
            cell(row.ttft_ms.map(|p| p.p95), 1),
            cell(row.n_evaluated_tokens.map(|p| p.p50), 0),
            cell(row.n_evaluated_tokens.map(|p| p.p95), 0),
            ready,
            cell(row.ready_ms.map(|p| p.p50), 0),
            caches.join(", ")
        ));
        if let Some(peer) = server.and_then(|rows| rows.iter().find(|r| r.kind == row.kind)) {
            let ratio = |ours: Option<f64>, theirs: Option<f64>| ours.zip(theirs).map(|(a, b)| a / b.max(f64::EPSILON));
            out.push_str(&format!(
                " {:>8} {:>8} {:>8} {:>5} {:>5} {:>6} {:>6}",
                cell(peer.e2e_ms.map(|p| p.p50), 1),
                cell(peer.e2e_ms.map(|p| p.p95), 1),
                cell(peer.ttft_ms.map(|p| p.p50), 1),
                cell(peer.n_evaluated_tokens.map(|p| p.p50), 0),
                peer.n_empty,
                cell(ratio(row.e2e_ms.map(|p| p.p50), peer.e2e_ms.map(|p| p.p50)), 2),
                cell(ratio(row.e2e_ms.map(|p| p.p95), peer.e2e_ms.map(|p| p.p95)), 2),
            ));
        }
        out.push('\n');
    }
    out
}

/// Whether a request was answered before its job ended, from the counters `nib/status` bumped meanwhile: at the
/// deadline, or with the part written so far. An explicit request never is: a partial answer during one is the
/// short window's preview at a cold place (streamed as partial results), and its answer is the whole window's.
fn early_answer(kind: EventKind, deadline: bool, partial: bool) -> Option<&'static str> {
    match (kind.is_explicit(), deadline, partial) {
        (true, ..) => None,
        (false, true, _) => Some("deadline"),
        (false, false, true) => Some("partial"),
        (false, false, false) => None,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(e2e_ms: f64, n_edits: usize, error: Option<Value>) -> NextEditSample {
        NextEditSample { e2e_ms, n_edits, n_targets: 0, error }
    }

    #[test]
    fn an_explicit_request_is_never_answered_early_though_its_preview_is() {
        assert_eq!(early_answer(EventKind::Explicit, false, true), None);
        assert_eq!(early_answer(EventKind::Explicit, true, true), None);
        assert_eq!(early_answer(EventKind::SwitchFirst, false, true), Some("partial"));
        assert_eq!(early_answer(EventKind::Type, true, true), Some("deadline"));
        assert_eq!(early_answer(EventKind::Type, false, false), None);
    }

    #[test]
    fn next_edit_latency_counts_every_answer_and_errors_apart() {
        let samples = [sample(1.0, 0, None), sample(3.0, 2, None), sample(50.0, 0, Some(json!({"code": -32603})))];
        let row = summarize_next_edits(&samples);
        assert_eq!((row.n, row.n_errors, row.n_proposing), (3, 1, 1));
        assert_eq!(row.e2e_ms.map(|p| p.p50), Some(quantile(&[1.0, 3.0], 0.5)));
        assert_eq!(summarize_next_edits(&[]).e2e_ms.map(|p| p.p50), None);
    }

    #[test]
    fn cold_events_show_the_tokens_they_evaluated_beside_the_time_the_prompt_rate_says_that_takes() {
        let request = |e2e_ms: f64, n_evaluated: usize, empty: bool, ready_ms: Option<f64>| Sample {
            kind: EventKind::SwitchFirst,
            ttft_ms: e2e_ms,
            e2e_ms,
            n_prompt_tokens: Some(n_evaluated),
            n_reused_tokens: Some(0),
            n_evaluated_tokens: Some(n_evaluated),
            cache: Some("cold".into()),
            n_indexed_files: None,
            empty,
            ready_ms,
            error: None,
        };
        let samples =
            [request(30.0, 12, false, None), request(1210.0, 300, false, None), request(9.0, 1500, true, Some(5100.0))];
        let text = render_cold(&samples, Some(300.0));
        assert_eq!(
            text,
            "cold events (evaluated 256+ tokens; measured prompt rate 300 tokens/s):\n\
             #1    switch (first)   e2e   1210.0 ms  shown   1210.0 ms  evaluated   300 tokens  bound   1000.0 ms\n\
             #2    switch (first)   e2e      9.0 ms  shown   5100.0 ms  evaluated  1500 tokens  bound   5000.0 ms\n"
        );
        assert!(render_cold(&samples, None).contains("bound        - ms"));
    }
}
