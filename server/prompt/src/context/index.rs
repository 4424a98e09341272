//! The symbol index: definitions by name, from open documents and workspace
//! files, kept up to date as files are opened, edited and saved.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::RwLock;
use ropey::Rope;

use super::outline::{self, Symbol};
use nib_text::syntax::{Language, Syntax};

/// A bound on the workspace scan (all folders together): a monorepo must not stall start-up or fill memory.
pub const MAX_SCANNED_FILES: usize = 5_000;

/// A bound on the index's text: a repository of generated code must not fill memory.
const MAX_INDEX_BYTES: usize = 32 * 1024 * 1024;

/// One indexed file.
#[derive(Debug, Clone)]
pub struct FileSymbols {
    /// How labels name the file.
    pub path: Arc<str>,
    pub symbols: Vec<Symbol>,
}

#[derive(Debug, Default)]
pub struct SymbolIndex {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    files: HashMap<String, Arc<FileSymbols>>,
    /// The text of every file's symbols, against `MAX_INDEX_BYTES`.
    n_bytes: usize,
    /// Name -> files that define it.
    names: HashMap<String, Vec<String>>,
}

impl SymbolIndex {
    /// Replaces what `key` defines; a file that would take the index over `MAX_INDEX_BYTES` is left out.
    pub fn update(&self, key: &str, path: &str, rope: &Rope, syntax: &Syntax) {
        let file = Arc::new(FileSymbols { path: path.into(), symbols: outline::symbols(rope, syntax) });
        let mut inner = self.inner.write();
        inner.remove(key);
        if inner.n_bytes + file.n_bytes() > MAX_INDEX_BYTES {
            tracing::debug!(key, "symbol index full");
            return;
        }
        inner.n_bytes += file.n_bytes();
        for symbol in &file.symbols {
            let files = inner.names.entry(symbol.name.clone()).or_default();
            if !files.iter().any(|f| f == key) {
                files.push(key.to_owned());
            }
        }
        inner.files.insert(key.to_owned(), file);
    }

    /// Forgets the files at or under `path` (a file or a folder) that `forget` agrees to.
    pub fn remove_under(&self, path: &Path, forget: impl Fn(&Path) -> bool) {
        let mut inner = self.inner.write();
        let keys: Vec<String> = inner
            .files
            .keys()
            .filter(|key| Path::new(key).starts_with(path) && forget(Path::new(key)))
            .cloned()
            .collect();
        for key in keys {
            inner.remove(&key);
        }
    }

    /// Every definition of `name`, with its file's key, in a stable order.
    pub fn lookup(&self, name: &str) -> Vec<(String, Arc<FileSymbols>, usize)> {
        let inner = self.inner.read();
        let Some(keys) = inner.names.get(name) else { return Vec::new() };
        let mut found: Vec<_> = keys
            .iter()
            .filter_map(|key| inner.files.get(key).map(|f| (key, f)))
            .flat_map(|(key, file)| {
                file.symbols
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.name == name)
                    .map(|(i, _)| (key.clone(), file.clone(), i))
                    .collect::<Vec<_>>()
            })
            .collect();
        found.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
        found
    }

    pub fn n_files(&self) -> usize {
        self.inner.read().files.len()
    }

    /// Indexes the source files under `root` that nib can parse, of the first `max_files`; returns how many.
    pub fn scan(&self, root: &Path, max_files: usize) -> usize {
        nib_text::syntax::source_files(root, max_files).iter().filter(|path| self.index_file(root, path)).count()
    }

    /// Indexes the files `source_files(root, ..)` keeps at or under `path` again, and forgets the others
    /// there: `path` was created, changed or deleted.
    pub fn sync(&self, root: &Path, path: &Path) {
        let files = nib_text::syntax::source_files_at(root, path, MAX_SCANNED_FILES);
        self.remove_under(path, |key| !files.iter().any(|f| f == key));
        files.iter().for_each(|file| {
            self.index_file(root, file);
        });
    }

    fn index_file(&self, root: &Path, path: &Path) -> bool {
        let Some(language) = Language::detect("", &path.to_string_lossy()) else { return false };
        let Ok(text) = std::fs::read_to_string(path) else { return false };
        let rope = Rope::from_str(&text);
        let Some(syntax) = Syntax::parse(language, &rope) else { return false };
        let key = path.to_string_lossy();
        self.update(&key, &label_path(root, path), &rope, &syntax);
        true
    }
}

impl FileSymbols {
    fn n_bytes(&self) -> usize {
        self.symbols.iter().map(|s| s.name.len() + s.text.len()).sum()
    }
}

impl Inner {
    fn remove(&mut self, key: &str) {
        let Some(old) = self.files.remove(key) else { return };
        self.n_bytes -= old.n_bytes();
        for symbol in &old.symbols {
            if let Some(files) = self.names.get_mut(&symbol.name) {
                files.retain(|f| f != key);
                if files.is_empty() {
                    self.names.remove(&symbol.name);
                }
            }
        }
    }
}

/// A file's path as prompts show it: relative to the workspace root when under it, with `/` between folders on
/// every system (as the code models read in training wrote them).
pub fn label_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    if relative.is_absolute() {
        return relative.to_string_lossy().into_owned();
    }
    relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}
