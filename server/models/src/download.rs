//! Resumable downloads: bytes go to `<dest>.partial`, a broken connection resumes where it stopped (HTTP Range),
//! and only a file whose size and sha256 match takes its final name.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{ModelsError, Progress};

/// Reconnections after a broken transfer before giving up (the `.partial` file stays for the next run).
const RETRIES: u32 = 5;

/// What the finished file must be.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub sha256: &'a str,
    pub n_bytes: Option<u64>,
}

/// Where a file is written until it is checked.
pub fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Downloads `url` to `dest`, resuming a `.partial` file left by an earlier run.
pub fn download(
    agent: &ureq::Agent,
    url: &str,
    dest: &Path,
    expect: Expect,
    label: &str,
    progress: &mut dyn Progress,
) -> Result<(), ModelsError> {
    let partial = partial_path(dest);
    let mut attempt = 0;
    loop {
        match transfer(agent, url, &partial, expect.n_bytes, label, progress) {
            Ok(()) => break,
            Err(Broken(err)) if attempt < RETRIES => {
                attempt += 1;
                tracing::warn!("{err}; resuming ({attempt}/{RETRIES})");
                std::thread::sleep(Duration::from_millis(250 << attempt.min(4)));
            }
            Err(Broken(err) | Fatal(err)) => return Err(err),
        }
    }
    progress.finish();
    check(&partial, expect, label)?;
    fs::rename(&partial, dest).map_err(|source| ModelsError::Io { path: dest.to_path_buf(), source })
}

/// A failed transfer: worth resuming (the connection broke) or not (the server said no, the disk failed).
enum Failure {
    Broken(ModelsError),
    Fatal(ModelsError),
}
use Failure::{Broken, Fatal};

fn transfer(
    agent: &ureq::Agent,
    url: &str,
    partial: &Path,
    n_bytes: Option<u64>,
    label: &str,
    progress: &mut dyn Progress,
) -> Result<(), Failure> {
    let io_error = |source| ModelsError::Io { path: partial.to_path_buf(), source };
    let have = fs::metadata(partial).map_or(0, |m| m.len());
    if have > 0 && Some(have) == n_bytes {
        return Ok(());
    }
    let mut request = agent.get(url);
    if have > 0 {
        request = request.set("Range", &format!("bytes={have}-"));
    }
    let response = match request.call() {
        Ok(response) => response,
        // The partial file is longer than the file: start again.
        Err(ureq::Error::Status(416, _)) => {
            fs::remove_file(partial).map_err(|e| Fatal(io_error(e)))?;
            return Err(Broken(ModelsError::Status { url: url.to_string(), status: 416 }));
        }
        Err(ureq::Error::Status(status, _)) => {
            return Err(Fatal(ModelsError::Status { url: url.to_string(), status }));
        }
        Err(ureq::Error::Transport(source)) => {
            return Err(Broken(ModelsError::Transport { url: url.to_string(), source: Box::new(source) }));
        }
    };
    // A server that ignores Range answers 200 with the whole file: start from zero.
    let resumed = have > 0 && response.status() == 206 && range_start(response.header("Content-Range")) == Some(have);
    let start = if resumed { have } else { 0 };
    let mut file = if resumed { OpenOptions::new().append(true).open(partial) } else { File::create(partial) }
        .map_err(|e| Fatal(io_error(e)))?;
    let length = response.header("Content-Length").and_then(|v| v.parse::<u64>().ok());
    progress.start(label, length.map(|n| n + start).or(n_bytes), start);
    let mut body = response.into_reader();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let n = match body.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(source) => {
                // Keep what arrived: the next attempt resumes after it.
                file.flush().map_err(|e| Fatal(io_error(e)))?;
                return Err(Broken(ModelsError::Broken { url: url.to_string(), source }));
            }
        };
        file.write_all(&buffer[..n]).map_err(|e| Fatal(io_error(e)))?;
        progress.advance(n as u64);
        if progress.cancelled() {
            // What arrived stays in the partial file, for the next download to resume.
            file.sync_all().map_err(|e| Fatal(io_error(e)))?;
            let received = fs::metadata(partial).map_or(0, |m| m.len());
            return Err(Fatal(ModelsError::Cancelled { partial: partial.to_path_buf(), received }));
        }
    }
    file.sync_all().map_err(|e| Fatal(io_error(e)))
}

/// The first byte of a `Content-Range: bytes START-END/TOTAL` header.
fn range_start(header: Option<&str>) -> Option<u64> {
    header?.strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

/// Checks a finished file; one that does not match is deleted, so the next run starts afresh.
pub fn check(path: &Path, expect: Expect, label: &str) -> Result<(), ModelsError> {
    let n_bytes = fs::metadata(path).map_err(|source| ModelsError::Io { path: path.to_path_buf(), source })?.len();
    let got = if expect.n_bytes.is_some_and(|n| n != n_bytes) { None } else { Some(sha256_of(path)?) };
    if got.as_deref() == Some(expect.sha256) {
        return Ok(());
    }
    fs::remove_file(path).map_err(|source| ModelsError::Io { path: path.to_path_buf(), source })?;
    Err(ModelsError::Mismatch {
        what: label.to_string(),
        expected: format!("{} bytes, sha256 {}", expect.n_bytes.map_or("?".into(), |n| n.to_string()), expect.sha256),
        got: format!("{n_bytes} bytes, sha256 {}", got.unwrap_or_else(|| "not computed".into())),
    })
}

pub fn sha256_of(path: &Path) -> Result<String, ModelsError> {
    let io_error = |source| ModelsError::Io { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(io_error)?;
    let mut digest = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(io_error)?;
        if n == 0 {
            return Ok(hex::encode(digest.finalize()));
        }
        digest.update(&buffer[..n]);
    }
}
