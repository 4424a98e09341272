//! Remote engines end to end: `nib serve` (and `nib review`) over a real llama-server on the default model, its
//! native API and its OpenAI-compatible `/v1`, and the same server broken on purpose by the fault proxy.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nib_bench::faults::{Fault, FaultProxy, refused_url};
use nib_bench::llama_process::LlamaServer;
use nib_bench::lsp_client::{LspClient, inline_params};
use serde_json::{Value, json};

use crate::support::{fresh_home, init_with, model_path, nib_at, shut_down, textwrap_with, wait_ready};

const URI: &str = "file:///work/textwrap.py";
/// A cold prompt on a busy two-core machine takes seconds to evaluate, and llama-server answers nothing
/// until it has.
const SLOW_SERVER_MS: u64 = 120_000;

fn llama_server(extra_args: &[&str]) -> LlamaServer {
    LlamaServer::start(&model_path(), extra_args).unwrap_or_else(|e| panic!("{e}"))
}

/// `nib serve --backend BACKEND --engine-url URL`, initialized with `options` (no deadline by default).
fn serve(backend: &str, url: &str, options: Value, env: &[(&str, &str)]) -> LspClient {
    let mut cmd = nib_at(&fresh_home());
    cmd.args(["serve", "--backend", backend, "--engine-url", url]).envs(env.iter().copied());
    let mut client = LspClient::spawn(cmd).expect("start nib serve");
    let mut defaults = json!({"completion": {"deadline_ms": 600_000, "partial_after_ms": 0, "prefetch": false},
        "engine": {"timeout_ms": SLOW_SERVER_MS}});
    merge(&mut defaults, options);
    init_with(&mut client, json!({}), defaults);
    client
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                merge(into.entry(key).or_insert(Value::Null), value);
            }
        }
        (into, from) => *into = from,
    }
}

/// textwrap.py (~490 lines) and a cursor in the middle of it: a prompt of real size.
fn real_file() -> (String, u32, u32) {
    let (text, line) = textwrap_with("        return self.");
    (text, line, 20)
}

fn explicit(line: u32, character: u32) -> Value {
    let mut params = inline_params(URI, line, character);
    params["context"]["triggerKind"] = json!(1);
    params
}

/// The whole response to a request: its result or its error.
fn ask(client: &mut LspClient, method: &str, params: Value) -> Value {
    let id = client.request(method, params).unwrap();
    client.response(id).unwrap()
}

fn insert_text(result: &Value) -> &str {
    result["items"][0]["insertText"].as_str().unwrap_or_default()
}

/// llama-server's one slot: whether it is generating, and how many tokens it has written for its task.
fn slot(server: &LlamaServer) -> (bool, u64) {
    let slots = nib_bench::llama_server::get_json(&server.url(), "/slots").expect("llama-server's /slots");
    let slot = &slots[0];
    (slot["is_processing"] == true, slot["next_token"][0]["n_decoded"].as_u64().unwrap_or(0))
}

#[test]
fn llama_server_completes_a_real_file_types_through_the_cache_and_stops_generating_when_outdated() {
    let server = llama_server(&[]);
    let proxy = FaultProxy::start(&server.url()).unwrap();
    let mut client = serve("llama-server", &proxy.url(), json!({}), &[]);
    wait_ready(&mut client);
    let status = client.status().unwrap();
    assert_eq!(status["backend"]["destination"], proxy.url(), "nib/status says where prompts go: {status}");

    let (text, line, col) = real_file();
    client.open(URI, "python", &text).unwrap();
    let result = client.call("textDocument/inlineCompletion", explicit(line, col)).unwrap();
    let suggestion = insert_text(&result).to_owned();
    let engine = client.status().unwrap()["engine"].clone();
    assert!(!suggestion.is_empty(), "an explicit request on a real file answered empty: {result}\n{engine}");
    assert!(engine["last"]["n_prompt_tokens"].as_u64() > Some(1000), "not a prompt of real size: {engine}");

    // Typing the suggestion's first character is answered from the completion cache: no request to the server.
    let asked = proxy.requests("/completion");
    let typed: String = suggestion.chars().take(1).collect();
    client.insert(URI, 2, line, col, &typed).unwrap();
    let result = client.call("textDocument/inlineCompletion", inline_params(URI, line, col + 1)).unwrap();
    let rest: String = suggestion.chars().skip(1).collect();
    assert!(!rest.is_empty() && insert_text(&result).starts_with(rest.trim_end()), "{result} after {suggestion:?}");
    assert_eq!(proxy.requests("/completion"), asked, "typing through the suggestion asked the server");
    assert!(client.status().unwrap()["engine"]["n_cache_answers"].as_u64() >= Some(1));

    // A long block is being written when an edit outdates its request: nib closes the request and the
    // server stops generating at once.
    client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"completion": {
        "max_tokens": 512, "max_lines": 500, "deadline_ms": 600_000, "partial_after_ms": 0, "prefetch": false}}}),
        )
        .unwrap();
    let block_line = text.lines().position(|l| l.trim_start().starts_with("def _handle_long_word")).unwrap() as u32;
    client.insert(URI, 3, block_line, 0, "\n").unwrap();
    let pending = client.request("textDocument/inlineCompletion", inline_params(URI, block_line, 0)).unwrap();
    let start = Instant::now();
    let generating = loop {
        let (processing, n_decoded) = slot(&server);
        if processing && n_decoded >= 4 {
            break n_decoded;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "the server never started generating");
        std::thread::sleep(Duration::from_millis(10));
    };
    client.insert(URI, 4, block_line, 0, "#").unwrap();
    let outdated = Instant::now();
    let answer = client.response(pending).unwrap();
    assert_eq!(answer["result"]["items"], json!([]), "an outdated request answers empty: {answer}");
    let (stopped_at, n_decoded) = loop {
        let (processing, n_decoded) = slot(&server);
        if !processing {
            break (outdated.elapsed(), n_decoded);
        }
        assert!(outdated.elapsed() < Duration::from_secs(10), "the server went on generating");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(stopped_at < Duration::from_secs(2), "the server stopped {stopped_at:?} after the edit");
    assert!(n_decoded < 512, "it wrote {n_decoded} tokens (from {generating} when outdated): the whole answer");
    shut_down(client);
}

#[test]
fn an_openai_compatible_server_completes_and_reviews() {
    let server = llama_server(&[]);
    let url = format!("{}/v1", server.url());
    let mut client = serve("openai", &url, json!({}), &[]);
    wait_ready(&mut client);
    let (text, line, col) = real_file();
    client.open(URI, "python", &text).unwrap();
    let result = client.call("textDocument/inlineCompletion", explicit(line, col)).unwrap();
    let status = client.status().unwrap();
    assert!(!insert_text(&result).is_empty(), "{result}\n{status}");
    // Without a tokenizer endpoint, prompts are budgeted by an estimate that errs on the short side.
    let n_prompt = status["engine"]["last"]["n_prompt_tokens"].as_u64().unwrap_or(0);
    assert!((800..=1536).contains(&n_prompt), "the server counted {n_prompt} prompt tokens: {status}");
    shut_down(client);

    // Review through /v1/chat/completions with the answer's JSON schema: valid SARIF naming the server.
    let dir = review_repo();
    let output = review(&dir, "openai", &url);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let sarif: Value = serde_json::from_slice(&output.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif.to_string().contains(&url), "the report names the server: {sarif}");
}

/// Both of llama-server's APIs give the generated tokens' log-probabilities (the OpenAI-compatible `/v1` when
/// asked for `logprobs`, the native one for `n_probs`): `nib complete` reports the suggestion's confidence. Neither
/// scores the prompt's tokens, so review by surprise is reported unavailable with them, and why.
#[test]
fn llama_servers_apis_give_generated_log_probabilities_but_not_the_prompts() {
    let server = llama_server(&[]);
    let proxy = FaultProxy::start(&server.url()).unwrap();
    let dir = fresh_home();
    let (text, line, col) = real_file();
    let file = dir.join("textwrap.py");
    std::fs::write(&file, text).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(&config, format!("[engine]\ntimeout_ms = {SLOW_SERVER_MS}\n")).unwrap();
    let location = format!("{}:{}:{}", file.display(), line + 1, col + 1);
    for (backend, url) in [("openai", format!("{}/v1", proxy.url())), ("llama-server", proxy.url())] {
        let output = nib_at(&dir)
            .args(["complete", "--json", "--backend", backend, "--engine-url", &url, &location])
            .env("NIB_CONFIG", &config)
            .output()
            .expect("run nib complete");
        assert!(output.status.success(), "{backend}: {}", String::from_utf8_lossy(&output.stderr));
        let answer: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        let confidence = answer["confidence"].as_f64().unwrap_or(-1.0);
        assert!(confidence > 0.0 && confidence <= 1.0, "{backend}: the log-probabilities arrived: {answer}");
    }
    let wire = proxy.wire();
    let asked = |path: &str, field: &str| wire.iter().any(|r| r.contains(path) && r.contains(field));
    assert!(asked("POST /v1/completions", "\"logprobs\":1"), "the OpenAI API is asked for log-probabilities");
    assert!(asked("POST /infill", "\"n_probs\":1") || asked("POST /completion ", "\"n_probs\":1"));

    for (backend, url) in [("llama-server", server.url()), ("openai", format!("{}/v1", server.url()))] {
        let mut client = serve(backend, &url, json!({}), &[]);
        wait_ready(&mut client);
        let status = client.status().unwrap();
        assert_eq!(status["capabilities"]["surprise"], false, "{backend}: {status}");
        let why = status["capabilities"]["surprise_unavailable"].as_str().unwrap_or_default();
        assert!(why.contains("prompt"), "{backend}: says why: {status}");
        shut_down(client);
    }
}

/// A git work tree holding one file with a seeded bug.
fn review_repo() -> std::path::PathBuf {
    let dir = fresh_home().join("repo");
    std::fs::create_dir_all(&dir).unwrap();
    let git = |args: &[&str]| Command::new("git").args(args).current_dir(&dir).output().expect("git");
    git(&["init", "-q"]);
    std::fs::write(
        dir.join("users.py"),
        "import sqlite3\n\n\ndef find_user(db, name):\n    cur = db.cursor()\n    \
         cur.execute(\"SELECT * FROM users WHERE name = '\" + name + \"'\")\n    return cur.fetchone()\n\n\n\
         def average(values):\n    return sum(values) / len(values)\n",
    )
    .unwrap();
    dir
}

fn review(dir: &Path, backend: &str, url: &str) -> std::process::Output {
    let config = dir.parent().unwrap().join("config.toml");
    std::fs::write(&config, format!("[engine]\ntimeout_ms = {SLOW_SERVER_MS}\n")).unwrap();
    nib_at(dir.parent().unwrap())
        .args(["review", "--backend", backend, "--engine-url", url, "--format", "sarif", "users.py"])
        .env("NIB_CONFIG", &config)
        .current_dir(dir)
        .output()
        .expect("run nib review")
}

#[test]
fn nib_review_with_llama_server_writes_valid_sarif_placed_by_quotes() {
    let server = llama_server(&[]);
    let dir = review_repo();
    let output = review(&dir, "llama-server", &server.url());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let sarif: Value = serde_json::from_slice(&output.stdout).expect("SARIF is JSON");
    let run = &sarif["runs"][0];
    let results = run["results"].as_array().expect("results");
    assert!(!results.is_empty(), "the grammar-constrained review found nothing: {sarif}");
    let text = std::fs::read_to_string(dir.join("users.py")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for result in results {
        let region = &result["locations"][0]["physicalLocation"]["region"];
        let line = region["startLine"].as_u64().expect("a start line") as usize;
        assert!(line >= 1 && line <= lines.len(), "{result}");
        let snippet = region["snippet"]["text"].as_str().unwrap_or_default();
        assert!(snippet.is_empty() || text.contains(snippet), "a finding's quote is not in the file: {result}");
    }
    assert!(sarif.to_string().contains(&server.url()), "the report names the server: {sarif}");

    // The same over LSP: saving the file reviews it on the server, and its findings become diagnostics placed
    // by their quotes.
    let mut client = serve("llama-server", &server.url(), json!({"review": {"on_save": true}}), &[]);
    wait_ready(&mut client);
    let uri = format!("file://{}", dir.join("users.py").display());
    client.open(&uri, "python", &text).unwrap();
    client.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}})).unwrap();
    let published = client
        .wait_for("publishDiagnostics", |m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["diagnostics"] != json!([])
        })
        .unwrap();
    for diagnostic in published["params"]["diagnostics"].as_array().unwrap() {
        let line = diagnostic["range"]["start"]["line"].as_u64().unwrap() as usize;
        assert!(line < lines.len() && !lines[line].trim().is_empty(), "{diagnostic}");
        assert_eq!(diagnostic["source"], "nib");
    }
    shut_down(client);
}

#[test]
fn a_server_that_is_not_there_is_reported_and_nothing_hangs() {
    let url = refused_url().unwrap();
    let mut client = serve("llama-server", &url, json!({}), &[]);
    let start = Instant::now();
    let status = loop {
        let status = client.status().unwrap();
        if status["model"]["state"] == "failed" {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never reported: {status}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let error = status["model"]["error"].as_str().unwrap_or_default();
    assert!(error.contains(&url) && error.contains("cannot connect"), "{status}");
    assert!(status["backend"]["problem"].as_str().is_some_and(|p| p.contains(&url)), "{status}");
    client.open(URI, "python", "import os\n").unwrap();
    let asked = Instant::now();
    let answer = ask(&mut client, "textDocument/inlineCompletion", explicit(1, 0));
    assert!(asked.elapsed() < Duration::from_secs(2), "the request waited {:?}", asked.elapsed());
    let empty = answer["result"]["items"] == json!([]);
    assert!(empty || answer["error"]["message"].as_str().is_some_and(|m| m.contains(&url)), "{answer}");
    shut_down(client);
}

#[test]
fn every_fault_leaves_nib_answering_and_reporting_and_it_comes_back_when_the_server_does() {
    let server = llama_server(&[]);
    let proxy = FaultProxy::start(&server.url()).unwrap();
    let timeout_ms = 3_000;
    let mut client = serve("llama-server", &proxy.url(), json!({"engine": {"timeout_ms": timeout_ms}}), &[]);
    wait_ready(&mut client);
    let text = "def greet(name):\n    return 'Hello, ' + name\n\n\ndef farewell(name):\n    return \n";
    client.open(URI, "python", text).unwrap();
    // Each request asks about a new last line, so that neither nib's completion cache nor a job of an earlier
    // request answers it; the server's prompt cache keeps what comes before, so healthy requests stay quick.
    let mut version = 1;
    let mut healthy = |client: &mut LspClient| {
        version += 1;
        client.insert(URI, version, 5, 11, &format!("{version} + ")).unwrap();
        ask(client, "textDocument/inlineCompletion", explicit(5, 11 + format!("{version} + ").len() as u32))
    };
    let warm = healthy(&mut client);
    assert!(warm.get("result").is_some(), "{warm}");

    let faults = [
        ("stall", Fault::Stall),
        ("reset", Fault::Reset),
        ("HTTP 500", Fault::Status(500)),
        ("garbage", Fault::Garbage),
        ("truncated", Fault::Truncate { after_bytes: 150 }),
        ("stall mid-stream", Fault::StallAfter { after_bytes: 150 }),
    ];
    for (name, fault) in faults {
        proxy.set("/completion", fault);
        let asked = Instant::now();
        let answer = healthy(&mut client);
        let waited = asked.elapsed();
        assert!(waited < Duration::from_millis(timeout_ms + 3_000), "{name}: answered after {waited:?}");
        let answered_empty = answer["result"]["items"] == json!([]);
        assert!(answer.get("error").is_some() || answered_empty, "{name}: {answer}");
        let status = client.status().unwrap();
        let problem = status["backend"]["problem"].as_str().unwrap_or_default();
        assert!(problem.contains(&proxy.url()), "{name}: nib/status does not say what is wrong: {status}");
        // Requests fail at once while nib backs off.
        if status["backend"]["retry_in_ms"].as_u64().is_some_and(|ms| ms > 200) {
            let asked = Instant::now();
            let answer = healthy(&mut client);
            assert!(asked.elapsed() < Duration::from_millis(500), "{name}: backing off took {:?}", asked.elapsed());
            assert!(answer.get("error").is_some(), "{name}: {answer}");
        }

        // Healed: once the back-off has passed, the next request reaches the server again.
        proxy.clear();
        let start = Instant::now();
        loop {
            let status = client.status().unwrap();
            if status["backend"]["retry_in_ms"].is_null() {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(40), "{name}: still backing off: {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let answer = healthy(&mut client);
        assert!(answer.get("result").is_some(), "{name}: not back after healing: {answer}");
        let status = client.status().unwrap();
        assert!(status["backend"]["problem"].is_null(), "{name}: the problem stays after a success: {status}");
    }
    // A slow stream is slow, not broken.
    proxy.set("/completion", Fault::Slow { delay: Duration::from_millis(30) });
    let answer = healthy(&mut client);
    assert!(answer.get("result").is_some(), "a slow stream failed: {answer}");
    shut_down(client);
}

#[test]
fn the_token_reaches_the_server_and_never_the_logs() {
    const TOKEN: &str = "nib-e2e-8d1f0c2a-token";
    let server = llama_server(&["--api-key", TOKEN]);
    let env = [("NIB_E2E_TOKEN", TOKEN), ("NIB_LOG", "debug")];
    let mut client = serve("llama-server", &server.url(), json!({"engine": {"api_key_env": "NIB_E2E_TOKEN"}}), &env);
    // The server refuses requests without the token: a ready model proves it was sent.
    wait_ready(&mut client);
    client.open(URI, "python", "def greet(name):\n    return \n").unwrap();
    let answer = ask(&mut client, "textDocument/inlineCompletion", explicit(1, 11));
    assert!(answer.get("result").is_some(), "{answer}");
    let status = client.status().unwrap();
    assert_eq!(status["settings"]["engine"]["api_key_env"], "NIB_E2E_TOKEN");
    assert!(!status.to_string().contains(TOKEN), "nib/status shows the token");
    let stderr = client.stderr();
    assert!(stderr.contains("DEBUG"), "the log was not at debug level");
    assert!(!stderr.contains(TOKEN), "the token is in the log");
    shut_down(client);

    // Without it, the server says 401, and nib says so.
    let mut client = serve("llama-server", &server.url(), json!({}), &[]);
    let start = Instant::now();
    let status = loop {
        let status = client.status().unwrap();
        if status["model"]["state"] == "failed" {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{status}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status["model"]["error"].as_str().is_some_and(|e| e.contains("401")), "{status}");
    shut_down(client);
}
