//! Talking to a server: JSON requests, streamed answers as server-sent events, and what can go wrong, each
//! said with the URL it happened at.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::Value;

use crate::sse::{Event, Splitter};

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
        Ok(Events { response, url: self.url(path), timeout: self.timeout, events: Splitter::default(), done: false })
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
pub(crate) fn error_message(body: &str) -> String {
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
    events: Splitter,
    done: bool,
}

impl Events {
    /// The next event's object; `None` at the end of the stream (or after `data: [DONE]`). A piece that takes
    /// longer than the timeout to come, a cut connection or a line that is not JSON is an error.
    pub async fn next(&mut self) -> Result<Option<Value>, HttpError> {
        loop {
            match self.events.next() {
                Some(Ok(Event::Data(value))) => return Ok(Some(value)),
                Some(Ok(Event::Done)) => {
                    self.done = true;
                    return Ok(None);
                }
                Some(Err(reason)) => return Err(HttpError::Broken { url: self.url.clone(), reason }),
                None => {}
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
                Some(bytes) => self.events.feed(&bytes),
                None => {
                    self.done = true;
                    self.events.end();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
