//! Times llama.cpp's `llama-server` on the same requests: one streamed `POST /completion`, through the remote
//! backend's HTTP client (`nib-remote`'s `http`), on a runtime of its own, since the replay is synchronous.

use std::time::{Duration, Instant};

use serde_json::Value;

pub use nib_remote::HttpError;
use nib_remote::http::Server;

/// How long any piece of an answer may take to come (a cold prompt on a slow machine included).
const TIMEOUT: Duration = Duration::from_secs(300);

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
    let broken = |reason: String| HttpError::Broken { url: url.to_owned(), reason };
    let server = Server::new(url, None, TIMEOUT).map_err(broken)?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| broken(e.to_string()))?;
    runtime.block_on(async {
        let started = Instant::now();
        let mut events = server.stream("/completion", body).await?;
        let mut out = Streamed::default();
        while let Some(json) = events.next().await? {
            let content = json["content"].as_str().unwrap_or_default();
            if out.ttft_ms == 0.0 && (!content.is_empty() || json["stop"] == true) {
                out.ttft_ms = started.elapsed().as_secs_f64() * 1000.0;
            }
            out.content.push_str(content);
            if let Some(n) = json["timings"]["prompt_n"].as_u64() {
                out.n_evaluated = Some(n as usize);
            }
        }
        out.total_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-request server on loopback that answers with `response`, the way llama-server streams.
    fn serve_once(response: &'static str) -> String {
        use std::io::{BufRead, BufReader, Read, Write};
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
        assert!(matches!(&err, HttpError::Status { status: 400, message, .. } if message == "no json"), "{err}");
    }
}
