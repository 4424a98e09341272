//! `nib review` over many files: the targets (paths, or a diff), the filters
//! (diff lines, severity, globs, suppressions, baseline), in one pass.
//!
//! Invariants: only files inside the repository root are read (symlinks that
//! lead out are refused); report paths are repository-relative; nothing is written.

use std::path::{Path, PathBuf};

use ropey::Rope;

use super::diff::{self, FileDiff};
use super::noise::{self, Baseline};
use super::{FileToReview, Finding, ReviewError, ReviewStats, Reviewer, Severity};
use nib_engine::CancelToken;
use nib_text::syntax::{Language, Syntax};

/// Which findings of a diff review are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterMode {
    /// Findings on added or changed lines.
    Added,
    /// Findings within the diff's hunks, context lines included.
    DiffContext,
    /// Every finding in the units the diff touches.
    File,
}

pub enum Target {
    Paths(Vec<PathBuf>),
    /// The text of a unified diff.
    Diff(String),
}

pub struct Batch {
    pub root: PathBuf,
    pub target: Target,
    pub filter_mode: FilterMode,
    pub min_severity: Severity,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub baseline: Option<Baseline>,
}

#[derive(Debug, Default)]
pub struct BatchResult {
    pub findings: Vec<Finding>,
    pub stats: ReviewStats,
    pub n_files: usize,
    /// Files named by the target that were not reviewed, and why.
    pub skipped: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error(transparent)]
    Diff(#[from] diff::DiffError),
    #[error("{0}: outside the repository {1}")]
    OutsideRoot(String, String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// Files larger than this are not reviewed (generated code, bundles).
const MAX_FILE_BYTES: u64 = nib_text::syntax::MAX_SOURCE_BYTES as u64;

pub async fn run(
    reviewer: &Reviewer,
    batch: &Batch,
    mut progress: impl FnMut(&str, usize, usize),
) -> Result<BatchResult, BatchError> {
    let root = std::fs::canonicalize(&batch.root).map_err(|e| BatchError::Io(batch.root.display().to_string(), e))?;
    let files: Vec<FileDiff> = match &batch.target {
        Target::Diff(text) => diff::parse(text)?,
        Target::Paths(paths) => {
            let mut found = Vec::new();
            for path in paths {
                collect(&root, path, &mut found)?;
            }
            found.into_iter().map(|path| FileDiff { path, added: Vec::new(), hunks: Vec::new() }).collect()
        }
    };
    let mut result = BatchResult::default();
    for file in files {
        if !noise::selected(&file.path, &batch.include, &batch.exclude) {
            continue;
        }
        let text = match read_inside(&root, &file.path) {
            Ok(text) => text,
            Err(why) => {
                result.skipped.push((file.path.clone(), why));
                continue;
            }
        };
        let rope = Rope::from_str(&text);
        let language = Language::detect("", &file.path);
        let syntax = language.and_then(|l| Syntax::parse(l, &rope));
        let is_diff = matches!(batch.target, Target::Diff(_));
        let review = FileToReview {
            path: &file.path,
            language: language.map_or("text", Language::name),
            rope: &rope,
            syntax: syntax.as_ref(),
            focus: is_diff.then_some(&file.hunks[..]),
        };
        let path = file.path.clone();
        let (findings, stats) =
            reviewer.review_all(review, &CancelToken::default(), |done, total| progress(&path, done, total)).await?;
        result.n_files += 1;
        result.stats.n_units += stats.n_units;
        result.stats.n_cached += stats.n_cached;
        result.stats.n_reviewed += stats.n_reviewed;
        result.stats.reviewed_ms += stats.reviewed_ms;
        let mut kept: Vec<Finding> = findings
            .into_iter()
            .filter(|f| {
                let lines = f.start.line as usize..f.end.line as usize + 1;
                let in_diff = !is_diff
                    || match batch.filter_mode {
                        FilterMode::Added => file.added.iter().any(|l| lines.contains(l)),
                        FilterMode::DiffContext => {
                            file.hunks.iter().any(|h| h.start < lines.end && lines.start < h.end)
                        }
                        FilterMode::File => true,
                    };
                in_diff
                    && f.severity >= batch.min_severity
                    && !noise::suppressed(&rope, f)
                    && !batch.baseline.as_ref().is_some_and(|b| b.contains(f))
            })
            .collect();
        // Capped after the filters, so what a diff changed is not crowded out by what it did not.
        super::keep_most_severe(&mut kept, reviewer.limits.max_findings_per_file);
        result.findings.extend(kept);
    }
    Ok(result)
}

/// The repository-relative paths of the source files at `path` (a file, or a folder walked).
fn collect(root: &Path, path: &Path, found: &mut Vec<String>) -> Result<(), BatchError> {
    let absolute = std::fs::canonicalize(path).map_err(|e| BatchError::Io(path.display().to_string(), e))?;
    if !absolute.starts_with(root) {
        return Err(BatchError::OutsideRoot(path.display().to_string(), root.display().to_string()));
    }
    let files = if absolute.is_file() { vec![absolute] } else { nib_text::syntax::source_files(&absolute, usize::MAX) };
    for file in files {
        let relative = file.strip_prefix(root).unwrap_or(&file);
        found.push(relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
    }
    Ok(())
}

/// A file's text, only if it resolves inside `root` and is text of a reviewable size.
fn read_inside(root: &Path, relative: &str) -> Result<String, String> {
    let absolute = std::fs::canonicalize(root.join(relative)).map_err(|e| e.to_string())?;
    if !absolute.starts_with(root) {
        return Err("leads outside the repository".into());
    }
    let meta = std::fs::metadata(&absolute).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("{} bytes is over the {MAX_FILE_BYTES}-byte limit", meta.len()));
    }
    std::fs::read_to_string(&absolute).map_err(|_| "not UTF-8 text".into())
}
