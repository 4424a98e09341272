//! Review by surprise with the real default model: a clean function gets no `surprise` finding, its mutant one
//! on the mutated line with what the model expected, reported by `nib review` (SARIF, with a fix that parses)
//! and on save (a diagnostic with a quick fix). The rule is off by default: these tests turn it on, at a
//! threshold between the clean function's highest score (about 3.3 nats) and the mutant's (about 9).
//! The model-prompted review is answered from a seeded cache (no findings), so only the scores decide.

use serde_json::{Value, json};

use crate::review::{repository, review_with};
use crate::support::{fresh_home, model_path, nib_at, seed_review, serve_at, shut_down};

const CLEAN: &str = "def clamp(value, low, high):\n    if value < low:\n        return low\n    if value > high:\n        \
                     return high\n    return value\n";
/// `CLEAN` with the second comparison turned (line 4).
const MUTANT: &str = "def clamp(value, low, high):\n    if value < low:\n        return low\n    if value < high:\n        \
                      return high\n    return value\n";

const SETTINGS: &str = "[review]\nsurprise = true\nsurprise_threshold = 6.0\n";

fn sarif_of(text: &str) -> Value {
    let home = fresh_home();
    let root = repository(&[("clamp.py", text)]);
    seed_review(&home, text, &json!([]));
    let config = home.join("config.toml");
    std::fs::write(&config, SETTINGS).unwrap();
    let mut cmd = nib_at(&home);
    cmd.env("NIB_CONFIG", &config);
    let out = review_with(cmd, &root, &["--format", "sarif"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn nib_review_reports_the_mutated_line_by_surprise_with_a_fix_that_parses() {
    let clean = sarif_of(CLEAN);
    assert_eq!(clean["runs"][0]["results"], json!([]), "{clean:#}");

    let sarif = sarif_of(MUTANT);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{sarif:#}");
    let result = &results[0];
    assert_eq!((result["ruleId"].as_str(), result["level"].as_str()), (Some("surprise"), Some("note")));
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules[result["ruleIndex"].as_u64().unwrap() as usize]["id"], "surprise");
    let message = result["message"]["text"].as_str().unwrap();
    assert!(message.starts_with("unusual here: `<` (1 in ") && message.contains("the model expected `>`"), "{message}");
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!((region["startLine"].as_u64(), region["startColumn"].as_u64()), (Some(4), Some(14)), "{region}");

    let replacement = &result["fixes"][0]["artifactChanges"][0]["replacements"][0];
    assert_eq!(replacement["insertedContent"]["text"], ">");
    let deleted = &replacement["deletedRegion"];
    let line = MUTANT.lines().nth(3).unwrap();
    let (start, end) =
        (deleted["startColumn"].as_u64().unwrap() as usize - 1, deleted["endColumn"].as_u64().unwrap() as usize - 1);
    let fixed_line = format!("{}>{}", &line[..start], &line[end..]);
    let fixed = MUTANT.replacen(line, &fixed_line, 1);
    assert_eq!(fixed, CLEAN, "the fix puts the clean line back");
    let mut python = std::process::Command::new("python3");
    python.args(["-c", "import ast, sys; ast.parse(sys.argv[1])", &fixed]);
    assert!(python.status().unwrap().success(), "the fixed file parses");
}

#[test]
fn saving_a_mutant_publishes_a_surprise_diagnostic_with_a_quick_fix() {
    let home = fresh_home();
    seed_review(&home, MUTANT, &json!([]));
    let mut client = serve_at(&model_path(), &home);
    let options = json!({"review": {"surprise": true, "surprise_threshold": 6.0}});
    client.initialize(json!({}), options).unwrap();
    let uri = "file:///work/clamp.py";
    client.open(uri, "python", MUTANT).unwrap();
    client.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}})).unwrap();
    let published =
        client.wait_for("publishDiagnostics", |m| m["method"] == "textDocument/publishDiagnostics").unwrap();
    let diagnostics = published["params"]["diagnostics"].as_array().unwrap().clone();
    assert_eq!(diagnostics.len(), 1, "{published}");
    let d = &diagnostics[0];
    assert_eq!((d["code"].as_str(), d["severity"].as_u64()), (Some("surprise"), Some(3)));
    assert_eq!(d["range"], json!({"start": {"line": 3, "character": 13}, "end": {"line": 3, "character": 14}}));
    assert!(d["message"].as_str().unwrap().contains("the model expected `>`"), "{d}");
    let params = json!({"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}});
    let actions = client.call("textDocument/codeAction", params).unwrap();
    let edit = &actions[0]["edit"]["changes"][uri][0];
    assert_eq!((edit["newText"].as_str(), &edit["range"]), (Some(">"), &d["range"]));
    shut_down(client);
}
