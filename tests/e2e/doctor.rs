//! `nib doctor`, as a user runs it: the report on the default model, and exit code 1 when the model is missing or a
//! plugin cannot start.

use serde_json::Value;

use crate::support::{fresh_home, model_path, nib};

#[test]
fn doctor_reports_the_machine_the_model_a_measurement_and_advice() {
    let model = model_path();
    let out = nib().args(["doctor", "--json", "--model", model.to_str().unwrap()]).output().expect("run nib");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let d: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(d["ok"], true, "{d}");
    assert!(d["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(d["machine"]["backends_built"].as_array().unwrap().contains(&"cpu".into()));
    assert!(d["machine"]["devices"].as_array().unwrap().iter().any(|dev| dev["kind"] == "cpu"), "{d}");
    let info = &d["model"]["info"];
    assert_eq!(info["architecture"], "llama");
    assert_eq!(info["has_fim_tokens"], false);
    assert_eq!(info["quantization"], "Q4_1");
    assert!(info["n_params"].as_u64().unwrap() > 100_000_000);
    assert_eq!(info["n_gpu_layers"], 0);
    assert_eq!(d["model"]["template"], "prefix-only");
    assert_eq!(d["engine"]["answers"], true);
    assert_eq!(d["nib_home"]["writable"], true);
    let m = &d["measurement"];
    for figure in ["prompt_tokens_per_s", "generation_tokens_per_s", "warm_ttft_ms_median", "cold_ttft_ms"] {
        assert!(m[figure].as_f64().unwrap() > 0.0, "{figure}: {m}");
    }
    assert!(m["seconds"].as_f64().unwrap() <= 12.0, "{m}");
    let review = d["recommendations"].as_array().unwrap().iter().find(|r| r["setting"] == "review.on_save");
    let review = review.expect("a recommendation about review on save");
    assert_eq!(review["value"], "false");
    assert!(review["why"].as_str().unwrap().contains("134M"), "{review}");
    // The prompt budget says what quality a budget is worth, whichever way the measured speed tips it.
    let budget = d["recommendations"].as_array().unwrap().iter().find(|r| r["setting"] == "completion.n_prompt_tokens");
    let budget = budget.expect("a recommendation about the prompt budget");
    assert!(budget["why"].as_str().unwrap().contains("edit similarity"), "{budget}");
    // --model is attributed to the command line.
    let sources = d["config"]["sources"].as_array().unwrap();
    let from_cli = sources.iter().find(|s| s["key"] == "model").expect("the model's source");
    assert_eq!((&from_cli["source"], &from_cli["by"]), (&"command_line".into(), &"--model".into()), "{from_cli}");
}

#[test]
fn doctor_exits_1_with_a_clear_message_when_the_model_is_missing() {
    let home = fresh_home();
    let out =
        nib().env("NIB_HOME", &home).args(["doctor", "--model", "/nonexistent/m.gguf"]).output().expect("run nib");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/m.gguf") && stderr.contains("--model") && stderr.contains("Fix"), "{stderr}");
    // The rest of the report is still there.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("machine") && stdout.contains("PROBLEMS"), "{stdout}");
}

#[test]
fn doctor_reports_each_plugin_and_exits_1_when_one_cannot_start() {
    let config = fresh_home().join("config.toml");
    let plugins = "[[plugins]]\nname = \"redact-secrets\"\n\n[[plugins]]\nname = \"missing\"\ncommand = [\"/nonexistent/plugin\"]\n";
    std::fs::write(&config, plugins).unwrap();
    let model = model_path();
    let out = nib()
        .env("NIB_CONFIG", &config)
        .args(["doctor", "--json", "--model", model.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = report["plugins"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["redact-secrets", "missing"], "{report}");
    assert_eq!(report["plugins"][0]["state"], "running");
    let problems = report["problems"].to_string();
    assert!(
        problems.contains("plugin missing") && problems.contains("cannot start: /nonexistent/plugin"),
        "{problems}"
    );
}
