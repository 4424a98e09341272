//! Just enough HTTP to time llama.cpp's `llama-server` on the same requests:
//! one streamed `POST /completion` on loopback, read as server-sent events.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("only http://HOST:PORT URLs are supported, got {0:?}")]
    Url(String),
    #[error("llama-server: {0}")]
    Io(#[from] std::io::Error),
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
    let host =
        url.strip_prefix("http://").map(|h| h.trim_end_matches('/')).ok_or_else(|| HttpError::Url(url.into()))?;
    let payload = body.to_string();
    let started = Instant::now();
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    stream.set_nodelay(true)?;
    write!(
        stream,
        "POST /completion HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    let mut chunked = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        let lower = header.to_ascii_lowercase();
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
    }
    if !status.contains(" 200") {
        let mut rest = String::new();
        let _ = reader.read_to_string(&mut rest);
        return Err(HttpError::Status { status: status.trim().to_owned(), body: rest });
    }
    let mut out = Streamed::default();
    let mut events = String::new();
    let mut on_bytes = |bytes: &[u8], out: &mut Streamed| {
        events.push_str(&String::from_utf8_lossy(bytes));
        while let Some(end) = events.find("\n\n") {
            let event: String = events.drain(..end + 2).collect();
            for data in event.lines().filter_map(|l| l.strip_prefix("data: ")) {
                let Ok(json) = serde_json::from_str::<Value>(data) else { continue };
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
    };
    if chunked {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size)? == 0 {
                break;
            }
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            on_bytes(&chunk[..size], &mut out);
        }
    } else {
        let mut buf = [0u8; 4096];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            on_bytes(&buf[..n], &mut out);
        }
    }
    out.total_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(out)
}
