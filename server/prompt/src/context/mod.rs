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
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

use parking_lot::{Mutex, RwLock};
use ropey::Rope;
use tree_sitter::QueryCursor;

pub use index::SymbolIndex;
pub use outline::Symbol;
use recent::Recent;

use nib_text::indent::{indent_width, indentation};
use nib_text::syntax::{self, RopeText, StreamingIterator, Syntax};

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
    /// The workspace folders.
    roots: RwLock<Vec<PathBuf>>,
    index: SymbolIndex,
    recent: Mutex<Recent>,
    /// Work for the index thread, which starts with its first job. One thread, so jobs apply in order:
    /// a file created then deleted ends up gone.
    jobs: Mutex<Option<mpsc::Sender<IndexJob>>>,
}

/// What the index thread does.
#[derive(Debug)]
enum IndexJob {
    /// Index these folders' source files.
    Scan(Vec<PathBuf>),
    /// These files or folders were created, changed or deleted.
    Changed(Vec<PathBuf>),
    /// This folder left the workspace.
    Forget(PathBuf),
}

impl Workspace {
    pub fn set_root(&self, root: PathBuf) {
        self.set_roots(vec![root]);
    }

    pub fn set_roots(&self, roots: Vec<PathBuf>) {
        *self.roots.write() = roots;
    }

    /// The workspace folders.
    pub fn roots(&self) -> Vec<PathBuf> {
        self.roots.read().clone()
    }

    /// The innermost workspace folder holding `path`.
    fn root_of(&self, path: &Path) -> Option<PathBuf> {
        self.roots().into_iter().filter(|root| path.starts_with(root)).max_by_key(|root| root.components().count())
    }

    /// Indexes the workspace's files (blocking; run it off the async threads). Returns how many.
    pub fn scan(&self) -> usize {
        self.scan_roots(&self.roots())
    }

    /// At most `MAX_SCANNED_FILES` from all of `roots` together.
    fn scan_roots(&self, roots: &[PathBuf]) -> usize {
        roots
            .iter()
            .fold(0, |n_files, root| n_files + self.index.scan(root, index::MAX_SCANNED_FILES.saturating_sub(n_files)))
    }

    /// Indexes the workspace's files on the index thread (see `queue`).
    pub fn scan_in_background(self: &Arc<Self>) {
        self.queue(IndexJob::Scan(self.roots()));
    }

    /// A workspace folder was added: index it in the background.
    pub fn add_root(self: &Arc<Self>, root: PathBuf) {
        let mut roots = self.roots.write();
        if !roots.contains(&root) {
            roots.push(root.clone());
        }
        drop(roots);
        self.queue(IndexJob::Scan(vec![root]));
    }

    /// A workspace folder was removed: forget its files (those no other folder holds) in the background.
    pub fn remove_root(self: &Arc<Self>, root: &Path) {
        self.roots.write().retain(|r| r != root);
        self.queue(IndexJob::Forget(root.to_path_buf()));
    }

    /// Files or folders were created, changed or deleted on disk: index them again in the background. Paths
    /// outside the workspace folders are not its business.
    pub fn files_changed(self: &Arc<Self>, paths: Vec<PathBuf>) {
        if !paths.is_empty() {
            self.queue(IndexJob::Changed(paths));
        }
    }

    fn run(&self, job: IndexJob) {
        match job {
            IndexJob::Scan(roots) => {
                let n_files = self.scan_roots(&roots);
                tracing::info!(n_files, ?roots, "workspace indexed");
            }
            IndexJob::Changed(paths) => {
                for path in &paths {
                    if let Some(root) = self.root_of(path) {
                        self.index.sync(&root, path);
                    }
                }
                tracing::debug!(n_paths = paths.len(), "changed files indexed again");
            }
            IndexJob::Forget(root) => {
                self.index.remove_under(&root, |key| self.root_of(key).is_none());
                tracing::info!(?root, "workspace folder forgotten");
            }
        }
    }

    /// Hands a job to the index thread, starting it if there is none (or it ended): indexing reads and parses
    /// files, so it runs on a thread of its own at background priority, and typing, the model and the async
    /// threads keep the cores.
    fn queue(self: &Arc<Self>, job: IndexJob) {
        let mut jobs = self.jobs.lock();
        // A thread that panicked has dropped its receiver: the job goes to a new one.
        let job = match jobs.as_ref() {
            Some(sender) => match sender.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (sender, receiver) = mpsc::channel();
        // The thread must not keep the workspace alive: it ends once the workspace (and so `sender`) is gone.
        let workspace = Arc::downgrade(self);
        let spawned = std::thread::Builder::new().name("nib-index".into()).spawn(move || {
            lower_priority();
            while let Ok(job) = receiver.recv() {
                let Some(workspace) = workspace.upgrade() else { return };
                workspace.run(job);
            }
        });
        match spawned {
            Ok(_) => {
                let _ = sender.send(job);
                *jobs = Some(sender);
            }
            Err(error) => tracing::warn!(%error, "cannot start the index thread; the workspace is not indexed"),
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
        self.recent.lock().push(&key, &path, rope, line);
    }

    /// How prompts name a file: relative to its workspace folder when in one.
    pub fn label(&self, uri: &str) -> String {
        let Some(path) = nib_text::uri::to_path(uri) else { return uri.to_owned() };
        match self.root_of(&path) {
            Some(root) => index::label_path(&root, &path),
            None if self.roots().is_empty() => {
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            }
            None => path.to_string_lossy().into_owned(),
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
        let recent = {
            let r = self.recent.lock();
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
        };
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
    nib_text::uri::to_path(uri).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|| uri.to_owned())
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
            lines.extend(syntax::lines(rope, capture.node).filter(|&l| l < window_start));
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
        let line = rope.byte_to_line(scope.start_byte());
        if line >= window_start || !(body.start_byte() <= at && at <= body.end_byte()) {
            continue;
        }
        let brace = usize::from(rope.get_byte(body.start_byte()) == Some(b'{'));
        let signature = rope.byte_slice(rope.line_to_byte(line)..body.start_byte() + brace).to_string();
        let signature = signature.trim_end();
        // The elision sits where the body's first line does.
        let body_line = rope.byte_to_line(body.start_byte()).max(line + 1).min(rope.len_lines() - 1);
        let indent = indentation(&rope.line(body_line).to_string()).to_owned();
        let indent = if indent_width(&indent) > indent_width(signature) {
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

#[cfg(test)]
mod tests;
