//! Which files under a folder are the user's source: the walk shared by the
//! workspace index, `nib review` and `nib eval`.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::Language;

/// Folders that hold dependencies or build output rather than the user's code, ignored or not.
const SKIPPED_DIRS: &[&str] = &["node_modules", "target", "build", "dist", "out", "vendor", "__pycache__", "venv"];

/// Files over this are generated code, bundles or data, not source worth parsing.
pub const MAX_SOURCE_BYTES: usize = 1024 * 1024;

/// A line this long marks a file as minified or generated: formatters wrap written code far sooner.
const MAX_LINE_BYTES: usize = 1_000;

/// How much of a file is read to look for such a line; a bundle shows itself at once.
const SNIFFED_BYTES: usize = 64 * 1024;

/// The files under `dir` in a language nib parses, in path order, at most `max_files`. Left out: what
/// `.gitignore`, `.ignore` and git's global excludes name (also outside a git repository), hidden entries,
/// dependency and build folders, symlinks, unreadable folders, and generated files (`is_generated`).
pub fn source_files(dir: &Path, max_files: usize) -> Vec<PathBuf> {
    walk(dir, |_| true).take(max_files).collect()
}

/// The files `source_files(root, ..)` keeps at or under `path` (a file or a folder; none when it is gone), at
/// most `max_files`: the same walk, pruned to the way there, so the rules of the folders above `path` hold too.
pub fn source_files_at(root: &Path, path: &Path, max_files: usize) -> Vec<PathBuf> {
    // What the walk never enters, answered without walking: build output changes by the thousand.
    let never_entered = path.strip_prefix(root).is_ok_and(|relative| {
        relative
            .components()
            .any(|c| c.as_os_str().to_str().is_some_and(|n| n.starts_with('.') || SKIPPED_DIRS.contains(&n)))
    });
    if never_entered {
        return Vec::new();
    }
    let path = path.to_path_buf();
    walk(root, move |entry| path.starts_with(entry) || entry.starts_with(&path)).take(max_files).collect()
}

/// The walk behind `source_files`, into the entries `keep` accepts.
fn walk(dir: &Path, keep: impl Fn(&Path) -> bool + Send + Sync + 'static) -> impl Iterator<Item = PathBuf> {
    let walk = ignore::WalkBuilder::new(dir)
        // A workspace not (yet) under git still says in its .gitignore what is not source.
        .require_git(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let skipped = is_dir && entry.file_name().to_str().is_some_and(|name| SKIPPED_DIRS.contains(&name));
            !skipped && keep(entry.path())
        })
        .build();
    walk.filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_some_and(|t| t.is_file()))
        .map(ignore::DirEntry::into_path)
        .filter(|path| Language::detect("", &path.to_string_lossy()).is_some() && !is_generated(path))
}

/// Whether a file looks generated rather than written (`looks_generated`). An unreadable file counts as
/// generated: there is nothing to index or review in it either.
fn is_generated(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else { return true };
    if file.metadata().map_or(true, |meta| meta.len() > MAX_SOURCE_BYTES as u64) {
        return true;
    }
    let mut prefix = Vec::new();
    if file.take(SNIFFED_BYTES as u64).read_to_end(&mut prefix).is_err() {
        return true;
    }
    minified_name(&path.to_string_lossy()) || has_long_line(&prefix)
}

/// Whether a text (of a file or URI named `name`) looks generated rather than written: minified by its
/// name (`*.min.*`), over `MAX_SOURCE_BYTES`, or with a line over `MAX_LINE_BYTES` in its first
/// `SNIFFED_BYTES`. Such text is opaque to nib: never parsed, indexed or reviewed.
pub fn looks_generated(name: &str, text: &str) -> bool {
    let sniffed = &text.as_bytes()[..text.len().min(SNIFFED_BYTES)];
    text.len() > MAX_SOURCE_BYTES || minified_name(name) || has_long_line(sniffed)
}

fn minified_name(name: &str) -> bool {
    name.rsplit(['/', '\\']).next().is_some_and(|file| file.contains(".min."))
}

fn has_long_line(bytes: &[u8]) -> bool {
    bytes.split(|&byte| byte == b'\n').any(|line| line.len() > MAX_LINE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds `files` (path, text) in a fresh folder, walks it, and compares what was kept.
    fn check(name: &str, files: &[(&str, &str)], expect: &[&str]) {
        let root = std::env::temp_dir().join(format!("nib-walk-{}-{}", name.replace(' ', "-"), std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("a file in a folder")).expect("create folder");
            std::fs::write(&path, text).expect("write file");
        }
        let found = source_files(&root, usize::MAX);
        let found: Vec<String> =
            found.iter().map(|p| p.strip_prefix(&root).expect("under root").to_string_lossy().into_owned()).collect();
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(found, expect, "{name}");
    }

    #[test]
    fn one_path_is_kept_or_left_out_as_the_whole_walk_would() {
        let root = std::env::temp_dir().join(format!("nib-walk-at-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in [
            (".gitignore", "gen/\n"),
            ("gen/sub/a.py", "a = 1\n"),
            ("src/b.py", "b = 1\n"),
            ("src/c/d.rs", "fn d() {}\n"),
            ("src/notes.md", "# notes\n"),
            ("node_modules/e.js", "e()\n"),
        ] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("a file in a folder")).expect("create folder");
            std::fs::write(&path, text).expect("write file");
        }
        let at = |path: &str| -> Vec<String> {
            let found = source_files_at(&root, &root.join(path), usize::MAX);
            found.iter().map(|p| p.strip_prefix(&root).expect("under root").to_string_lossy().into_owned()).collect()
        };
        assert_eq!(at("src/b.py"), ["src/b.py"]);
        assert_eq!(at("src"), ["src/b.py", "src/c/d.rs"]);
        // Ignored by a rule of a folder above it, in a dependency folder, not a language, or gone.
        assert!(at("gen/sub/a.py").is_empty());
        assert!(at("node_modules/e.js").is_empty());
        assert!(at("node_modules").is_empty());
        assert!(at("src/notes.md").is_empty());
        assert!(at("src/gone.py").is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_walk_keeps_source_and_leaves_out_the_rest() {
        let long_line = format!("var a = [{}];\n", "1,".repeat(2_500));
        let oversized = "x = 1\n".repeat(MAX_SOURCE_BYTES / 6 + 1);
        check("plain", &[("main.rs", "fn main() {}\n"), ("src/lib.py", "x = 1\n")], &["main.rs", "src/lib.py"]);
        check(
            "gitignore without git",
            &[
                (".gitignore", "gen/\n*.gen.py\n"),
                ("gen/a.rs", "fn a() {}\n"),
                ("b.gen.py", "b = 1\n"),
                ("c.py", "c = 1\n"),
            ],
            &["c.py"],
        );
        check(
            "dot ignore",
            &[(".ignore", "skip.go\n"), ("skip.go", "package a\n"), ("keep.go", "package a\n")],
            &["keep.go"],
        );
        check(
            "hidden",
            &[(".hidden/a.rs", "fn a() {}\n"), (".b.rs", "fn b() {}\n"), ("c.rs", "fn c() {}\n")],
            &["c.rs"],
        );
        check(
            "dependency folders",
            &[("node_modules/x/index.js", "x()\n"), ("target/debug/a.rs", "fn a() {}\n"), ("app.js", "x()\n")],
            &["app.js"],
        );
        check("minified", &[("app.min.js", "x()\n"), ("app.js", "x()\n")], &["app.js"]);
        check("long line", &[("data.js", &long_line), ("app.js", "x()\n")], &["app.js"]);
        check("oversized", &[("big.py", &oversized), ("small.py", "x = 1\n")], &["small.py"]);
        // Lock files are no language's: this fails, rightly, once one of them becomes a language.
        check(
            "lock files",
            &[
                ("Cargo.lock", "[[package]]\n"),
                ("package-lock.json", "{}\n"),
                ("yarn.lock", "a@1:\n"),
                ("pnpm-lock.yaml", "lockfileVersion: 9\n"),
                ("go.sum", "a v1 h1:x\n"),
                ("main.go", "package main\n"),
            ],
            &["main.go"],
        );
    }
}
