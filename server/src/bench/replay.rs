//! `nib bench replay`: plays an edit trace through the real LSP path (a `nib
//! serve` process over stdio) and, optionally, the same requests against a
//! llama.cpp `llama-server`, and reports both per event kind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ropey::Rope;
use serde::Serialize;
use serde_json::{Value, json};

use super::lsp_client::{ClientError, LspClient, inline_params};
use super::trace::{Event, EventKind, Position, Replay};
use super::{llama_server, quantile};
use crate::completion::postprocess::Mode;
use crate::completion::syntax_check;
use crate::config::CompletionConfig;
use crate::documents::{Column, position};
use crate::prompt::{self, Budget, Template, Tokenizer};

/// One measured request.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub kind: EventKind,
    /// Request sent to first text seen by the client.
    pub ttft_ms: f64,
    pub total_ms: f64,
    pub n_prompt_tokens: usize,
    pub n_evaluated_tokens: usize,
    /// Which cache answered (nib only).
    pub cache: Option<String>,
    /// Files in the symbol index after the answer, still growing while a workspace is indexed (nib only).
    pub n_indexed_files: Option<u64>,
    pub empty: bool,
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

/// Waits out the rest of a keystroke's interval, as a person typing would.
fn pace(replay: &Replay, event: &Event, started: Instant) {
    if event.kind == EventKind::Type {
        let interval = Duration::from_millis(replay.keystroke_ms);
        std::thread::sleep(interval.saturating_sub(started.elapsed()));
    }
}

/// Replays through `nib serve` (the binary at `nib`, with `model`), with `workspace` as its root when given
/// (it is indexed while the trace plays).
pub fn replay_nib(
    replay: &Replay,
    nib: &PathBuf,
    model: &PathBuf,
    workspace: Option<&Path>,
) -> Result<Vec<Sample>, ReplayError> {
    // A fresh NIB_HOME: snapshots from earlier runs must not flatter the figures.
    let home = std::env::temp_dir().join(format!("nib-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let mut command = Command::new(nib);
    command.arg("serve").arg("--model").arg(model).env("NIB_HOME", &home);
    let mut client = LspClient::spawn(command)?;
    let root_uri = workspace.map(|dir| format!("file://{}", dir.display()));
    client.initialize_in(root_uri.as_deref(), json!({}), Value::Null)?;
    let mut versions: BTreeMap<String, i32> = BTreeMap::new();
    let mut samples = Vec::with_capacity(replay.events.len());
    for (i, event) in replay.events.iter().enumerate() {
        let uri = uri(&event.file);
        if !versions.contains_key(&event.file) {
            client.open(&uri, language_id(&event.file), &replay.files[&event.file])?;
            versions.insert(event.file.clone(), 1);
        }
        let started = Instant::now();
        if let Some((at, text)) = &event.insert {
            let version = versions.entry(event.file.clone()).or_default();
            *version += 1;
            client.insert(&uri, *version, at.line, at.col, text)?;
        }
        let token = format!("replay-{i}");
        let mut params = inline_params(&uri, event.cursor.line, event.cursor.col);
        params["partialResultToken"] = json!(token);
        let deadlines_before = client.status()?["engine"]["n_deadline_answers"].as_u64();
        let sent = Instant::now();
        let id = client.request("textDocument/inlineCompletion", params)?;
        let is_response = |m: &Value| m["id"] == id && m.get("method").is_none();
        let (first_at, first) =
            client.wait_timed("the first text", |m| is_response(m) || m["params"]["token"] == token)?;
        let (done_at, response) =
            if is_response(&first) { (first_at, first) } else { client.wait_timed("the response", is_response)? };
        client.drain();
        let status = client.status()?;
        // An answer at the deadline has no figures yet: its job is still running.
        let at_deadline = status["engine"]["n_deadline_answers"].as_u64() != deadlines_before;
        let none = Value::Null;
        let last = if at_deadline { &none } else { &status["engine"]["last"] };
        let count = |key: &str| last[key].as_u64().unwrap_or(0) as usize;
        samples.push(Sample {
            kind: event.kind,
            ttft_ms: ms(first_at - sent),
            total_ms: ms(done_at - sent),
            n_prompt_tokens: count("n_prompt_tokens"),
            n_evaluated_tokens: count("n_evaluated_tokens"),
            cache: if at_deadline { Some("deadline".into()) } else { last["cache"].as_str().map(str::to_owned) },
            empty: response["result"]["items"].as_array().is_none_or(Vec::is_empty),
            n_indexed_files: status["n_indexed_files"].as_u64(),
        });
        pace(replay, event, started);
    }
    let (status, stderr) = client.shutdown()?;
    let _ = std::fs::remove_dir_all(&home);
    if !status.success() {
        return Err(ReplayError::Trace(format!("nib exited with {status}: {stderr}")));
    }
    Ok(samples)
}

/// Replays the same events against llama-server's `/completion`, with the prefix
/// window nib itself would send (the default model has no FIM tokens).
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
        n_context_tokens: 0,
    };
    let mut samples = Vec::with_capacity(replay.events.len());
    for event in &replay.events {
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
            total_ms: streamed.total_ms,
            n_prompt_tokens: prompt.tokens.len(),
            n_evaluated_tokens: streamed.n_evaluated.unwrap_or(0),
            cache: None,
            empty: streamed.content.trim().is_empty(),
            n_indexed_files: None,
        });
        pace(replay, event, started);
    }
    Ok(samples)
}

/// Figures for one event kind.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub kind: EventKind,
    pub n: usize,
    pub ttft_p50_ms: f64,
    pub ttft_p95_ms: f64,
    pub evaluated_p50: f64,
    /// Share of requests answered by each cache.
    pub cache_hits: BTreeMap<String, f64>,
}

/// Groups samples by event kind, plus an `all` row under `None`.
pub fn summarize(samples: &[Sample]) -> Vec<Row> {
    let mut kinds: Vec<EventKind> = samples.iter().map(|s| s.kind).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|kind| {
            let of_kind: Vec<&Sample> = samples.iter().filter(|s| s.kind == kind).collect();
            let ttft: Vec<f64> = of_kind.iter().map(|s| s.ttft_ms).collect();
            let evaluated: Vec<f64> = of_kind.iter().map(|s| s.n_evaluated_tokens as f64).collect();
            let mut cache_hits = BTreeMap::new();
            for sample in &of_kind {
                if let Some(cache) = &sample.cache {
                    *cache_hits.entry(cache.clone()).or_insert(0.0) += 1.0 / of_kind.len() as f64;
                }
            }
            Row {
                kind,
                n: of_kind.len(),
                ttft_p50_ms: quantile(&ttft, 0.5),
                ttft_p95_ms: quantile(&ttft, 0.95),
                evaluated_p50: quantile(&evaluated, 0.5),
                cache_hits,
            }
        })
        .collect()
}

/// The side-by-side table, as text.
pub fn render(name: &str, nib: &[Row], server: Option<&[Row]>) -> String {
    let mut out = format!("trace {name}\n");
    out.push_str(&format!(
        "{:<16} {:>4} {:>9} {:>9} {:>6}  {:<36}",
        "event", "n", "p50 ms", "p95 ms", "eval", "nib caches"
    ));
    if server.is_some() {
        out.push_str(&format!(" {:>9} {:>9} {:>6} {:>7} {:>7}", "srv p50", "srv p95", "eval", "p50 x", "p95 x"));
    }
    out.push('\n');
    for row in nib {
        let caches: Vec<String> = row.cache_hits.iter().map(|(k, v)| format!("{k} {:.0}%", v * 100.0)).collect();
        out.push_str(&format!(
            "{:<16} {:>4} {:>9.1} {:>9.1} {:>6.0}  {:<36}",
            row.kind.label(),
            row.n,
            row.ttft_p50_ms,
            row.ttft_p95_ms,
            row.evaluated_p50,
            caches.join(", ")
        ));
        if let Some(peer) = server.and_then(|rows| rows.iter().find(|r| r.kind == row.kind)) {
            out.push_str(&format!(
                " {:>9.1} {:>9.1} {:>6.0} {:>7.2} {:>7.2}",
                peer.ttft_p50_ms,
                peer.ttft_p95_ms,
                peer.evaluated_p50,
                row.ttft_p50_ms / peer.ttft_p50_ms.max(f64::EPSILON),
                row.ttft_p95_ms / peer.ttft_p95_ms.max(f64::EPSILON)
            ));
        }
        out.push('\n');
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
