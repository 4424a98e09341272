//! A plugin that is a child process speaking JSON-RPC over stdio, with LSP's framing.
//!
//! Three threads per process: one writes (so a plugin that stops reading never blocks a caller), one reads and
//! hands each answer to the call waiting for it (calls from several threads run at once), one logs its stderr.
//! A call waits at most its deadline. A plugin that exits, sends bytes that are not framed JSON, or fails three
//! calls in a row is stopped and started again after a back-off (0.5 s doubling to 30 s); meanwhile its calls are
//! skipped at once.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::protocol::{Hook, InitializeParams, InitializeResult, PROTOCOL_VERSION};
use crate::{PluginError, PluginState, PluginStatus};
use nib_protocol::framing;

/// How long a plugin may take to start and answer `initialize` (an interpreter's start, imports).
const START_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Failed calls in a row (missed deadlines, malformed answers) after which the process is started again.
const MAX_FAILURES_IN_A_ROW: u32 = 3;
/// The largest message a plugin may send: a bound on what a broken plugin makes nib allocate.
const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// How to start one.
#[derive(Debug, Clone)]
pub struct Launch {
    pub name: String,
    pub command: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// The hooks the configuration asks for; empty: those the plugin declares.
    pub hooks: Vec<Hook>,
    pub timeout: Duration,
}

/// An external plugin: its process when it runs, and its record.
pub struct External {
    launch: Launch,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Told when a start ends, for calls that wait for it.
    started: Condvar,
    status: Mutex<PluginStatus>,
}

enum State {
    Starting,
    Running(Arc<Process>),
    /// Down; a thread starts it again after the back-off.
    Waiting,
    Stopped,
}

impl External {
    /// Starts the process in the background: calls before it has answered `initialize` are skipped.
    pub fn start(launch: Launch) -> External {
        let status = PluginStatus {
            name: launch.name.clone(),
            builtin: false,
            hooks: launch.hooks.clone(),
            state: PluginState::Starting,
            ..PluginStatus::default()
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::Starting),
            started: Condvar::new(),
            status: Mutex::new(status),
        });
        spawn_start(launch.clone(), shared.clone(), Duration::ZERO);
        External { launch, shared }
    }

    pub fn name(&self) -> &str {
        &self.launch.name
    }

    /// Whether it takes `hook`: as declared (and configured) once it runs; as configured before (none
    /// configured: any).
    pub fn handles(&self, hook: Hook) -> bool {
        if let State::Running(process) = &*self.shared.state.lock() {
            return process.hooks.contains(&hook);
        }
        self.launch.hooks.is_empty() || self.launch.hooks.contains(&hook)
    }

    pub fn status(&self) -> PluginStatus {
        self.shared.with_status(|s| s.clone())
    }

    /// Calls `hook` and reads its answer; `Ok(None)` for `null`. Any failure is counted and reported; the caller
    /// goes on without this plugin.
    pub fn call<A: DeserializeOwned>(&self, hook: Hook, mut params: Value) -> Result<Option<A>, PluginError> {
        let process = self.process()?;
        if !process.hooks.contains(&hook) {
            return Ok(None);
        }
        if let Value::Object(map) = &mut params {
            map.insert("deadlineMs".into(), json!(self.launch.timeout.as_millis() as u64));
        }
        let started = Instant::now();
        let answer = process.request(hook.method(), params, self.launch.timeout).and_then(|value| {
            serde_json::from_value::<Option<A>>(value)
                .map_err(|err| PluginError::Garbage(format!("a malformed answer to `{}`: {err}", hook.method())))
        });
        let failures = self.record(answer.as_ref().err(), Some(started.elapsed()));
        if let Err(err) = &answer
            && (process.closed().is_some() || failures >= MAX_FAILURES_IN_A_ROW)
        {
            self.restart(&process, err.to_string());
        }
        answer
    }

    /// A failure found in an answer that parsed (a value outside what the hook allows).
    pub fn record_failure(&self, err: PluginError) {
        self.record(Some(&err), None);
    }

    /// Counts a call (`call`: how long it took; `None` for a failure found in an answer already counted); the
    /// failures in a row so far.
    fn record(&self, failure: Option<&PluginError>, call: Option<Duration>) -> u32 {
        if let Some(err) = failure {
            tracing::warn!(plugin = %self.launch.name, "{err}");
        }
        self.shared.with_status(|s| {
            if let Some(took) = call {
                s.n_calls += 1;
                s.total_call_us += took.as_micros() as u64;
            }
            match failure {
                None => s.n_failures_in_a_row = 0,
                Some(err) => {
                    s.n_failures += 1;
                    s.n_failures_in_a_row += 1;
                    if matches!(err, PluginError::Timeout(_)) {
                        s.n_timeouts += 1;
                    }
                    s.last_error = Some(err.to_string());
                }
            }
            s.n_failures_in_a_row
        })
    }

    /// Waits (at most `timeout`) while it starts.
    pub fn wait_started(&self, timeout: Duration) {
        let mut state = self.shared.state.lock();
        self.shared.started.wait_while_for(&mut state, |s| matches!(s, State::Starting), timeout);
    }

    /// The running process, or why there is none. A call during a start waits for it, within its deadline.
    fn process(&self) -> Result<Arc<Process>, PluginError> {
        let mut state = self.shared.state.lock();
        self.shared.started.wait_while_for(&mut state, |s| matches!(s, State::Starting), self.launch.timeout);
        let running = match &*state {
            State::Running(process) => Some(process.clone()),
            _ => None,
        };
        drop(state);
        match running {
            Some(process) => match process.closed() {
                None => Ok(process),
                Some(reason) => {
                    self.restart(&process, reason.clone());
                    Err(PluginError::Down(reason))
                }
            },
            None => Err(PluginError::Down(
                self.shared.with_status(|s| s.last_error.clone()).unwrap_or_else(|| "starting".into()),
            )),
        }
    }

    /// Stops `process` (if it is still the running one) and schedules a new one after the back-off.
    fn restart(&self, process: &Arc<Process>, reason: String) {
        let mut state = self.shared.state.lock();
        if !matches!(&*state, State::Running(p) if Arc::ptr_eq(p, process)) {
            return;
        }
        process.kill();
        *state = State::Waiting;
        let wait = self.shared.failed(reason);
        spawn_start(self.launch.clone(), self.shared.clone(), wait);
    }

    /// Ends the process: `shutdown`, then `exit`, then a kill if it lingers.
    pub fn stop(&self) {
        let previous = std::mem::replace(&mut *self.shared.state.lock(), State::Stopped);
        self.shared.started.notify_all();
        if let State::Running(process) = previous {
            let _ = process.request("shutdown", Value::Null, Duration::from_millis(200));
            process.notify("exit", Value::Null);
            process.kill();
        }
        self.shared.with_status(|s| s.state = PluginState::Stopped);
    }
}

impl Drop for External {
    fn drop(&mut self) {
        if let State::Running(process) = std::mem::replace(&mut *self.shared.state.lock(), State::Stopped) {
            process.kill();
        }
    }
}

impl Shared {
    fn with_status<T>(&self, f: impl FnOnce(&mut PluginStatus) -> T) -> T {
        f(&mut self.status.lock())
    }

    /// Records a failure; the back-off before the next start, doubling with each.
    fn failed(&self, reason: String) -> Duration {
        tracing::warn!(plugin = %self.with_status(|s| s.name.clone()), "{reason}; starting it again later");
        self.with_status(|s| {
            s.n_restarts += 1;
            s.n_failures_in_a_row = 0;
            s.state = PluginState::Restarting;
            s.last_error = Some(reason);
            let wait = FIRST_BACKOFF.saturating_mul(1 << s.n_restarts.saturating_sub(1).min(16)).min(MAX_BACKOFF);
            s.retry_in_ms = Some(wait.as_millis() as u64);
            wait
        })
    }
}

/// After `delay`, starts the process and waits for its `initialize` answer, on a thread of its own.
fn spawn_start(launch: Launch, shared: Arc<Shared>, delay: Duration) {
    let name = format!("nib-plugin-{}", launch.name);
    let spawned = std::thread::Builder::new().name(name).spawn({
        let shared = shared.clone();
        move || {
            std::thread::sleep(delay);
            {
                let mut state = shared.state.lock();
                if matches!(*state, State::Stopped) {
                    return;
                }
                *state = State::Starting;
                shared.with_status(|s| s.state = PluginState::Starting);
            }
            let started = Process::spawn(&launch).and_then(|process| {
                let params = InitializeParams {
                    protocol_version: PROTOCOL_VERSION,
                    nib_version: env!("CARGO_PKG_VERSION").into(),
                    root: launch.cwd.as_ref().map(|p| p.display().to_string()),
                    hooks: launch.hooks.clone(),
                };
                let value = serde_json::to_value(params).unwrap_or_default();
                let answer = process.request("initialize", value, START_TIMEOUT);
                let result: InitializeResult = serde_json::from_value(answer?)
                    .map_err(|err| PluginError::Garbage(format!("a malformed answer to `initialize`: {err}")))?;
                process.notify("initialized", json!({}));
                Ok((process, result.hooks))
            });
            let mut state = shared.state.lock();
            if matches!(*state, State::Stopped) {
                return;
            }
            *state = match started {
                Ok((mut process, declared)) => {
                    let hooks: Vec<Hook> = if launch.hooks.is_empty() {
                        declared
                    } else {
                        launch.hooks.iter().copied().filter(|h| declared.contains(h)).collect()
                    };
                    let missing: Vec<&str> =
                        launch.hooks.iter().filter(|h| !hooks.contains(h)).map(|h| h.method()).collect();
                    shared.with_status(|s| {
                        s.state = PluginState::Running;
                        s.hooks = hooks.clone();
                        s.retry_in_ms = None;
                        if !missing.is_empty() {
                            s.last_error = Some(format!("does not declare the hooks {}", missing.join(", ")));
                        }
                    });
                    process.hooks = hooks;
                    State::Running(Arc::new(process))
                }
                Err(err) => {
                    let wait = shared.failed(format!("did not start: {err}"));
                    spawn_start(launch, shared.clone(), wait);
                    State::Waiting
                }
            };
            shared.started.notify_all();
        }
    });
    if let Err(err) = spawned {
        *shared.state.lock() = State::Stopped;
        shared.failed(format!("no thread to start it: {err}"));
    }
}

/// A running plugin process.
struct Process {
    child: Mutex<Child>,
    to_plugin: mpsc::Sender<Vec<u8>>,
    pending: Pending,
    /// Why it can no longer answer, once it cannot.
    closed: Arc<OnceLock<String>>,
    next_id: AtomicU64,
    hooks: Vec<Hook>,
}

#[cfg(windows)]
const CREATE_NO_WINDOW: u32 = 0x0800_0000;

/// The program to start: a relative path with a folder in it (`./plugin`, `tools/lint.exe`) is the folder's the
/// plugin runs in, on every system (Windows would look in nib's own current folder); a bare name is looked up on
/// `PATH` as the system does.
fn program_path(program: &str, cwd: Option<&Path>) -> PathBuf {
    let path = Path::new(program);
    match cwd {
        Some(cwd) if path.is_relative() && path.components().count() > 1 => cwd.join(path),
        _ => path.to_path_buf(),
    }
}

type Pending = Arc<Mutex<HashMap<u64, mpsc::SyncSender<Result<Value, PluginError>>>>>;

impl Process {
    fn spawn(launch: &Launch) -> Result<Process, PluginError> {
        let (program, args) = launch.command.split_first().ok_or(PluginError::NoCommand)?;
        let mut command = Command::new(program_path(program, launch.cwd.as_deref()));
        command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(cwd) = &launch.cwd {
            command.current_dir(cwd);
        }
        // An editor starts nib with no console; a console program it started would open a window of its own.
        #[cfg(windows)]
        std::os::windows::process::CommandExt::creation_flags(&mut command, CREATE_NO_WINDOW);
        let mut child = command.spawn().map_err(|err| PluginError::Spawn(format!("{program}: {err}")))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(PluginError::Spawn("no pipes to the process".into()));
        };
        let closed: Arc<OnceLock<String>> = Arc::default();
        let pending: Pending = Arc::default();
        let (to_plugin, frames) = mpsc::channel::<Vec<u8>>();
        let thread = |role: &str| std::thread::Builder::new().name(format!("nib-plugin-{}-{role}", launch.name));
        let writer = thread("in").spawn({
            let closed = closed.clone();
            move || {
                for frame in frames {
                    if let Err(err) = stdin.write_all(&frame).and_then(|()| stdin.flush()) {
                        let _ = closed.set(format!("stopped reading its input: {err}"));
                        return;
                    }
                }
            }
        });
        let reader = thread("out").spawn({
            let (closed, pending) = (closed.clone(), pending.clone());
            move || read_answers(stdout, &pending, &closed)
        });
        let name = launch.name.clone();
        let logger = thread("err").spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                tracing::info!(plugin = %name, "{}", line.chars().take(500).collect::<String>());
            }
        });
        if let Err(err) = writer.and(reader).and(logger) {
            let _ = child.kill();
            return Err(PluginError::Spawn(format!("no thread for its pipes: {err}")));
        }
        Ok(Process { child: Mutex::new(child), to_plugin, pending, closed, next_id: AtomicU64::new(1), hooks: vec![] })
    }

    fn closed(&self) -> Option<String> {
        self.closed.get().cloned()
    }

    fn request(&self, method: &str, params: Value, timeout: Duration) -> Result<Value, PluginError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, wait) = mpsc::sync_channel(1);
        self.pending.lock().insert(id, answer);
        // After registering: the reader drains what is registered when the process closes.
        if let Some(reason) = self.closed() {
            self.pending.lock().remove(&id);
            return Err(PluginError::Down(reason));
        }
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let _ = self.to_plugin.send(framing::frame(message.to_string().as_bytes()));
        match wait.recv_timeout(timeout) {
            Ok(answer) => answer,
            Err(_) => {
                self.pending.lock().remove(&id);
                Err(match self.closed() {
                    Some(reason) => PluginError::Down(reason),
                    None => PluginError::Timeout(timeout.as_millis() as u64),
                })
            }
        }
    }

    fn notify(&self, method: &str, params: Value) {
        let message = json!({ "jsonrpc": "2.0", "method": method, "params": params });
        let _ = self.to_plugin.send(framing::frame(message.to_string().as_bytes()));
    }

    fn kill(&self) {
        let _ = self.closed.set("stopped by nib".into());
        let mut child = self.child.lock();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Hands each answer to its call until the process closes its output or breaks the framing; then fails the calls
/// still waiting.
fn read_answers(stdout: ChildStdout, pending: &Pending, closed: &OnceLock<String>) {
    let mut reader = BufReader::new(stdout);
    let reason = loop {
        match read_message(&mut reader) {
            Ok(Some(message)) => {
                let Some(id) = message.get("id").and_then(Value::as_u64) else { continue };
                // A request from the plugin (it has a method): nib offers none.
                if message.get("method").is_some() {
                    continue;
                }
                let answer = match (message.get("result"), message.get("error")) {
                    (_, Some(error)) => Err(PluginError::Answered(
                        error.get("message").and_then(Value::as_str).unwrap_or("an error").to_owned(),
                    )),
                    (Some(result), None) => Ok(result.clone()),
                    (None, None) => Err(PluginError::Garbage("an answer with neither result nor error".into())),
                };
                if let Some(waiting) = pending.lock().remove(&id) {
                    let _ = waiting.try_send(answer);
                }
            }
            Ok(None) => break "exited".to_owned(),
            Err(err) => break err.to_string(),
        }
    };
    let _ = closed.set(reason.clone());
    for (_, waiting) in pending.lock().drain() {
        let _ = waiting.try_send(Err(PluginError::Down(reason.clone())));
    }
}

/// One framed JSON message; `None` at the end of the output.
fn read_message(reader: &mut impl BufRead) -> Result<Option<Value>, PluginError> {
    let mut length = None;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.by_ref().take(1024).read_line(&mut line).map_err(|err| PluginError::Garbage(err.to_string()))?;
        if n == 0 {
            return if length.is_none() {
                Ok(None)
            } else {
                Err(PluginError::Garbage("output ended mid-header".into()))
            };
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        match framing::content_length(header) {
            Some(Ok(n)) => length = Some(n),
            Some(Err(err)) => return Err(PluginError::Garbage(err)),
            None if header.contains(':') => {}
            None => return Err(PluginError::Garbage(format!("wrote {:?} where a header belongs", trim(header)))),
        }
    }
    let length = length.ok_or_else(|| PluginError::Garbage("a message without Content-Length".into()))?;
    if length > MAX_MESSAGE_BYTES {
        return Err(PluginError::Garbage(format!("a message of {length} bytes")));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|err| PluginError::Garbage(format!("output ended mid-message: {err}")))?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|err| PluginError::Garbage(format!("a message that is not JSON: {err}")))
}

fn trim(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_program_with_a_folder_is_the_plugin_folders() {
        let cwd = Path::new("/ws");
        assert_eq!(program_path("./plugin", Some(cwd)), Path::new("/ws/./plugin"));
        assert_eq!(program_path("tools/lint", Some(cwd)), Path::new("/ws/tools/lint"));
        // A bare name goes to PATH, an absolute path stays, and without a folder to run in nothing changes.
        assert_eq!(program_path("python3", Some(cwd)), Path::new("python3"));
        assert_eq!(program_path("/usr/bin/node", Some(cwd)), Path::new("/usr/bin/node"));
        assert_eq!(program_path("./plugin", None), Path::new("./plugin"));
    }
}
