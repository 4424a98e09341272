//! The server in process, over a pipe as over stdio, with `nib-scripted`'s engine: the language server's
//! latency rules, on tokio's paused clock.

mod latency;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::framing;
use nib_engine::Engine;
use nib_pipeline::config::CommandLine;

/// How long a test waits for a message on the paused clock before it fails.
const GIVE_UP: Duration = Duration::from_secs(60);

/// A client of a server running in this process.
pub struct Client {
    to_server: DuplexStream,
    from_server: mpsc::UnboundedReceiver<Value>,
    /// Messages read while waiting for another, with when they came.
    backlog: VecDeque<(Duration, Value)>,
    next_id: i64,
    t0: Instant,
}

/// The server's future: it runs while polled, and ends after `exit`.
pub type Server = Pin<Box<dyn Future<Output = ()>>>;

/// Starts a server on `engine`, initialized with `completion` as its `completion` settings: the client, and
/// the server to run beside the test (`tokio::join!`).
pub async fn start(engine: Engine, completion: Value) -> (Client, Server) {
    let (to_server, server_in) = tokio::io::duplex(1 << 16);
    let (server_out, from_server) = tokio::io::duplex(1 << 16);
    let mut server: Server =
        Box::pin(crate::run(CommandLine::default(), server_in, server_out, Arc::new(OnceLock::from(engine))));
    let (messages, from_server_rx) = mpsc::unbounded_channel();
    tokio::spawn(read_messages(BufReader::new(from_server), messages));
    let mut client =
        Client { to_server, from_server: from_server_rx, backlog: VecDeque::new(), next_id: 0, t0: Instant::now() };
    let options = json!({ "completion": completion });
    let id = client.request("initialize", json!({ "capabilities": {}, "initializationOptions": options })).await;
    tokio::select! {
        _ = client.response(id) => {}
        () = &mut server => panic!("the server ended before answering initialize"),
    }
    (client, server)
}

async fn read_messages(mut from_server: BufReader<DuplexStream>, messages: mpsc::UnboundedSender<Value>) {
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            if from_server.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            length = framing::content_length(line).and_then(Result::ok).or(length);
        }
        let mut body = vec![0; length.expect("a Content-Length header")];
        if from_server.read_exact(&mut body).await.is_err() {
            return;
        }
        let _ = messages.send(serde_json::from_slice(&body).expect("the server writes JSON"));
    }
}

impl Client {
    async fn send(&mut self, message: Value) {
        let frame = framing::frame(message.to_string().as_bytes());
        self.to_server.write_all(&frame).await.expect("the server reads");
    }

    /// Sends a request; its answer comes with `response`.
    pub async fn request(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })).await;
        id
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params })).await;
    }

    /// The first message `wanted` takes, and when it came (since the client started), keeping the others.
    async fn next(&mut self, wanted: impl Fn(&Value) -> bool) -> (Duration, Value) {
        if let Some(at) = self.backlog.iter().position(|(_, m)| wanted(m)) {
            return self.backlog.remove(at).expect("found");
        }
        loop {
            // A message that never comes fails the test instead of hanging it (the clock is paused: no wait).
            let message = tokio::time::timeout(GIVE_UP, self.from_server.recv()).await;
            let message = message.expect("no such message within a minute").expect("the server is running");
            let came = (self.t0.elapsed(), message);
            if wanted(&came.1) {
                return came;
            }
            self.backlog.push_back(came);
        }
    }

    /// The answer to request `id`: its result, and when it came.
    pub async fn response(&mut self, id: i64) -> (Duration, Value) {
        let (at, message) = self.next(|m| m["id"] == id && m.get("method").is_none()).await;
        assert!(message.get("error").is_none(), "request {id} failed: {message}");
        (at, message["result"].clone())
    }

    /// The next notification `method`, and when it came.
    pub async fn notification(&mut self, method: &str) -> (Duration, Value) {
        let (at, message) = self.next(|m| m["method"] == method && m.get("id").is_none()).await;
        (at, message["params"].clone())
    }

    /// Whether notification `method` came (and was not yet taken).
    pub fn has(&mut self, method: &str) -> bool {
        while let Ok(message) = self.from_server.try_recv() {
            self.backlog.push_back((self.t0.elapsed(), message));
        }
        self.backlog.iter().any(|(_, m)| m["method"] == method)
    }

    /// When the client started, for `sleep_until`.
    pub fn t0(&self) -> Instant {
        self.t0
    }
}
