//! Starts a real `llama-server` for tests: on a free loopback port, its output in a log file, ready once `/health`
//! answers 200, killed when dropped.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nib_remote::HttpError;
use nib_remote::http::Server;
use serde_json::Value;
use tokio::runtime::{Builder, Runtime};

/// The llama-server version `.ci/setup --editors` builds and installs.
pub const LLAMA_SERVER_VERSION: &str = "11434.0.0";

/// Loading the default model takes a second; a minute allows for a busy machine.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a test's request may wait for any piece of its answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(300);
/// How many of the log's last lines an error quotes.
const LOG_TAIL_LINES: usize = 30;

/// Small and predictable: two threads, one slot, a 2,048-token context, prefix reuse on, no flash attention.
/// llama-server keeps the last value of an argument given twice, so `extra_args` override these.
const DEFAULT_ARGS: &[&str] = &["-t", "2", "-c", "2048", "-np", "1", "--cache-reuse", "256", "-fa", "off"];

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("no llama-server at {}: set $NIB_LLAMA_SERVER or run `bash .ci/setup --editors`", path.display())]
    Missing { path: PathBuf },
    #[error("llama-server: {0}")]
    Io(#[from] std::io::Error),
    #[error("llama-server exited ({status}) before it was ready; its log ends:\n{log}")]
    Exited { status: ExitStatus, log: String },
    #[error("llama-server was not ready after {} s; its log ends:\n{log}", READY_TIMEOUT.as_secs())]
    NotReady { log: String },
}

/// A running llama-server; dropping it kills the process and removes its log.
pub struct LlamaServer {
    child: Child,
    port: u16,
    /// Holds the log; removed on drop.
    dir: PathBuf,
}

impl LlamaServer {
    /// Starts `llama-server -m model` with [`DEFAULT_ARGS`] then `extra_args`, and waits until it is ready.
    pub fn start(model: &Path, extra_args: &[&str]) -> Result<LlamaServer, LaunchError> {
        Self::start_binary(&Self::binary(), model, extra_args)
    }

    /// [`LlamaServer::start`] with another binary.
    pub fn start_binary(binary: &Path, model: &Path, extra_args: &[&str]) -> Result<LlamaServer, LaunchError> {
        if !binary.is_file() {
            return Err(LaunchError::Missing { path: binary.to_path_buf() });
        }
        let dir = log_dir()?;
        let log = File::create(dir.join("llama-server.log"))?;
        let port = free_port()?;
        let child = Command::new(binary)
            .arg("-m")
            .arg(model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(DEFAULT_ARGS)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e.into());
            }
        };
        // From here on, dropping `server` kills the process, also when it never becomes ready.
        let mut server = LlamaServer { child, port, dir };
        server.wait_ready()?;
        Ok(server)
    }

    /// `$NIB_LLAMA_SERVER`, else where `.ci/setup --editors` installs it.
    pub fn binary() -> PathBuf {
        match std::env::var_os("NIB_LLAMA_SERVER").filter(|v| !v.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => nib_models::nib_home().join("llama-server").join(LLAMA_SERVER_VERSION).join("llama-server"),
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Reads `path` (`/slots`, `/props`, `/metrics`...) as JSON, through the remote backend's client.
    pub fn get_json(&self, path: &str) -> Result<Value, HttpError> {
        let (server, runtime) = self.client()?;
        runtime.block_on(server.get(path))
    }

    /// Posts `body` to `path` and reads the JSON answer whole (a request without `"stream": true`).
    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value, HttpError> {
        let (server, runtime) = self.client()?;
        runtime.block_on(server.post(path, body))
    }

    /// The remote backend's client for this server, and a runtime of its own to run it on: tests are synchronous.
    fn client(&self) -> Result<(Server, Runtime), HttpError> {
        let broken = |reason: String| HttpError::Broken { url: self.url(), reason };
        let server = Server::new(&self.url(), None, HTTP_TIMEOUT).map_err(broken)?;
        let runtime = Builder::new_current_thread().enable_all().build().map_err(|e| broken(e.to_string()))?;
        Ok((server, runtime))
    }

    /// The last lines the server wrote, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("llama-server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// Polls `/health` (503 while the model loads) until it answers 200, the process exits, or time runs out.
    fn wait_ready(&mut self) -> Result<(), LaunchError> {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(2)).build();
        let health = format!("{}/health", self.url());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(LaunchError::Exited { status, log: self.log_tail() });
            }
            if matches!(agent.get(&health).call(), Ok(response) if response.status() == 200) {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(LaunchError::NotReady { log: self.log_tail() });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port nothing listens on now; llama-server binds it a moment later.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A new folder of this process's in the temporary folder.
fn log_dir() -> std::io::Result<PathBuf> {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("nib-llama-server-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_says_how_to_get_one() {
        let error = LlamaServer::start_binary(Path::new("/nonexistent/llama-server"), Path::new("m.gguf"), &[]);
        let message = error.err().unwrap().to_string();
        assert!(message.contains("$NIB_LLAMA_SERVER") && message.contains("bash .ci/setup --editors"), "{message}");
    }

    #[test]
    fn a_server_that_exits_fails_at_once_with_its_log() {
        // A shell stands in for a llama-server that refuses its arguments: `sh -m model` prints and fails.
        let started = Instant::now();
        let error =
            LlamaServer::start_binary(Path::new("/bin/sh"), Path::new("/nonexistent/m.gguf"), &[]).err().unwrap();
        assert!(matches!(error, LaunchError::Exited { ref log, .. } if !log.is_empty()), "{error}");
        assert!(started.elapsed() < READY_TIMEOUT / 2);
    }
}
