//! LSP's `Content-Length` framing, shared by the server's transport and nib-bench's client.

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
