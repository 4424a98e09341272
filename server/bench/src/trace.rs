//! Edit traces for `nib bench replay`: the format (see tests/replay/README.md)
//! and its expansion into single editor events.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A trace file as written on disk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Pause between keystrokes, as a person types.
    pub keystroke_ms: u64,
    /// File name in the trace -> where its initial text is: a path relative to the trace file, or
    /// `stdlib:PATH`, a path inside the Python standard library of `python3` (read at run time, not vendored).
    pub files: BTreeMap<String, String>,
    pub steps: Vec<Step>,
}

/// One step; positions are 0-based `[line, column]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Make `file` the active one (opening it if needed) with the cursor at `at`.
    Switch { file: String, at: [u32; 2] },
    /// Type `text` at the cursor, one character at a time.
    Type { text: String },
    /// Move the cursor within the active file.
    Jump { at: [u32; 2] },
    /// Insert `text` at `at`, above the cursor, in one edit; the cursor keeps its place in the text.
    Edit { at: [u32; 2], text: String },
    /// The cursor rests for `ms`: no request, but the editor tells nib (`nib/cursorRest`).
    Rest { ms: u64 },
    /// An explicit request at the cursor (the user invoked completion). Braces, so that
    /// `deny_unknown_fields` holds for it too: a unit variant would ignore stray fields.
    Ask {},
    /// The user accepts `text`, the suggestion the editor showed at the cursor (as recorded): inserted in one
    /// edit, the cursor after it. nib counts it as accepted when it is what nib showed there.
    Accept { text: String },
}

/// Keystrokes this soon after a file's first opening (by the trace's clock) are `type (cold)`.
pub const COLD_MS: u64 = 3_000;

/// What a measured event was, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A keystroke at the cursor.
    Type,
    /// A keystroke within `COLD_MS` of the file's first opening.
    TypeCold,
    /// A cursor jump inside the active file.
    Jump,
    /// An edit above the cursor.
    EditAbove,
    /// An explicit request (`triggerKind: 1`); every other request is automatic.
    Explicit,
    /// Opening a file for the first time.
    SwitchFirst,
    /// Returning to a file used before.
    SwitchReturn,
    /// A suggestion accepted: its text inserted at the cursor in one edit.
    Accept,
}

impl EventKind {
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Type => "type",
            EventKind::TypeCold => "type (cold)",
            EventKind::Jump => "jump",
            EventKind::EditAbove => "edit above",
            EventKind::Explicit => "explicit",
            EventKind::SwitchFirst => "switch (first)",
            EventKind::SwitchReturn => "switch (return)",
            EventKind::Accept => "accept",
        }
    }

    /// Whether the user asked (`triggerKind: 1`) rather than the editor (`triggerKind: 2`).
    pub fn is_explicit(self) -> bool {
        self == EventKind::Explicit
    }
}

/// One thing the replay does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// An optional edit, then a completion request.
    Request(Event),
    /// The cursor rests at `cursor` in `file` (opening it if needed): `nib/cursorRest`, then a pause of `ms`.
    Rest { file: String, cursor: Position, ms: u64 },
}

/// An optional edit followed by a completion request at `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub file: String,
    /// Text inserted at `insert_at` before the request, if any.
    pub insert: Option<(Position, String)>,
    pub cursor: Position,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("cannot find the Python standard library for the trace's `stdlib:` files: {0}")]
    Stdlib(String),
    #[error("{0}")]
    Invalid(String),
}

/// A loaded trace: what to do and the initial text of each file.
#[derive(Debug, Clone)]
pub struct Replay {
    pub name: String,
    pub keystroke_ms: u64,
    pub files: BTreeMap<String, String>,
    pub actions: Vec<Action>,
}

impl Replay {
    pub fn load(path: &Path) -> Result<Replay, TraceError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| TraceError::Read { path: path.to_owned(), source })
        };
        let trace: Trace =
            serde_json::from_str(&read(path)?).map_err(|source| TraceError::Parse { path: path.to_owned(), source })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        // Asked once, and only when a file needs it: traces without `stdlib:` files run without Python.
        let stdlib = if trace.files.values().any(|source| source.starts_with("stdlib:")) {
            Some(python_stdlib().map_err(TraceError::Stdlib)?)
        } else {
            None
        };
        let mut files = BTreeMap::new();
        for (name, source) in &trace.files {
            let path = match (source.strip_prefix("stdlib:"), &stdlib) {
                (Some(inner), Some(root)) => root.join(inner),
                _ => dir.join(source),
            };
            files.insert(name.clone(), read(&path)?);
        }
        let actions = expand(&trace.steps, trace.keystroke_ms, &files)?;
        Ok(Replay { name: trace.name, keystroke_ms: trace.keystroke_ms, files, actions })
    }

    /// The requests, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.actions.iter().filter_map(|action| match action {
            Action::Request(event) => Some(event),
            Action::Rest { .. } => None,
        })
    }
}

/// Where `python3` keeps its standard library: real files nobody's cache has seen, without vendoring them.
pub fn python_stdlib() -> Result<PathBuf, String> {
    let output = std::process::Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"])
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !output.status.success() {
        return Err(format!("python3 failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
}

/// Expands steps into actions: one request per keystroke, jump, edit, ask or switch, and one rest per rest.
///
/// A rest right after a switch comes between opening the file and the switch's request, as when an editor opens a
/// file and the cursor rests there before anything is asked. The trace's clock (`keystroke_ms` per keystroke, a
/// rest's `ms`) tells which keystrokes are cold.
pub fn expand(steps: &[Step], keystroke_ms: u64, files: &BTreeMap<String, String>) -> Result<Vec<Action>, TraceError> {
    let mut actions = Vec::new();
    let mut clock_ms = 0;
    // File -> the trace clock when it was first opened.
    let mut opened_ms: BTreeMap<&str, u64> = BTreeMap::new();
    let mut active: Option<(String, Position)> = None;
    let mut steps = steps.iter().peekable();
    while let Some(step) = steps.next() {
        match step {
            Step::Switch { file, at } => {
                if !files.contains_key(file) {
                    return Err(TraceError::Invalid(format!("switch to {file}, which is not among the files")));
                }
                let kind = if opened_ms.contains_key(file.as_str()) {
                    EventKind::SwitchReturn
                } else {
                    opened_ms.insert(file, clock_ms);
                    EventKind::SwitchFirst
                };
                let cursor = Position { line: at[0], col: at[1] };
                if let Some(Step::Rest { ms }) = steps.peek() {
                    actions.push(Action::Rest { file: file.clone(), cursor, ms: *ms });
                    clock_ms += ms;
                    steps.next();
                }
                actions.push(Action::Request(Event { kind, file: file.clone(), insert: None, cursor }));
                active = Some((file.clone(), cursor));
            }
            Step::Type { text } => {
                let (file, cursor) = active.as_mut().ok_or_else(|| no_file("type"))?;
                let cold_until_ms = opened_ms.get(file.as_str()).map_or(0, |opened| opened + COLD_MS);
                for c in text.chars() {
                    let at = *cursor;
                    *cursor = if c == '\n' {
                        Position { line: at.line + 1, col: 0 }
                    } else {
                        Position { line: at.line, col: at.col + c.len_utf16() as u32 }
                    };
                    let kind = if clock_ms < cold_until_ms { EventKind::TypeCold } else { EventKind::Type };
                    let insert = Some((at, c.to_string()));
                    actions.push(Action::Request(Event { kind, file: file.clone(), insert, cursor: *cursor }));
                    clock_ms += keystroke_ms;
                }
            }
            Step::Jump { at } => {
                let (file, cursor) = active.as_mut().ok_or_else(|| no_file("jump"))?;
                *cursor = Position { line: at[0], col: at[1] };
                actions.push(Action::Request(Event {
                    kind: EventKind::Jump,
                    file: file.clone(),
                    insert: None,
                    cursor: *cursor,
                }));
            }
            Step::Edit { at, text } => {
                let (file, cursor) = active.as_mut().ok_or_else(|| no_file("edit"))?;
                let at = Position { line: at[0], col: at[1] };
                if at.line >= cursor.line {
                    return Err(TraceError::Invalid(format!("edit at line {} is not above the cursor", at.line)));
                }
                cursor.line += text.matches('\n').count() as u32;
                let insert = Some((at, text.clone()));
                actions.push(Action::Request(Event {
                    kind: EventKind::EditAbove,
                    file: file.clone(),
                    insert,
                    cursor: *cursor,
                }));
            }
            Step::Rest { ms } => {
                let (file, cursor) = active.as_ref().ok_or_else(|| no_file("rest"))?;
                actions.push(Action::Rest { file: file.clone(), cursor: *cursor, ms: *ms });
                clock_ms += ms;
            }
            Step::Accept { text } => {
                let (file, cursor) = active.as_mut().ok_or_else(|| no_file("accept"))?;
                let at = *cursor;
                let n_breaks = text.matches('\n').count() as u32;
                let last = text.rsplit('\n').next().unwrap_or_default().encode_utf16().count() as u32;
                *cursor = match n_breaks {
                    0 => Position { line: at.line, col: at.col + last },
                    n => Position { line: at.line + n, col: last },
                };
                let insert = Some((at, text.clone()));
                actions.push(Action::Request(Event {
                    kind: EventKind::Accept,
                    file: file.clone(),
                    insert,
                    cursor: *cursor,
                }));
                clock_ms += keystroke_ms;
            }
            Step::Ask {} => {
                let (file, cursor) = active.as_ref().ok_or_else(|| no_file("ask"))?;
                actions.push(Action::Request(Event {
                    kind: EventKind::Explicit,
                    file: file.clone(),
                    insert: None,
                    cursor: *cursor,
                }));
            }
        }
    }
    Ok(actions)
}

fn no_file(what: &str) -> TraceError {
    TraceError::Invalid(format!("a {what} step before any switch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expands `steps` (files `a.py` and `b.py`, 100 ms keystrokes) and compares one line per action.
    fn check(steps: &str, expected: &str) {
        let files = BTreeMap::from([("a.py".to_owned(), String::new()), ("b.py".to_owned(), String::new())]);
        let steps: Vec<Step> = serde_json::from_str(steps).expect("steps parse");
        let actions = expand(&steps, 100, &files).expect("steps expand");
        let at = |p: &Position| format!("{}:{}", p.line, p.col);
        let lines: Vec<String> = actions
            .iter()
            .map(|action| match action {
                Action::Request(event) => {
                    let insert = event.insert.as_ref().map(|(p, text)| format!(" +{text:?}@{}", at(p)));
                    format!("{} {} {}{}", event.kind.label(), event.file, at(&event.cursor), insert.unwrap_or_default())
                }
                Action::Rest { file, cursor, ms } => format!("rest {file} {} {ms}ms", at(cursor)),
            })
            .collect();
        assert_eq!(lines.join("\n"), expected.trim(), "steps: {steps:?}");
    }

    #[test]
    fn steps_expand_into_actions() {
        let cases = [
            // Keystrokes, an edit above (the cursor moves down with its text), switches, a jump.
            (
                r#"[{"kind": "switch", "file": "a.py", "at": [5, 4]},
                    {"kind": "rest", "ms": 3000},
                    {"kind": "type", "text": "x\ny"},
                    {"kind": "edit", "at": [0, 0], "text": "import os\n"},
                    {"kind": "switch", "file": "b.py", "at": [0, 0]},
                    {"kind": "switch", "file": "a.py", "at": [7, 1]},
                    {"kind": "jump", "at": [2, 0]}]"#,
                r#"
rest a.py 5:4 3000ms
switch (first) a.py 5:4
type a.py 5:5 +"x"@5:4
type a.py 6:0 +"\n"@5:5
type a.py 6:1 +"y"@6:0
edit above a.py 7:1 +"import os\n"@0:0
switch (first) b.py 0:0
switch (return) a.py 7:1
jump a.py 2:0"#,
            ),
            // Keystrokes within 3 s of a first opening are cold, rests count; a return does not make them cold.
            (
                r#"[{"kind": "switch", "file": "a.py", "at": [0, 0]},
                    {"kind": "rest", "ms": 2800},
                    {"kind": "type", "text": "abc"},
                    {"kind": "switch", "file": "b.py", "at": [0, 0]},
                    {"kind": "switch", "file": "a.py", "at": [0, 3]},
                    {"kind": "type", "text": "d"}]"#,
                r#"
rest a.py 0:0 2800ms
switch (first) a.py 0:0
type (cold) a.py 0:1 +"a"@0:0
type (cold) a.py 0:2 +"b"@0:1
type a.py 0:3 +"c"@0:2
switch (first) b.py 0:0
switch (return) a.py 0:3
type a.py 0:4 +"d"@0:3"#,
            ),
            // A rest elsewhere rests at the cursor after the last request; an ask asks there.
            (
                r#"[{"kind": "switch", "file": "a.py", "at": [1, 0]},
                    {"kind": "type", "text": "x"},
                    {"kind": "rest", "ms": 500},
                    {"kind": "ask"},
                    {"kind": "jump", "at": [0, 0]},
                    {"kind": "ask"}]"#,
                r#"
switch (first) a.py 1:0
type (cold) a.py 1:1 +"x"@1:0
rest a.py 1:1 500ms
explicit a.py 1:1
jump a.py 0:0
explicit a.py 0:0"#,
            ),
            // An accepted suggestion is one edit at the cursor, which ends up after it.
            (
                r#"[{"kind": "switch", "file": "a.py", "at": [1, 4]},
                    {"kind": "ask"},
                    {"kind": "accept", "text": "if x:\n    y"},
                    {"kind": "accept", "text": "()"}]"#,
                r#"
switch (first) a.py 1:4
explicit a.py 1:4
accept a.py 2:5 +"if x:\n    y"@1:4
accept a.py 2:7 +"()"@2:5"#,
            ),
        ];
        for (steps, expected) in cases {
            check(steps, expected);
        }
    }

    #[test]
    fn bad_traces_are_reported() {
        let files = BTreeMap::new();
        for steps in [r#"[{"kind": "type", "text": "x"}]"#, r#"[{"kind": "rest", "ms": 1}]"#, r#"[{"kind": "ask"}]"#] {
            let steps: Vec<Step> = serde_json::from_str(steps).expect("steps parse");
            assert!(expand(&steps, 100, &files).is_err(), "{steps:?}");
        }
        for step in [r#"{"kind": "teleport"}"#, r#"{"kind": "ask", "at": [0, 0]}"#, r#"{"kind": "rest"}"#] {
            assert!(serde_json::from_str::<Step>(step).is_err(), "{step}");
        }
    }
}
