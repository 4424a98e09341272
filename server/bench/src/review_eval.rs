//! `nib eval review`: review quality on a corpus of files with seeded defects (`tests/eval/review`). Each file is
//! reviewed through the same batch `nib review` runs, and each finding scored against the defects that
//! `expect.toml` lists beside the code: a true positive when its rule is a seeded defect's and its range covers
//! that defect's line; "wrong rule" when it covers a seeded line under another rule; else a false positive
//! (any finding on a file without defects is one).
//!
//! Invariants: the expectations are checked before anything runs (every quote occurs once in its file, every
//! rule is in the catalogue, every source file of the corpus is listed), so a figure never rests on a stale
//! line; precision and recall are `None` where their denominator is zero, never a made-up 0 or 1.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use nib_pipeline::review::batch::{self, Batch, BatchError, FilterMode, Target};
use nib_pipeline::review::prompt::Rule;
use nib_pipeline::review::{Finding, ReviewStats, Reviewer, Severity};
use nib_text::syntax::Language;

/// The expectations' file name, at the corpus's root.
pub const EXPECTATIONS: &str = "expect.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectations {
    file: Vec<ExpectedFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedFile {
    /// Relative to the corpus's root, `/`-separated.
    path: String,
    defects: Vec<Defect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defect {
    rule: String,
    /// Text that occurs exactly once in the file, on the defect's line.
    quote: String,
    /// What is wrong, for people reading the corpus.
    description: String,
}

/// A seeded defect placed in its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seeded {
    pub rule: String,
    /// 1-based, as editors and the findings' verdicts show it.
    pub line: u32,
}

/// A file of the corpus and its seeded defects (none for a clean file).
#[derive(Debug, Clone, Serialize)]
pub struct CorpusFile {
    /// Relative to the corpus's root, `/`-separated (as batch reports name it).
    pub path: String,
    pub language: &'static str,
    pub seeded: Vec<Seeded>,
}

#[derive(Debug)]
pub struct Corpus {
    pub root: PathBuf,
    pub files: Vec<CorpusFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("no {EXPECTATIONS} in {0} or a folder above it")]
    NoExpectations(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: {1}")]
    Parse(String, Box<toml::de::Error>),
    #[error("{path}: the quote {quote:?} occurs {count} times, not once")]
    Quote { path: String, quote: String, count: usize },
    #[error("{path}: no rule {rule:?} in the catalogue")]
    Rule { path: String, rule: String },
    #[error("{path}: the defect at {quote:?} has no description")]
    Description { path: String, quote: String },
    #[error("{0}: not in a language nib parses")]
    Language(String),
    #[error("{0}: a source file of the corpus that {EXPECTATIONS} does not list")]
    Unlisted(String),
    #[error("no file of the corpus at {0}")]
    Empty(String),
}

impl Corpus {
    /// The root of the corpus `path` is in: the nearest folder at or above it with an `expect.toml`.
    pub fn root_of(path: &Path) -> Result<PathBuf, CorpusError> {
        let absolute = std::fs::canonicalize(path).map_err(|e| CorpusError::Io(path.display().to_string(), e))?;
        absolute
            .ancestors()
            .find(|dir| dir.join(EXPECTATIONS).is_file())
            .map(Path::to_path_buf)
            .ok_or_else(|| CorpusError::NoExpectations(path.display().to_string()))
    }

    /// The corpus at `root`, checked against its files and the rule catalogue.
    pub fn load(root: &Path, rules: &[Rule]) -> Result<Corpus, CorpusError> {
        let expect_path = root.join(EXPECTATIONS);
        let label = |path: &Path| path.display().to_string();
        let text = std::fs::read_to_string(&expect_path).map_err(|e| CorpusError::Io(label(&expect_path), e))?;
        let expectations: Expectations =
            toml::from_str(&text).map_err(|e| CorpusError::Parse(label(&expect_path), Box::new(e)))?;
        let mut files = Vec::new();
        for expected in expectations.file {
            let path = expected.path;
            let text = std::fs::read_to_string(root.join(&path)).map_err(|e| CorpusError::Io(path.clone(), e))?;
            let language = Language::detect("", &path).ok_or_else(|| CorpusError::Language(path.clone()))?;
            let mut seeded = Vec::new();
            for defect in expected.defects {
                if !rules.iter().any(|r| r.id == defect.rule) {
                    return Err(CorpusError::Rule { path, rule: defect.rule });
                }
                if defect.description.trim().is_empty() {
                    return Err(CorpusError::Description { path, quote: defect.quote });
                }
                let count = text.matches(&defect.quote).count();
                let at = text.find(&defect.quote).filter(|_| count == 1);
                let Some(at) = at else { return Err(CorpusError::Quote { path, quote: defect.quote, count }) };
                seeded.push(Seeded { rule: defect.rule, line: text[..at].matches('\n').count() as u32 + 1 });
            }
            files.push(CorpusFile { path, language: language.name(), seeded });
        }
        for file in nib_text::syntax::source_files(root, usize::MAX) {
            let relative = file.strip_prefix(root).unwrap_or(&file);
            let relative = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>();
            let relative = relative.join("/");
            if !files.iter().any(|f| f.path == relative) {
                return Err(CorpusError::Unlisted(relative));
            }
        }
        Ok(Corpus { root: root.to_path_buf(), files })
    }

    /// Only the files at or under these paths (files or folders of the corpus).
    pub fn select(mut self, paths: &[PathBuf]) -> Result<Corpus, CorpusError> {
        let mut wanted = Vec::new();
        for path in paths {
            wanted.push(std::fs::canonicalize(path).map_err(|e| CorpusError::Io(path.display().to_string(), e))?);
        }
        let root = self.root.clone();
        self.files.retain(|f| wanted.iter().any(|w| root.join(&f.path).starts_with(w)));
        if self.files.is_empty() {
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            return Err(CorpusError::Empty(names.join(", ")));
        }
        Ok(self)
    }
}

/// Reviews every file of the corpus as `nib review` would (every severity kept), calling
/// `progress(path, done, total)` as units are reviewed.
pub async fn run(
    reviewer: &Reviewer,
    corpus: &Corpus,
    progress: impl FnMut(&str, usize, usize),
) -> Result<(Vec<Finding>, ReviewStats), BatchError> {
    let batch = Batch {
        root: corpus.root.clone(),
        target: Target::Paths(corpus.files.iter().map(|f| corpus.root.join(&f.path)).collect()),
        filter_mode: FilterMode::File,
        min_severity: Severity::Info,
        include: Vec::new(),
        exclude: Vec::new(),
        baseline: None,
    };
    let result = batch::run(reviewer, &batch, progress).await?;
    Ok((result.findings, result.stats))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Covers a seeded defect's line, under that defect's rule.
    TruePositive,
    /// Covers a seeded defect's line, under another rule.
    WrongRule,
    FalsePositive,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoredFinding {
    pub path: String,
    pub language: &'static str,
    pub rule: String,
    /// 1-based, the finding's first line.
    pub line: u32,
    pub verdict: Verdict,
}

/// The figures of one rule, one language, or the whole corpus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub name: String,
    /// Seeded defects.
    pub seeded: usize,
    /// Seeded defects that a finding of their rule covers.
    pub found: usize,
    pub findings: usize,
    pub true_positives: usize,
    pub wrong_rule: usize,
    pub false_positives: usize,
    /// True positives over findings; `None` without findings.
    pub precision: Option<f64>,
    /// Found over seeded; `None` without seeded defects.
    pub recall: Option<f64>,
}

impl Row {
    /// `found`: one entry per seeded defect; `verdicts`: one per finding.
    fn tally(name: &str, found: impl Iterator<Item = bool>, verdicts: impl Iterator<Item = Verdict>) -> Row {
        let found: Vec<bool> = found.collect();
        let verdicts: Vec<Verdict> = verdicts.collect();
        let count = |v: Verdict| verdicts.iter().filter(|&&x| x == v).count();
        let ratio = |part: usize, whole: usize| (whole > 0).then(|| part as f64 / whole as f64);
        let n_found = found.iter().filter(|&&f| f).count();
        let true_positives = count(Verdict::TruePositive);
        Row {
            name: name.to_owned(),
            seeded: found.len(),
            found: n_found,
            findings: verdicts.len(),
            true_positives,
            wrong_rule: count(Verdict::WrongRule),
            false_positives: count(Verdict::FalsePositive),
            precision: ratio(true_positives, verdicts.len()),
            recall: ratio(n_found, found.len()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    /// One per rule of the catalogue, in its order.
    pub rules: Vec<Row>,
    /// One per language of the corpus, by name.
    pub languages: Vec<Row>,
    pub overall: Row,
    pub findings: Vec<ScoredFinding>,
}

/// Scores findings against the corpus's seeded defects.
pub fn score(files: &[CorpusFile], rules: &[Rule], findings: &[Finding]) -> Scores {
    let covers = |f: &Finding, s: &Seeded| (f.start.line + 1..=f.end.line + 1).contains(&s.line);
    let scored: Vec<ScoredFinding> = findings
        .iter()
        .map(|f| {
            let file = files.iter().find(|file| file.path == f.path);
            let seeded = file.map_or(&[][..], |file| &file.seeded[..]);
            let on_seeded: Vec<&Seeded> = seeded.iter().filter(|s| covers(f, s)).collect();
            let verdict = if on_seeded.iter().any(|s| s.rule == f.rule) {
                Verdict::TruePositive
            } else if on_seeded.is_empty() {
                Verdict::FalsePositive
            } else {
                Verdict::WrongRule
            };
            let language = file.map_or("text", |file| file.language);
            ScoredFinding { path: f.path.clone(), language, rule: f.rule.clone(), line: f.start.line + 1, verdict }
        })
        .collect();
    // Every seeded defect, with its language and whether a finding of its rule covers it.
    let defects: Vec<(&str, &Seeded, bool)> = files
        .iter()
        .flat_map(|file| {
            file.seeded.iter().map(move |s| {
                let found = findings.iter().any(|f| f.path == file.path && f.rule == s.rule && covers(f, s));
                (file.language, s, found)
            })
        })
        .collect();
    let row = |name: &str, defect_in: &dyn Fn(&str, &Seeded) -> bool, finding_in: &dyn Fn(&ScoredFinding) -> bool| {
        Row::tally(
            name,
            defects.iter().filter(|(l, s, _)| defect_in(l, s)).map(|d| d.2),
            scored.iter().filter(|f| finding_in(f)).map(|f| f.verdict),
        )
    };
    let languages: BTreeSet<&str> = files.iter().map(|f| f.language).collect();
    Scores {
        rules: rules.iter().map(|r| row(&r.id, &|_, s| s.rule == r.id, &|f| f.rule == r.id)).collect(),
        languages: languages.iter().map(|&l| row(l, &|dl, _| dl == l, &|f| f.language == l)).collect(),
        overall: row("overall", &|_, _| true, &|_| true),
        findings: scored,
    }
}

/// The rules, languages and overall rows as a text table.
pub fn table(scores: &Scores) -> String {
    let mut out = format!(
        "{:<16} {:>6} {:>6} {:>8} {:>4} {:>10} {:>4} {:>9} {:>6}\n",
        "", "seeded", "found", "findings", "TP", "wrong rule", "FP", "precision", "recall"
    );
    let figure = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.2}"));
    let sections = [&scores.rules[..], &scores.languages[..], std::slice::from_ref(&scores.overall)];
    for (i, rows) in sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for r in rows.iter() {
            out.push_str(&format!(
                "{:<16} {:>6} {:>6} {:>8} {:>4} {:>10} {:>4} {:>9} {:>6}\n",
                r.name,
                r.seeded,
                r.found,
                r.findings,
                r.true_positives,
                r.wrong_rule,
                r.false_positives,
                figure(r.precision),
                figure(r.recall)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nib_pipeline::review::Position;
    use nib_pipeline::review::prompt::ReviewPrompt;

    fn corpus_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/eval/review")
    }

    #[test]
    fn the_corpus_is_consistent_and_seeds_every_rule_in_every_language() {
        let rules = ReviewPrompt::builtin().rules;
        let corpus = Corpus::load(&corpus_root(), &rules).unwrap_or_else(|e| panic!("{e}"));
        // Seeded lines are 1-based: the second defect of inventory.py is the page's first index.
        let inventory = corpus.files.iter().find(|f| f.path == "python/inventory.py").unwrap();
        let text = std::fs::read_to_string(corpus.root.join(&inventory.path)).unwrap();
        assert!(text.lines().nth(inventory.seeded[1].line as usize - 1).unwrap().contains("start = number * size"));
        for language in ["python", "rust", "javascript"] {
            let files: Vec<_> = corpus.files.iter().filter(|f| f.language == language).collect();
            assert!(files.iter().any(|f| f.seeded.is_empty()), "{language} has a clean file");
            for rule in &rules {
                let n = files.iter().flat_map(|f| &f.seeded).filter(|s| s.rule == rule.id).count();
                assert!(n >= 2, "{language}: {n} seeded {} defects", rule.id);
            }
        }
    }

    #[test]
    fn a_file_the_expectations_do_not_list_is_refused() {
        let root = std::env::temp_dir().join(format!("nib-review-eval-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join(EXPECTATIONS), "[[file]]\npath = \"a.py\"\ndefects = []\n").unwrap();
        std::fs::write(root.join("a.py"), "x = 1\n").unwrap();
        std::fs::write(root.join("b.py"), "y = 2\n").unwrap();
        let rules = ReviewPrompt::builtin().rules;
        assert!(matches!(Corpus::load(&root, &rules), Err(CorpusError::Unlisted(p)) if p == "b.py"));
        std::fs::write(root.join(EXPECTATIONS), "[[file]]\npath = \"a.py\"\ndefects = [{ rule = \"bug\", quote = \"=\", description = \"d\" }]\n[[file]]\npath = \"b.py\"\ndefects = []\n").unwrap();
        std::fs::write(root.join("a.py"), "x = 1\nz = 3\n").unwrap();
        assert!(matches!(Corpus::load(&root, &rules), Err(CorpusError::Quote { count: 2, .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// `lines`: 0-based, first and last, as `Finding` has them.
    fn finding(path: &str, rule: &str, lines: (u32, u32)) -> Finding {
        let at = |line| Position { line, utf8: 0, utf16: 0 };
        Finding {
            path: path.into(),
            rule: rule.into(),
            severity: Severity::Error,
            message: String::new(),
            quote: String::new(),
            replacement: None,
            start: at(lines.0),
            end: at(lines.1),
            fingerprint: String::new(),
        }
    }

    #[test]
    fn findings_are_scored_by_rule_and_line_and_empty_ratios_are_none() {
        let seeded = |rule: &str, line| Seeded { rule: rule.into(), line };
        let files = [
            CorpusFile {
                path: "a.py".into(),
                language: "python",
                seeded: vec![seeded("bug", 5), seeded("security", 10)],
            },
            CorpusFile { path: "clean.rs".into(), language: "rust", seeded: Vec::new() },
        ];
        let findings = [
            finding("a.py", "bug", (3, 5)),      // covers line 5: a true positive
            finding("a.py", "bug", (9, 9)),      // the security defect's line: wrong rule
            finding("a.py", "security", (8, 8)), // beside it: a false positive
            finding("clean.rs", "style", (0, 0)),
        ];
        let rules = ReviewPrompt::builtin().rules;
        let scores = score(&files, &rules, &findings);
        let verdicts: Vec<Verdict> = scores.findings.iter().map(|f| f.verdict).collect();
        use Verdict::*;
        assert_eq!(verdicts, [TruePositive, WrongRule, FalsePositive, FalsePositive]);
        let rule = |id: &str| scores.rules.iter().find(|r| r.name == id).unwrap();
        let bug = rule("bug");
        assert_eq!((bug.seeded, bug.found, bug.findings, bug.true_positives, bug.wrong_rule), (1, 1, 2, 1, 1));
        assert_eq!((bug.precision, bug.recall), (Some(0.5), Some(1.0)));
        let security = rule("security");
        assert_eq!((security.precision, security.recall), (Some(0.0), Some(0.0)));
        let style = rule("style");
        assert_eq!((style.seeded, style.precision, style.recall), (0, Some(0.0), None));
        let performance = rule("performance");
        assert_eq!((performance.precision, performance.recall), (None, None));
        let rust = scores.languages.iter().find(|r| r.name == "rust").unwrap();
        assert_eq!((rust.false_positives, rust.recall), (1, None));
        let overall = &scores.overall;
        assert_eq!((overall.seeded, overall.found, overall.findings, overall.true_positives), (2, 1, 4, 1));
        assert_eq!(overall.precision, Some(0.25));
        assert!(table(&scores).lines().any(|l| l.starts_with("performance") && l.ends_with("-      -")));
    }
}
