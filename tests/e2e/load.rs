//! `nib bench load`: two clients against a real llama-server, every request accounted for.

use nib_testkit::llama_process::LlamaServer;

use super::support::{fresh_home, model_path, nib};

#[test]
fn load_two_clients_against_llama_server() {
    let server = LlamaServer::start(&model_path(), &["-np", "4", "-c", "8192"]).unwrap_or_else(|e| panic!("{e}"));
    let json = fresh_home().join("load.json");
    let trace = "../../tests/replay/short.json";
    let out = nib()
        .args(["bench", "load", "--clients", "2", "--traces", trace, "--json"])
        .arg(&json)
        .arg(server.url())
        .output()
        .expect("run nib bench load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("2 clients"), "{stdout}");

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("the JSON report")).unwrap();
    let n_trace = nib_bench::trace::Replay::load(std::path::Path::new(trace)).unwrap().events().count();
    assert_eq!(report["n_clients"], 2);
    assert_eq!(report["clients"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["n_requests"], 2 * n_trace);
    let (answered, errors) = (report["n_answered"].as_u64().unwrap(), report["n_errors"].as_u64().unwrap());
    assert_eq!(answered + errors, 2 * n_trace as u64, "{report}");
    assert_eq!(report["n_failed_clients"], 0, "{report}");
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.iter().map(|r| r["n"].as_u64().unwrap()).sum::<u64>(), 2 * n_trace as u64);
    // The first request of each client waits for its suggestion: at least that row has percentiles.
    assert!(rows.iter().any(|r| r["e2e_ms"]["p95"].as_f64().is_some() && r["ttft_ms"]["p50"].is_f64()), "{report}");
    let reuse = report["prompt_reuse"].as_f64().expect("the server reported its prompt cache");
    assert!((0.0..=1.0).contains(&reuse), "reuse {reuse}");
    assert!(report["wall_s"].as_f64().unwrap() > 0.0);
}
