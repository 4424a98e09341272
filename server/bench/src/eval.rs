//! `nib eval`: completion quality on real source files. Hides the rest of a
//! line (or a whole block) at positions sampled with a fixed seed, asks the
//! completion pipeline the server uses, and scores the first line of the
//! suggestion against the hidden text: exact match and edit similarity; and, per confidence threshold, what
//! holding back the suggestions below it would hide and how good those shown and those hidden are.
//!
//! Invariants: the same files, seed and sample count give the same positions;
//! the file being completed is indexed as the model sees it (masked), so no
//! context part can leak the hidden text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ropey::Rope;
use serde::Serialize;

use super::{SplitMix, quantile};
use nib_engine::{CancelToken, Engine};
use nib_pipeline::completion::{Completer, CompletionError, Request, Trigger};
use nib_pipeline::config::{CompletionConfig, ContextMode};
use nib_prompt::context::Workspace;
use nib_text::indent::{indent_width, indentation};
use nib_text::syntax::{Language, Syntax};

/// What is hidden at each sampled position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hide {
    /// The rest of a line, from a point after its first character.
    Line,
    /// The body of a block, after a line that opens it.
    Block,
}

/// One sampled position, and what the file looks like to the model there.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub file: PathBuf,
    pub language: &'static str,
    /// 0-based line and char column of the cursor in the masked text.
    pub line: usize,
    pub column: usize,
    /// The first hidden line: what a perfect suggestion starts with.
    pub expected: String,
    #[serde(skip)]
    masked: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub case: usize,
    pub mode: ContextMode,
    pub suggestion: String,
    pub exact: bool,
    pub similarity: f64,
    /// The suggestion's confidence (`completion/confidence.rs`); `None` without probabilities.
    pub confidence: Option<f32>,
    pub ms: f64,
}

/// What a confidence threshold would do to the suggestions of one mode: how many it hides, and how good
/// those shown and those hidden are. An empty suggestion counts as shown (nothing to hide).
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdRow {
    pub mode: ContextMode,
    pub min_confidence: f32,
    pub n_samples: usize,
    pub hidden_share: f64,
    pub shown_exact_match: Option<f64>,
    pub shown_edit_similarity: Option<f64>,
    pub hidden_exact_match: Option<f64>,
    pub hidden_edit_similarity: Option<f64>,
}

/// The thresholds `nib eval` reports.
/// A line's probability is small: most single lines the model writes are below 0.05 (`completion/confidence.rs`).
pub const THRESHOLDS: [f32; 12] = [0.0, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.008, 0.009, 0.01, 0.015, 0.02, 0.05];

/// Per language and mode.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub language: String,
    pub mode: ContextMode,
    pub n_samples: usize,
    pub exact_match: f64,
    pub edit_similarity: f64,
    pub median_ms: f64,
}

impl Case {
    /// A position in `masked`, the file as the model sees it, where a perfect suggestion starts with `expected`.
    pub fn new(
        file: PathBuf,
        language: &'static str,
        masked: String,
        (line, column): (usize, usize),
        expected: String,
    ) -> Case {
        Case { file, language, line, column, expected, masked }
    }
}

/// The source files under `roots` that nib can parse, sorted, with their text.
pub fn source_files(roots: &[PathBuf]) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    for root in roots {
        let paths = if std::fs::metadata(root)?.is_dir() {
            nib_text::syntax::source_files(root, usize::MAX)
        } else {
            vec![root.clone()]
        };
        files.extend(paths.into_iter().filter_map(|path| std::fs::read_to_string(&path).ok().map(|text| (path, text))));
    }
    files.sort();
    Ok(files)
}

/// `n_per_file` positions per file, the same for the same seed and file name.
pub fn sample(files: &[(PathBuf, String)], hide: Hide, n_per_file: usize, seed: u64) -> Vec<Case> {
    let mut cases = Vec::new();
    for (path, text) in files {
        let Some(language) = Language::detect("", &path.to_string_lossy()) else { continue };
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let candidates: Vec<usize> = (0..lines.len()).filter(|&i| eligible(&lines, i, hide)).collect();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut rng = SplitMix(seed ^ fnv(&name));
        let mut chosen: Vec<usize> = Vec::new();
        let mut pool = candidates;
        while chosen.len() < n_per_file && !pool.is_empty() {
            chosen.push(pool.swap_remove(rng.below(pool.len())));
        }
        // In file order: consecutive prompts share their start, as they do while a user works down a file.
        chosen.sort_unstable();
        for line in chosen {
            cases.push(mask(path, language.name(), &lines, line, hide, &mut rng));
        }
    }
    cases
}

fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("//") || t.starts_with('#') || t.starts_with("/*") || t.starts_with('*')
}

fn eligible(lines: &[&str], i: usize, hide: Hide) -> bool {
    let line = lines[i].trim_end();
    match hide {
        Hide::Line => line.trim().chars().count() >= 6 && !is_comment(line),
        Hide::Block => {
            let opens = line.ends_with('{') || line.ends_with(':');
            let body =
                lines.get(i + 1).is_some_and(|next| !next.trim().is_empty() && indent_width(next) > indent_width(line));
            opens && body && !is_comment(line)
        }
    }
}

fn mask(path: &Path, language: &'static str, lines: &[&str], at: usize, hide: Hide, rng: &mut SplitMix) -> Case {
    let before: String = lines[..at].concat();
    match hide {
        Hide::Line => {
            let line = lines[at].trim_end_matches(['\n', '\r']);
            let chars: Vec<char> = line.chars().collect();
            let first = indentation(line).len() + 1;
            // Keep at least one char of the line and hide at least three.
            let column = first + rng.below(chars.len().saturating_sub(first + 2).max(1));
            let kept: String = chars[..column].iter().collect();
            let hidden: String = chars[column..].iter().collect();
            let masked = format!("{before}{kept}\n{}", lines[at + 1..].concat());
            Case { file: path.to_owned(), language, line: at, column, expected: hidden, masked }
        }
        Hide::Block => {
            let header = lines[at];
            let end = (at + 1..lines.len())
                .find(|&i| !lines[i].trim().is_empty() && indent_width(lines[i]) <= indent_width(header))
                .unwrap_or(lines.len());
            let body_indent = indentation(lines[at + 1]);
            let expected = lines[at + 1].trim().to_owned();
            let masked = format!("{before}{header}{body_indent}\n{}", lines[end..].concat());
            Case {
                file: path.to_owned(),
                language,
                line: at + 1,
                column: body_indent.chars().count(),
                expected,
                masked,
            }
        }
    }
}

/// Runs every case in every mode through the completion pipeline, as `trigger` asks: `Invoked` as an explicit
/// request, `Automatic` as one while typing (the short suffix, the window held), each without a deadline and
/// with nothing held back, so that every suggestion is scored with its confidence.
pub async fn run(
    engine: &Engine,
    config: &CompletionConfig,
    (root, trigger): (&Path, Trigger),
    cases: &[Case],
    modes: &[ContextMode],
    mut progress: impl FnMut(&Outcome),
) -> Result<Vec<Outcome>, CompletionError> {
    let workspace = Arc::new(Workspace::default());
    workspace.set_root(root.to_owned());
    let n_indexed = workspace.scan();
    tracing::info!(n_indexed, "eval workspace indexed");
    let mut outcomes = Vec::new();
    for &mode in modes {
        // One run to its end per case: no deadline, nothing prefetched.
        let config = CompletionConfig {
            context: mode,
            invoked_timeout_ms: 3_600_000,
            deadline_ms: 3_600_000,
            partial_after_ms: 0,
            min_confidence: 0.0,
            prefetch: false,
            ..config.clone()
        };
        let completer = Completer::new(engine.clone(), config, workspace.clone());
        for (i, case) in cases.iter().enumerate() {
            let path = dunce::canonicalize(&case.file).unwrap_or_else(|_| case.file.clone());
            let uri = nib_text::uri::from_path(&path);
            let rope = Rope::from_str(&case.masked);
            let syntax = Language::detect("", &case.file.to_string_lossy()).and_then(|l| Syntax::parse(l, &rope));
            // The index must see the file as the model does, or a definition could carry the hidden text.
            workspace.observe(&uri, &rope, syntax.as_ref(), case.line);
            let cursor = rope.line_to_char(case.line) + case.column;
            let request = Request { rope: &rope, cursor, document: Some(&uri), syntax: syntax.as_ref(), trigger };
            let started = std::time::Instant::now();
            let suggestion = completer.complete(request, CancelToken::default(), |_| {}).await?;
            let first = suggestion.text.trim_start_matches('\n').lines().next().unwrap_or_default().to_owned();
            let outcome = Outcome {
                case: i,
                mode,
                // Leading whitespace counts: it is inserted at the cursor as well.
                exact: first.trim_end() == case.expected.trim_end(),
                similarity: similarity(first.trim_end(), case.expected.trim_end()),
                suggestion: first,
                confidence: suggestion.confidence,
                ms: started.elapsed().as_secs_f64() * 1000.0,
            };
            progress(&outcome);
            outcomes.push(outcome);
        }
    }
    Ok(outcomes)
}

/// Rows per language and mode, languages in name order, modes in the order run.
pub fn summarize(cases: &[Case], outcomes: &[Outcome]) -> Vec<Row> {
    let mut groups: BTreeMap<(String, usize), (ContextMode, Vec<&Outcome>)> = BTreeMap::new();
    let mut mode_order: Vec<ContextMode> = Vec::new();
    for outcome in outcomes {
        if !mode_order.contains(&outcome.mode) {
            mode_order.push(outcome.mode);
        }
        let rank = mode_order.iter().position(|m| *m == outcome.mode).unwrap_or(0);
        let language = cases[outcome.case].language.to_owned();
        groups.entry((language, rank)).or_insert_with(|| (outcome.mode, Vec::new())).1.push(outcome);
    }
    groups
        .into_iter()
        .map(|((language, _), (mode, group))| {
            let n = group.len() as f64;
            let ms: Vec<f64> = group.iter().map(|o| o.ms).collect();
            Row {
                language,
                mode,
                n_samples: group.len(),
                exact_match: group.iter().filter(|o| o.exact).count() as f64 / n,
                edit_similarity: group.iter().map(|o| o.similarity).sum::<f64>() / n,
                median_ms: quantile(&ms, 0.5),
            }
        })
        .collect()
}

/// A Markdown table of the rows.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| language | context | samples | exact match | edit similarity | median ms |\n|---|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} % | {:.1} % | {:.0} |\n",
            r.language,
            r.mode.name(),
            r.n_samples,
            r.exact_match * 100.0,
            r.edit_similarity * 100.0,
            r.median_ms
        ));
    }
    out
}

/// Per mode (in the order run) and threshold: the share hidden, and exact match and edit similarity of the
/// suggestions shown and of those hidden (`None` where there are none).
pub fn thresholds(outcomes: &[Outcome], thresholds: &[f32]) -> Vec<ThresholdRow> {
    let mut modes: Vec<ContextMode> = Vec::new();
    for outcome in outcomes {
        if !modes.contains(&outcome.mode) {
            modes.push(outcome.mode);
        }
    }
    let mean = |group: &[&Outcome], f: &dyn Fn(&Outcome) -> f64| {
        (!group.is_empty()).then(|| group.iter().map(|o| f(o)).sum::<f64>() / group.len() as f64)
    };
    let mut rows = Vec::new();
    for mode in modes {
        let all: Vec<&Outcome> = outcomes.iter().filter(|o| o.mode == mode).collect();
        for &min in thresholds {
            let (hidden, shown): (Vec<&Outcome>, Vec<&Outcome>) =
                all.iter().partition(|o| !o.suggestion.trim().is_empty() && o.confidence.is_some_and(|c| c < min));
            let exact = |o: &Outcome| if o.exact { 1.0 } else { 0.0 };
            rows.push(ThresholdRow {
                mode,
                min_confidence: min,
                n_samples: all.len(),
                hidden_share: hidden.len() as f64 / all.len().max(1) as f64,
                shown_exact_match: mean(&shown, &exact),
                shown_edit_similarity: mean(&shown, &|o| o.similarity),
                hidden_exact_match: mean(&hidden, &exact),
                hidden_edit_similarity: mean(&hidden, &|o| o.similarity),
            });
        }
    }
    rows
}

/// A Markdown table of the threshold rows.
pub fn threshold_table(rows: &[ThresholdRow]) -> String {
    let mut out = String::from(
        "| context | min_confidence | hidden | shown: exact match | shown: edit similarity | hidden: exact match | hidden: edit similarity |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let percent = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{:.1} %", v * 100.0));
    for r in rows {
        out.push_str(&format!(
            "| {} | {:.4} | {:.1} % | {} | {} | {} | {} |\n",
            r.mode.name(),
            r.min_confidence,
            r.hidden_share * 100.0,
            percent(r.shown_exact_match),
            percent(r.shown_edit_similarity),
            percent(r.hidden_exact_match),
            percent(r.hidden_edit_similarity),
        ));
    }
    out
}

/// 1 - Levenshtein distance / the longer length, over chars; 1 for two empty strings.
pub fn similarity(a: &str, b: &str) -> f64 {
    strsim::normalized_levenshtein(a, b)
}

/// FNV-1a: seeds each file's sampling by its name, so adding a file leaves the others' positions alone.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_is_one_minus_normalised_edit_distance() {
        assert_eq!(similarity("abc", "abc"), 1.0);
        assert_eq!(similarity("", ""), 1.0);
        assert_eq!(similarity("abcd", "abce"), 0.75);
        assert_eq!(similarity("", "ab"), 0.0);
    }

    #[test]
    fn a_threshold_splits_suggestions_into_shown_and_hidden() {
        let outcome = |suggestion: &str, exact: bool, similarity: f64, confidence: Option<f32>| Outcome {
            case: 0,
            mode: ContextMode::Window,
            suggestion: suggestion.into(),
            exact,
            similarity,
            confidence,
            ms: 1.0,
        };
        let outcomes = [
            outcome("a", true, 1.0, Some(0.9)),
            outcome("b", false, 0.5, Some(0.5)),
            outcome("c", false, 0.0, Some(0.1)),
            outcome("d", false, 0.2, None),
            outcome("", false, 0.0, Some(0.01)),
        ];
        let rows = thresholds(&outcomes, &[0.0, 0.3, 0.6]);
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].hidden_share, rows[0].hidden_edit_similarity), (0.0, None));
        assert!((rows[0].shown_edit_similarity.unwrap() - 1.7 / 5.0).abs() < 1e-9);
        // 0.3 hides "c" only: an unknown confidence and an empty suggestion are never hidden.
        assert_eq!(rows[1].hidden_share, 0.2);
        assert_eq!((rows[1].hidden_exact_match, rows[1].hidden_edit_similarity), (Some(0.0), Some(0.0)));
        assert!((rows[1].shown_edit_similarity.unwrap() - 1.7 / 4.0).abs() < 1e-9);
        assert_eq!(rows[2].hidden_share, 0.4);
        assert_eq!(rows[2].shown_exact_match, Some(1.0 / 3.0));
        let table = threshold_table(&rows);
        assert!(table.contains("| window | 0.3000 | 20.0 % | 25.0 % | 42.5 % | 0.0 % | 0.0 % |"), "{table}");
    }

    #[test]
    fn sampling_is_reproducible_and_hides_what_it_says() {
        let text = "def f(x):\n    total = x * 2\n    return total + 1\n\nvalue = f(3)\n";
        let files = vec![(PathBuf::from("a.py"), text.to_owned())];
        let first = sample(&files, Hide::Line, 3, 7);
        let again = sample(&files, Hide::Line, 3, 7);
        assert_eq!(first.len(), 3);
        for (a, b) in first.iter().zip(&again) {
            assert_eq!((a.line, a.column, &a.expected), (b.line, b.column, &b.expected));
            let original = text.lines().nth(a.line).unwrap();
            let kept = a.masked.lines().nth(a.line).unwrap();
            assert_eq!(format!("{kept}{}", a.expected), original);
            assert!(a.expected.chars().count() >= 3 || original.trim().chars().count() < 6);
        }
        let blocks = sample(&files, Hide::Block, 5, 7);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].expected, "total = x * 2");
        assert_eq!(blocks[0].masked, "def f(x):\n    \nvalue = f(3)\n");
    }
}
