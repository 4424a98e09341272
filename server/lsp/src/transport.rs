//! Stdio framing in front of tower-lsp.
//!
//! tower-lsp stops reading for good after one undecodable message (its framed
//! reader ends the stream on the first error), which would take the server
//! down on a single bad byte. So nib reads the frames itself, answers a body
//! that is not JSON-RPC with an error response (id null), and passes only
//! well-formed messages on. All output goes through one writer, so an error
//! response can never land inside another message.
//!
//! It also keeps "one response per request" where tower-lsp does not: it answers
//! a `$/` request that carries an id itself (tower-lsp drops tower's
//! `MethodNotFound` for every `$/` method, and nib handles no `$/` request), and it
//! gives a request without `params` a `null` one, so a method that takes none
//! accepts absent, `null` and `{}` params alike (tower-lsp rejects `{}` for a
//! method without params and requires `params` for a method with them).

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream,
};
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{Request, Response};

use nib_text::documents::{DocumentError, MAX_DOCUMENT_BYTES};

use nib_pipeline::tasks::Tasks;
use nib_protocol::framing;

/// Larger messages are skipped: documents themselves are capped well below this.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
const MAX_HEADER_LINE_BYTES: u64 = 8 * 1024;

/// One frame off the wire: its body, or why it has none.
type Frame = Result<Vec<u8>, String>;

/// Runs a server, which `run` starts on the pipe ends it is given, behind the guard.
pub async fn guard<F, Fut>(
    tasks: &Tasks,
    input: impl AsyncRead + Unpin + Send + 'static,
    mut output: impl AsyncWrite + Unpin,
    run: F,
) where
    F: FnOnce(DuplexStream, DuplexStream) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (to_server, server_in) = tokio::io::duplex(1 << 16);
    let (server_out, from_server) = tokio::io::duplex(1 << 16);
    // Whole message bodies, from the server and from the guard, to the one writer.
    let (bodies, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    let reader = tasks.spawn("transport input", forward_input(BufReader::new(input), to_server, bodies.clone()));
    tasks.spawn("transport output", relay_output(BufReader::new(from_server), bodies));
    let writer = async move {
        while let Some(body) = outgoing.recv().await {
            if write_frame(&mut output, &body).await.is_err() {
                break;
            }
        }
    };
    // The server returns after `exit` or at the end of input; the writer then drains what is left.
    tokio::join!(
        async {
            run(server_in, server_out).await;
            reader.abort();
        },
        writer
    );
}

async fn forward_input(
    mut input: impl AsyncBufRead + Unpin,
    mut to_server: impl AsyncWrite + Unpin,
    bodies: mpsc::UnboundedSender<Vec<u8>>,
) {
    loop {
        let frame = match read_frame(&mut input).await {
            Ok(Some(frame)) => frame,
            // End of input, or a read error: the server sees end of input and stops.
            Ok(None) | Err(_) => return,
        };
        match frame.and_then(|body| check_message(&body).map(|message| route(body, message))) {
            Ok(Routed::Pass(body)) => {
                if write_frame(&mut to_server, &body).await.is_err() {
                    return;
                }
            }
            Ok(Routed::Answer(response)) => {
                let _ = bodies.send(response.to_string().into_bytes());
            }
            Err(reason) => {
                tracing::error!("ignored a malformed message: {reason}");
                let response = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": reason}});
                let _ = bodies.send(response.to_string().into_bytes());
            }
        }
    }
}

async fn relay_output(mut from_server: impl AsyncBufRead + Unpin, bodies: mpsc::UnboundedSender<Vec<u8>>) {
    while let Ok(Some(frame)) = read_frame(&mut from_server).await {
        if let Ok(body) = frame
            && bodies.send(body).is_err()
        {
            return;
        }
    }
}

async fn write_frame(out: &mut (impl AsyncWrite + Unpin), body: &[u8]) -> std::io::Result<()> {
    out.write_all(&framing::frame(body)).await?;
    out.flush().await
}

/// Reads one frame. `Ok(None)` at a clean end of input.
async fn read_frame(input: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<Option<Frame>> {
    let mut content_length: Option<Result<usize, String>> = None;
    let mut in_headers = false;
    loop {
        let mut line = Vec::new();
        if (&mut *input).take(MAX_HEADER_LINE_BYTES).read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if in_headers {
                break;
            }
            continue;
        }
        in_headers = true;
        if let Some(length) = framing::content_length(line) {
            content_length = Some(length);
        }
    }
    let length = match content_length {
        Some(Ok(length)) => length,
        Some(Err(reason)) => return Ok(Some(Err(reason))),
        None => return Ok(Some(Err("a message without Content-Length".into()))),
    };
    if length > MAX_MESSAGE_BYTES {
        tokio::io::copy(&mut (&mut *input).take(length as u64), &mut tokio::io::sink()).await?;
        return Ok(Some(Err(format!("a {length}-byte message, over the {MAX_MESSAGE_BYTES}-byte limit"))));
    }
    let mut body = vec![0; length];
    match input.read_exact(&mut body).await {
        Ok(_) => Ok(Some(Ok(body))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the guard does with a well-formed message.
#[derive(Debug, PartialEq)]
enum Routed {
    /// On to tower-lsp, as this body.
    Pass(Vec<u8>),
    /// Answered here: this message goes back to the client (a response, or a log message).
    Answer(Value),
}

fn route(body: Vec<u8>, mut message: Value) -> Routed {
    let Some(method) = message.get("method").and_then(Value::as_str) else { return Routed::Pass(body) };
    // The spec: a `$/` request the server does not know is answered with MethodNotFound, never dropped.
    if method.starts_with("$/")
        && let Some(id) = message.get("id")
    {
        let error = json!({"code": -32601, "message": format!("nib does not handle the request {method}")});
        return Routed::Answer(json!({"jsonrpc": "2.0", "id": id, "error": error}));
    }
    if let Some(refused) = too_large(method, &message) {
        return Routed::Answer(refused);
    }
    match message.as_object_mut() {
        Some(object) if !object.contains_key("params") => {
            object.insert("params".into(), Value::Null);
            Routed::Pass(message.to_string().into_bytes())
        }
        _ => Routed::Pass(body),
    }
}

/// A document opened over the size limit is refused here, with the warning the document store gives, as a log
/// message to the client: passed on, its message would grow tower-lsp's read buffer to its size, and the buffer
/// keeps its largest capacity for the rest of the session (~20 MiB resident after a 20 MB file was opened).
fn too_large(method: &str, message: &Value) -> Option<Value> {
    if method != "textDocument/didOpen" {
        return None;
    }
    let document = message.pointer("/params/textDocument")?;
    let n_bytes = document.get("text")?.as_str()?.len();
    if n_bytes <= MAX_DOCUMENT_BYTES {
        return None;
    }
    let uri = document.get("uri").and_then(Value::as_str).unwrap_or_default().to_owned();
    let refused = DocumentError::TooLarge { uri, n_bytes }.to_string();
    tracing::warn!("{refused}");
    Some(json!({"jsonrpc": "2.0", "method": "window/logMessage", "params": {"type": 2, "message": refused}}))
}

/// What tower-lsp decodes each body as (its own `Message`, which it keeps private). A body it cannot decode
/// ends its reading for good, so none may pass that does not decode as this.
#[derive(Deserialize)]
#[serde(untagged)]
#[allow(dead_code)] // Only decoded, never read.
enum Decodable {
    Response(Response),
    Request(Request),
}

/// Accepts exactly what tower-lsp can decode: a JSON-RPC 2.0 request,
/// notification or response; returns it parsed.
fn check_message(body: &[u8]) -> Result<Value, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Some(object) = value.as_object() else { return Err("the body is not a JSON object".into()) };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Err("the message lacks \"jsonrpc\": \"2.0\"".into());
    }
    let id_ok = match object.get("id") {
        None | Some(Value::Null | Value::String(_)) => true,
        Some(Value::Number(n)) => n.is_i64(),
        Some(_) => false,
    };
    if !id_ok {
        return Err("the message's id is neither an integer nor a string".into());
    }
    let is_request = object.get("method").is_some_and(Value::is_string);
    let is_response = object.contains_key("id") && (object.contains_key("result") || object.contains_key("error"));
    if !is_request && !is_response {
        return Err("the message is neither a request nor a response".into());
    }
    // What the checks above let through that tower-lsp still refuses: a key given twice (a struct takes no
    // duplicates where a Value keeps the last), a response whose error is not an error object.
    serde_json::from_slice::<Decodable>(body).map_err(|e| format!("the message is not JSON-RPC: {e}"))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_rpc_passes() {
        assert!(check_message(br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{}}"#).is_ok());
        assert!(check_message(br#"{"jsonrpc":"2.0","method":"x"}"#).is_ok());
        assert!(check_message(br#"{"jsonrpc":"2.0","id":"a","result":null}"#).is_ok());
        for bad in [
            &b"{not json"[..],
            b"[1,2]",
            br#"{"hello":"world"}"#,
            br#"{"jsonrpc":"1.0","method":"x"}"#,
            br#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
            br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
            br#"{"jsonrpc":"2.0","method":7}"#,
            b"\xff\xfe",
            // Each would stop tower-lsp reading, and so end the server.
            br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}"#,
            br#"{"jsonrpc":"2.0","jsonrpc":"2.0","method":"x"}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":7,"error":"x"}"#,
        ] {
            assert!(check_message(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_document_over_the_size_limit_is_refused_here() {
        let open = |n_bytes: usize| {
            let text = "x".repeat(n_bytes);
            let message = json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument":
                {"uri": "file:///big.txt", "languageId": "plaintext", "version": 1, "text": text}}});
            route(message.to_string().into_bytes(), message)
        };
        let Routed::Answer(refused) = open(MAX_DOCUMENT_BYTES + 1) else { panic!("an oversized document passed") };
        assert_eq!(refused["method"], "window/logMessage");
        let warning = refused["params"]["message"].as_str().unwrap();
        assert!(warning.starts_with("file:///big.txt: 8388609 bytes is over the"), "{warning}");
        assert!(matches!(open(MAX_DOCUMENT_BYTES), Routed::Pass(_)));
    }

    #[test]
    fn dollar_requests_are_answered_here_and_missing_params_become_null() {
        let routed = |text: &str| route(text.as_bytes().to_vec(), serde_json::from_str(text).unwrap());
        let Routed::Answer(answer) = routed(r#"{"jsonrpc":"2.0","id":7,"method":"$/something"}"#) else {
            panic!("a $/ request must be answered here")
        };
        assert_eq!((&answer["id"], &answer["error"]["code"]), (&json!(7), &json!(-32601)), "{answer}");
        // A `$/` notification goes on (`$/cancelRequest` is one), and so does a request's own params.
        let cancel = r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"#;
        assert_eq!(routed(cancel), Routed::Pass(cancel.as_bytes().to_vec()));
        let Routed::Pass(body) = routed(r#"{"jsonrpc":"2.0","id":1,"method":"nib/status"}"#) else { panic!() };
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["params"], Value::Null);
        let response = r#"{"jsonrpc":"2.0","id":3,"result":null}"#;
        assert_eq!(routed(response), Routed::Pass(response.as_bytes().to_vec()));
    }

    #[tokio::test]
    async fn frames_survive_garbage_between_them() {
        let wire =
            b"Content-Length: 2\r\n\r\n{}garbage line\r\n\r\nContent-Length: x\r\n\r\ncontent-length: 3\r\n\r\nabc";
        let mut input = BufReader::new(&wire[..]);
        assert_eq!(read_frame(&mut input).await.unwrap(), Some(Ok(b"{}".to_vec())));
        assert!(matches!(read_frame(&mut input).await.unwrap(), Some(Err(_))));
        assert!(matches!(read_frame(&mut input).await.unwrap(), Some(Err(_))));
        assert_eq!(read_frame(&mut input).await.unwrap(), Some(Ok(b"abc".to_vec())));
        assert_eq!(read_frame(&mut input).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_body_cut_short_is_the_end_of_input() {
        let mut input = BufReader::new(&b"Content-Length: 10\r\n\r\nabc"[..]);
        assert_eq!(read_frame(&mut input).await.unwrap(), None);
    }
}
