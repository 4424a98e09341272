//! `nib bench soak`: hours of use squeezed into minutes, through `nib serve` over stdio. A user types into
//! real files (Python's standard library), each keystroke a completion request; some requests are superseded
//! by the next keystroke before they answer, some cancelled (`$/cancelRequest`); files are saved (reviews),
//! switched between, and a 2 MB minified bundle is opened, edited and closed now and then. Every minute it
//! reports the server's resident memory and that minute's latencies.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::lsp_client::{ClientError, LspClient, inline_params};
use super::{SplitMix, quantile};

/// Real files of several hundred lines each.
const FILES: &[&str] = &["textwrap.py", "calendar.py", "json/decoder.py", "csv.py", "fractions.py", "shlex.py"];

/// What is typed at each place, one request per keystroke.
const TYPED: &str = "return self._";

/// Keystrokes come no faster than this (a brisk typist).
const KEYSTROKE: Duration = Duration::from_millis(120);

/// One minute of the soak.
#[derive(Debug, Clone, Serialize)]
pub struct Minute {
    pub minute: usize,
    pub rss_mib: f64,
    pub n_requests: usize,
    pub n_empty: usize,
    /// Answered with an error other than the cancellation the client asked for.
    pub n_errors: usize,
    /// End-to-end latency of the requests answered with a suggestion.
    pub p50_ms: f64,
    pub p95_ms: f64,
    #[serde(skip)]
    pub latencies_ms: Vec<f64>,
}

/// The soak in a few lines: memory at the start, after warm-up and at the end, and per 10 minutes its median
/// and highest (a minute's figure is one sample, taken whenever the minute ends: a bundle just opened shows) with
/// the latencies.
pub fn summary(minutes: &[Minute]) -> String {
    let (Some(first), Some(last)) = (minutes.first(), minutes.last()) else { return String::new() };
    let warm = &minutes[WARM_UP_MINUTES.min(minutes.len()) - 1];
    let growth = (last.rss_mib - warm.rss_mib) / warm.rss_mib * 100.0;
    let mut text = format!(
        "rss: {:.0} MiB after minute 1, {:.0} MiB after warm-up (minute {}), {:.0} MiB at the end: {growth:+.1} % after warm-up\n",
        first.rss_mib, warm.rss_mib, warm.minute, last.rss_mib
    );
    for block in minutes.chunks(10) {
        let all: Vec<f64> = block.iter().flat_map(|m| m.latencies_ms.iter().copied()).collect();
        let rss: Vec<f64> = block.iter().map(|m| m.rss_mib).collect();
        let n: usize = block.iter().map(|m| m.n_requests).sum();
        let (from, to) = (block[0].minute, block[block.len() - 1].minute);
        text.push_str(&format!(
            "minutes {from}-{to}: rss median {:.0} MiB, highest {:.0} MiB; {n} requests, p50 {:.0} ms, p95 {:.0} ms, {} empty, {} errors\n",
            quantile(&rss, 0.5),
            quantile(&rss, 1.0),
            quantile(&all, 0.5),
            quantile(&all, 0.95),
            block.iter().map(|m| m.n_empty).sum::<usize>(),
            block.iter().map(|m| m.n_errors).sum::<usize>()
        ));
    }
    text
}

/// Memory is compared from the end of this minute on: caches fill first.
const WARM_UP_MINUTES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Setup(String),
}

struct Open {
    uri: String,
    lines: Vec<String>,
    version: i32,
}

/// Runs the soak for `minutes` against `binary serve --model model` with a fresh `NIB_HOME`, calling
/// `on_minute` as each minute ends.
pub fn soak(
    binary: &Path,
    model: &Path,
    stdlib: &Path,
    minutes: usize,
    mut on_minute: impl FnMut(&Minute),
) -> Result<Vec<Minute>, SoakError> {
    let home = std::env::temp_dir().join(format!("nib-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let mut command = Command::new(binary);
    command.arg("serve").arg("--model").arg(model).env("NIB_HOME", &home);
    let mut client = LspClient::spawn(command)?;
    client.initialize(json!({}), json!({}))?;
    let mut files = Vec::new();
    for name in FILES {
        let path = stdlib.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| SoakError::Setup(format!("{}: {e}", path.display())))?;
        files.push(Open {
            uri: format!("file:///soak/{name}"),
            lines: text.lines().map(str::to_owned).collect(),
            version: 1,
        });
        client.open(&files[files.len() - 1].uri, "python", &text)?;
    }
    // The same soak every run.
    let mut rng = SplitMix(0x9e37_79b9_7f4a_7c15);
    let (mut current, mut at, mut last_key) = (0, 0, Instant::now());
    let mut report = Vec::new();
    let started = Instant::now();
    for minute in 1..=minutes {
        let until = started + Duration::from_secs(60 * minute as u64);
        let (mut latencies, mut n_requests, mut n_empty, mut n_errors) = (Vec::new(), 0, 0, 0);
        while Instant::now() < until {
            // Mostly near where the user was; now and then another file.
            if rng.below(4) == 0 {
                current = rng.below(FILES.len());
            }
            let file = &mut files[current];
            let line = match rng.below(3) {
                0 => rng.below(file.lines.len()),
                _ => (at + rng.below(40)).saturating_sub(20).min(file.lines.len() - 1),
            };
            at = line;
            // Typed at the end of the line, as a user adding code does, at a typist's pace.
            let mut col = file.lines[line].encode_utf16().count() as u32;
            for (i, c) in TYPED.chars().enumerate() {
                std::thread::sleep(KEYSTROKE.saturating_sub(last_key.elapsed()));
                last_key = Instant::now();
                file.version += 1;
                client.insert(&file.uri, file.version, line as u32, col, &c.to_string())?;
                file.lines[line].push(c);
                col += 1;
                let asked = Instant::now();
                let id = client.request("textDocument/inlineCompletion", inline_params(&file.uri, line as u32, col))?;
                n_requests += 1;
                let cancelled = match rng.below(10) {
                    // Superseded: the next keystroke comes before the answer.
                    0 | 1 if i + 1 < TYPED.len() => continue,
                    2 => {
                        client.notify("$/cancelRequest", json!({"id": id}))?;
                        true
                    }
                    _ => false,
                };
                let answer = client.response(id)?;
                if answer.get("error").is_some() {
                    // -32800: RequestCancelled, what a cancelled request is owed.
                    n_errors += usize::from(!(cancelled && answer["error"]["code"] == -32800));
                    continue;
                }
                let empty = answer["result"]["items"].as_array().is_none_or(Vec::is_empty);
                n_empty += usize::from(empty);
                if !empty {
                    latencies.push(asked.elapsed().as_secs_f64() * 1000.0);
                }
            }
            if rng.below(3) == 0 {
                client.notify("textDocument/didSave", json!({"textDocument": {"uri": file.uri}}))?;
            }
            if rng.below(20) == 0 {
                bundle(&mut client, &mut rng)?;
            }
        }
        // Answers nobody waited for (superseded requests) and notifications must not pile up here.
        client.drain();
        let rss_mib = client.rss_bytes().map_or(0.0, |b| b as f64 / (1 << 20) as f64);
        let row = Minute {
            minute,
            rss_mib,
            n_requests,
            n_empty,
            n_errors,
            p50_ms: quantile(&latencies, 0.5),
            p95_ms: quantile(&latencies, 0.95),
            latencies_ms: latencies,
        };
        on_minute(&row);
        report.push(row);
    }
    let (status, stderr) = client.shutdown()?;
    let _ = std::fs::remove_dir_all(&home);
    if !status.success() {
        return Err(SoakError::Setup(format!("nib exited with {status}: {stderr}")));
    }
    Ok(report)
}

/// 2 MB of minified JavaScript on one line, its names numbered from `first`.
pub fn minified_bundle(first: usize) -> String {
    let mut text = String::from("!function(){\"use strict\";");
    let mut i = first;
    while text.len() < 2_000_000 {
        text.push_str(&format!("var a{i}=function(t,e){{return t.map(function(n){{return n*e+{i}}})}};"));
        i += 1;
    }
    text.push_str("}();");
    text
}

/// Opens a 2 MB single-line bundle, types into it with a request per keystroke, and closes it.
fn bundle(client: &mut LspClient, rng: &mut SplitMix) -> Result<(), SoakError> {
    let uri = "file:///soak/dist/app.min.js";
    let text = minified_bundle(rng.below(1000));
    client.open(uri, "javascript", &text)?;
    let at = (rng.below(text.len() / 2) + text.len() / 4) as u32;
    for (k, c) in "var x".chars().enumerate() {
        client.insert(uri, 2 + k as i32, 0, at + k as u32, &c.to_string())?;
        client.call("textDocument/inlineCompletion", inline_params(uri, 0, at + k as u32 + 1))?;
    }
    client.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}))?;
    Ok(())
}
