//! Plugins end to end, with real plugin processes (`server/plugins/tests/plugin.py`, one behaviour per mode) and the
//! real default model: what a plugin edits reaches the model, the editor and the SARIF report; a plugin that
//! crashes, hangs or writes garbage leaves completions working and is reported; and with a remote backend, secrets
//! never go over the wire.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nib_bench::lsp_client::{LspClient, inline_params};
use nib_testkit::faults::FaultProxy;
use nib_testkit::llama_process::LlamaServer;
use serde_json::{Value, json};

use crate::support::{
    BUGGY, fresh_home, init_with, model_path, nib_at, off_by_one, seed_review, shut_down, textwrap_with, wait_ready,
};

const URI: &str = "file:///work/textwrap.py";

/// The test plugin with its behaviour.
fn plugin(mode: &str, hooks: &[&str], timeout_ms: u64) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/tests/plugin.py");
    json!({"name": mode, "command": ["python3", script, mode], "hooks": hooks, "timeout_ms": timeout_ms})
}

/// `plugins` as a config file's `[[plugins]]`.
fn config_file(plugins: &[Value]) -> PathBuf {
    let path = fresh_home().join("config.toml");
    let config: toml::Table = serde_json::from_value(json!({ "plugins": plugins })).unwrap();
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    path
}

/// `nib serve` on the default model with `plugins`, ready, with no deadline.
fn serve(plugins: &[Value], backend: Option<(&str, &str)>) -> LspClient {
    let mut cmd = nib_at(&fresh_home());
    cmd.arg("serve").arg("--model").arg(model_path());
    if let Some((backend, url)) = backend {
        cmd.args(["--backend", backend, "--engine-url", url]);
    }
    let mut client = LspClient::spawn(cmd).expect("start nib serve");
    let options = json!({"plugins": plugins, "completion": {"deadline_ms": 600_000, "partial_after_ms": 0,
        "prefetch": false}, "engine": {"timeout_ms": 120_000}});
    init_with(&mut client, json!({}), options);
    wait_ready(&mut client);
    client
}

/// textwrap.py with a cursor in the middle: a real file, and a completion the default model answers.
fn complete_textwrap(client: &mut LspClient) -> String {
    let (text, line) = textwrap_with("        return self.");
    client.open(URI, "python", &text).unwrap();
    let mut params = inline_params(URI, line, 20);
    params["context"]["triggerKind"] = json!(1);
    let result = client.call("textDocument/inlineCompletion", params).unwrap();
    result["items"][0]["insertText"].as_str().unwrap_or_default().to_owned()
}

fn plugin_status(client: &mut LspClient, name: &str) -> Value {
    let status = client.status().unwrap();
    let found = status["plugins"].as_array().and_then(|p| p.iter().find(|p| p["name"] == name).cloned());
    found.unwrap_or_else(|| panic!("no plugin {name} in {status}"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("nib runs")
}

#[test]
fn a_prompt_plugin_s_edit_reaches_the_model_and_its_refusal_keeps_the_prompt_from_it() {
    let dir = fresh_home();
    let file = dir.join("greet.py");
    std::fs::write(&file, "def greet(name):\n    message = 'hello ' + name\n    return \n").unwrap();
    let location = format!("{}:3:12", file.display());
    let prompt = |plugins: &[Value]| {
        let out = run(nib_at(&fresh_home())
            .env("NIB_CONFIG", config_file(plugins))
            .args(["complete", "--prompt"])
            .arg(&location)
            .arg("--model")
            .arg(model_path()));
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned(), out)
    };
    let (plain, _, _) = prompt(&[]);
    assert!(plain.contains("def greet(name):"), "{plain}");
    let (edited, stderr, _) = prompt(&[plugin("upper", &["prompt"], 2000)]);
    assert!(edited.contains("DEF GREET(NAME):\n    MESSAGE = 'HELLO ' + NAME"), "{edited}\n{stderr}");
    assert!(!edited.contains("def greet"), "{edited}");

    let (refused, stderr, out) = prompt(&[plugin("refuse", &["prompt"], 2000)]);
    assert!(!out.status.success() && refused.is_empty(), "{refused}\n{stderr}");
    assert!(stderr.contains("plugin refuse refused the prompt: not this file"), "{stderr}");
}

#[test]
fn a_suggestion_plugin_edits_what_the_editor_gets_and_its_drop_empties_the_answer() {
    let mut client = serve(&[plugin("upper", &["suggestion"], 2000)], None);
    let text = complete_textwrap(&mut client);
    assert!(text.chars().any(char::is_alphabetic) && text == text.to_uppercase(), "{text:?}");
    let status = plugin_status(&mut client, "upper");
    assert!(status["n_calls"].as_u64() >= Some(1) && status["state"] == "running", "{status}");
    shut_down(client);

    let mut client = serve(&[plugin("drop", &["suggestion"], 2000)], None);
    assert_eq!(complete_textwrap(&mut client), "");
    let status = plugin_status(&mut client, "drop");
    assert!(status["n_calls"].as_u64() >= Some(1) && status["n_failures"] == 0, "{status}");
    shut_down(client);
}

#[test]
fn a_finding_plugin_s_edit_reaches_sarif() {
    let home = fresh_home();
    let root = home.join("repo");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/items.py"), BUGGY).unwrap();
    for args in
        [&["init", "-q"][..], &["add", "."], &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "i"]]
    {
        assert!(Command::new("git").args(args).current_dir(&root).status().unwrap().success());
    }
    seed_review(&home, BUGGY, &off_by_one());
    let out = run(nib_at(&home)
        .env("NIB_CONFIG", config_file(&[plugin("upper", &["finding"], 2000)]))
        .current_dir(&root)
        .args(["review", "--format", "sarif", "--model"])
        .arg(model_path()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &sarif["runs"][0]["results"][0];
    let message = result["message"]["text"].as_str().unwrap_or_default();
    assert!(message.ends_with("\n\nhouse rule bug"), "the plugin's note: {result}");
    assert_eq!(result["level"], "warning", "the plugin's severity (the model said error): {result}");
}

#[test]
fn plugins_that_crash_hang_or_write_garbage_leave_completions_working_and_are_reported() {
    let hooks = ["prompt", "suggestion"];
    let broken = [plugin("crash", &hooks, 200), plugin("hang", &hooks, 200), plugin("garbage", &hooks, 200)];
    let mut client = serve(&broken, None);
    for round in 0..2 {
        let text = complete_textwrap(&mut client);
        assert!(!text.is_empty(), "round {round}: completions go on without the broken plugins");
    }
    for (name, error) in [("crash", "exited"), ("hang", "missed its deadline (200 ms)"), ("garbage", "sent garbage")] {
        let status = plugin_status(&mut client, name);
        let last = status["last_error"].as_str().unwrap_or_default();
        assert!(status["n_failures"].as_u64() >= Some(1) && last.contains(error), "{name}: {status}");
    }
    shut_down(client);
}

/// A file whose window carries secrets of several kinds.
const SECRETS: &str = "import boto3\n\nAWS_ACCESS_KEY_ID = \"AKIAIOSFODNN7EXAMPLE\"\n\
DB_PASSWORD = \"hunter2-but-longer!\"\nDEPLOY_KEY = \"\"\"-----BEGIN OPENSSH PRIVATE KEY-----\n\
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\"\"\"\n\n\
def client():\n    return boto3.client(\"s3\", aws_access_key_id=AWS_ACCESS_KEY_ID)\n\n\ndef upload(path):\n    ";

const SECRET_VALUES: [&str; 3] = ["AKIAIOSFODNN7EXAMPLE", "hunter2-but-longer!", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUA"];

#[test]
fn secrets_in_a_file_never_reach_a_remote_backend() {
    let server = LlamaServer::start(&model_path(), &[]).unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(&server.url()).unwrap();
    let uri = "file:///work/deploy.py";
    let last_line = SECRETS.lines().count() as u32 - 1;
    for (backend, url) in [("llama-server", proxy.url()), ("openai", format!("{}/v1", proxy.url()))] {
        let mut client = serve(&[], Some((backend, &url)));
        client.open(uri, "python", SECRETS).unwrap();
        let mut params = inline_params(uri, last_line, 4);
        params["context"]["triggerKind"] = json!(1);
        let result = client.call("textDocument/inlineCompletion", params).unwrap();
        assert!(result.get("items").is_some(), "{backend}: {result}");
        let redactor = plugin_status(&mut client, "redact-secrets");
        let counts = &redactor["counts"];
        for kind in ["aws-access-key", "secret-assignment", "private-key"] {
            assert!(counts[kind].as_u64() >= Some(1), "{backend}: {kind} counted: {redactor}");
        }
        shut_down(client);
    }
    // What went over the wire: llama-server's tokenizer saw the text (redacted), the OpenAI-compatible server the
    // prompt itself (redacted); neither saw a secret.
    let wire = proxy.wire();
    let carrying = |path: &str| wire.iter().filter(|r| r.contains(path) && r.contains("<redacted:")).count();
    assert!(carrying("POST /tokenize") >= 1, "llama-server's tokenizer was asked about the window");
    assert!(carrying("POST /v1/completions") >= 1, "the OpenAI-compatible server got the prompt as text");
    for request in &wire {
        for secret in SECRET_VALUES {
            assert!(!request.contains(secret), "{secret} went over the wire:\n{request}");
        }
    }
}
