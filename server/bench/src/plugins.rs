//! `nib bench plugins`: what plugins add to the keystroke path. A plugin's `suggestion` round trip, timed through
//! `Plugins::suggestion` as completion calls it (a trivial plugin by default, or any command), and the built-in
//! `redact-secrets` over a realistic prompt through `Plugins::prompt`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::quantile;
use nib_plugins::{
    FileInfo, Hook, PluginConfig, PluginState, Plugins, PromptKind, PromptParts, REDACT_SECRETS, Setting, Snippet,
    SuggestionParams,
};

/// A `suggestion` plugin that changes nothing: the round trip and nothing else. Written to a temporary file at run
/// time, so the benchmark needs only `python3`.
const TRIVIAL_PLUGIN: &str = r#"import json, sys
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
length = None
while line := stdin.readline():
    if line.lower().startswith(b"content-length:"):
        length = int(line[15:])
    elif not line.strip():
        message = json.loads(stdin.read(length))
        if message.get("method") == "exit":
            break
        if "id" in message:
            result = {"hooks": ["suggestion"]} if message["method"] == "initialize" else None
            body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
            stdout.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            stdout.flush()
"#;

/// Calls before the timed ones: the plugin's interpreter and nib's threads settle first.
const N_WARMUP_CALLS: usize = 50;

/// How long a plugin may take to start and answer `initialize`, as nib allows.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// One call's deadline: long enough that the benchmark measures slow plugins instead of skipping them.
const CALL_TIMEOUT_MS: u64 = 1_000;

/// The standard-library file the redaction prompt comes from, and the prompt's size (a typical window).
const REDACT_SOURCE: &str = "textwrap.py";
const REDACT_PROMPT_BYTES: usize = 6 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PluginBenchError {
    #[error("cannot write the trivial plugin to {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("the plugin is not running: {0}")]
    NotStarted(String),
    #[error("the plugin does not declare the `suggestion` hook, which the benchmark calls")]
    NoSuggestionHook,
    #[error("the redaction prompt comes from Python's standard library: {0}")]
    Stdlib(String),
}

#[derive(Debug, Serialize)]
pub struct PluginBenchReport {
    /// The plugin's command; `null` for the trivial one.
    pub command: Option<Vec<String>>,
    /// The `suggestion` round trip through `Plugins::suggestion`.
    pub suggestion: Latency,
    /// Calls that failed (error, garbage, deadline): their time counts too.
    pub n_failures: u64,
    /// `redact-secrets` over a prompt through `Plugins::prompt`.
    pub redact: Latency,
    pub redact_prompt_bytes: usize,
}

/// Percentiles of one call's time, in microseconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    pub n_calls: usize,
    pub p50_us: f64,
    pub p95_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Latency {
    fn of(us: &[f64]) -> Latency {
        Latency {
            n_calls: us.len(),
            p50_us: quantile(us, 0.5),
            p95_us: quantile(us, 0.95),
            p99_us: quantile(us, 0.99),
            max_us: quantile(us, 1.0),
        }
    }
}

/// Runs `command` (or the trivial plugin, from a file in `scratch`) and times `n_calls` suggestions, then
/// `redact-secrets` as many times.
pub fn bench(
    command: Option<Vec<String>>,
    n_calls: usize,
    scratch: &Path,
) -> Result<PluginBenchReport, PluginBenchError> {
    let started_command = match &command {
        Some(command) => command.clone(),
        None => {
            let path = scratch.join("trivial_plugin.py");
            std::fs::write(&path, TRIVIAL_PLUGIN).map_err(|e| PluginBenchError::Write(path.clone(), e))?;
            vec!["python3".to_owned(), path.to_string_lossy().into_owned()]
        }
    };
    let config = PluginConfig {
        name: "bench".into(),
        command: started_command,
        hooks: vec![Hook::Suggestion],
        timeout_ms: CALL_TIMEOUT_MS,
        ..PluginConfig::default()
    };
    let plugins = Plugins::start(&[config], &Setting::default());
    plugins.wait_started(START_TIMEOUT);
    let result = time_suggestions(&plugins, n_calls);
    plugins.stop();
    let (suggestion, n_failures) = result?;
    let (redact, redact_prompt_bytes) = time_redaction(n_calls)?;
    Ok(PluginBenchReport { command, suggestion, n_failures, redact, redact_prompt_bytes })
}

fn time_suggestions(plugins: &Plugins, n_calls: usize) -> Result<(Latency, u64), PluginBenchError> {
    let status = || plugins.status().into_iter().next().unwrap_or_default();
    if status().state != PluginState::Running {
        return Err(PluginBenchError::NotStarted(status().last_error.unwrap_or_else(|| "no answer".into())));
    }
    if !status().hooks.contains(&Hook::Suggestion) {
        return Err(PluginBenchError::NoSuggestionHook);
    }
    let params = SuggestionParams {
        file: FileInfo { path: "src/app.py".into(), language: "python".into() },
        line: 12,
        column: 4,
        text: "return json.load(f)".into(),
    };
    for _ in 0..N_WARMUP_CALLS {
        plugins.suggestion(params.clone());
    }
    let failures_before = status().n_failures;
    let us = timed(n_calls, || params.clone(), |params| drop(plugins.suggestion(params)));
    Ok((Latency::of(&us), status().n_failures - failures_before))
}

/// `redact-secrets` over a window cut from real code, with a few secrets in it as a `.env` beside it would have.
fn time_redaction(n_calls: usize) -> Result<(Latency, usize), PluginBenchError> {
    let stdlib = super::trace::python_stdlib().map_err(PluginBenchError::Stdlib)?;
    let path = stdlib.join(REDACT_SOURCE);
    let source =
        std::fs::read_to_string(&path).map_err(|e| PluginBenchError::Stdlib(format!("{}: {e}", path.display())))?;
    let window = cut(&source, REDACT_PROMPT_BYTES);
    let split = cut(window, REDACT_PROMPT_BYTES * 3 / 4).len();
    let parts = PromptParts {
        kind: PromptKind::Completion,
        file: FileInfo { path: REDACT_SOURCE.into(), language: "python".into() },
        prefix: window[..split].to_owned(),
        suffix: window[split..].to_owned(),
        snippets: vec![Snippet {
            path: ".env".into(),
            text: "DATABASE_URL=postgres://app:hunter2hunter2@db/app\nGITHUB_TOKEN=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n"
                .into(),
        }],
    };
    let bytes = parts.prefix.len() + parts.suffix.len() + parts.snippets.iter().map(|s| s.text.len()).sum::<usize>();
    let config = PluginConfig { name: REDACT_SECRETS.into(), ..PluginConfig::default() };
    let plugins = Plugins::start(&[config], &Setting::default());
    let us = timed(n_calls, || parts.clone(), |mut parts| drop(plugins.prompt(&mut parts)));
    Ok((Latency::of(&us), bytes))
}

/// Each call's time in microseconds; `input` is made outside the clock.
fn timed<T>(n_calls: usize, input: impl Fn() -> T, call: impl Fn(T)) -> Vec<f64> {
    (0..n_calls)
        .map(|_| {
            let input = input();
            let started = Instant::now();
            call(input);
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

/// At most `n_bytes` of `text`, cut at a line's end.
fn cut(text: &str, n_bytes: usize) -> &str {
    let end = text.floor_char_boundary(n_bytes.min(text.len()));
    text[..end].rfind('\n').map_or(&text[..end], |i| &text[..=i])
}

/// The report as text.
pub fn render(report: &PluginBenchReport) -> String {
    let row = |name: &str, l: &Latency| {
        format!(
            "{name:<22} {} calls: p50 {:.0} µs, p95 {:.0} µs, p99 {:.0} µs, max {:.0} µs\n",
            l.n_calls, l.p50_us, l.p95_us, l.p99_us, l.max_us
        )
    };
    let command = report.command.as_ref().map_or("a trivial Python plugin".to_owned(), |c| c.join(" "));
    format!(
        "plugin                 {command}\n{}failures               {}\n{}",
        row("suggestion round trip", &report.suggestion),
        report.n_failures,
        row(&format!("redact-secrets, {} KB", report.redact_prompt_bytes / 1024), &report.redact),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_end_at_a_line_end_within_the_size() {
        assert_eq!(cut("ab\ncd\nef", 7), "ab\ncd\n");
        assert_eq!(cut("ab\ncd", 100), "ab\n");
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("é\né", 2), "é");
    }

    #[test]
    fn the_trivial_plugin_is_timed_and_redaction_redacts() {
        let scratch = std::env::temp_dir().join(format!("nib-bench-plugins-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).unwrap();
        let report = bench(None, 20, &scratch).unwrap();
        assert_eq!((report.suggestion.n_calls, report.n_failures), (20, 0));
        assert!(report.suggestion.p50_us > 0.0 && report.suggestion.p50_us <= report.suggestion.max_us);
        assert!(report.redact_prompt_bytes > 4 * 1024, "{report:?}");
        assert!(render(&report).contains("suggestion round trip  20 calls"));
        let _ = std::fs::remove_dir_all(&scratch);
    }
}
