//! A small synchronous LSP client that drives a `nib serve` process over stdio.
//! The replay benchmark and the end-to-end tests both speak to nib through it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use nib_lsp::framing;
use parking_lot::Mutex;
use serde_json::{Value, json};

/// How long any one wait lasts before it is an error.
pub const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot talk to nib: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out waiting for {what}; nib's stderr:\n{stderr}")]
    Timeout { what: String, stderr: String },
    #[error("nib closed its output while we waited for {what}; its stderr:\n{stderr}")]
    Closed { what: String, stderr: String },
    #[error("{method} failed: {error}")]
    Rpc { method: String, error: Value },
}

/// A message and the moment the reader thread received it.
pub type Timed = (Instant, Value);

pub struct LspClient {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Timed>,
    /// Messages read while waiting for something else.
    backlog: Vec<Timed>,
    stderr: Arc<Mutex<String>>,
    next_id: i64,
}

impl LspClient {
    /// Spawns `command` (a `nib serve` invocation) with piped stdio.
    pub fn spawn(mut command: Command) -> Result<LspClient, ClientError> {
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(std::io::Error::other("no stdio pipes").into());
        };
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if tx.send((Instant::now(), message)).is_err() {
                    break;
                }
            }
        });
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Ok(LspClient { stdin: child.stdin.take(), child, incoming, backlog: Vec::new(), stderr: log, next_id: 0 })
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let stdin = self.stdin.as_mut().ok_or_else(|| std::io::Error::other("stdin already closed"))?;
        stdin.write_all(bytes)?;
        stdin.flush()?;
        Ok(())
    }

    pub fn send(&mut self, message: &Value) -> Result<(), ClientError> {
        self.send_raw(&framing::frame(message.to_string().as_bytes()))
    }

    pub fn notify(&mut self, method: &str, params: Value) -> Result<(), ClientError> {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
    }

    /// Sends a request and returns its id without waiting.
    pub fn request(&mut self, method: &str, params: Value) -> Result<i64, ClientError> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        Ok(id)
    }

    /// The next message matching `pred` and when it arrived; others are kept for later.
    pub fn wait_timed(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Result<Timed, ClientError> {
        match self.wait_until(Instant::now() + TIMEOUT, what, pred)? {
            Some(found) => Ok(found),
            None => Err(ClientError::Timeout { what: what.to_owned(), stderr: self.stderr() }),
        }
    }

    /// Like `wait_timed`, but reaching `until` without a match is `None`, not an error.
    pub fn wait_until(
        &mut self,
        until: Instant,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Option<Timed>, ClientError> {
        if let Some(i) = self.backlog.iter().position(|(_, m)| pred(m)) {
            return Ok(Some(self.backlog.remove(i)));
        }
        loop {
            match self.incoming.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok((at, message)) if pred(&message) => return Ok(Some((at, message))),
                Ok(other) => self.backlog.push(other),
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ClientError::Closed { what: what.to_owned(), stderr: self.stderr() });
                }
            }
        }
    }

    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Result<Value, ClientError> {
        self.wait_timed(what, pred).map(|(_, message)| message)
    }

    /// The whole response message to request `id`.
    pub fn response(&mut self, id: i64) -> Result<Value, ClientError> {
        self.wait_for(&format!("the response to request {id}"), |m| m["id"] == id && m.get("method").is_none())
    }

    /// Sends a request and returns its result, or its error as `ClientError::Rpc`.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.request(method, params)?;
        let mut response = self.response(id)?;
        match response.get_mut("error") {
            Some(error) => Err(ClientError::Rpc { method: method.to_owned(), error: error.take() }),
            None => Ok(response["result"].take()),
        }
    }

    /// Messages already received, without waiting.
    pub fn drain(&mut self) -> Vec<Value> {
        let mut all: Vec<Value> = std::mem::take(&mut self.backlog).into_iter().map(|(_, m)| m).collect();
        all.extend(self.incoming.try_iter().map(|(_, m)| m));
        all
    }

    /// `initialize` then `initialized`, without a workspace; returns the initialize result.
    pub fn initialize(&mut self, capabilities: Value, options: Value) -> Result<Value, ClientError> {
        self.initialize_in(None, capabilities, options)
    }

    /// `initialize` then `initialized` with `root_uri` as the workspace; returns the initialize result.
    pub fn initialize_in(
        &mut self,
        root_uri: Option<&str>,
        capabilities: Value,
        options: Value,
    ) -> Result<Value, ClientError> {
        let params = json!({
            "processId": null, "rootUri": root_uri, "capabilities": capabilities, "initializationOptions": options,
        });
        let result = self.call("initialize", params)?;
        self.notify("initialized", json!({}))?;
        Ok(result)
    }

    pub fn open(&mut self, uri: &str, language_id: &str, text: &str) -> Result<(), ClientError> {
        let doc = json!({"uri": uri, "languageId": language_id, "version": 1, "text": text});
        self.notify("textDocument/didOpen", json!({"textDocument": doc}))
    }

    /// Inserts `text` at a 0-based line and UTF-16 column.
    pub fn insert(&mut self, uri: &str, version: i32, line: u32, col: u32, text: &str) -> Result<(), ClientError> {
        let at = json!({"line": line, "character": col});
        let change = json!({"range": {"start": at, "end": at}, "text": text});
        let params = json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]});
        self.notify("textDocument/didChange", params)
    }

    pub fn status(&mut self) -> Result<Value, ClientError> {
        self.call("nib/status", Value::Null)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory (Linux), in bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().clone()
    }

    /// `shutdown` then `exit`; waits for the process and returns its status and stderr.
    pub fn shutdown(mut self) -> Result<(ExitStatus, String), ClientError> {
        self.call("shutdown", Value::Null)?;
        self.notify("exit", Value::Null)?;
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                return Err(ClientError::Timeout { what: "nib to exit".into(), stderr: self.stderr() });
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Let the stderr thread catch up with the last lines.
        std::thread::sleep(Duration::from_millis(100));
        Ok((status, self.stderr()))
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Params of `textDocument/inlineCompletion` at a 0-based line and column.
pub fn inline_params(uri: &str, line: u32, character: u32) -> Value {
    json!({
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 2},
    })
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = framing::content_length(line) {
            length = value.ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}
