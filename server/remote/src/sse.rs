//! Server-sent events as they arrive, in pieces of any size: the data of each whole event.

use serde_json::Value;

use crate::http::error_message;

#[derive(Debug, PartialEq)]
pub enum Event {
    Data(Value),
    /// `data: [DONE]`: OpenAI's end of the stream.
    Done,
}

/// Splits a stream into events.
#[derive(Debug, Default)]
pub struct Splitter {
    pending: Vec<u8>,
}

impl Splitter {
    pub fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The stream ended: a last event without its blank line still counts.
    pub fn end(&mut self) {
        if self.pending.iter().any(|b| !b.is_ascii_whitespace()) {
            self.pending.extend_from_slice(b"\n\n");
        }
    }
}

/// The whole events fed so far; comments (`: ping`) and events without data are skipped. An event whose data is
/// not JSON, or that reports a failure (llama-server does so mid-stream), is an error.
impl Iterator for Splitter {
    type Item = Result<Event, String>;

    fn next(&mut self) -> Option<Result<Event, String>> {
        while let Some(end) = find_event_end(&self.pending) {
            let event: Vec<u8> = self.pending.drain(..end).collect();
            if let Some(parsed) = parse_event(&event).transpose() {
                return Some(parsed);
            }
        }
        None
    }
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
    fn events_are_read_across_pieces() {
        let mut events = Splitter::default();
        events.feed(b"data: {\"content\": \"de");
        assert_eq!(events.next(), None);
        events.feed(b"f\"}\n\n: ping\n\ndata: {\"stop\": true}");
        assert_eq!(events.next(), Some(Ok(Event::Data(serde_json::json!({"content": "def"})))));
        assert_eq!(events.next(), None);
        events.end();
        assert_eq!(events.next(), Some(Ok(Event::Data(serde_json::json!({"stop": true})))));
    }
}
