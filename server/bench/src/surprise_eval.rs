//! `nib eval surprise`: review by surprise on a mutation corpus built at run time from real code on the machine
//! (the cargo registry's Rust sources, the Python standard library). Each case is one function, alone in a small
//! file, and its twin with one line mutated the way bugs are made: a comparison, arithmetic or boolean operator
//! swapped, an off-by-one, a wrong index, a negation dropped, a wrong variable in scope, a constant flipped.
//!
//! Every line of both files is scored once through the reviewer's own path (`Reviewer::surprises`), and the
//! thresholds are swept over those scores: recall is the share of mutants with a line surprise at or above the
//! threshold on the mutated line; false alarms are the clean twins' lines at or above it, per 1,000 non-blank
//! clean lines.
//!
//! Invariants: the same sources, seed and counts give the same corpus (files in path order, every choice from
//! one seeded generator); a mutant parses without errors and differs from its twin on exactly one line.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ropey::Rope;
use serde::Serialize;
use tree_sitter::Node;

use super::SplitMix;
use nib_engine::{CancelToken, Engine, EngineError, ModelState, Priority, PriorityHandle, ScoreRequest};
use nib_pipeline::review::{FileToReview, ReviewError, Reviewer};
use nib_text::indent::indentation;
use nib_text::syntax::{Language, Syntax};

/// How a mutant differs from its twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Comparison,
    Arithmetic,
    Boolean,
    OffByOne,
    WrongIndex,
    NegationDropped,
    WrongVariable,
    ConstantFlipped,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Comparison,
        Kind::Arithmetic,
        Kind::Boolean,
        Kind::OffByOne,
        Kind::WrongIndex,
        Kind::NegationDropped,
        Kind::WrongVariable,
        Kind::ConstantFlipped,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Comparison => "comparison",
            Kind::Arithmetic => "arithmetic",
            Kind::Boolean => "boolean",
            Kind::OffByOne => "off-by-one",
            Kind::WrongIndex => "wrong index",
            Kind::NegationDropped => "negation dropped",
            Kind::WrongVariable => "wrong variable",
            Kind::ConstantFlipped => "constant flipped",
        }
    }
}

/// The languages of the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Rust,
    Python,
}

impl Lang {
    fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
        }
    }

    /// Its grammar (both are compiled in).
    fn syntax(self, rope: &Rope) -> Option<Syntax> {
        Language::detect(self.name(), "").and_then(|l| Syntax::parse(l, rope))
    }
}

/// A function and its mutant.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// Where the function comes from: its file and first line (1-based).
    pub source: String,
    pub language: &'static str,
    pub kind: Kind,
    pub clean: String,
    pub mutant: String,
    /// 0-based, the same in both.
    pub line: usize,
}

/// Where the corpus comes from, and how much of it.
pub struct Sources {
    pub rust: Vec<PathBuf>,
    pub python: Vec<PathBuf>,
    pub per_language: usize,
    pub seed: u64,
}

impl Sources {
    /// This machine's: the cargo registry's sources and Python 3.11's standard library.
    pub fn on_this_machine(per_language: usize, seed: u64) -> Sources {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .unwrap_or_default();
        let registry = home.join("registry/src");
        let rust = std::fs::read_dir(&registry)
            .map(|dirs| dirs.filter_map(|d| d.ok().map(|d| d.path())).collect())
            .unwrap_or_default();
        Sources { rust, python: vec![PathBuf::from("/usr/lib/python3.11")], per_language, seed }
    }
}

/// Functions longer or shorter than this (in lines) are not taken: a small file, with enough to go on.
const LINES: Range<usize> = 6..41;
/// Files read per language at most: enough functions, bounded time.
const MAX_FILES: usize = 4000;
/// Functions taken from one file at most, so that no file dominates.
const PER_FILE: usize = 2;

/// The corpus: `per_language` cases per language, from files in a seeded order.
pub fn corpus(sources: &Sources) -> Vec<Case> {
    let mut cases = Vec::new();
    for (language, roots) in [(Lang::Rust, &sources.rust), (Lang::Python, &sources.python)] {
        let mut files: Vec<PathBuf> = roots
            .iter()
            .flat_map(|root| nib_text::syntax::source_files(root, MAX_FILES))
            .filter(|p| Language::detect("", &p.to_string_lossy()).is_some_and(|l| l.name() == language.name()))
            .filter(|p| !p.components().any(|c| c.as_os_str() == "test" || c.as_os_str() == "tests"))
            .take(MAX_FILES)
            .collect();
        files.sort();
        let mut rng = SplitMix(sources.seed ^ language.name().len() as u64);
        shuffle(&mut files, &mut rng);
        let mut taken = 0;
        for path in files {
            if taken == sources.per_language {
                break;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let found = from_file(&path, &text, language, &mut rng);
            let n = found.len().min(sources.per_language - taken);
            taken += n;
            cases.extend(found.into_iter().take(n));
        }
    }
    cases
}

fn shuffle<T>(items: &mut [T], rng: &mut SplitMix) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

/// Up to `PER_FILE` cases from one source file: functions of the right size, each mutated once.
fn from_file(path: &Path, text: &str, language: Lang, rng: &mut SplitMix) -> Vec<Case> {
    let rope = Rope::from_str(text);
    let Some(syntax) = language.syntax(&rope) else { return Vec::new() };
    let mut functions = Vec::new();
    collect_functions(syntax.tree.root_node(), language, &mut functions);
    shuffle(&mut functions, rng);
    let mut cases = Vec::new();
    for range in functions {
        if cases.len() == PER_FILE {
            break;
        }
        let Some(clean) = standalone(text, range.clone()) else { continue };
        let first_line = text[..range.start].matches('\n').count() + 1;
        if let Some(case) = mutate(&clean, language, rng) {
            cases.push(Case { source: format!("{}:{first_line}", path.display()), ..case });
        }
    }
    cases
}

/// Functions' byte ranges, from their line's start: top-level functions in Python (a method needs its class),
/// any function in Rust.
fn collect_functions(node: Node, language: Lang, out: &mut Vec<Range<usize>>) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match (language, child.kind()) {
            (Lang::Python, "function_definition") => out.push(child.byte_range()),
            (Lang::Rust, "function_item") => out.push(child.byte_range()),
            (Lang::Rust, _) => collect_functions(child, language, out),
            _ => {}
        }
    }
}

/// A function's text as a file of its own (dedented, ending with a line break), if it has a size that suits.
fn standalone(text: &str, range: Range<usize>) -> Option<String> {
    let start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let body = &text[start..range.end];
    let n_lines = body.lines().count();
    if !LINES.contains(&n_lines) || body.contains('\r') || body.contains('\t') {
        return None;
    }
    let indent = indentation(body).len();
    let lines: Option<Vec<&str>> =
        body.lines().map(|l| if l.trim().is_empty() { Some("") } else { l.get(indent..) }).collect();
    Some(format!("{}\n", lines?.join("\n")))
}

/// One mutation of `clean`: a kind drawn among those it has a place for, then a place; `None` when none parses.
fn mutate(clean: &str, language: Lang, rng: &mut SplitMix) -> Option<Case> {
    let rope = Rope::from_str(clean);
    let syntax = language.syntax(&rope)?;
    if syntax.n_errors_in(0..clean.len()) > 0 {
        return None;
    }
    let mut sites: Vec<(Kind, Range<usize>, String)> = Vec::new();
    sites_in(syntax.tree.root_node(), clean, language, &parameters(&syntax, clean, language), &mut sites);
    // The first line is the signature: a mutant there changes what the function is, not how it works.
    let first_line_end = clean.find('\n').unwrap_or(clean.len());
    sites.retain(|(_, range, _)| range.start > first_line_end && !clean[range.clone()].contains('\n'));
    let mut kinds: Vec<Kind> = sites.iter().map(|(k, _, _)| *k).collect();
    kinds.sort();
    kinds.dedup();
    while !kinds.is_empty() {
        let kind = kinds.swap_remove(rng.below(kinds.len()));
        let mut of_kind: Vec<&(Kind, Range<usize>, String)> = sites.iter().filter(|(k, _, _)| *k == kind).collect();
        while !of_kind.is_empty() {
            let (_, range, replacement) = of_kind.swap_remove(rng.below(of_kind.len()));
            let mutant = format!("{}{replacement}{}", &clean[..range.start], &clean[range.end..]);
            let parses = language
                .syntax(&Rope::from_str(&mutant))
                .is_some_and(|s| s.n_errors_in(0..mutant.len()) == 0 && !has_missing(s.tree.root_node()));
            if parses {
                let line = clean[..range.start].matches('\n').count();
                return Some(Case {
                    source: String::new(),
                    language: language.name(),
                    kind,
                    clean: clean.to_owned(),
                    mutant,
                    line,
                });
            }
        }
    }
    None
}

fn has_missing(node: Node) -> bool {
    if node.is_missing() {
        return true;
    }
    let mut cursor = node.walk();
    node.children(&mut cursor).any(has_missing)
}

/// The function's parameter names (not `self`): the variables in scope everywhere in its body.
fn parameters(syntax: &Syntax, text: &str, language: Lang) -> Vec<String> {
    let root = syntax.tree.root_node();
    let Some(function) = root.named_child(0) else { return Vec::new() };
    let Some(params) = function.child_by_field_name("parameters") else { return Vec::new() };
    let mut names = Vec::new();
    let mut stack = vec![params];
    while let Some(node) = stack.pop() {
        let parent_kind = node.parent().map(|p| p.kind()).unwrap_or_default();
        let is_name = node.kind() == "identifier"
            && match language {
                Lang::Rust => parent_kind == "parameter",
                _ => !matches!(parent_kind, "type" | "attribute" | "generic_type" | "subscript"),
            };
        if is_name {
            names.push(text[node.byte_range()].to_owned());
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    names.retain(|n| n != "self");
    names.sort();
    names.dedup();
    names
}

/// Every place a mutation of some kind can go, with its replacement text.
fn sites_in(node: Node, text: &str, language: Lang, params: &[String], out: &mut Vec<(Kind, Range<usize>, String)>) {
    let kind = node.kind();
    let parent_kind = node.parent().map(|p| p.kind()).unwrap_or_default();
    let here = &text[node.byte_range()];
    let binary =
        matches!(parent_kind, "binary_expression" | "comparison_operator" | "binary_operator" | "boolean_operator");
    if !node.is_named() && binary {
        let swapped = match kind {
            "<" => Some((Kind::Comparison, "<=")),
            "<=" => Some((Kind::Comparison, "<")),
            ">" => Some((Kind::Comparison, ">=")),
            ">=" => Some((Kind::Comparison, ">")),
            "==" => Some((Kind::Comparison, "!=")),
            "!=" => Some((Kind::Comparison, "==")),
            "+" => Some((Kind::Arithmetic, "-")),
            "-" => Some((Kind::Arithmetic, "+")),
            "*" => Some((Kind::Arithmetic, "/")),
            "/" => Some((Kind::Arithmetic, "*")),
            "&&" => Some((Kind::Boolean, "||")),
            "||" => Some((Kind::Boolean, "&&")),
            "and" => Some((Kind::Boolean, "or")),
            "or" => Some((Kind::Boolean, "and")),
            _ => None,
        };
        if let Some((mutation, replacement)) = swapped {
            out.push((mutation, node.byte_range(), replacement.to_owned()));
        }
    }
    match (language, kind) {
        (Lang::Python, "not_operator") | (Lang::Rust, "unary_expression") if here.starts_with(['n', '!']) => {
            let operand = node.child_by_field_name("argument").or_else(|| node.named_child(0));
            if let Some(operand) = operand {
                out.push((Kind::NegationDropped, node.byte_range(), text[operand.byte_range()].to_owned()));
            }
        }
        (Lang::Python, "integer") | (Lang::Rust, "integer_literal") => {
            if let Ok(n) = here.parse::<u64>() {
                let mutation = if matches!(parent_kind, "subscript" | "index_expression") {
                    Kind::WrongIndex
                } else {
                    Kind::OffByOne
                };
                let other = if n > 0 && n % 2 == 1 { n - 1 } else { n + 1 };
                out.push((mutation, node.byte_range(), other.to_string()));
            }
        }
        (Lang::Python, "true" | "false") | (Lang::Rust, "boolean_literal") => {
            let flipped = match here {
                "True" => "False",
                "False" => "True",
                "true" => "false",
                _ => "true",
            };
            out.push((Kind::ConstantFlipped, node.byte_range(), flipped.to_owned()));
        }
        (_, "identifier") if params.iter().any(|p| p == here) => {
            let used = !matches!(parent_kind, "parameters" | "parameter" | "keyword_argument" | "default_parameter")
                && node.parent().and_then(|p| p.child_by_field_name("name")).is_none_or(|n| n.id() != node.id());
            if used {
                for other in params.iter().filter(|p| *p != here) {
                    out.push((Kind::WrongVariable, node.byte_range(), other.clone()));
                }
            }
        }
        _ => {}
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        sites_in(child, text, language, params, out);
    }
}

/// The scores of one case: each line's highest surprise in the clean twin and in the mutant.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    pub case: usize,
    /// Per line of the clean twin (`None`: blank), its highest score (0 when nothing was scored).
    pub clean: Vec<Option<f32>>,
    /// The mutated line's highest score in the mutant, and what the model expected there.
    pub mutant_line: f32,
    pub expected: Option<String>,
    /// The mutant's other lines at or above the mutated line's score: how it ranks in its file.
    pub n_above: usize,
}

/// Scores every case through `reviewer` (its surprise path, whatever its threshold).
pub async fn run(
    reviewer: &Reviewer,
    cases: &[Case],
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Scored>, ReviewError> {
    let mut scored = Vec::with_capacity(cases.len());
    for (i, case) in cases.iter().enumerate() {
        let language = Language::detect(case.language, "");
        let (clean, _) = line_scores(reviewer, language, &case.clean).await?;
        let (mutant, expected) = line_scores(reviewer, language, &case.mutant).await?;
        let mutant_line = mutant.get(case.line).copied().flatten().unwrap_or(0.0);
        let n_above =
            mutant.iter().enumerate().filter(|&(l, s)| l != case.line && s.unwrap_or(0.0) >= mutant_line).count();
        scored.push(Scored { case: i, clean, mutant_line, expected: expected[case.line].clone(), n_above });
        progress(i + 1, cases.len());
    }
    Ok(scored)
}

/// Per line of `text`, its highest surprise (`None`: blank; 0: nothing scored), and what the model expected there.
async fn line_scores(
    reviewer: &Reviewer,
    language: Option<Language>,
    text: &str,
) -> Result<(Vec<Option<f32>>, Vec<Option<String>>), ReviewError> {
    let rope = Rope::from_str(text);
    let syntax = language.and_then(|l| Syntax::parse(l, &rope));
    let file = FileToReview {
        path: "case",
        language: language.map_or("text", Language::name),
        rope: &rope,
        syntax: syntax.as_ref(),
        focus: None,
    };
    let found = reviewer.surprises(file, &CancelToken::default()).await?;
    let mut per_line: Vec<Option<f32>> = text.lines().map(|l| (!l.trim().is_empty()).then_some(0.0)).collect();
    let mut expected: Vec<Option<String>> = vec![None; per_line.len()];
    for (line, s) in found {
        if let Some(Some(best)) = per_line.get_mut(line)
            && s.score > *best
        {
            *best = s.score;
            expected[line] = Some(s.expected);
        }
    }
    Ok((per_line, expected))
}

/// One row of the table: at a threshold, over a group of cases.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub group: String,
    pub threshold: f32,
    pub n_mutants: usize,
    pub recall: f64,
    pub n_clean_lines: usize,
    pub false_alarms_per_1000: f64,
}

/// Thresholds swept, in nats.
pub const THRESHOLDS: [f32; 10] = [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0];

/// Recall and false alarms per threshold: over all cases, per language, per mutation kind.
pub fn rows(cases: &[Case], scored: &[Scored], thresholds: &[f32]) -> Vec<Row> {
    let mut groups: Vec<(String, Vec<&Scored>)> = vec![("all".into(), scored.iter().collect())];
    for language in ["rust", "python"] {
        groups.push((language.into(), scored.iter().filter(|s| cases[s.case].language == language).collect()));
    }
    for kind in Kind::ALL {
        groups.push((kind.name().into(), scored.iter().filter(|s| cases[s.case].kind == kind).collect()));
    }
    let mut rows = Vec::new();
    for (group, members) in groups.into_iter().filter(|(_, m)| !m.is_empty()) {
        for &threshold in thresholds {
            let found = members.iter().filter(|s| s.mutant_line >= threshold).count();
            let clean: Vec<f32> = members.iter().flat_map(|s| s.clean.iter().flatten().copied()).collect();
            let alarms = clean.iter().filter(|&&s| s >= threshold).count();
            rows.push(Row {
                group: group.clone(),
                threshold,
                n_mutants: members.len(),
                recall: found as f64 / members.len() as f64,
                n_clean_lines: clean.len(),
                false_alarms_per_1000: alarms as f64 * 1000.0 / clean.len().max(1) as f64,
            });
        }
    }
    rows
}

/// The rows as a table: one block per group.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("group             threshold  mutants  recall  clean lines  false alarms/1000\n");
    let mut last = "";
    for r in rows {
        if r.group != last && !last.is_empty() {
            out.push('\n');
        }
        last = &r.group;
        out.push_str(&format!(
            "{:<17} {:>9.1}  {:>7}  {:>5.1}%  {:>11}  {:>17.1}\n",
            r.group,
            r.threshold,
            r.n_mutants,
            r.recall * 100.0,
            r.n_clean_lines,
            r.false_alarms_per_1000
        ));
    }
    out
}

/// What reviewing a file by surprise costs against one evaluation of its tokens.
pub struct Speed {
    pub n_lines: usize,
    pub n_tokens: usize,
    pub review_s: f64,
    pub evaluation_s: f64,
}

/// The first 500 lines of `path`: reviewed by surprise (from cold), then evaluated once, in chunks that fit the
/// context, after a different first token so that no evaluation of the review is reused.
pub async fn speed(reviewer: &Reviewer, engine: &Engine, path: &std::path::Path) -> Result<Speed, ReviewError> {
    let read = std::fs::read_to_string(path).map_err(|e| ReviewError::ModelUnavailable(e.to_string()))?;
    let text: String = read.split_inclusive('\n').take(500).collect();
    let rope = Rope::from_str(&text);
    let language = Language::detect("", &path.to_string_lossy());
    let syntax = language.and_then(|l| Syntax::parse(l, &rope));
    let file = FileToReview {
        path: "speed",
        language: language.map_or("text", Language::name),
        rope: &rope,
        syntax: syntax.as_ref(),
        focus: None,
    };
    let started = Instant::now();
    reviewer.surprises(file, &CancelToken::default()).await?;
    let review_s = started.elapsed().as_secs_f64();
    let ModelState::Ready { tokenizer, .. } = engine.state() else {
        return Err(ReviewError::ModelUnavailable("the model is not ready".into()));
    };
    let tokens = tokenizer.tokenize(&text, false);
    let lead: Vec<_> = tokenizer.bos().into_iter().chain(tokenizer.tokenize("\n\n", false)).collect();
    let started = Instant::now();
    for chunk in tokens.chunks(1800) {
        let request = ScoreRequest {
            tokens: lead.iter().chain(chunk).copied().collect(),
            n_context: lead.len(),
            top_k: 0,
            text: None,
            owner: Some("nib-eval-speed".into()),
            priority: PriorityHandle::new(Priority::Foreground),
            cancel: CancelToken::default(),
        };
        engine.score(request).await.map_err(|_| EngineError::Stopped)??;
    }
    let evaluation_s = started.elapsed().as_secs_f64();
    Ok(Speed { n_lines: text.lines().count(), n_tokens: tokens.len(), review_s, evaluation_s })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites(text: &str, language: Lang) -> Vec<(Kind, String, String)> {
        let rope = Rope::from_str(text);
        let syntax = language.syntax(&rope).unwrap();
        let params = parameters(&syntax, text, language);
        let mut out = Vec::new();
        sites_in(syntax.tree.root_node(), text, language, &params, &mut out);
        out.into_iter().map(|(k, r, s)| (k, text[r].to_owned(), s)).collect()
    }

    #[test]
    fn python_sites_of_every_kind() {
        let text = "def f(a, b):\n    if not a and b[0] < 3:\n        return True\n    return a - b\n";
        let found = sites(text, Lang::Python);
        let kinds: Vec<Kind> = found.iter().map(|(k, _, _)| *k).collect();
        for kind in Kind::ALL {
            assert!(kinds.contains(&kind), "{kind:?} in {found:?}");
        }
        assert!(found.contains(&(Kind::NegationDropped, "not a".into(), "a".into())));
        assert!(found.contains(&(Kind::WrongIndex, "0".into(), "1".into())));
        assert!(found.contains(&(Kind::OffByOne, "3".into(), "2".into())));
        // The parameters where they are declared are not uses.
        assert_eq!(found.iter().filter(|(k, _, _)| *k == Kind::WrongVariable).count(), 4, "{found:?}");
    }

    #[test]
    fn rust_generics_are_not_comparisons() {
        let text = "fn f(v: Vec<u8>, n: usize) -> bool {\n    !v.is_empty() && v[0] as usize >= n\n}\n";
        let found = sites(text, Lang::Rust);
        let comparisons: Vec<&str> =
            found.iter().filter(|(k, _, _)| *k == Kind::Comparison).map(|(_, t, _)| t.as_str()).collect();
        assert_eq!(comparisons, [">="]);
        assert!(found.contains(&(Kind::NegationDropped, "!v.is_empty()".into(), "v.is_empty()".into())));
        assert!(found.contains(&(Kind::Boolean, "&&".into(), "||".into())));
    }

    #[test]
    fn a_mutant_parses_and_differs_on_one_line_the_same_for_a_seed() {
        let clean = "def f(a, b):\n    total = 0\n    for x in a:\n        if x > b:\n            total += x\n    \
                     return total\n";
        let case = mutate(clean, Lang::Python, &mut SplitMix(7)).unwrap();
        let differ: Vec<usize> =
            clean.lines().zip(case.mutant.lines()).enumerate().filter(|(_, (a, b))| a != b).map(|(i, _)| i).collect();
        assert_eq!(differ, [case.line]);
        let again = mutate(clean, Lang::Python, &mut SplitMix(7)).unwrap();
        assert_eq!(again.mutant, case.mutant);
    }

    #[test]
    fn thresholds_count_recall_and_false_alarms() {
        let case = |language| Case {
            source: String::new(),
            language,
            kind: Kind::Comparison,
            clean: String::new(),
            mutant: String::new(),
            line: 0,
        };
        let cases = [case("python"), case("rust")];
        let scored = [
            Scored { case: 0, clean: vec![Some(1.0), None, Some(5.0)], mutant_line: 6.0, expected: None, n_above: 0 },
            Scored { case: 1, clean: vec![Some(0.0), Some(2.0)], mutant_line: 3.0, expected: None, n_above: 1 },
        ];
        let rows = rows(&cases, &scored, &[4.0]);
        let all = &rows[0];
        assert_eq!((all.group.as_str(), all.n_mutants, all.n_clean_lines), ("all", 2, 4));
        assert_eq!(all.recall, 0.5);
        assert_eq!(all.false_alarms_per_1000, 250.0);
        assert!(table(&rows).contains("python"));
    }
}
