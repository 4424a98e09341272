//! Times llama.cpp's `llama-server` on the same requests: one streamed `POST /completion`, read as server-sent events;
//! and posts one JSON request, answered whole, for tests.

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::Value;

use nib_remote::sse::{Event, Splitter};

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("llama-server: {0}")]
    Transport(Box<ureq::Transport>),
    #[error("llama-server: {0}")]
    Io(#[from] std::io::Error),
    #[error("llama-server answered no JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("llama-server answered {status}: {body}")]
    Status { status: String, body: String },
}

/// One streamed completion as the client saw it.
#[derive(Debug, Clone, Default)]
pub struct Streamed {
    pub ttft_ms: f64,
    pub total_ms: f64,
    pub content: String,
    /// Prompt tokens the server evaluated (`timings.prompt_n`).
    pub n_evaluated: Option<usize>,
}

/// Posts `body` (with `"stream": true`) to `url` + `/completion`.
pub fn complete(url: &str, body: &Value) -> Result<Streamed, HttpError> {
    let started = Instant::now();
    let mut reader = request(url, "/completion", Some(body))?.into_reader();
    let mut out = Streamed::default();
    let mut events = Splitter::default();
    let mut buf = [0u8; 4096];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        events.feed(&buf[..n]);
        // A peer's malformed event is skipped: the figures are the server's timings.
        for event in &mut events {
            let Ok(Event::Data(json)) = event else { continue };
            let content = json["content"].as_str().unwrap_or_default();
            if out.ttft_ms == 0.0 && (!content.is_empty() || json["stop"] == true) {
                out.ttft_ms = started.elapsed().as_secs_f64() * 1000.0;
            }
            out.content.push_str(content);
            if let Some(n) = json["timings"]["prompt_n"].as_u64() {
                out.n_evaluated = Some(n as usize);
            }
        }
    }
    out.total_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(out)
}

/// Posts `body` to `url` + `path` and reads the JSON answer whole (a request without `"stream": true`).
pub fn post_json(url: &str, path: &str, body: &Value) -> Result<Value, HttpError> {
    Ok(serde_json::from_str(&request(url, path, Some(body))?.into_string()?)?)
}

/// Reads `url` + `path` (`/slots`, `/props`, `/metrics`...) as JSON.
pub fn get_json(url: &str, path: &str) -> Result<Value, HttpError> {
    Ok(serde_json::from_str(&request(url, path, None)?.into_string()?)?)
}

/// A POST with `body`, a GET without.
fn request(url: &str, path: &str, body: Option<&Value>) -> Result<ureq::Response, HttpError> {
    let agent = ureq::AgentBuilder::new().timeout_read(Duration::from_secs(300)).build();
    let url = format!("{}{path}", url.trim_end_matches('/'));
    let sent = match body {
        Some(body) => agent.post(&url).set("Content-Type", "application/json").send_string(&body.to_string()),
        None => agent.get(&url).call(),
    };
    match sent {
        Ok(response) => Ok(response),
        Err(ureq::Error::Status(code, response)) => {
            let status = format!("{code} {}", response.status_text());
            Err(HttpError::Status { status, body: response.into_string().unwrap_or_default() })
        }
        Err(ureq::Error::Transport(transport)) => Err(HttpError::Transport(Box::new(transport))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-request server on loopback that answers with `response`, the way llama-server streams.
    fn serve_once(response: &'static str) -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                if line.trim().is_empty() {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            reader.into_inner().write_all(response.as_bytes()).unwrap();
        });
        url
    }

    #[test]
    fn a_chunked_stream_is_read_to_its_end() {
        let url = serve_once(concat!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
            "15\r\ndata: {\"content\": \"de\r\n",
            "1e\r\nf\"}\n\ndata: {\"content\": \" f\"}\n\n\r\n",
            "32\r\ndata: {\"stop\": true, \"timings\": {\"prompt_n\": 7}}\n\n\r\n",
            "0\r\n\r\n",
        ));
        let streamed = complete(&url, &serde_json::json!({"prompt": "x", "stream": true})).unwrap();
        assert_eq!(streamed.content, "def f");
        assert_eq!(streamed.n_evaluated, Some(7));
        assert!(streamed.ttft_ms > 0.0 && streamed.ttft_ms <= streamed.total_ms);
    }

    #[test]
    fn an_error_status_carries_the_body() {
        let url = serve_once("HTTP/1.1 400 Bad Request\r\nContent-Length: 7\r\nConnection: close\r\n\r\nno json");
        let err = complete(&url, &serde_json::json!({})).unwrap_err();
        assert_eq!(err.to_string(), "llama-server answered 400 Bad Request: no json");
    }
}
