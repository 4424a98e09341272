//! Plugins: what shapes a prompt before the model and a suggestion or a finding after it. Each plugin is a child
//! process speaking JSON-RPC over stdio (`process.rs`, shapes in `protocol.rs`, `docs/plugins.md`) or built in
//! (`builtin.rs`); they run in the order configured. A plugin that fails is skipped for that call: completion and
//! review never fail because of one.

pub mod banned;
pub mod framing;
pub mod process;
pub mod protocol;
pub mod redact;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use banned::{Banned, BannedPattern, Verdict};
use process::{External, Launch};
pub use protocol::{FileInfo, Finding, Hook, PromptKind, PromptParts, Snippet, SuggestionParams};
use protocol::{FindingAnswer, FindingParams, PromptAnswer, SuggestionAnswer};

/// One `[[plugins]]` entry of the configuration.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PluginConfig {
    /// A built-in plugin's name, or any name for a process.
    pub name: String,
    /// The program and its arguments, run in the workspace's folder; empty for a built-in plugin.
    pub command: Vec<String>,
    /// The hooks to call; empty: those the plugin declares.
    pub hooks: Vec<Hook>,
    /// How long one call may take; past it the plugin is skipped for that call.
    pub timeout_ms: u64,
    /// `false` turns off a plugin, built-in ones included (`redact-secrets` is on by default with remote backends).
    pub enabled: bool,
    /// `banned-patterns`: what drops or trims a suggestion.
    pub patterns: Vec<BannedPattern>,
}

impl Default for PluginConfig {
    fn default() -> PluginConfig {
        PluginConfig {
            name: String::new(),
            command: Vec::new(),
            hooks: Vec::new(),
            timeout_ms: 50,
            enabled: true,
            patterns: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    #[error("no command to run")]
    NoCommand,
    #[error("cannot start: {0}")]
    Spawn(String),
    #[error("missed its deadline ({0} ms)")]
    Timeout(u64),
    #[error("sent garbage: {0}")]
    Garbage(String),
    #[error("answered with an error: {0}")]
    Answered(String),
    #[error("not running: {0}")]
    Down(String),
}

/// What `nib/status`, `nib doctor` and `nib top` show of a plugin. Field names are stable.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PluginStatus {
    pub name: String,
    pub builtin: bool,
    /// The hooks it is called for.
    pub hooks: Vec<Hook>,
    pub state: PluginState,
    pub n_calls: u64,
    pub n_failures: u64,
    pub n_timeouts: u64,
    pub n_restarts: u64,
    /// Total time in calls, for the mean round trip.
    pub total_call_us: u64,
    /// The latest failure, also after it recovered.
    pub last_error: Option<String>,
    /// When it is restarting: how long until it is started again.
    pub retry_in_ms: Option<u64>,
    /// What it did, by kind (`redact-secrets`: redactions per kind of secret; `banned-patterns`: drops, trims).
    pub counts: std::collections::BTreeMap<String, u64>,
    #[serde(skip)]
    n_failures_in_a_row: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginState {
    #[default]
    Starting,
    Running,
    /// Failed; started again after a back-off.
    Restarting,
    /// Misconfigured: never runs.
    Failed,
    Stopped,
}

impl PluginState {
    pub fn name(self) -> &'static str {
        match self {
            PluginState::Starting => "starting",
            PluginState::Running => "running",
            PluginState::Restarting => "restarting",
            PluginState::Failed => "failed",
            PluginState::Stopped => "stopped",
        }
    }
}

/// Where plugins run.
#[derive(Debug, Clone, Default)]
pub struct Setting {
    /// The workspace folder (or where `nib review` runs): commands run there.
    pub root: Option<PathBuf>,
    /// Prompts leave the machine: `redact-secrets` runs unless turned off.
    pub remote: bool,
}

enum Member {
    External(External),
    Builtin(Builtin),
    /// A configuration that cannot run, kept to be reported.
    Broken(PluginStatus),
}

/// The configured plugins, in order.
#[derive(Default)]
pub struct Plugins {
    members: Vec<Member>,
}

/// A `prompt` plugin refused the request.
#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin {plugin} refused the prompt: {reason}")]
pub struct Refusal {
    pub plugin: String,
    pub reason: String,
}

impl Plugins {
    /// Starts the configured plugins; processes start in the background. With a remote backend,
    /// `redact-secrets` comes first unless the configuration names it.
    pub fn start(configs: &[PluginConfig], setting: &Setting) -> Plugins {
        let implicit = implicit_redaction(configs, setting.remote)
            .then(|| PluginConfig { name: REDACT_SECRETS.into(), ..PluginConfig::default() });
        let members = (implicit.iter().chain(configs))
            .filter(|c| c.enabled)
            .map(|config| Plugins::member(config, setting))
            .collect();
        Plugins { members }
    }

    fn member(config: &PluginConfig, setting: &Setting) -> Member {
        let broken = |reason: String| {
            Member::Broken(PluginStatus {
                name: config.name.clone(),
                state: PluginState::Failed,
                last_error: Some(reason),
                ..PluginStatus::default()
            })
        };
        if config.command.is_empty() {
            return match config.name.as_str() {
                REDACT_SECRETS => Member::Builtin(Builtin::new(REDACT_SECRETS, Kind::Redact)),
                BANNED_PATTERNS => match Banned::new(&config.patterns) {
                    Ok(banned) => Member::Builtin(Builtin::new(BANNED_PATTERNS, Kind::Banned(banned))),
                    Err(err) => broken(err.to_string()),
                },
                name => broken(format!("no command, and no built-in plugin is called {name:?}")),
            };
        }
        Member::External(External::start(Launch {
            name: config.name.clone(),
            command: config.command.clone(),
            cwd: setting.root.clone(),
            hooks: config.hooks.clone(),
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
        }))
    }

    /// Whether any plugin takes `hook`: callers skip building its params otherwise.
    pub fn handles(&self, hook: Hook) -> bool {
        self.members.iter().any(|m| match m {
            Member::External(external) => external.handles(hook),
            Member::Builtin(builtin) => builtin.handles(hook),
            Member::Broken(_) => false,
        })
    }

    /// Runs the `prompt` hooks over `parts`, which each plugin may edit in turn.
    pub fn prompt(&self, parts: &mut PromptParts) -> Result<(), Refusal> {
        for member in &self.members {
            match member {
                Member::Builtin(builtin) if builtin.handles(Hook::Prompt) => builtin.prompt(parts),
                Member::External(external) if external.handles(Hook::Prompt) => {
                    let Ok(Some(answer)) = external.call::<PromptAnswer>(Hook::Prompt, to_value(&*parts)) else {
                        continue;
                    };
                    if let Some(reason) = answer.refuse {
                        return Err(Refusal { plugin: external.name().to_owned(), reason });
                    }
                    if answer.snippets.as_ref().is_some_and(|s| s.len() != parts.snippets.len()) {
                        external.record_failure(PluginError::Garbage("`snippets` must keep the list's length".into()));
                        continue;
                    }
                    parts.prefix = answer.prefix.unwrap_or(std::mem::take(&mut parts.prefix));
                    parts.suffix = answer.suffix.unwrap_or(std::mem::take(&mut parts.suffix));
                    parts.snippets = answer.snippets.unwrap_or(std::mem::take(&mut parts.snippets));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Runs the `suggestion` hooks; `None` when one drops the suggestion.
    pub fn suggestion(&self, mut params: SuggestionParams) -> Option<String> {
        for member in &self.members {
            match member {
                Member::Builtin(builtin) if builtin.handles(Hook::Suggestion) => {
                    params.text = builtin.suggestion(params.text)?;
                }
                Member::External(external) if external.handles(Hook::Suggestion) => {
                    let Ok(Some(answer)) = external.call::<SuggestionAnswer>(Hook::Suggestion, to_value(&params))
                    else {
                        continue;
                    };
                    if answer.drop {
                        return None;
                    }
                    if let Some(text) = answer.text {
                        params.text = text;
                    }
                }
                _ => {}
            }
        }
        Some(params.text)
    }

    /// Runs the `finding` hooks; `None` when one drops the finding.
    pub fn finding(&self, file: &FileInfo, mut finding: Finding) -> Option<Finding> {
        for member in &self.members {
            let Member::External(external) = member else { continue };
            if !external.handles(Hook::Finding) {
                continue;
            }
            let params = to_value(&FindingParams { file, finding: &finding });
            let Ok(Some(answer)) = external.call::<FindingAnswer>(Hook::Finding, params) else { continue };
            if answer.drop {
                return None;
            }
            if answer.severity.as_ref().is_some_and(|s| !SEVERITIES.contains(&s.as_str())) {
                external.record_failure(PluginError::Garbage(format!("no severity {:?}", answer.severity)));
                continue;
            }
            finding.message = answer.message.unwrap_or(finding.message);
            finding.severity = answer.severity.unwrap_or(finding.severity);
            if let Some(note) = answer.note {
                finding.message = format!("{}\n\n{note}", finding.message);
            }
        }
        Some(finding)
    }

    /// Each plugin's record, in order.
    pub fn status(&self) -> Vec<PluginStatus> {
        self.members
            .iter()
            .map(|m| match m {
                Member::External(external) => external.status(),
                Member::Builtin(builtin) => builtin.status(),
                Member::Broken(status) => status.clone(),
            })
            .collect()
    }

    /// Waits (at most `timeout`) for the processes that are starting: a command that runs once calls its hooks
    /// at once.
    pub fn wait_started(&self, timeout: Duration) {
        let until = std::time::Instant::now() + timeout;
        for member in &self.members {
            if let Member::External(external) = member {
                external.wait_started(until.saturating_duration_since(std::time::Instant::now()));
            }
        }
    }

    /// Ends the processes (`shutdown`, `exit`).
    pub fn stop(&self) {
        for member in &self.members {
            if let Member::External(external) = member {
                external.stop();
            }
        }
    }
}

/// Whether `redact-secrets` runs where `configs` are in force.
pub fn redacts_secrets(configs: &[PluginConfig], remote: bool) -> bool {
    implicit_redaction(configs, remote) || configs.iter().any(|c| c.name == REDACT_SECRETS && c.enabled)
}

/// With a remote backend, `redact-secrets` runs unless the configuration names it.
fn implicit_redaction(configs: &[PluginConfig], remote: bool) -> bool {
    remote && !configs.iter().any(|c| c.name == REDACT_SECRETS)
}

/// The built-in plugins' names.
pub const REDACT_SECRETS: &str = "redact-secrets";
pub const BANNED_PATTERNS: &str = "banned-patterns";

/// A plugin in nib's own code, behind the same hooks.
struct Builtin {
    kind: Kind,
    status: parking_lot::Mutex<PluginStatus>,
}

enum Kind {
    Redact,
    Banned(Banned),
}

impl Builtin {
    fn new(name: &str, kind: Kind) -> Builtin {
        let hooks = match kind {
            Kind::Redact => vec![Hook::Prompt],
            Kind::Banned(_) => vec![Hook::Suggestion],
        };
        let status =
            PluginStatus { name: name.into(), builtin: true, hooks, state: PluginState::Running, ..Default::default() };
        Builtin { kind, status: parking_lot::Mutex::new(status) }
    }

    fn handles(&self, hook: Hook) -> bool {
        self.with_status(|s| s.hooks.contains(&hook))
    }

    fn status(&self) -> PluginStatus {
        self.with_status(|s| s.clone())
    }

    fn with_status<T>(&self, f: impl FnOnce(&mut PluginStatus) -> T) -> T {
        f(&mut self.status.lock())
    }

    /// Counts a call and what it did.
    fn record(&self, started: std::time::Instant, counts: &[(&str, u64)]) {
        self.with_status(|s| {
            s.n_calls += 1;
            s.total_call_us += started.elapsed().as_micros() as u64;
            for (kind, n) in counts {
                *s.counts.entry((*kind).to_owned()).or_default() += n;
            }
        });
    }

    fn prompt(&self, parts: &mut PromptParts) {
        let Kind::Redact = self.kind else { return };
        let started = std::time::Instant::now();
        let mut found = Vec::new();
        let texts =
            [&mut parts.prefix, &mut parts.suffix].into_iter().chain(parts.snippets.iter_mut().map(|s| &mut s.text));
        for text in texts {
            let redacted = redact::redact(text);
            found.extend(redacted.found.iter().map(|(kind, n)| (kind.name(), *n as u64)));
            if let std::borrow::Cow::Owned(clean) = redacted.text {
                *text = clean;
            }
        }
        self.record(started, &found);
    }

    /// The suggestion as `banned-patterns` leaves it; `None` when dropped.
    fn suggestion(&self, text: String) -> Option<String> {
        let Kind::Banned(banned) = &self.kind else { return Some(text) };
        let started = std::time::Instant::now();
        let (kept, count) = match banned.apply(&text) {
            Verdict::Keep => (Some(text), None),
            Verdict::Trim(trimmed) => (Some(trimmed), Some("trimmed")),
            Verdict::Drop => (None, Some("dropped")),
        };
        self.record(started, &count.map(|c| (c, 1)).into_iter().collect::<Vec<_>>());
        kept
    }
}

/// The severities a finding may have.
const SEVERITIES: [&str; 3] = ["error", "warning", "info"];

fn to_value(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}
