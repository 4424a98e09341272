//! The JSON shapes of the plugin protocol (`docs/plugins.md`): what nib sends with each hook, and what a plugin may
//! answer. Field names are camelCase on the wire, as in LSP.

use serde::{Deserialize, Serialize};

/// The version `initialize` carries; it changes only when a shape below changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 1;

/// Where a plugin may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hook {
    /// Before the model: a completion prompt's parts.
    Prompt,
    /// After post-processing: a suggestion about to be shown.
    Suggestion,
    /// Review: a finding about to be reported.
    Finding,
}

impl Hook {
    pub const ALL: [Hook; 3] = [Hook::Prompt, Hook::Suggestion, Hook::Finding];

    /// The JSON-RPC method that calls it.
    pub fn method(self) -> &'static str {
        match self {
            Hook::Prompt => "prompt",
            Hook::Suggestion => "suggestion",
            Hook::Finding => "finding",
        }
    }
}

/// `initialize`, nib's side.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    pub protocol_version: u32,
    pub nib_version: String,
    /// The folder the plugin runs in: the workspace, or where `nib review` runs.
    pub root: Option<String>,
    /// The hooks the configuration asks of it (empty: whatever it declares).
    pub hooks: Vec<Hook>,
}

/// `initialize`, the plugin's answer: the hooks it implements.
#[derive(Debug, Deserialize)]
pub struct InitializeResult {
    pub hooks: Vec<Hook>,
}

/// The file a hook is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// As the prompt labels it: relative to the workspace when inside it.
    pub path: String,
    /// The language id (`python`, `rust`...); `plaintext` when unknown.
    pub language: String,
}

/// `prompt`: a prompt's parts before the model sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptParts {
    pub kind: PromptKind,
    pub file: FileInfo,
    /// The document's text before the cursor that the prompt carries.
    pub prefix: String,
    /// The document's text after the cursor that the prompt carries (empty for prefix-only templates).
    pub suffix: String,
    /// Context from other files (and from the current file above the window), in prompt order. An answer gives
    /// the same list in the same order: a snippet's text edited, or emptied to leave it out.
    pub snippets: Vec<Snippet>,
}

/// What a prompt is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptKind {
    /// A completion at the cursor: `prefix` and `suffix` surround it.
    #[default]
    Completion,
    /// A review: `prefix` is the code under review, `suffix` and `snippets` are empty.
    Review,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    pub path: String,
    pub text: String,
}

/// A plugin's answer to `prompt` (`null`: unchanged): the parts it replaces, or a refusal.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptAnswer {
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub snippets: Option<Vec<Snippet>>,
    /// Refuse the request: nothing is sent to the model and the editor gets no suggestion.
    pub refuse: Option<String>,
}

/// `suggestion`: a suggestion after post-processing, before the editor sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SuggestionParams {
    pub file: FileInfo,
    /// The cursor: zero-based line, and column in characters (Unicode scalar values).
    pub line: u32,
    pub column: u32,
    /// What the suggestion inserts at the cursor.
    pub text: String,
}

/// A plugin's answer to `suggestion` (`null`: unchanged).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestionAnswer {
    pub text: Option<String>,
    #[serde(default)]
    pub drop: bool,
}

/// A review finding, as plugins see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The catalogue's rule id.
    pub rule: String,
    /// `error`, `warning` or `info`.
    pub severity: String,
    pub message: String,
    /// One-based line of the quote's start.
    pub line: u32,
    /// The code the finding is about, exactly as in the file.
    pub quote: String,
    /// A replacement for `quote`, when the model offered one.
    pub fix: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FindingParams<'a> {
    pub file: &'a FileInfo,
    pub finding: &'a Finding,
}

/// A plugin's answer to `finding` (`null`: unchanged).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingAnswer {
    pub message: Option<String>,
    pub severity: Option<String>,
    /// Appended to the message as a paragraph of its own.
    pub note: Option<String>,
    #[serde(default)]
    pub drop: bool,
}
