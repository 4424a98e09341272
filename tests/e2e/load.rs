//! `nib bench load`: two clients against a real llama-server, every request accounted for.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::support::{fresh_home, model_path, nib};

// TODO(merge): use llama_process::LlamaServer (nib_bench::llama_process::LlamaServer::start(model, extra_args)).
/// A llama-server on a free port, killed on drop.
struct LlamaServer {
    child: Child,
    url: String,
}

impl LlamaServer {
    fn start() -> LlamaServer {
        let binary = std::env::var_os("NIB_LLAMA_SERVER")
            .map_or_else(|| PathBuf::from("/root/.cache/llama-server/build/bin/llama-server"), PathBuf::from);
        assert!(binary.exists(), "no llama-server at {}: set NIB_LLAMA_SERVER", binary.display());
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(&binary)
            .arg("-m")
            .arg(model_path())
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "-t", "2", "-c", "2048", "-np", "4"])
            .args(["--cache-reuse", "256", "-fa", "off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start llama-server");
        let server = LlamaServer { child, url: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !healthy(port) {
            assert!(Instant::now() < deadline, "llama-server at {} not healthy after 60 s", server.url);
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }
}

/// `GET /health` answers 200 (503 while the model loads).
fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let mut answer = String::new();
    stream.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.split_whitespace().nth(1) == Some("200")
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn load_two_clients_against_llama_server() {
    let server = LlamaServer::start();
    let json = fresh_home().join("load.json");
    let trace = "../../tests/replay/short.json";
    let out = nib()
        .args(["bench", "load", "--clients", "2", "--traces", trace, "--json"])
        .arg(&json)
        .arg(&server.url)
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
