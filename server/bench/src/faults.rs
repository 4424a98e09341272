//! A fault-injecting HTTP/1.1 proxy for tests: forwards each request to a real upstream (llama-server) byte for
//! byte, or breaks it the way networks and servers break, per path prefix and switchable while a test runs.
//!
//! One request per connection: the proxy asks upstream for `Connection: close` and answers the same way, so
//! streamed and chunked responses pass through untouched and end when upstream ends them. Request bodies must carry
//! a `Content-Length` (every client here sends one).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

/// The longest request head the proxy reads.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What happens to a request whose path matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwarded, the response copied back as it arrives.
    None,
    /// The request is read, then nothing: the connection stays open until the client or the proxy goes.
    Stall,
    /// The connection is closed right after the request is read: the client sees the end before any response.
    Reset,
    /// A valid response with this status and a small JSON error body, as llama-server words its errors.
    Status(u16),
    /// `200 OK`, `text/event-stream`, and `data:` lines that are not the JSON they should be, then the end.
    Garbage,
    /// The first `after_bytes` bytes of the real response, then the connection is closed.
    Truncate { after_bytes: usize },
    /// The first `after_bytes` bytes of the real response, then nothing, the connection open.
    StallAfter { after_bytes: usize },
    /// The real response, with `delay` before each piece of it that upstream sends.
    Slow { delay: Duration },
}

/// A loopback proxy on its own thread; dropping it ends every connection and thread it started.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: String,
    /// Faults by path prefix; the longest matching prefix wins.
    faults: Mutex<Vec<(String, Fault)>>,
    /// The path and the bytes (head and body) of every request read, faulted or not: what went over the wire.
    requests: Mutex<Vec<(String, Vec<u8>)>>,
    /// Every open socket, so drop can shut them and unblock their threads; `None` once the proxy is stopping.
    sockets: Mutex<Option<HashMap<u64, Vec<TcpStream>>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stopping: AtomicBool,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`, any path ignored).
    pub fn start(upstream: &str) -> io::Result<FaultProxy> {
        let authority = upstream.trim_start_matches("http://").split('/').next().unwrap_or_default();
        if authority.to_socket_addrs()?.next().is_none() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("no address for {upstream}")));
        }
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: authority.to_string(),
            faults: Mutex::default(),
            requests: Mutex::default(),
            sockets: Mutex::new(Some(HashMap::new())),
            threads: Mutex::default(),
            stopping: AtomicBool::new(false),
        });
        let accept_shared = shared.clone();
        let accept = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || accept_loop(listener, accept_shared))?;
        Ok(FaultProxy { addr, shared, accept: Some(accept) })
    }

    /// The proxy's base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, requests whose path starts with `path_prefix` get `fault` (requests already answering keep theirs).
    pub fn set(&self, path_prefix: &str, fault: Fault) {
        let mut faults = self.shared.faults.lock();
        faults.retain(|(prefix, _)| prefix != path_prefix);
        faults.push((path_prefix.to_string(), fault));
    }

    /// Every request passes through again.
    pub fn clear(&self) {
        self.shared.faults.lock().clear();
    }

    /// How many requests whose path starts with `path_prefix` the proxy has read.
    pub fn requests(&self, path_prefix: &str) -> usize {
        self.shared.requests.lock().iter().filter(|(path, _)| path.starts_with(path_prefix)).count()
    }

    /// Every request the proxy has read, as sent (head and body, lossy UTF-8), whatever its path.
    pub fn wire(&self) -> Vec<String> {
        self.shared.requests.lock().iter().map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned()).collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop, which then sees `stopping`.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        // No socket is registered after this, and shutting the registered ones unblocks every read and write.
        if let Some(sockets) = self.shared.sockets.lock().take() {
            for socket in sockets.values().flatten() {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        for thread in self.shared.threads.lock().drain(..) {
            let _ = thread.join();
        }
    }
}

/// A loopback URL where nothing listens, for "connection refused" (the port was free a moment ago).
pub fn refused_url() -> io::Result<String> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    Ok(format!("http://127.0.0.1:{port}"))
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if track(&shared, id, &client).is_err() {
            return;
        }
        let conn_shared = shared.clone();
        let spawned = std::thread::Builder::new().name("fault-proxy-conn".into()).spawn(move || {
            let _ = serve(&conn_shared, id, client);
            if let Some(sockets) = conn_shared.sockets.lock().as_mut() {
                sockets.remove(&id);
            }
        });
        if let Ok(thread) = spawned {
            shared.threads.lock().push(thread);
        }
    }
}

/// Registers a clone of `stream` under connection `id`; fails once the proxy is stopping.
fn track(shared: &Shared, id: u64, stream: &TcpStream) -> io::Result<()> {
    let clone = stream.try_clone()?;
    match shared.sockets.lock().as_mut() {
        Some(sockets) => {
            sockets.entry(id).or_default().push(clone);
            Ok(())
        }
        None => Err(io::Error::other("the proxy is stopping")),
    }
}

/// One connection: read the request, then forward it or inject the fault its path asks for.
fn serve(shared: &Shared, id: u64, mut client: TcpStream) -> io::Result<()> {
    let request = read_request(&mut client)?;
    shared.requests.lock().push((request.path.clone(), request.bytes.clone()));
    let fault = fault_for(shared, &request.path);
    match fault {
        Fault::Stall => return wait_for_close(&mut client),
        Fault::Reset => return client.shutdown(Shutdown::Both),
        Fault::Status(code) => return client.write_all(&status_response(code)),
        Fault::Garbage => return client.write_all(GARBAGE),
        Fault::None | Fault::Truncate { .. } | Fault::StallAfter { .. } | Fault::Slow { .. } => {}
    }
    let mut upstream = match TcpStream::connect(&shared.upstream) {
        Ok(upstream) => upstream,
        Err(_) => return client.write_all(&status_response(502)),
    };
    track(shared, id, &upstream)?;
    upstream.write_all(&request.bytes)?;
    let limit = match fault {
        Fault::Truncate { after_bytes } | Fault::StallAfter { after_bytes } => after_bytes,
        _ => usize::MAX,
    };
    let mut sent = 0;
    let mut buf = [0u8; 8192];
    while sent < limit {
        let n = upstream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        if let Fault::Slow { delay } = fault {
            std::thread::sleep(delay);
        }
        let n = n.min(limit - sent);
        client.write_all(&buf[..n])?;
        sent += n;
    }
    drop(upstream);
    match fault {
        Fault::StallAfter { .. } => wait_for_close(&mut client),
        _ => client.shutdown(Shutdown::Both),
    }
}

fn fault_for(shared: &Shared, path: &str) -> Fault {
    let faults = shared.faults.lock();
    let matching = faults.iter().filter(|(prefix, _)| path.starts_with(prefix.as_str()));
    matching.max_by_key(|(prefix, _)| prefix.len()).map_or(Fault::None, |(_, fault)| *fault)
}

/// Blocks until the client closes its side, or the proxy, stopping, shuts the socket.
fn wait_for_close(client: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    while client.read(&mut buf)? > 0 {}
    Ok(())
}

struct Request {
    path: String,
    /// The request as upstream gets it: the head with `Connection: close`, then the body.
    bytes: Vec<u8>,
}

/// Reads a request head and its `Content-Length` body.
fn read_request(client: &mut TcpStream) -> io::Result<Request> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if data.len() > MAX_HEAD_BYTES {
            return Err(invalid("request head too long"));
        }
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        data.extend_from_slice(&buf[..n]);
    };
    let head = std::str::from_utf8(&data[..head_end]).map_err(|_| invalid("request head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let path = request_line.split(' ').nth(1).ok_or_else(|| invalid("no path in the request line"))?.to_string();
    let mut forwarded = format!("{request_line}\r\n");
    let mut content_length = 0;
    for line in lines {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.trim().parse().map_err(|_| invalid("bad Content-Length"))?;
        }
        if !name.eq_ignore_ascii_case("connection") && !name.eq_ignore_ascii_case("keep-alive") {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    let mut body = data.split_off(head_end + 4);
    while body.len() < content_length {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&buf[..n]);
    }
    body.truncate(content_length);
    let mut bytes = forwarded.into_bytes();
    bytes.extend_from_slice(&body);
    Ok(Request { path, bytes })
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn status_response(code: u16) -> Vec<u8> {
    let reason = match code {
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Injected",
    };
    let body = format!(
        r#"{{"error":{{"code":{code},"message":"{reason} (injected by the fault proxy)","type":"server_error"}}}}"#
    );
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Events a server-sent event parser must survive: cut JSON, no JSON, a JSON array, a field it does not expect.
const GARBAGE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n\
data: {\"content\": \"unterminated\n\n\
data: not json at all\n\n\
data: [1, 2\n\n\
data: {\"content\": 42, \"stop\": \"maybe\"}\n\n\
data:\n\n";

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A streamed response in three pieces, as llama-server sends server-sent events.
    const PIECES: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
        b"data: {\"content\":\"def\"}\n\n",
        b"data: {\"content\":\" main\",\"stop\":true}\n\n",
    ];

    fn full_response() -> Vec<u8> {
        PIECES.concat()
    }

    /// A tiny upstream that reads each request, checks it asks for `Connection: close`, and streams `PIECES`.
    fn upstream() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                std::thread::spawn(move || {
                    let request = read_request(&mut stream).unwrap();
                    let text = String::from_utf8(request.bytes).unwrap();
                    assert!(text.contains("Connection: close\r\n\r\n"), "{text}");
                    assert!(!text.contains("keep-alive"), "{text}");
                    for piece in PIECES {
                        if stream.write_all(piece).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                });
            }
        });
        url
    }

    /// Sends one POST to `url` + `path` and reads until the end or `timeout`: the bytes and whether it timed out.
    fn post(url: &str, path: &str, timeout: Duration) -> (Vec<u8>, bool) {
        let mut stream = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
        stream.set_read_timeout(Some(timeout)).unwrap();
        let body = r#"{"prompt":"x"}"#;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(format!("{head}{body}").as_bytes()).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return (out, false),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return (out, true);
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return (out, false),
                Err(e) => panic!("{e}"),
            }
        }
    }

    const LONG: Duration = Duration::from_secs(10);
    const SHORT: Duration = Duration::from_millis(300);

    #[test]
    fn passes_the_response_through_byte_for_byte() {
        let upstream = upstream();
        let proxy = FaultProxy::start(&upstream).unwrap();
        assert_eq!(post(&upstream, "/completion", LONG), (full_response(), false));
        assert_eq!(post(&proxy.url(), "/completion", LONG), (full_response(), false));
        assert_eq!(proxy.requests("/completion"), 1);
    }

    #[test]
    fn stall_answers_nothing_and_stays_open() {
        let proxy = FaultProxy::start(&upstream()).unwrap();
        proxy.set("/completion", Fault::Stall);
        assert_eq!(post(&proxy.url(), "/completion", SHORT), (Vec::new(), true));
    }

    #[test]
    fn reset_ends_the_connection_without_an_answer() {
        let proxy = FaultProxy::start(&upstream()).unwrap();
        proxy.set("/completion", Fault::Reset);
        assert_eq!(post(&proxy.url(), "/completion", LONG), (Vec::new(), false));
    }

    #[test]
    fn status_answers_that_code_with_a_json_error() {
        let proxy = FaultProxy::start(&upstream()).unwrap();
        proxy.set("/completion", Fault::Status(503));
        let (bytes, timed_out) = post(&proxy.url(), "/completion", LONG);
        let text = String::from_utf8(bytes).unwrap();
        assert!(!timed_out);
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{text}");
        let body = text.split_once("\r\n\r\n").unwrap().1;
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], 503);
    }

    #[test]
    fn garbage_is_an_event_stream_of_broken_events() {
        let proxy = FaultProxy::start(&upstream()).unwrap();
        proxy.set("/completion", Fault::Garbage);
        let (bytes, timed_out) = post(&proxy.url(), "/completion", LONG);
        assert!(!timed_out);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("text/event-stream"), "{text}");
        let events = text.split_once("\r\n\r\n").unwrap().1;
        for data in events.lines().filter_map(|line| line.strip_prefix("data:")) {
            let json = serde_json::from_str::<serde_json::Value>(data.trim());
            assert!(json.map_or(true, |json| json["content"].as_str().is_none()), "{data}");
        }
    }

    #[test]
    fn truncate_forwards_exactly_n_bytes_then_closes() {
        let proxy = FaultProxy::start(&upstream()).unwrap();
        let after_bytes = PIECES[0].len() + 10;
        proxy.set("/completion", Fault::Truncate { after_bytes });
        assert_eq!(post(&proxy.url(), "/completion", LONG), (full_response()[..after_bytes].to_vec(), false));
    }

    #[test]
    fn stall_after_forwards_n_bytes_then_stays_open() {
        let proxy = FaultProxy::start(&upstream()).unwrap();
        let after_bytes = PIECES[0].len() + PIECES[1].len();
        proxy.set("/completion", Fault::StallAfter { after_bytes });
        assert_eq!(post(&proxy.url(), "/completion", SHORT), (full_response()[..after_bytes].to_vec(), true));
    }

    #[test]
    fn slow_delivers_everything_late() {
        let proxy = FaultProxy::start(&upstream()).unwrap();
        let delay = Duration::from_millis(50);
        proxy.set("/completion", Fault::Slow { delay });
        let started = Instant::now();
        assert_eq!(post(&proxy.url(), "/completion", LONG), (full_response(), false));
        assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    }

    #[test]
    fn faults_apply_by_prefix_and_heal() {
        let proxy = FaultProxy::start(&upstream()).unwrap();
        proxy.set("/", Fault::Status(500));
        proxy.set("/completion", Fault::Stall);
        assert!(post(&proxy.url(), "/completion", SHORT).1, "the longest prefix wins");
        assert!(post(&proxy.url(), "/health", LONG).0.starts_with(b"HTTP/1.1 500"));
        proxy.set("/", Fault::None);
        assert_eq!(post(&proxy.url(), "/health", LONG), (full_response(), false));
        proxy.clear();
        assert_eq!(post(&proxy.url(), "/completion", LONG), (full_response(), false));
        assert_eq!((proxy.requests("/completion"), proxy.requests("/health"), proxy.requests("/")), (2, 2, 4));
    }

    #[test]
    fn a_dead_upstream_is_a_502() {
        let proxy = FaultProxy::start(&refused_url().unwrap()).unwrap();
        assert!(post(&proxy.url(), "/health", LONG).0.starts_with(b"HTTP/1.1 502"));
    }

    #[test]
    fn refused_url_refuses() {
        let url = refused_url().unwrap();
        let error = TcpStream::connect(url.trim_start_matches("http://")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn dropping_the_proxy_ends_stalled_connections() {
        let proxy = FaultProxy::start(&upstream()).unwrap();
        proxy.set("/completion", Fault::Stall);
        let url = proxy.url();
        let client = std::thread::spawn(move || post(&url, "/completion", LONG));
        while proxy.requests("/completion") == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let started = Instant::now();
        drop(proxy);
        assert_eq!(client.join().unwrap(), (Vec::new(), false), "the client sees the end, not its timeout");
        assert!(started.elapsed() < LONG / 2);
    }
}
