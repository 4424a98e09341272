//! The cursor's surroundings: they decide the suggestion's mode (a line or a block) and how the model's raw text
//! becomes the suggestion (post-processing, the syntax check, the plugins' `suggestion` hooks).

use std::sync::Arc;

use ropey::Rope;

use super::confidence::Logprobs;
use super::postprocess::{self, After, Mode};
use super::{Completer, Request, syntax_check};
use crate::plugins;
use nib_plugins::{Hook, Plugins};
use nib_text::documents::position::line_len_chars;
use nib_text::indent::indentation;
use nib_text::syntax::Syntax;

/// How much of a line on either side of the cursor `Site` looks at.
const MAX_SITE_CHARS: usize = 4096;

/// The cursor's surroundings, which decide the mode and the post-processing.
#[derive(Clone)]
pub(super) struct Site {
    pub(super) mode: Mode,
    rest_of_line: String,
    next_line: Option<String>,
    /// The opening line's indentation, when the cursor opens a block with a closer after it.
    closer_indent: Option<String>,
    /// Only indentation precedes the cursor: the model, seeing a prompt end in spaces, often starts
    /// with a space-led token, which would indent the line one space too deep.
    in_indentation: bool,
    /// The document and its tree, to check suggestions against.
    tree: Option<(Rope, Syntax, usize)>,
    /// The `suggestion` hooks, with the file and the cursor (line, column) they are told.
    hook: Option<(Arc<Plugins>, plugins::FileInfo, (usize, usize))>,
}

impl Site {
    pub(super) fn new(rope: &Rope, cursor: usize, max_lines: usize, syntax: Option<&Syntax>) -> Site {
        let line = rope.char_to_line(cursor);
        // A line of minified code can be megabytes: what decides the mode is near the cursor.
        let line_start = rope.line_to_char(line).max(cursor.saturating_sub(MAX_SITE_CHARS));
        let line_end = (rope.line_to_char(line) + line_len_chars(rope, line)).min(cursor + MAX_SITE_CHARS);
        let before = rope.slice(line_start..cursor).to_string();
        let rest_of_line = rope.slice(cursor..line_end).to_string();
        let opens_block = syntax_check::opens_block(rope, syntax, cursor);
        let has_closer = !rest_of_line.trim().is_empty();
        Site {
            mode: Mode::detect(&before, max_lines, opens_block),
            in_indentation: before.chars().all(|c| c == ' ' || c == '\t') && !before.is_empty(),
            closer_indent: (opens_block && has_closer).then(|| indentation(&before).to_owned()),
            rest_of_line,
            next_line: (line + 1..rope.len_lines().min(line + 50))
                .map(|l| rope.line(l))
                .map(|l| l.slice(..l.len_chars().min(MAX_SITE_CHARS)).to_string())
                .find(|l| !l.trim().is_empty()),
            tree: syntax.map(|s| (rope.clone(), s.clone(), cursor)),
            hook: None,
        }
    }

    /// The suggestion goes through the plugins' `suggestion` hooks too.
    fn with_hook(
        self,
        plugins: &Arc<Plugins>,
        file: impl FnOnce() -> plugins::FileInfo,
        rope: &Rope,
        cursor: usize,
    ) -> Site {
        if !plugins.handles(Hook::Suggestion) {
            return self;
        }
        let line = rope.char_to_line(cursor);
        let hook = Some((plugins.clone(), file(), (line, cursor - rope.line_to_char(line))));
        Site { hook, ..self }
    }

    /// `finish`, off the async threads when it checks the suggestion against the tree (a dozen reparses) or
    /// asks plugins.
    pub(super) async fn finished(&self, raw: String) -> String {
        if self.tree.is_none() && self.hook.is_none() {
            return self.finish(&raw);
        }
        let site = self.clone();
        tokio::task::spawn_blocking(move || {
            let text = site.finish(&raw);
            match &site.hook {
                Some((plugins, file, cursor)) => plugins::suggestion(plugins, file.clone(), *cursor, text),
                None => text,
            }
        })
        .await
        .unwrap_or_default()
    }

    /// `finished`, with how sure the model was of the text it shows.
    pub(super) async fn finished_with(&self, raw: String, logprobs: &Logprobs) -> (String, Option<f32>) {
        let text = self.finished(raw.clone()).await;
        let confidence = logprobs.confidence(&raw, &text);
        (text, confidence)
    }

    /// The suggestion from raw model text.
    pub(super) fn finish(&self, raw: &str) -> String {
        let (text, _) = postprocess::cut(&format!("{raw}\n"), &self.mode);
        let after = After { line: &self.rest_of_line, next_line: self.next_line.as_deref() };
        let mut text = postprocess::dedupe(&text, &self.mode, after);
        if self.in_indentation {
            text = text.trim_start_matches([' ', '\t']).to_owned();
        }
        // `{|}` : the body goes between, and the closer onto its own line.
        if let Some(indent) = self.closer_indent.as_ref().filter(|_| text.contains('\n')) {
            text = format!("{text}\n{indent}");
        }
        match &self.tree {
            Some((rope, syntax, cursor)) => syntax_check::fit(rope, syntax, *cursor, &text),
            None => text,
        }
    }
}

impl Completer {
    /// The cursor's surroundings, with the plugins' `suggestion` hooks.
    pub(super) fn site(&self, request: Request<'_>) -> Site {
        let (rope, cursor) = (request.rope, request.cursor.min(request.rope.len_chars()));
        let file = || {
            plugins::file_info(request.document.map(|d| self.workspace.label(d)).unwrap_or_default(), request.syntax)
        };
        Site::new(rope, cursor, self.config().max_lines as usize, request.syntax).with_hook(
            &self.plugins,
            file,
            rope,
            cursor,
        )
    }
}
