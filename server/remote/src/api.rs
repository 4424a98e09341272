//! The two APIs: what nib asks each kind of server, and how it reads the answers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::TextGuard;
use crate::http::{Events, HttpError, Server};
use crate::vocab::{Estimate, ServerVocabulary};
use nib_engine::{
    Alternative, BackendKind, GenerateRequest, ModelInfo, PromptText, StopReason, TokenScore, Vocabulary,
};
use nib_vocab::TokenId;

/// OpenAI's API takes at most this many stop sequences; the rest are applied as the text comes.
const OPENAI_MAX_STOPS: usize = 4;

/// A server that answered, and what it runs.
pub struct Api {
    kind: BackendKind,
    server: Server,
    /// The model name OpenAI-compatible servers want in every request.
    model: String,
    /// llama-server fills in the middle itself (`/infill`): its model has FIM tokens.
    infill: bool,
    /// Whether the server gives log-probabilities of the prompt's tokens (`score`), or why not.
    scoring: Result<(), String>,
}

/// A piece of a streamed answer; the last one says how it ended.
pub struct Piece {
    pub text: String,
    /// The natural log-probabilities of the tokens that make up `text`, where the server gives them.
    pub logprobs: Vec<f32>,
    pub end: Option<End>,
}

/// How an answer ended, with the server's figures where it gives them.
#[derive(Debug, Clone, Copy)]
pub struct End {
    pub reason: StopReason,
    pub n_prompt: Option<usize>,
    pub n_reused: Option<usize>,
    pub n_evaluated: Option<usize>,
    pub n_generated: Option<usize>,
}

impl End {
    fn new(reason: StopReason) -> End {
        End { reason, n_prompt: None, n_reused: None, n_evaluated: None, n_generated: None }
    }
}

type Connected = (Api, ModelInfo, Arc<dyn Vocabulary>);

impl Api {
    /// Asks the server what it runs.
    pub async fn connect(
        server: Server,
        kind: BackendKind,
        model: &str,
        vocabulary: Option<&Path>,
        (runtime, guard): (tokio::runtime::Handle, Option<TextGuard>),
    ) -> Result<Connected, HttpError> {
        match kind {
            BackendKind::Openai => openai(server, model, vocabulary).await,
            _ => llama_server(server, runtime, guard).await,
        }
    }

    pub fn url(&self) -> &str {
        self.server.base()
    }

    pub fn scoring(&self) -> Result<(), String> {
        self.scoring.clone()
    }

    /// Scores a span with the completions API's `echo` and `logprobs`: the prompt's tokens come back with
    /// their log-probabilities and the most likely tokens at each place (vLLM, OpenAI's legacy models).
    pub async fn score(&self, context: &str, span: &str, top_k: usize) -> Result<Vec<TokenScore>, HttpError> {
        let body = echo_body(&self.model, &format!("{context}{span}"), top_k);
        let answer = self.server.post("/completions", &body).await?;
        Ok(echoed(&answer["choices"][0]["logprobs"], (context, span)))
    }

    /// Starts a job's request; its answer streams.
    pub async fn generate(&self, request: &GenerateRequest) -> Result<Stream, HttpError> {
        let (path, body) = match self.kind {
            BackendKind::Openai => self.openai_body(request),
            _ => self.llama_body(request),
        };
        let events = self.server.stream(path, &body).await?;
        Ok(Stream { events, openai: self.kind == BackendKind::Openai, finished: None })
    }

    fn llama_body(&self, request: &GenerateRequest) -> (&'static str, Value) {
        let mut body = json!({
            "n_predict": request.max_tokens,
            "temperature": 0.0,
            "top_k": 1,
            "stream": true,
            "cache_prompt": true,
            "stop": request.stop,
            // Each generated token's probability, for the suggestion's confidence (before sampling, so the raw
            // model's: `post_sampling_probs` stays off).
            "n_probs": 1,
        });
        if let Some(grammar) = &request.grammar {
            body["grammar"] = json!(grammar.as_ref());
        }
        if let Some(sampling) = request.sampling {
            body["temperature"] = json!(sampling.temperature);
            body["top_k"] = json!(sampling.top_k);
            body["top_p"] = json!(sampling.top_p);
            body["seed"] = json!(sampling.seed);
        }
        let path = match &request.text {
            PromptText::Completion { infill: Some(infill), .. } if self.infill => {
                body["input_prefix"] = json!(infill.prefix);
                body["input_suffix"] = json!(infill.suffix);
                body["input_extra"] =
                    infill.extra.iter().map(|(path, text)| json!({"filename": path, "text": text})).collect();
                "/infill"
            }
            text => {
                body["prompt"] = prompt(&request.prompt, text);
                "/completion"
            }
        };
        (path, body)
    }

    fn openai_body(&self, request: &GenerateRequest) -> (&'static str, Value) {
        let mut body = json!({
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": 0.0,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        // OpenAI's API has no top-k.
        if let Some(sampling) = request.sampling {
            body["temperature"] = json!(sampling.temperature);
            body["top_p"] = json!(sampling.top_p);
            body["seed"] = json!(sampling.seed);
        }
        let stops: Vec<&String> = request.stop.iter().take(OPENAI_MAX_STOPS).collect();
        if !stops.is_empty() {
            body["stop"] = json!(stops);
        }
        match &request.text {
            PromptText::Chat { system, user } => {
                body["messages"] = json!([{"role": "system", "content": system}, {"role": "user", "content": user}]);
                if let Some(schema) = &request.schema {
                    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema.as_ref(), "strict": true}});
                }
                ("/chat/completions", body)
            }
            // The server's vocabulary is its own: nib's token ids (counted with another, or estimated) mean nothing
            // to it.
            PromptText::Completion { text, .. } => {
                body["prompt"] = json!(text);
                body["logprobs"] = json!(1);
                ("/completions", body)
            }
            PromptText::None => {
                body["prompt"] = json!(request.prompt);
                body["logprobs"] = json!(1);
                ("/completions", body)
            }
        }
    }
}

/// The prompt as tokens where they are the server's own, else as text: a negative id is a stand-in for a FIM
/// token or an estimate (counted while the server's tokenizer did not answer).
fn prompt(tokens: &[TokenId], text: &PromptText) -> Value {
    match text {
        PromptText::Completion { text, .. } if tokens.iter().any(|&t| t < 0) || tokens.is_empty() => json!(text),
        _ => json!(tokens),
    }
}

async fn llama_server(
    server: Server,
    runtime: tokio::runtime::Handle,
    guard: Option<TextGuard>,
) -> Result<Connected, HttpError> {
    let props = server.get("/props").await?;
    let n_ctx = props["default_generation_settings"]["n_ctx"].as_u64().unwrap_or(0) as u32;
    let path = props["model_path"].as_str().unwrap_or_default().to_owned();
    let alias = props["model_alias"].as_str().filter(|a| !a.is_empty());
    let name = alias.map(str::to_owned).unwrap_or_else(|| file_stem(&path));
    // Whether the model adds a BOS token: the server's tokenizer says, with and without special tokens.
    let count = |add_special: bool| {
        let server = server.clone();
        async move {
            let answer = server.post("/tokenize", &json!({"content": "a", "add_special": add_special})).await?;
            Ok::<Vec<TokenId>, HttpError>(
                answer["tokens"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_i64)
                    .map(|t| t as TokenId)
                    .collect(),
            )
        }
    };
    let (with, without) = (count(true).await?, count(false).await?);
    let bos = (with.len() > without.len()).then(|| with[0]);
    // `/infill` refuses models without FIM tokens; a one-token answer is cheap.
    let infill = match server.post("/infill", &json!({"input_prefix": "", "input_suffix": "", "n_predict": 1})).await {
        Ok(_) => true,
        Err(HttpError::Status { .. }) => false,
        Err(other) => return Err(other),
    };
    let info = ModelInfo {
        path: PathBuf::from(&path),
        id: format!("llama-server:{name}:{path}"),
        name,
        architecture: "remote".into(),
        n_bytes: 0,
        n_ctx_train: n_ctx,
        has_fim_tokens: infill,
        ..ModelInfo::default()
    };
    let vocabulary = Arc::new(ServerVocabulary::new(server.clone(), runtime, (bos, infill), guard));
    let scoring =
        Err("llama-server gives the log-probabilities of the tokens it generates, not of the prompt's".into());
    Ok((Api { kind: BackendKind::LlamaServer, server, model: String::new(), infill, scoring }, info, vocabulary))
}

async fn openai(server: Server, model: &str, vocabulary: Option<&Path>) -> Result<Connected, HttpError> {
    let models = server.get("/models").await?;
    let listed: Vec<&Value> = models["data"].as_array().into_iter().flatten().collect();
    let ids: Vec<&str> = listed.iter().filter_map(|m| m["id"].as_str()).collect();
    let name = match (model, ids.first()) {
        ("", Some(first)) => first.to_string(),
        ("", None) => {
            return Err(HttpError::Broken {
                url: server.base().to_owned(),
                reason: "the server lists no model; set engine.remote_model".into(),
            });
        }
        (named, _) if !ids.is_empty() && !ids.contains(&named) => {
            return Err(HttpError::Broken {
                url: server.base().to_owned(),
                reason: format!("the server does not serve {named:?}; it serves {}", ids.join(", ")),
            });
        }
        (named, _) => named.to_owned(),
    };
    let n_ctx = listed.iter().find(|m| m["id"] == name.as_str()).and_then(|m| m["max_model_len"].as_u64());
    let tokenizer: Arc<dyn Vocabulary> = match vocabulary {
        Some(path) => {
            let path = path.to_path_buf();
            let loaded = tokio::task::spawn_blocking(move || nib_engine::load_tokenizer(&path)).await;
            match loaded {
                Ok(Ok(tokenizer)) => Arc::new(tokenizer),
                Ok(Err(err)) => {
                    return Err(HttpError::Broken { url: server.base().to_owned(), reason: err.to_string() });
                }
                Err(err) => return Err(HttpError::Broken { url: server.base().to_owned(), reason: err.to_string() }),
            }
        }
        None => Arc::new(Estimate),
    };
    let info = ModelInfo {
        path: vocabulary.map(Path::to_path_buf).unwrap_or_default(),
        id: format!("openai:{name}"),
        name: name.clone(),
        architecture: "remote".into(),
        n_bytes: 0,
        n_ctx_train: n_ctx.unwrap_or(0) as u32,
        has_fim_tokens: false,
        ..ModelInfo::default()
    };
    let scoring = probe_scoring(&server, &name).await;
    Ok((Api { kind: BackendKind::Openai, server, model: name, infill: false, scoring }, info, tokenizer))
}

/// A prompt echoed with its tokens' log-probabilities and `top_k` alternatives at each, and one token after it.
fn echo_body(model: &str, prompt: &str, top_k: usize) -> Value {
    json!({"model": model, "prompt": prompt, "max_tokens": 1, "temperature": 0.0, "echo": true, "logprobs": top_k.max(1)})
}

/// Whether an OpenAI-compatible server scores prompts (`echo` with `logprobs`): asked once, with a line of code.
async fn probe_scoring(server: &Server, model: &str) -> Result<(), String> {
    let (context, span) = ("x = 1\n", "y = x + 1\n");
    let body = echo_body(model, &format!("{context}{span}"), 1);
    let answer = server.post("/completions", &body).await.map_err(|e| match e {
        HttpError::Status { status, .. } => {
            format!("the server refused to score a prompt (`echo` with `logprobs`: HTTP {status})")
        }
        other => format!("the server did not score a prompt: {other}"),
    })?;
    let scores = echoed(&answer["choices"][0]["logprobs"], (context, span));
    if scores.is_empty() {
        return Err("the server gives no log-probabilities for the prompt (`echo` with `logprobs`)".into());
    }
    Ok(())
}

/// The span's tokens in an echoed answer's `logprobs` (the completions API's shape: `tokens`, `token_logprobs`,
/// `top_logprobs`, `text_offset` in characters): those that hold some of `span` (what follows it was generated).
fn echoed(logprobs: &Value, (context, span): (&str, &str)) -> Vec<TokenScore> {
    let from = context.chars().count();
    let end = from + span.chars().count();
    let column = |key: &str| logprobs[key].as_array().cloned().unwrap_or_default();
    let (tokens, values, tops, offsets) =
        (column("tokens"), column("token_logprobs"), column("top_logprobs"), column("text_offset"));
    let mut scores = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let offset = offsets.get(i).and_then(Value::as_u64).map(|o| o as usize);
        let (Some(text), Some(offset)) = (token.as_str(), offset) else { continue };
        if offset + text.chars().count() <= from || offset >= end {
            continue;
        }
        // The first token of a prompt has no log-probability (null): nothing precedes it.
        let Some(logprob) = values.get(i).and_then(Value::as_f64) else { continue };
        let mut top: Vec<Alternative> = tops
            .get(i)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(text, lp)| Some(Alternative { text: text.clone(), logprob: lp.as_f64()? as f32 }))
            .collect();
        top.sort_by(|a, b| b.logprob.total_cmp(&a.logprob));
        scores.push(TokenScore { text: text.to_owned(), logprob: logprob as f32, top });
    }
    scores
}

fn file_stem(path: &str) -> String {
    Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "unknown".into())
}

/// A streamed answer, read as pieces of text.
pub struct Stream {
    events: Events,
    openai: bool,
    /// OpenAI-compatible servers say why they stopped, then send their figures.
    finished: Option<End>,
}

impl Stream {
    /// The next piece; `None` when the stream ended without saying it was done (cut short).
    pub async fn next(&mut self) -> Result<Option<Piece>, HttpError> {
        loop {
            let Some(event) = self.events.next().await? else {
                let end = self.finished.take();
                return Ok(end.map(|end| Piece { text: String::new(), logprobs: Vec::new(), end: Some(end) }));
            };
            let piece = if self.openai { self.openai_piece(&event) } else { Some(llama_piece(&event)) };
            if let Some(piece) = piece {
                return Ok(Some(piece));
            }
        }
    }

    fn openai_piece(&mut self, event: &Value) -> Option<Piece> {
        let choice = &event["choices"][0];
        let text = choice["text"].as_str().or(choice["delta"]["content"].as_str()).unwrap_or_default().to_owned();
        if let Some(reason) = choice["finish_reason"].as_str() {
            let reason = if reason == "length" { StopReason::MaxTokens } else { StopReason::EndOfGeneration };
            self.finished = Some(End::new(reason));
        }
        let usage = &event["usage"];
        if let Some(end) = self.finished.as_mut().filter(|_| usage.is_object()) {
            end.n_prompt = usage["prompt_tokens"].as_u64().map(|n| n as usize);
            end.n_generated = usage["completion_tokens"].as_u64().map(|n| n as usize);
            end.n_reused = usage["prompt_tokens_details"]["cached_tokens"].as_u64().map(|n| n as usize);
        }
        (!text.is_empty()).then(|| Piece { text, logprobs: openai_logprobs(&choice["logprobs"]), end: None })
    }
}

/// The generated tokens' log-probabilities in an OpenAI-compatible answer: the completions API's
/// `token_logprobs` (vLLM, OpenAI), or the chat API's `content` list (llama-server answers both APIs so).
fn openai_logprobs(logprobs: &Value) -> Vec<f32> {
    match logprobs["token_logprobs"].as_array() {
        Some(values) => values.iter().filter_map(Value::as_f64).map(|lp| lp as f32).collect(),
        None => llama_logprobs(&logprobs["content"]),
    }
}

/// llama-server's list of token probabilities (`completion_probabilities`, or `logprobs.content` on its
/// OpenAI-compatible API): `logprob` in each entry, or `prob` in versions before it.
fn llama_logprobs(entries: &Value) -> Vec<f32> {
    let entry = |e: &Value| match e["logprob"].as_f64() {
        Some(lp) => Some(lp as f32),
        None => e["prob"].as_f64().map(|p| p.ln() as f32),
    };
    entries.as_array().into_iter().flatten().filter_map(entry).collect()
}

fn llama_piece(event: &Value) -> Piece {
    let text = event["content"].as_str().unwrap_or_default().to_owned();
    let logprobs = llama_logprobs(&event["completion_probabilities"]);
    let end = (event["stop"] == true).then(|| {
        let reason = match event["stop_type"].as_str() {
            Some("limit") => StopReason::MaxTokens,
            Some("word") => StopReason::StopSequence,
            _ => StopReason::EndOfGeneration,
        };
        let timings = &event["timings"];
        let count = |v: &Value| v.as_u64().map(|n| n as usize);
        End {
            reason,
            n_prompt: count(&event["tokens_evaluated"]),
            n_reused: count(&timings["cache_n"]),
            n_evaluated: count(&timings["prompt_n"]),
            n_generated: count(&timings["predicted_n"]),
        }
    });
    Piece { text, logprobs, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_server_pieces_end_with_its_figures() {
        let piece = llama_piece(&json!({"content": "x", "stop": false}));
        assert_eq!(piece.text, "x");
        assert!(piece.end.is_none());
        let last = llama_piece(&json!({"content": "", "stop": true, "stop_type": "limit", "tokens_evaluated": 90,
            "timings": {"cache_n": 80, "prompt_n": 10, "predicted_n": 16}}));
        let end = last.end.unwrap();
        assert_eq!(end.reason, StopReason::MaxTokens);
        assert_eq!(
            (end.n_prompt, end.n_reused, end.n_evaluated, end.n_generated),
            (Some(90), Some(80), Some(10), Some(16))
        );
    }

    #[test]
    fn generated_log_probabilities_are_read_in_each_servers_format() {
        let native = llama_piece(&json!({"content": "ab", "stop": false,
            "completion_probabilities": [{"id": 1, "token": "a", "logprob": -0.5, "top_logprobs": []},
                                         {"id": 2, "token": "b", "logprob": -1.5, "top_logprobs": []}]}));
        assert_eq!(native.logprobs, [-0.5, -1.5]);
        let older = llama_piece(&json!({"content": "a", "completion_probabilities": [{"content": "a", "prob": 0.5}]}));
        assert!((older.logprobs[0] - 0.5f32.ln()).abs() < 1e-6);
        let vllm = json!({"tokens": ["a"], "token_logprobs": [-0.25], "top_logprobs": [{"a": -0.25}]});
        assert_eq!(openai_logprobs(&vllm), [-0.25]);
        let llama_v1 = json!({"content": [{"id": 1, "token": "a", "logprob": -2.0, "bytes": [97]}]});
        assert_eq!(openai_logprobs(&llama_v1), [-2.0]);
        assert!(openai_logprobs(&Value::Null).is_empty());
    }

    #[test]
    fn an_echoed_prompt_gives_the_spans_scores_and_alternatives() {
        // vLLM's answer to `echo` with `logprobs: 2` for "a = 1\nb" and one generated token.
        let logprobs = json!({
            "tokens": ["a", " =", " 1", "\n", "b", " ="],
            "token_logprobs": [null, -1.0, -2.0, -0.1, -3.0, -0.2],
            "top_logprobs": [null, {" =": -1.0, " +": -2.0}, {" 1": -2.0, " 0": -1.5}, {"\n": -0.1},
                             {"b": -3.0, "c": -0.5}, {" =": -0.2}],
            "text_offset": [0, 1, 3, 5, 6, 7],
        });
        let scores = echoed(&logprobs, ("a = ", "1\nb"));
        let texts: Vec<&str> = scores.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, [" 1", "\n", "b"], "from the span's start to its end, not what was generated");
        assert_eq!(scores[2].logprob, -3.0);
        assert_eq!(scores[2].top[0], Alternative { text: "c".into(), logprob: -0.5 });
        assert!(echoed(&Value::Null, ("", "x")).is_empty());
    }

    fn api(kind: BackendKind) -> Api {
        let server = Server::new("http://127.0.0.1:9", None, std::time::Duration::from_secs(1)).unwrap();
        Api { kind, server, model: "m".into(), infill: false, scoring: Ok(()) }
    }

    fn request(sampling: Option<nib_engine::Sampling>) -> GenerateRequest {
        GenerateRequest {
            prompt: vec![1, 2],
            max_tokens: 8,
            stop: Vec::new(),
            cancel: nib_engine::CancelToken::default(),
            owner: None,
            priority: nib_engine::PriorityHandle::new(nib_engine::Priority::Foreground),
            grammar: None,
            schema: None,
            text: PromptText::Completion { text: "a".into(), infill: None },
            sampling,
        }
    }

    #[test]
    fn requests_are_greedy_unless_they_sample() {
        let sampling = nib_engine::Sampling { temperature: 0.8, top_k: 40, top_p: 0.95, seed: 7 };
        let (_, greedy) = api(BackendKind::LlamaServer).llama_body(&request(None));
        assert_eq!((&greedy["temperature"], &greedy["top_k"], greedy.get("seed")), (&json!(0.0), &json!(1), None));
        let (_, sampled) = api(BackendKind::LlamaServer).llama_body(&request(Some(sampling)));
        assert_eq!((&sampled["top_k"], &sampled["seed"]), (&json!(40), &json!(7)));
        assert!(sampled["temperature"].as_f64().is_some_and(|t| (t - 0.8).abs() < 1e-6));
        let (_, greedy) = api(BackendKind::Openai).openai_body(&request(None));
        assert_eq!((&greedy["temperature"], greedy.get("seed")), (&json!(0.0), None));
        let (_, sampled) = api(BackendKind::Openai).openai_body(&request(Some(sampling)));
        assert_eq!((&sampled["seed"], sampled.get("top_k")), (&json!(7), None));
        assert!(sampled["top_p"].as_f64().is_some_and(|p| (p - 0.95).abs() < 1e-6));
    }

    #[test]
    fn prompts_go_as_tokens_unless_they_hold_stand_ins() {
        let text = PromptText::Completion { text: "a".into(), infill: None };
        assert_eq!(prompt(&[1, 2], &text), json!([1, 2]));
        assert_eq!(prompt(&[1, -0x100], &text), json!("a"));
        assert_eq!(prompt(&[1, 2], &PromptText::None), json!([1, 2]));
    }
}
