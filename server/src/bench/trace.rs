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
    /// File name in the trace -> path of its initial text, relative to the trace file.
    pub files: BTreeMap<String, PathBuf>,
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
}

/// What a measured event was, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A keystroke at the cursor.
    Type,
    /// A cursor jump inside the active file.
    Jump,
    /// An edit above the cursor.
    EditAbove,
    /// Opening a file for the first time.
    SwitchFirst,
    /// Returning to a file used before.
    SwitchReturn,
}

impl EventKind {
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Type => "type",
            EventKind::Jump => "jump",
            EventKind::EditAbove => "edit above",
            EventKind::SwitchFirst => "switch (first)",
            EventKind::SwitchReturn => "switch (return)",
        }
    }
}

/// One thing the replay does, followed by a completion request at `cursor`.
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
    #[error("{0}")]
    Invalid(String),
}

/// A loaded trace: the events and the initial text of each file.
#[derive(Debug, Clone)]
pub struct Replay {
    pub name: String,
    pub keystroke_ms: u64,
    pub files: BTreeMap<String, String>,
    pub events: Vec<Event>,
}

impl Replay {
    pub fn load(path: &Path) -> Result<Replay, TraceError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| TraceError::Read { path: path.to_owned(), source })
        };
        let trace: Trace =
            serde_json::from_str(&read(path)?).map_err(|source| TraceError::Parse { path: path.to_owned(), source })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut files = BTreeMap::new();
        for (name, file) in &trace.files {
            files.insert(name.clone(), read(&dir.join(file))?);
        }
        let events = expand(&trace.steps, &files)?;
        Ok(Replay { name: trace.name, keystroke_ms: trace.keystroke_ms, files, events })
    }
}

/// Expands steps into events: one per keystroke, jump, edit or switch.
pub fn expand(steps: &[Step], files: &BTreeMap<String, String>) -> Result<Vec<Event>, TraceError> {
    let mut events = Vec::new();
    let mut visited: Vec<&str> = Vec::new();
    let mut active: Option<(String, Position)> = None;
    for step in steps {
        match step {
            Step::Switch { file, at } => {
                if !files.contains_key(file) {
                    return Err(TraceError::Invalid(format!("switch to {file}, which is not among the files")));
                }
                let kind =
                    if visited.contains(&file.as_str()) { EventKind::SwitchReturn } else { EventKind::SwitchFirst };
                visited.push(file);
                let cursor = Position { line: at[0], col: at[1] };
                events.push(Event { kind, file: file.clone(), insert: None, cursor });
                active = Some((file.clone(), cursor));
            }
            Step::Type { text } => {
                let (file, cursor) = active.as_mut().ok_or_else(|| no_file("type"))?;
                for c in text.chars() {
                    let at = *cursor;
                    *cursor = if c == '\n' {
                        Position { line: at.line + 1, col: 0 }
                    } else {
                        Position { line: at.line, col: at.col + c.len_utf16() as u32 }
                    };
                    let insert = Some((at, c.to_string()));
                    events.push(Event { kind: EventKind::Type, file: file.clone(), insert, cursor: *cursor });
                }
            }
            Step::Jump { at } => {
                let (file, cursor) = active.as_mut().ok_or_else(|| no_file("jump"))?;
                *cursor = Position { line: at[0], col: at[1] };
                events.push(Event { kind: EventKind::Jump, file: file.clone(), insert: None, cursor: *cursor });
            }
            Step::Edit { at, text } => {
                let (file, cursor) = active.as_mut().ok_or_else(|| no_file("edit"))?;
                let at = Position { line: at[0], col: at[1] };
                if at.line >= cursor.line {
                    return Err(TraceError::Invalid(format!("edit at line {} is not above the cursor", at.line)));
                }
                cursor.line += text.matches('\n').count() as u32;
                let insert = Some((at, text.clone()));
                events.push(Event { kind: EventKind::EditAbove, file: file.clone(), insert, cursor: *cursor });
            }
        }
    }
    Ok(events)
}

fn no_file(what: &str) -> TraceError {
    TraceError::Invalid(format!("a {what} step before any switch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_expand_into_events() {
        let files = BTreeMap::from([("a.py".to_owned(), String::new()), ("b.py".to_owned(), String::new())]);
        let steps: Vec<Step> = serde_json::from_str(
            r#"[
                {"kind": "switch", "file": "a.py", "at": [5, 4]},
                {"kind": "type", "text": "x\ny"},
                {"kind": "edit", "at": [0, 0], "text": "import os\n"},
                {"kind": "switch", "file": "b.py", "at": [0, 0]},
                {"kind": "switch", "file": "a.py", "at": [7, 1]},
                {"kind": "jump", "at": [2, 0]}
            ]"#,
        )
        .unwrap();
        let events = expand(&steps, &files).unwrap();
        let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
        use EventKind::*;
        assert_eq!(kinds, [SwitchFirst, Type, Type, Type, EditAbove, SwitchFirst, SwitchReturn, Jump]);
        assert_eq!(events[1].insert, Some((Position { line: 5, col: 4 }, "x".into())));
        assert_eq!(events[3].cursor, Position { line: 6, col: 1 });
        assert_eq!(events[4].cursor, Position { line: 7, col: 1 });
    }

    #[test]
    fn bad_traces_are_reported() {
        let files = BTreeMap::new();
        let steps: Vec<Step> = serde_json::from_str(r#"[{"kind": "type", "text": "x"}]"#).unwrap();
        assert!(expand(&steps, &files).is_err());
        assert!(serde_json::from_str::<Vec<Step>>(r#"[{"kind": "teleport"}]"#).is_err());
    }
}
