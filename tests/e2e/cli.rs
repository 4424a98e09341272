//! `nib complete`, `nib eval` and `nib --version`, as a user runs them.

use std::process::Output;

use serde_json::Value;

use crate::support::{model_path, nib};

fn run(args: &[&str]) -> Output {
    nib().args(args).output().expect("run nib")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn complete_prints_a_suggestion_and_its_figures() {
    let model = model_path();
    let out = run(&["complete", "../../tests/fixtures/sample.py:24:16", "--json", "--model", model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(!json["text"].as_str().unwrap().trim().is_empty(), "{json}");
    assert_eq!(json["template"], "prefix-only");
    // From the generated tokens' log-probabilities: a probability.
    let confidence = json["confidence"].as_f64().unwrap_or(-1.0);
    assert!(confidence > 0.0 && confidence <= 1.0, "{json}");
    let stats = &json["stats"];
    assert!(stats["n_prompt_tokens"].as_u64().unwrap() > 100, "{stats}");
    assert_eq!(stats["n_prompt_tokens"], stats["n_evaluated_tokens"]);
    assert!(stats["ttft_ms"].as_f64().unwrap() <= stats["total_ms"].as_f64().unwrap());
    assert!(!stderr(&out).contains("llama"), "llama.cpp logs leaked to stderr:\n{}", stderr(&out));
}

#[test]
fn complete_refuses_invalid_utf8_with_a_clear_error() {
    let path = std::env::temp_dir().join(format!("nib-binary-{}.py", std::process::id()));
    std::fs::write(&path, b"x = 1\n\xff\xfe\x00 binary\n").unwrap();
    let out = run(&["complete", &format!("{}:1:1", path.display())]);
    let _ = std::fs::remove_file(&path);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not valid UTF-8 (bad byte at offset 6)"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
}

#[test]
fn complete_reports_bad_locations_and_missing_models() {
    let out = run(&["complete", "../../tests/fixtures/sample.py:999:1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("out of range"), "{}", stderr(&out));
    let out = run(&["complete", "../../tests/fixtures/sample.py:24:16", "--model", "/nonexistent/m.gguf"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("/nonexistent/m.gguf") && err.contains("--model") && err.contains("Fix"), "{err}");
}

#[test]
fn version_and_help() {
    let out = run(&["--version"]);
    let mut backends = vec!["cpu"];
    for (feature, on) in
        [("cuda", cfg!(feature = "cuda")), ("vulkan", cfg!(feature = "vulkan")), ("metal", cfg!(feature = "metal"))]
    {
        if on {
            backends.push(feature);
        }
    }
    // build.rs names the commit: `$NIB_COMMIT` when the build had it, else this checkout's HEAD.
    let commit = env!("NIB_COMMIT");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("nib {} (commit {commit}; backends: {})", env!("CARGO_PKG_VERSION"), backends.join(", "))
    );
    let head = std::process::Command::new("git").args(["rev-parse", "--short", "HEAD"]).output().unwrap();
    if std::env::var_os("NIB_COMMIT").is_none() && head.status.success() {
        assert_eq!(commit, String::from_utf8_lossy(&head.stdout).trim(), "the commit is not this checkout's HEAD");
    }
    let out = run(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "complete", "bench", "NIB_MODEL"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
}

#[test]
fn a_template_the_model_cannot_fill_is_reported() {
    let config = std::env::temp_dir().join(format!("nib-spm-{}.toml", std::process::id()));
    std::fs::write(&config, "[completion]\ntemplate = \"spm\"\n").unwrap();
    let model = model_path();
    let out = nib()
        .env("NIB_CONFIG", &config)
        .args(["complete", "../../tests/fixtures/sample.py:24:16", "--model", model.to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&config);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("template spm needs the FimSuf token"), "{}", stderr(&out));
}

#[test]
fn the_prompt_carries_definitions_from_other_files() {
    let dir = std::env::temp_dir().join(format!("nib-context-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("util.py"), "def clamp(value, low, high):\n    return max(low, min(high, value))\n")
        .unwrap();
    std::fs::write(dir.join("main.py"), "import util\n\nx = util.clamp(5, 0, 3)\ny = clamp(\n").unwrap();
    let model = model_path();
    let location = format!("{}:4:11", dir.join("main.py").display());
    let config = dir.join("config.toml");
    std::fs::write(&config, "[completion]\ncontext = \"full\"\n").unwrap();
    let out = nib()
        .env("NIB_CONFIG", &config)
        .args(["complete", &location, "--prompt", "--model", model.to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let prompt = String::from_utf8_lossy(&out.stdout);
    assert!(prompt.contains("# util.py\ndef clamp(value, low, high):"), "{prompt}");
    assert!(prompt.ends_with("# main.py\nimport util\n\nx = util.clamp(5, 0, 3)\ny = clamp("), "{prompt}");
}

#[test]
fn eval_humaneval_runs_each_task_and_counts_what_passed() {
    let json = std::env::temp_dir().join(format!("nib-humaneval-{}.json", std::process::id()));
    let model = model_path();
    let args = ["eval", "humaneval", "--n", "2", "--seed", "3", "--json", json.to_str().unwrap()];
    let out = run(&[&args[..], &["--model", model.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("| tasks | passed | failed | timed out | empty | pass@1 |"), "{table}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    let summary = &report["summary"];
    let count = |key: &str| summary[key].as_u64().unwrap();
    assert_eq!(count("tasks"), 2, "{summary}");
    assert_eq!(count("passed") + count("failed") + count("timed_out"), 2, "{summary}");
    assert!(count("empty") <= 2, "{summary}");
    let pass_at_1 = summary["pass_at_1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&pass_at_1) && pass_at_1 == count("passed") as f64 / 2.0, "{summary}");
    let tasks = report["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    for task in tasks {
        assert!(task["task_id"].as_str().unwrap().starts_with("SingleLineInfilling/HumanEval/"), "{task}");
        assert!(["passed", "failed", "timed_out"].contains(&task["verdict"].as_str().unwrap()), "{task}");
    }
    // The table's row says what the JSON does.
    let row = format!(
        "| 2 | {} | {} | {} | {} | {:.1} % |",
        count("passed"),
        count("failed"),
        count("timed_out"),
        count("empty"),
        pass_at_1 * 100.0
    );
    assert!(table.contains(&row), "{table}");
}

#[test]
fn eval_scores_seeded_positions_per_language_and_mode() {
    let json = std::env::temp_dir().join(format!("nib-eval-{}.json", std::process::id()));
    let model = model_path();
    let args = ["eval", "../../tests/eval/corpus/python", "--samples", "1", "--context", "prefix,full", "--seed", "5"];
    let out = run(&[&args[..], &["--json", json.to_str().unwrap(), "--model", model.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("| python | prefix | 2 |") && table.contains("| python | full | 2 |"), "{table}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    assert_eq!(report["outcomes"].as_array().unwrap().len(), 4);
    // Each hidden text is the rest of the sampled line, where the report says.
    for case in cases {
        let text = std::fs::read_to_string(case["file"].as_str().unwrap()).unwrap();
        let line: Vec<char> = text.lines().nth(case["line"].as_u64().unwrap() as usize).unwrap().chars().collect();
        let rest: String = line[case["column"].as_u64().unwrap() as usize..].iter().collect();
        assert_eq!(rest, case["expected"].as_str().unwrap());
    }
}
