//! LSP's `Content-Length` framing, shared by the server's transport, nib-bench's client and plugin processes.

/// A message body with its header, ready for the wire.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The length a header line (without its line break) gives; `None` for another header.
pub fn content_length(header_line: &str) -> Option<Result<usize, String>> {
    let (name, value) = header_line.split_once(':')?;
    name.trim()
        .eq_ignore_ascii_case("content-length")
        .then(|| value.trim().parse().map_err(|_| format!("bad Content-Length {value:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_carries_the_length_its_header_gives() {
        let frame = frame("{\"é\":1}".as_bytes());
        let text = String::from_utf8(frame).unwrap();
        let (header, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(content_length(header), Some(Ok(body.len())));
        assert_eq!(content_length("content-length:  12 "), Some(Ok(12)));
        assert!(matches!(content_length("Content-Length: x"), Some(Err(_))));
        assert_eq!(content_length("Content-Type: application/vscode-jsonrpc"), None);
    }
}
