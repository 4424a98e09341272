//! The pipelines' side of the plugin hooks: a prompt, a suggestion and a finding as plugins see them
//! (`nib-plugins`), and their edits brought back. The hooks block (a call waits up to its plugin's deadline):
//! callers run them off the async threads.

use nib_plugins::{Finding as Shown, PromptKind, PromptParts, Refusal, Snippet, SuggestionParams};
use std::path::PathBuf;
use std::sync::Arc;

use nib_engine::BackendKind;
use nib_prompt::context::Context;
use nib_prompt::{Tokenizer, Window};
use nib_text::syntax::Syntax;

use crate::config::Config;
use crate::review::{Finding, Severity};

pub use nib_plugins::{FileInfo, Hook, PluginConfig, PluginState, PluginStatus, Plugins, Setting};

/// Starts the configured plugins (commands run in `root`); `redact-secrets` is on by default when prompts leave
/// the machine.
pub fn start(config: &Config, root: Option<PathBuf>) -> Arc<Plugins> {
    let setting = Setting { root, remote: config.engine.backend != BackendKind::Local };
    Arc::new(Plugins::start(&config.plugins, &setting))
}

/// The file as plugins see it: its label, and its language when it has a tree.
pub fn file_info(path: String, syntax: Option<&Syntax>) -> FileInfo {
    FileInfo { path, language: syntax.map_or("plaintext", |s| s.language.name()).to_owned() }
}

/// Runs the `prompt` hooks over a completion prompt's window and context, and takes their edits.
pub fn completion_prompt(
    plugins: &Plugins,
    tokenizer: &dyn Tokenizer,
    file: FileInfo,
    window: &mut Window,
    context: &mut Context,
) -> Result<(), Refusal> {
    // The current file's own snippets (above the window) carry its path, as the files' do.
    let snippets = (context.files.iter().map(|s| Snippet { path: s.path.clone(), text: s.text.clone() }))
        .chain(context.preamble.iter().map(|s| Snippet { path: file.path.clone(), text: s.text.clone() }))
        .collect();
    let mut parts = PromptParts {
        kind: PromptKind::Completion,
        file,
        prefix: window.prefix_text().to_owned(),
        suffix: window.suffix_text().to_owned(),
        snippets,
    };
    plugins.prompt(&mut parts)?;
    window.replace(tokenizer, parts.prefix, parts.suffix);
    for (snippet, edited) in context.files.iter_mut().chain(context.preamble.iter_mut()).zip(parts.snippets) {
        snippet.text = edited.text;
    }
    context.files.retain(|s| !s.text.is_empty());
    context.preamble.retain(|s| !s.text.is_empty());
    Ok(())
}

/// Runs the `prompt` hooks over code under review: what the model is given instead.
pub fn review_code(plugins: &Plugins, file: FileInfo, code: &str) -> Result<String, Refusal> {
    let mut parts = PromptParts { kind: PromptKind::Review, file, prefix: code.to_owned(), ..PromptParts::default() };
    plugins.prompt(&mut parts)?;
    Ok(parts.prefix)
}

/// Runs the `suggestion` hooks; empty when one drops it.
pub fn suggestion(plugins: &Plugins, file: FileInfo, (line, column): (usize, usize), text: String) -> String {
    if text.is_empty() {
        return text;
    }
    let params = SuggestionParams { file, line: line as u32, column: column as u32, text };
    plugins.suggestion(params).unwrap_or_default()
}

/// Runs the `finding` hooks; `None` when one drops it. Plugins may change the message and the severity.
pub fn finding(plugins: &Plugins, language: &str, finding: Finding) -> Option<Finding> {
    let file = FileInfo { path: finding.path.clone(), language: language.to_owned() };
    let shown = Shown {
        rule: finding.rule.clone(),
        severity: finding.severity.name().to_owned(),
        message: finding.message.clone(),
        line: finding.start.line + 1,
        quote: finding.quote.clone(),
        fix: finding.replacement.clone(),
    };
    let edited = plugins.finding(&file, shown)?;
    let severity = Severity::from_name(&edited.severity).unwrap_or(finding.severity);
    Some(Finding { message: edited.message, severity, ..finding })
}
