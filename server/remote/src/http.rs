//! Talking to a server: JSON requests, streamed answers as server-sent events, and what can go wrong, each
//! said with the URL it happened at.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::Value;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    #[error("{url}: cannot connect: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url}: no answer within {ms} ms")]
    Timeout { url: String, ms: u128 },
    #[error("{url}: HTTP {status}: {message}")]
    Status { url: String, status: u16, message: String },
    #[error("{url}: {reason}")]
    Broken { url: String, reason: String },
}

impl HttpError {
    /// The server may be fine and the request at fault (a prompt it refused): no reason to back off.
    pub fn is_request_error(&self) -> bool {
        matches!(self, HttpError::Status { status, .. } if (400..500).contains(status) && *status != 408 && *status != 429)
    }
}

/// One server: its base URL, the bearer token if any, the per-request limit.
#[derive(Clone)]
pub struct Server {
    client: reqwest::Client,
    base: String,
    token: Option<HeaderValue>,
    pub timeout: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Server").field("base", &self.base).finish_non_exhaustive()
    }
}

impl Server {
    pub fn new(base: &str, token: Option<&str>, timeout: Duration) -> Result<Server, String> {
        let url = reqwest::Url::parse(base).map_err(|e| format!("{base:?} is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{base:?}: only http and https URLs are served"));
        }
        let token = match token {
            Some(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| "the API token holds characters a header cannot".to_owned())?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("cannot set up HTTP: {e}"))?;
        Ok(Server { client, base: base.trim_end_matches('/').to_owned(), token, timeout })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, self.url(path));
        match &self.token {
            Some(token) => request.header(AUTHORIZATION, token.clone()),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, HttpError> {
        let response = self.send(self.request(reqwest::Method::GET, path), path).await?;
        self.json(response, path).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, HttpError> {
        let response = self.send(self.request(reqwest::Method::POST, path).json(body), path).await?;
        self.json(response, path).await
    }

    /// Posts `body` and returns the answer's event stream once its headers have come.
    pub async fn stream(&self, path: &str, body: &Value) -> Result<Events, HttpError> {
        let response = self.send(self.request(reqwest::Method::POST, path).json(body), path).await?;
        Ok(Events { response, url: self.url(path), timeout: self.timeout, pending: Vec::new(), done: false })
    }

    async fn send(&self, request: reqwest::RequestBuilder, path: &str) -> Result<reqwest::Response, HttpError> {
        let url = self.url(path);
        let response = match tokio::time::timeout(self.timeout, request.send()).await {
            Err(_) => return Err(HttpError::Timeout { url, ms: self.timeout.as_millis() }),
            Ok(Err(err)) => return Err(transport(url, &err)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = tokio::time::timeout(self.timeout, response.text()).await.ok().and_then(Result::ok);
        Err(HttpError::Status { url, status: status.as_u16(), message: error_message(body.as_deref().unwrap_or("")) })
    }

    async fn json(&self, response: reqwest::Response, path: &str) -> Result<Value, HttpError> {
        let url = self.url(path);
        let body = match tokio::time::timeout(self.timeout, response.bytes()).await {
            Err(_) => return Err(HttpError::Timeout { url, ms: self.timeout.as_millis() }),
            Ok(Err(err)) => return Err(transport(url, &err)),
            Ok(Ok(body)) => body,
        };
        serde_json::from_slice(&body)
            .map_err(|e| HttpError::Broken { url, reason: format!("the answer is not JSON: {e}") })
    }
}

fn transport(url: String, err: &reqwest::Error) -> HttpError {
    // reqwest's Display stops at "error sending request"; the cause says what happened.
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        reason = format!("{reason}: {cause}");
        source = cause.source();
    }
    if err.is_connect() { HttpError::Connect { url, reason } } else { HttpError::Broken { url, reason } }
}

/// The message of an error answer: `{"error": {"message": ...}}` (llama-server, OpenAI), else its start.
fn error_message(body: &str) -> String {
    let json: Option<Value> = serde_json::from_str(body).ok();
    let message = json.as_ref().and_then(|j| j["error"]["message"].as_str().or(j["error"].as_str()));
    let text = message.unwrap_or(body).trim();
    let cut: String = text.chars().take(300).collect();
    if cut.is_empty() { "no message".into() } else { cut }
}

/// A streamed answer: its `data:` JSON objects, one at a time.
pub struct Events {
    response: reqwest::Response,
    url: String,
    timeout: Duration,
    pending: Vec<u8>,
    done: bool,
}

impl Events {
    /// The next event's object; `None` at the end of the stream (or after `data: [DONE]`). A piece that takes
    /// longer than the timeout to come, a cut connection or a line that is not JSON is an error.
    pub async fn next(&mut self) -> Result<Option<Value>, HttpError> {
        loop {
            if let Some(end) = find_event_end(&self.pending) {
                let event: Vec<u8> = self.pending.drain(..end).collect();
                match parse_event(&event) {
                    Ok(Some(Event::Data(value))) => return Ok(Some(value)),
                    Ok(Some(Event::Done)) => {
                        self.done = true;
                        return Ok(None);
                    }
                    Ok(None) => continue,
                    Err(reason) => return Err(HttpError::Broken { url: self.url.clone(), reason }),
                }
            }
            if self.done {
                return Ok(None);
            }
            let chunk = match tokio::time::timeout(self.timeout, self.response.chunk()).await {
                Err(_) => return Err(HttpError::Timeout { url: self.url.clone(), ms: self.timeout.as_millis() }),
                Ok(Err(err)) => return Err(transport(self.url.clone(), &err)),
                Ok(Ok(chunk)) => chunk,
            };
            match chunk {
                Some(bytes) => self.pending.extend_from_slice(&bytes),
                None => {
                    self.done = true;
                    // A last event without its blank line still counts.
                    if self.pending.iter().any(|b| !b.is_ascii_whitespace()) {
                        self.pending.extend_from_slice(b"\n\n");
                    } else {
                        return Ok(None);
                    }
                }
            }
        }
    }
}

#[derive(Debug)]
enum Event {
    Data(Value),
    Done,
}

/// Where the first event ends (after its blank line), `\n\n` or `\r\n\r\n`.
fn find_event_end(bytes: &[u8]) -> Option<usize> {
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An event's data; comments (`: ping`) and events without data are skipped.
fn parse_event(event: &[u8]) -> Result<Option<Event>, String> {
    let text = String::from_utf8_lossy(event);
    let data: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| d.strip_prefix(' ').unwrap_or(d)).collect();
    if data.is_empty() {
        return Ok(None);
    }
    let data = data.join("\n");
    if data.trim() == "[DONE]" {
        return Ok(Some(Event::Done));
    }
    match serde_json::from_str::<Value>(&data) {
        // llama-server reports a failure mid-stream as an event of its own.
        Ok(value) if value.get("error").is_some() => Err(format!("the server failed: {}", error_message(&data))),
        Ok(value) => Ok(Some(Event::Data(value))),
        Err(_) => {
            let start: String = data.chars().take(80).collect();
            Err(format!("a malformed event in the answer: {start:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_end_at_a_blank_line_either_way() {
        assert_eq!(find_event_end(b"data: 1\n\ndata: 2"), Some(9));
        assert_eq!(find_event_end(b"data: 1\r\n\r\n"), Some(11));
        assert_eq!(find_event_end(b"data: 1\n"), None);
    }

    #[test]
    fn events_are_data_done_comments_or_errors() {
        assert!(
            matches!(parse_event(b"data: {\"content\": \"x\"}\n\n"), Ok(Some(Event::Data(v))) if v["content"] == "x")
        );
        assert!(matches!(parse_event(b"data: [DONE]\n\n"), Ok(Some(Event::Done))));
        assert!(matches!(parse_event(b": ping\n\n"), Ok(None)));
        assert!(parse_event(b"data: {\"content\": \n\n").unwrap_err().starts_with("a malformed event"));
        let failed = parse_event(b"data: {\"error\": {\"code\": 500, \"message\": \"boom\"}}\n\n").unwrap_err();
        assert_eq!(failed, "the server failed: boom");
    }

    #[test]
    fn error_answers_give_their_message() {
        assert_eq!(error_message(r#"{"error": {"code": 400, "message": "too long"}}"#), "too long");
        assert_eq!(error_message(r#"{"error": "bad key"}"#), "bad key");
        assert_eq!(error_message("<html>oops</html>"), "<html>oops</html>");
        assert_eq!(error_message(""), "no message");
    }

    #[test]
    fn only_http_urls_are_taken_and_the_token_is_never_shown() {
        assert!(Server::new("ftp://x", None, Duration::from_secs(1)).is_err());
        assert!(Server::new("not a url", None, Duration::from_secs(1)).is_err());
        let server = Server::new("https://gpu-box:8000/v1/", Some("sekrit"), Duration::from_secs(1)).unwrap();
        assert_eq!(server.base(), "https://gpu-box:8000/v1");
        assert!(!format!("{server:?}").contains("sekrit"));
    }
}
