//! `nib review` and review diagnostics, with the real default model. Where a test needs
//! known findings, it seeds the review cache with them (as a past run of the model would
//! have left them): the real CLI or server then locates, filters and reports them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::support::{BUGGY, fresh_home, model_path, nib_at, off_by_one, seed_review, serve_at, shut_down};

/// A git repository with `files`, committed.
pub fn repository(files: &[(&str, &str)]) -> PathBuf {
    let root = fresh_home().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    for (path, text) in files {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    let git = |args: &[&str]| {
        let ok = Command::new("git").args(args).current_dir(&root).output().unwrap().status.success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]);
    root
}

fn review(home: &Path, root: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    review_with(nib_at(home), root, args, stdin)
}

/// `nib review ARGS` in `root` by `cmd` (the binary with its environment), `stdin` piped in.
pub fn review_with(mut cmd: Command, root: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    cmd.current_dir(root).arg("review").args(args).arg("--model").arg(model_path());
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let input = stdin.unwrap_or_default().to_owned();
    let mut pipe = child.stdin.take().unwrap();
    std::thread::spawn(move || std::io::Write::write_all(&mut pipe, input.as_bytes()));
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn seeded_findings() -> Value {
    let mut findings = off_by_one();
    let absent = json!({"rule": "style", "severity": "info", "message": "Not in the file.", "quote": "print(items)",
        "replacement": null});
    findings.as_array_mut().expect("a list").push(absent);
    findings
}

#[test]
fn findings_are_placed_by_their_quotes_and_reported_in_every_format() {
    let home = fresh_home();
    let root = repository(&[("src/items.py", BUGGY)]);
    seed_review(&home, BUGGY, &seeded_findings());
    let out = review(&home, &root, &["--format", "rdjson", "--fail-level", "none"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let rd: Value = serde_json::from_slice(&out.stdout).unwrap();
    let diagnostics = rd["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "the finding whose quote is not in the file is dropped: {rd}");
    let d = &diagnostics[0];
    assert_eq!(d["location"]["path"], "src/items.py");
    assert_eq!(d["location"]["range"], json!({"start": {"line": 2, "column": 12}, "end": {"line": 2, "column": 29}}));
    assert_eq!(d["suggestions"][0]["text"], "items[len(items) - 1]");
    assert!(stderr(&out).contains("0 reviewed") && stderr(&out).contains("1 from the cache"), "{}", stderr(&out));

    // The default fail level is none: findings never fail a build unless asked.
    let out = review(&home, &root, &[], None);
    assert!(out.status.success(), "{}", stderr(&out));

    // SARIF to a file; the error fails the run at `--fail-level error`, after the report is written.
    let sarif_path = home.join("out.sarif");
    let args = ["--format", "sarif", "--output", sarif_path.to_str().unwrap(), "--fail-level", "error"];
    let out = review(&home, &root, &args, None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let sarif: Value = serde_json::from_slice(&std::fs::read(&sarif_path).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "bug");
    assert_eq!(sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 2);
    let sha = sarif["runs"][0]["properties"]["modelSha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    assert_eq!(sarif["runs"][0]["properties"]["engine"], "local");
    assert!(stderr(&out).contains(&format!("sha256 {sha}), engine local")), "{}", stderr(&out));

    let github = review(&home, &root, &["--format", "github", "--fail-level", "none"], None);
    let line = String::from_utf8_lossy(&github.stdout).into_owned();
    assert!(
        line.starts_with("::error file=src/items.py,line=2,col=12,endLine=2,endColumn=29,title=nib bug::Off by one"),
        "{line}"
    );
    let warning = review(&home, &root, &["--format", "gitlab", "--fail-level", "warning"], None);
    assert_eq!(warning.status.code(), Some(1));
    let gitlab: Value = serde_json::from_slice(&warning.stdout).unwrap();
    assert_eq!(gitlab[0]["location"]["lines"]["begin"], 2);
    let errors_only = review(&home, &root, &["--min-severity", "error", "--fail-level", "info"], None);
    assert_eq!(errors_only.status.code(), Some(1));
}

#[test]
fn suppressions_and_the_baseline_silence_findings() {
    let home = fresh_home();
    let suppressed = "def last_item(items):\n    return items[len(items)]  # nib: ignore[bug]\n";
    let root = repository(&[("a.py", BUGGY), ("b.py", suppressed)]);
    seed_review(&home, BUGGY, &seeded_findings());
    seed_review(&home, suppressed, &seeded_findings());
    let baseline = home.join("baseline.json");
    let out = review(&home, &root, &["--write-baseline", baseline.to_str().unwrap(), "--fail-level", "none"], None);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("a.py:2:12: error[bug]") && !text.contains("b.py:"), "{text}");
    let out = review(&home, &root, &["--baseline", baseline.to_str().unwrap(), "--fail-level", "info"], None);
    assert!(out.status.success(), "everything is in the baseline: {}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("0 finding(s)"));
}

#[test]
fn a_diff_on_stdin_reviews_only_what_changed_and_the_cache_serves_a_second_run() {
    let home = fresh_home();
    let other = "def first_item(items):\n    return items[0]\n";
    let root = repository(&[("a.py", BUGGY), ("other.py", other)]);
    let diff = "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n def last_item(items):\n-    return items[-1]\n+    return items[len(items)]\n";
    let out = review(&home, &root, &["--diff", "-", "--format", "rdjsonl", "--fail-level", "none"], Some(diff));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 file(s), 1 unit(s): 1 reviewed"), "{}", stderr(&out));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let d: Value = serde_json::from_str(line).unwrap();
        assert_eq!(d["location"]["path"], "a.py");
        assert_eq!(d["location"]["range"]["start"]["line"], 2, "only added lines: {d}");
    }
    let again = review(&home, &root, &["--diff", "-", "--fail-level", "none"], Some(diff));
    assert!(stderr(&again).contains("0 reviewed") && stderr(&again).contains("1 from the cache"), "{}", stderr(&again));
    let outside = "--- a/x\n+++ b/../escape.py\n@@ -0,0 +1 @@\n+x\n";
    let refused = review(&home, &root, &["--diff", "-"], Some(outside));
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("outside the repository"), "{}", stderr(&refused));
}

#[test]
fn saving_publishes_review_diagnostics_and_a_quick_fix_applies_the_replacement() {
    let home = fresh_home();
    seed_review(&home, BUGGY, &seeded_findings());
    let mut client = serve_at(&model_path(), &home);
    client.initialize(json!({}), json!({})).unwrap();
    let uri = "file:///work/items.py";
    client.open(uri, "python", BUGGY).unwrap();
    client.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}})).unwrap();
    let published =
        client.wait_for("publishDiagnostics", |m| m["method"] == "textDocument/publishDiagnostics").unwrap();
    let diagnostics = published["params"]["diagnostics"].as_array().unwrap().clone();
    assert_eq!(diagnostics.len(), 1, "{published}");
    let d = &diagnostics[0];
    assert_eq!((d["source"].as_str(), d["code"].as_str()), (Some("nib"), Some("bug")));
    assert_eq!(d["range"], json!({"start": {"line": 1, "character": 11}, "end": {"line": 1, "character": 28}}));
    let params = json!({"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}});
    let actions = client.call("textDocument/codeAction", params).unwrap();
    let edit = &actions[0]["edit"]["changes"][uri][0];
    assert_eq!(edit["newText"], "items[len(items) - 1]");
    assert_eq!(edit["range"], d["range"]);
    // Closing the file clears its diagnostics.
    client.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}})).unwrap();
    let cleared = client
        .wait_for("cleared diagnostics", |m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["diagnostics"] == json!([])
        })
        .unwrap();
    assert_eq!(cleared["params"]["uri"], uri);
    shut_down(client);
}

#[test]
fn a_pull_client_is_asked_to_pull_and_gets_diagnostics_by_request_and_none_pushed() {
    let home = fresh_home();
    seed_review(&home, BUGGY, &seeded_findings());
    let mut client = serve_at(&model_path(), &home);
    let capabilities = json!({"textDocument": {"diagnostic": {"dynamicRegistration": false}},
        "workspace": {"diagnostics": {"refreshSupport": true}}});
    let result = client.initialize(capabilities, json!({})).unwrap();
    assert_eq!(result["capabilities"]["diagnosticProvider"]["identifier"], "nib");
    let uri = "file:///work/items.py";
    client.open(uri, "python", BUGGY).unwrap();
    client.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}})).unwrap();
    // Once the review is done the server asks the client to pull again.
    let refresh = client.wait_for("a refresh request", |m| m["method"] == "workspace/diagnostic/refresh").unwrap();
    client.send(&json!({"jsonrpc": "2.0", "id": refresh["id"], "result": null})).unwrap();
    let mut items = Value::Null;
    for _ in 0..200 {
        let report = client.call("textDocument/diagnostic", json!({"textDocument": {"uri": uri}})).unwrap();
        assert_eq!(report["kind"], "full");
        if !report["items"].as_array().unwrap().is_empty() {
            items = report["items"].clone();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(items[0]["code"], "bug", "{items}");
    assert!(
        client.drain().iter().all(|m| m["method"] != "textDocument/publishDiagnostics"),
        "pull clients get no push"
    );
    shut_down(client);
}

#[test]
fn a_git_revision_diff_reviews_the_changed_function_only() {
    let home = fresh_home();
    let stable = "def first_item(items):\n    return items[0]\n";
    let root = repository(&[("a.py", "def last_item(items):\n    return items[-1]\n"), ("b.py", stable)]);
    std::fs::write(root.join("a.py"), BUGGY).unwrap();
    let commit = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "break it"])
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(commit.success());
    seed_review(&home, BUGGY, &seeded_findings());
    let out = review(&home, &root, &["--diff", "HEAD~1", "--format", "rdjsonl", "--fail-level", "none"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 file(s), 1 unit(s): 0 reviewed"), "{}", stderr(&out));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["location"]["path"], "a.py");
    let bad = review(&home, &root, &["--diff", "--output=/etc/x"], None);
    assert_eq!(bad.status.code(), Some(2), "an option is never taken for a revision");
}

#[test]
fn eval_review_scores_seeded_defects_per_rule_and_records_the_model() {
    let home = fresh_home();
    let json = home.join("eval.json");
    // One file of the corpus (three units) keeps the test short; its expectations come from the corpus's.
    let file = "../../tests/eval/review/python/user_store.py";
    let out = nib_at(&home)
        .args(["eval", "review", file, "--json", json.to_str().unwrap(), "--model"])
        .arg(model_path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("model ") && table.contains("engine local"), "{table}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["model"]["sha256"].as_str().map(str::len), Some(64), "{report}");
    assert_eq!(report["engine"], "local");
    // user_store.py seeds one security and one error-handling defect.
    let rules = report["rules"].as_array().unwrap();
    let seeded: Vec<(&str, u64)> =
        rules.iter().map(|r| (r["name"].as_str().unwrap(), r["seeded"].as_u64().unwrap())).collect();
    let expected =
        [("bug", 0), ("security", 1), ("error-handling", 1), ("performance", 0), ("maintainability", 0), ("style", 0)];
    assert_eq!(seeded, expected);
    for row in rules.iter().chain(report["languages"].as_array().unwrap()).chain([&report["overall"]]) {
        for ratio in [&row["precision"], &row["recall"]] {
            assert!(ratio.is_null() || ratio.as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)), "{row}");
        }
        let parts = ["true_positives", "wrong_rule", "false_positives"].map(|k| row[k].as_u64().unwrap());
        assert_eq!(parts.iter().sum::<u64>(), row["findings"].as_u64().unwrap(), "{row}");
        assert_eq!(row["precision"].is_null(), row["findings"] == 0, "{row}");
        assert_eq!(row["recall"].is_null(), row["seeded"] == 0, "{row}");
    }
    assert_eq!(report["overall"]["seeded"], 2);
    assert_eq!(report["findings"].as_array().unwrap().len() as u64, report["overall"]["findings"].as_u64().unwrap());
}
