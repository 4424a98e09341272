//! The example plugins in `plugins/examples/`, as real processes: first spoken to directly over the protocol
//! (`docs/plugins.md`), then through the built `nib` (`serve`, `review`, `complete`) with the real default model.
//! And `nib bench plugins`, which measures a plugin's round trip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use nib_bench::lsp_client::{LspClient, inline_params};
use serde_json::{Value, json};

use crate::review::{repository, review_with};
use crate::support::{BUGGY, fresh_home, model_path, nib, nib_at, node_bin, off_by_one, ready, seed_review, shut_down};

fn example(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/examples").join(name);
    std::fs::canonicalize(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The command that runs an example, as a user's configuration would name it.
fn command(name: &str) -> Vec<String> {
    let program = match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some("js") => node_bin().join("node").to_string_lossy().into_owned(),
        _ => "python3".to_owned(),
    };
    vec![program, example(name).to_string_lossy().into_owned()]
}

/// The example started and initialized; the answer to `initialize` beside it.
fn start(name: &str) -> (LspClient, Value) {
    let argv = command(name);
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    let mut plugin = LspClient::spawn(cmd).expect("start the plugin");
    let params = json!({"protocolVersion": 1, "nibVersion": "0.1.0", "root": null, "hooks": []});
    let result = plugin.call("initialize", params).expect("initialize");
    plugin.notify("initialized", json!({})).unwrap();
    (plugin, result)
}

/// The plugin answers `shutdown` with null, exits on `exit`, and exits when its input ends with nothing sent.
fn check_ending(name: &str, plugin: LspClient) {
    let (status, stderr) = plugin.shutdown().expect("shutdown, exit");
    assert!(status.success() && stderr.is_empty(), "{status:?}\n{stderr}");
    let argv = command(name);
    let out = Command::new(&argv[0]).args(&argv[1..]).stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
}

fn file(path: &str) -> Value {
    json!({"path": path, "language": "python"})
}

#[test]
fn house_style_rewrites_imports_drops_debugger_calls_and_notes_findings() {
    let (mut plugin, init) = start("house_style.py");
    assert_eq!(init, json!({"hooks": ["finding", "suggestion"]}));
    let suggest = |plugin: &mut LspClient, text: &str| {
        let params = json!({"file": file("src/app.py"), "line": 3, "column": 0, "text": text, "deadlineMs": 20});
        plugin.call("suggestion", params).unwrap()
    };
    assert_eq!(
        suggest(&mut plugin, "import numpy\n\nimport pandas\nimport numpy.linalg\n    import os"),
        json!({"text": "import numpy as np\n\nimport pandas as pd\nimport numpy.linalg\n    import os"})
    );
    assert_eq!(suggest(&mut plugin, "x = f(x)\nbreakpoint()"), json!({"drop": true}));
    assert_eq!(suggest(&mut plugin, "import pdb; pdb.set_trace()"), json!({"drop": true}));
    assert_eq!(suggest(&mut plugin, "return numpy.mean(values)"), Value::Null);
    let finding = json!({"rule": "bug", "severity": "error", "message": "m", "line": 2, "quote": "q", "fix": null});
    let review = |plugin: &mut LspClient, path: &str| {
        plugin.call("finding", json!({"file": file(path), "finding": finding, "deadlineMs": 50})).unwrap()
    };
    for generated in ["generated/items.py", "lib/vendor/x.py", "third_party/y.py", "proto/api_pb2.py"] {
        assert_eq!(review(&mut plugin, generated), json!({"drop": true}), "{generated}");
    }
    assert_eq!(review(&mut plugin, "src/items.py"), json!({"note": "House rule: see CONTRIBUTING.md#bug"}));
    // A request it cannot read fails that call only.
    assert!(plugin.call("suggestion", json!({})).is_err());
    assert_eq!(suggest(&mut plugin, "pass"), Value::Null);
    check_ending("house_style.py", plugin);
}

#[test]
fn private_paths_refuses_private_files_and_empties_their_snippets() {
    let (mut plugin, init) = start("private_paths.js");
    assert_eq!(init, json!({"hooks": ["prompt"]}));
    let prompt = |plugin: &mut LspClient, path: &str, snippets: Value| {
        let params = json!({"kind": "completion", "file": file(path), "prefix": "def f():\n    ", "suffix": "",
            "snippets": snippets, "deadlineMs": 50});
        plugin.call("prompt", params).unwrap()
    };
    for private in ["private/notes.py", "src/private/keys.py", "config/db.secret.toml"] {
        let answer = prompt(&mut plugin, private, json!([]));
        assert!(answer["refuse"].as_str().unwrap().contains(private), "{answer}");
    }
    assert_eq!(prompt(&mut plugin, "src/privateer.py", json!([])), Value::Null);
    let snippets = json!([{"path": "private/keys.py", "text": "KEY = 1"}, {"path": "src/util.py", "text": "é"}]);
    assert_eq!(
        prompt(&mut plugin, "src/app.py", snippets),
        json!({"snippets": [{"path": "private/keys.py", "text": ""}, {"path": "src/util.py", "text": "é"}]})
    );
    check_ending("private_paths.js", plugin);
}

/// A document where the greedy default model suggests a debugger call: after two functions that start with one.
const DEBUGGING: &str =
    "def f(x):\n    breakpoint()\n    return x\n\n\ndef g(x):\n    breakpoint()\n    return x\n\n\ndef h(x):\n    \n";
const URI: &str = "file:///tmp/nib-plugin-examples/debugging.py";

fn complete_debugging(plugins: Value) -> (LspClient, String) {
    let options = json!({"completion": {"deadline_ms": 600_000, "partial_after_ms": 0}, "plugins": plugins});
    let mut client = ready(&model_path(), options);
    client.open(URI, "python", DEBUGGING).unwrap();
    let list = client.call("textDocument/inlineCompletion", inline_params(URI, 11, 4)).unwrap();
    let text = list["items"].get(0).map_or("", |item| item["insertText"].as_str().unwrap()).to_owned();
    (client, text)
}

#[test]
fn house_style_drops_the_models_debugger_call_through_nib_serve() {
    let (client, text) = complete_debugging(json!([]));
    shut_down(client);
    assert!(text.contains("breakpoint()"), "the model no longer suggests a debugger call here: {text:?}");

    let (mut client, text) = complete_debugging(json!([{"name": "house-style", "command": command("house_style.py")}]));
    assert_eq!(text, "", "house_style.py drops a suggestion with breakpoint()");
    let status = client.status().unwrap();
    let plugin = &status["plugins"][0];
    assert_eq!((&plugin["name"], &plugin["state"]), (&json!("house-style"), &json!("running")), "{status}");
    assert!(plugin["n_calls"].as_u64().unwrap() > 0 && plugin["n_failures"] == 0, "{status}");
    shut_down(client);
}

#[test]
fn house_style_keeps_findings_out_of_generated_code_in_nib_review() {
    let home = fresh_home();
    let root = repository(&[("generated/items.py", BUGGY), ("src/items.py", BUGGY)]);
    seed_review(&home, BUGGY, &off_by_one());
    let config = home.join("config.toml");
    let plugin = format!("[[plugins]]\nname = \"house-style\"\ncommand = {}\n", json!(command("house_style.py")));
    std::fs::write(&config, plugin).unwrap();
    let mut cmd = nib_at(&home);
    cmd.env("NIB_CONFIG", &config);
    let out = review_with(cmd, &root, &["--format", "sarif", "--fail-level", "none"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "the finding under generated/ is dropped: {sarif}");
    assert_eq!(results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "src/items.py");
    let message = results[0]["message"]["text"].as_str().unwrap();
    assert!(
        message.starts_with("Off by one") && message.ends_with("\n\nHouse rule: see CONTRIBUTING.md#bug"),
        "{message}"
    );
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn private_paths_refuses_nib_complete_for_private_files_and_hides_their_code() {
    let dir = fresh_home().join("project");
    let files = [
        ("private/keys.py", "def lookup_key(name):\n    return KEYS[name]\n"),
        ("util.py", "def clamp(value, low, high):\n    return max(low, min(high, value))\n"),
        (
            "app.py",
            "from private.keys import lookup_key\nfrom util import clamp\n\nx = clamp(lookup_key(\"a\"), 0, 3)\ny = clamp(lookup_key(\n",
        ),
    ];
    for (path, text) in files {
        std::fs::create_dir_all(dir.join(path).parent().unwrap()).unwrap();
        std::fs::write(dir.join(path), text).unwrap();
    }
    let complete = |location: &str, plugins: bool| {
        let config = dir.join(if plugins { "with.toml" } else { "without.toml" });
        let mut toml = "[completion]\ncontext = \"full\"\n".to_owned();
        if plugins {
            toml +=
                &format!("\n[[plugins]]\nname = \"private-paths\"\ncommand = {}\n", json!(command("private_paths.js")));
        }
        std::fs::write(&config, toml).unwrap();
        let model = model_path();
        let out = nib()
            .current_dir(&dir)
            .env("NIB_CONFIG", &config)
            .args(["complete", location, "--prompt", "--model", model.to_str().unwrap()])
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), stderr(&out))
    };
    let (ok, prompt, log) = complete("private/keys.py:2:12", true);
    assert!(!ok && prompt.is_empty(), "a private file is refused: {prompt}\n{log}");
    assert!(log.contains("plugin private-paths refused") && log.contains("private/keys.py is private"), "{log}");

    // Without the plugin the private definition is context; with it, its snippet is emptied and the rest stays.
    let (ok, prompt, log) = complete("app.py:5:22", false);
    assert!(ok && prompt.contains("def lookup_key(name):") && prompt.contains("def clamp("), "{prompt}\n{log}");
    let (ok, prompt, log) = complete("app.py:5:22", true);
    assert!(ok && !prompt.contains("def lookup_key(name):") && prompt.contains("def clamp("), "{prompt}\n{log}");
}

#[test]
fn nib_bench_plugins_reports_the_round_trip() {
    let out = nib().args(["bench", "plugins", "--calls", "200", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&report["suggestion"]["n_calls"], &report["n_failures"]), (&json!(200), &json!(0)), "{report}");
    let (p50, p95, max) =
        (&report["suggestion"]["p50_us"], &report["suggestion"]["p95_us"], &report["suggestion"]["max_us"]);
    assert!(p50.as_f64().unwrap() < 5_000.0, "a trivial plugin's median round trip under 5 ms: {report}");
    assert!(p50.as_f64() <= p95.as_f64() && p95.as_f64() <= max.as_f64(), "{report}");
    assert!(report["redact"]["p50_us"].as_f64().unwrap() > 0.0, "{report}");
    assert!(report["redact_prompt_bytes"].as_u64().unwrap() > 4_096, "{report}");
}
