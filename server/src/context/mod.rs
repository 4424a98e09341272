//! What the prompt carries besides the window around the cursor: the file's
//! header, the signatures of the scopes the cursor is in, definitions of the
//! identifiers used near it (from a symbol index of open and workspace files),
//! and chunks of recently used files.
//!
//! Invariants: context never repeats the window; its order is stable while the
//! user types (recent chunks oldest first, then definitions by file and line,
//! then the current file's preamble in file order), so the KV cache keeps it;
//! what does not fit is dropped by rank, never cut mid-snippet.

mod index;
mod outline;
mod recent;

use std::collections::HashSet;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use ropey::Rope;
use tree_sitter::QueryCursor;

pub use index::{SymbolIndex, uri_to_path};
pub use outline::Symbol;
use recent::Recent;

use crate::syntax::{self, RopeText, StreamingIterator, Syntax};

/// The header shown at most: imports beyond this are rarely what the cursor needs.
const MAX_HEADER_LINES: usize = 24;
/// Imports are looked for in this many lines at the top of the file.
const HEADER_SEARCH_LINES: usize = 200;
/// Identifiers are taken from this many lines above the cursor, and the cursor's line.
const NEAR_LINES: usize = 16;
const MAX_DEFINITIONS: usize = 8;
const MAX_DEFINITIONS_PER_NAME: usize = 2;
/// Ranks: lower is kept first when the budget is short.
const RANK_HEADER: u32 = 0;
const RANK_SCOPE: u32 = 1;
const RANK_DEFINITION: u32 = 2;
const RANK_RECENT: u32 = 100;

/// Context for one prompt; `prompt::assemble` fits it to the budget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The current file as labels name it; empty: no context at all.
    pub path: String,
    /// The language's line comment, for labels and elisions.
    pub comment: String,
    /// Snippets of other files, in prompt order.
    pub files: Vec<Snippet>,
    /// Pieces of the current file above the window, in file order, each ending in an elision.
    pub preamble: Vec<Snippet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub path: String,
    pub text: String,
    pub rank: u32,
}

/// Where a prompt is being built.
pub struct Request<'a> {
    /// The document's key (its URI).
    pub key: &'a str,
    pub rope: &'a Rope,
    pub syntax: Option<&'a Syntax>,
    pub cursor: usize,
    /// Chars the prompt's window covers.
    pub window: Range<usize>,
}

/// What nib knows beyond the current document: the symbol index and recent chunks.
#[derive(Debug, Default)]
pub struct Workspace {
    root: RwLock<Option<PathBuf>>,
    index: SymbolIndex,
    recent: Mutex<Recent>,
}

impl Workspace {
    pub fn set_root(&self, root: PathBuf) {
        if let Ok(mut slot) = self.root.write() {
            *slot = Some(root);
        }
    }

    /// Indexes the workspace's files (blocking; run it off the async threads). Returns how many.
    pub fn scan(&self) -> usize {
        let root = self.root.read().ok().and_then(|r| r.clone());
        root.map(|root| self.index.scan(&root)).unwrap_or(0)
    }

    /// Indexes the workspace's files on a thread of its own at background priority, so that typing, the
    /// model and the async threads keep the cores.
    pub fn scan_in_background(self: &Arc<Self>) {
        let workspace = self.clone();
        let spawned = std::thread::Builder::new().name("nib-index".into()).spawn(move || {
            lower_priority();
            let n_files = workspace.scan();
            tracing::info!(n_files, "workspace indexed");
        });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start the index thread; no workspace index");
        }
    }

    pub fn n_indexed_files(&self) -> usize {
        self.index.n_files()
    }

    /// A document was opened, edited near `line`, or saved: index it again and remember that region.
    pub fn observe(&self, uri: &str, rope: &Rope, syntax: Option<&Syntax>, line: usize) {
        let (key, path) = (key(uri), self.label(uri));
        if let Some(syntax) = syntax {
            self.index.update(&key, &path, rope, syntax);
        }
        if let Ok(mut recent) = self.recent.lock() {
            recent.push(&key, &path, rope, line);
        }
    }

    /// How prompts name a file: relative to the workspace root when under it.
    pub fn label(&self, uri: &str) -> String {
        let path = uri_to_path(uri);
        let root = self.root.read().ok().and_then(|r| r.clone());
        match (path, root) {
            (Some(path), Some(root)) => index::label_path(&root, &path),
            (Some(path), None) => path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            (None, _) => uri.to_owned(),
        }
    }

    pub fn gather(&self, request: &Request) -> Context {
        let comment = request.syntax.map_or("//", |s| s.language.line_comment());
        let this = key(request.key);
        let rope = request.rope;
        let window_lines = rope.char_to_line(request.window.start)..rope.char_to_line(request.window.end) + 1;
        let mut preamble = Vec::new();
        let mut files = Vec::new();
        if let Some(syntax) = request.syntax {
            preamble.extend(header(rope, syntax, window_lines.start, comment));
            preamble.extend(scopes(rope, syntax, request.cursor, window_lines.start, comment));
            for (i, (key, path, symbol)) in
                self.definitions(rope, syntax, request.cursor, window_lines.start).into_iter().enumerate()
            {
                let rank = RANK_DEFINITION + i as u32;
                if key != this {
                    files.push((
                        path,
                        symbol.start_line,
                        Snippet { path: String::new(), text: symbol.dedented(), rank },
                    ));
                } else if still_there(rope, &symbol)
                    && !overlaps(symbol.start_line..symbol.end_line + 1, &window_lines)
                    && !preamble.iter().any(|(line, _)| *line == symbol.start_line)
                {
                    let text = format!("{}{}{comment} ...\n", symbol.text, indentation(&symbol.text));
                    preamble.push((symbol.start_line, Snippet { path: String::new(), text, rank }));
                }
            }
        }
        preamble.sort_by_key(|(line, _)| *line);
        files.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let definitions = files.into_iter().map(|(path, _, snippet)| Snippet { path, ..snippet });
        let recent = self.recent.lock().map(|r| {
            let n = r.chunks().count() as u32;
            r.chunks()
                .enumerate()
                .filter(|(_, c)| c.key != this)
                .map(|(age, c)| Snippet {
                    path: c.path.to_string(),
                    text: c.text.clone(),
                    rank: RANK_RECENT + n - age as u32,
                })
                .collect::<Vec<_>>()
        });
        let recent = recent.unwrap_or_default();
        // A definition already inside a recent chunk of its file would only be said twice.
        let definitions =
            definitions.filter(|d| !recent.iter().any(|r| r.path == d.path && r.text.contains(d.text.trim_end())));
        Context {
            path: self.label(request.key),
            comment: comment.to_owned(),
            files: recent.iter().cloned().chain(definitions).collect(),
            preamble: preamble.into_iter().map(|(_, s)| s).collect(),
        }
    }

    /// Definitions of the identifiers used near the cursor, nearest use first, never the ones in the window.
    fn definitions(
        &self,
        rope: &Rope,
        syntax: &Syntax,
        cursor: usize,
        window_start: usize,
    ) -> Vec<(String, String, Symbol)> {
        let Some(queries) = syntax.language.queries() else { return Vec::new() };
        let cursor_line = rope.char_to_line(cursor);
        let from = rope.line_to_byte(cursor_line.saturating_sub(NEAR_LINES).max(window_start.min(cursor_line)));
        let to = rope.char_to_byte(cursor);
        let mut query_cursor = QueryCursor::new();
        query_cursor.set_byte_range(from..to);
        let mut captures = query_cursor.captures(&queries.references, syntax.tree.root_node(), RopeText(rope));
        let mut names = Vec::new();
        while let Some((m, i)) = captures.next() {
            let node = m.captures[*i].node;
            // An identifier still being typed is not a reference yet.
            if node.end_byte() < to && node.byte_range().len() > 1 {
                names.push(syntax::text(rope, node));
            }
        }
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for name in names.into_iter().rev() {
            if found.len() >= MAX_DEFINITIONS {
                break;
            }
            if !seen.insert(name.clone()) {
                continue;
            }
            for (key, file, i) in self.index.lookup(&name).into_iter().take(MAX_DEFINITIONS_PER_NAME) {
                found.push((key, file.path.to_string(), file.symbols[i].clone()));
            }
        }
        found.truncate(MAX_DEFINITIONS);
        found
    }
}

/// Gives the calling thread the lowest scheduling priority (nice 19). Linux only: there a thread id names
/// one thread, where elsewhere `setpriority` would slow the whole process.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: two system calls without pointers, about the calling thread only.
    let status = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19) };
    if status != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "the index thread keeps its priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// The index key of a document: its file path when it has one, so scanned files and open documents meet.
fn key(uri: &str) -> String {
    uri_to_path(uri).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|| uri.to_owned())
}

/// Whether the document still has a symbol where the index saw it: the index catches up with edits
/// only once they pause.
fn still_there(rope: &Rope, symbol: &Symbol) -> bool {
    let first_line = symbol.text.lines().next().unwrap_or_default();
    symbol.start_line < rope.len_lines() && rope.line(symbol.start_line).to_string().trim_end() == first_line.trim_end()
}

fn overlaps(a: Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// The imports above the window, as whole lines.
fn header(rope: &Rope, syntax: &Syntax, window_start: usize, comment: &str) -> Option<(usize, Snippet)> {
    let queries = syntax.language.queries()?;
    let root = syntax.tree.root_node();
    let mut query_cursor = QueryCursor::new();
    // Only the top of the file: querying all of a large file would cost more than the whole prompt.
    query_cursor.set_byte_range(0..rope.line_to_byte(window_start.min(HEADER_SEARCH_LINES)));
    let mut matches = query_cursor.matches(&queries.imports, root, RopeText(rope));
    let mut lines = Vec::new();
    while let Some(m) = matches.next() {
        for capture in m.captures.iter().filter(|c| c.node.parent() == Some(root)) {
            let (start, end) = (capture.node.start_position().row, syntax::last_line(capture.node));
            lines.extend((start..=end).filter(|&l| l < window_start));
        }
    }
    lines.sort_unstable();
    lines.dedup();
    let first = *lines.first()?;
    let text: String = lines
        .into_iter()
        .take(MAX_HEADER_LINES)
        .map(|l| rope.line(l).to_string())
        .chain([format!("{comment} ...\n")])
        .collect();
    Some((first, Snippet { path: String::new(), text, rank: RANK_HEADER }))
}

/// The signatures of the scopes around the cursor that start above the window.
fn scopes(rope: &Rope, syntax: &Syntax, cursor: usize, window_start: usize, comment: &str) -> Vec<(usize, Snippet)> {
    let Some(queries) = syntax.language.queries() else { return Vec::new() };
    let (Some(scope), Some(body)) =
        (queries.scopes.capture_index_for_name("scope"), queries.scopes.capture_index_for_name("body"))
    else {
        return Vec::new();
    };
    let at = probe(rope, cursor);
    let mut query_cursor = QueryCursor::new();
    query_cursor.set_byte_range(at..at + 1);
    let mut matches = query_cursor.matches(&queries.scopes, syntax.tree.root_node(), RopeText(rope));
    let mut found = Vec::new();
    while let Some(m) = matches.next() {
        let node_of = |index| m.captures.iter().find(|c| c.index == index).map(|c| c.node);
        let (Some(scope), Some(body)) = (node_of(scope), node_of(body)) else { continue };
        let line = scope.start_position().row;
        if line >= window_start || !(body.start_byte() <= at && at <= body.end_byte()) {
            continue;
        }
        let brace = usize::from(rope.get_byte(body.start_byte()) == Some(b'{'));
        let signature = rope.byte_slice(rope.line_to_byte(line)..body.start_byte() + brace).to_string();
        let signature = signature.trim_end();
        // The elision sits where the body's first line does.
        let body_line = rope.byte_to_line(body.start_byte()).max(line + 1).min(rope.len_lines() - 1);
        let indent = indentation(&rope.line(body_line).to_string());
        let indent = if indent.len() > indentation(signature).len() {
            indent
        } else {
            format!("{}    ", indentation(signature))
        };
        let text = format!("{signature}\n{indent}{comment} ...\n");
        found.push((line, Snippet { path: String::new(), text, rank: RANK_SCOPE }));
    }
    found
}

/// Where to look for the scopes around the cursor: an incomplete statement at the cursor may sit
/// outside the tree's blocks, but the start of its line, or the code before it, does not.
fn probe(rope: &Rope, cursor: usize) -> usize {
    let line_start = rope.line_to_char(rope.char_to_line(cursor));
    let first_char = rope.slice(line_start..cursor).chars().position(|c| !c.is_whitespace());
    let at = match first_char {
        Some(offset) => line_start + offset,
        None => {
            let before = rope.slice(..cursor);
            let n_trailing = before.chars_at(cursor).reversed().take_while(|c| c.is_whitespace()).count();
            cursor.saturating_sub(n_trailing + 1)
        }
    };
    rope.char_to_byte(at)
}

fn indentation(line: &str) -> String {
    line.chars().take_while(|c| *c == ' ' || *c == '\t').collect()
}

#[cfg(test)]
mod tests;
