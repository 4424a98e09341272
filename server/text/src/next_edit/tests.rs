//! The next-edit trace set, `tests/edits/`: one case per file. Its header names the kind of edit it traces;
//! `#- text` (or `//- text`) is the document as opened, `#- file <name>` another open document, `#- edit`
//! lines are edits the user makes (typed as keystrokes 100 ms apart: the differing middle backspaced, then the
//! new one typed; each 10 s after the one before, unless it starts with `+ `, which types on at once), and `#- expect` lines are what the user does next, which the proposals made at that point are
//! scored against. A line is `<line>: <old> -> <new>` (1-based, the first `old` on that line;
//! `<line>.<n>:` the n-th; `\n` in the new text is a line break), with `<name> ` before it for another document; `target <line>` is a call the
//! user edits next but whose edit is not known; `none` says nothing is expected.
//!
//! Each case's proposals, scored (hit, miss, wrong), must equal the `.expect` file beside it
//! (`UPDATE_EXPECT=1` rewrites); `scores` asserts the set's precision and prints it per kind, with latency.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::documents::{Column, DocumentStore, Position, PositionEncoding, TextChange};

use super::{NextEdits, OpenDocument, next_edits};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/edits");

nib_fixture::tests! {
    DIR, check;
    python_rename_local => "python_rename_local.py",
    python_rename_parameter => "python_rename_parameter.py",
    python_rename_function => "python_rename_function.py",
    python_rename_class => "python_rename_class.py",
    python_rename_self_attribute => "python_rename_self_attribute.py",
    python_rename_other_scope_kept => "python_rename_other_scope_kept.py",
    python_rename_reference_first => "python_rename_reference_first.py",
    python_rename_carried_on => "python_rename_carried_on.py",
    python_repoint_use => "python_repoint_use.py",
    python_literal_argument => "python_literal_argument.py",
    python_literal_ambiguous => "python_literal_ambiguous.py",
    python_literal_common_value_kept => "python_literal_common_value_kept.py",
    python_argument_added => "python_argument_added.py",
    python_argument_half_typed => "python_argument_half_typed.py",
    python_signature_removed => "python_signature_removed.py",
    python_signature_added => "python_signature_added.py",
    python_signature_default => "python_signature_default.py",
    python_method_signature => "python_method_signature.py",
    python_signature_keyword => "python_signature_keyword.py",
    python_string_not_renamed => "python_string_not_renamed.py",
    python_rename_suffix_typed => "python_rename_suffix_typed.py",
    python_new_line_none => "python_new_line_none.py",
    python_method_rename => "python_method_rename.py",
    python_rename_comprehension_kept => "python_rename_comprehension_kept.py",
    python_rename_global_vs_local => "python_rename_global_vs_local.py",
    python_rename_two_loops => "python_rename_two_loops.py",
    python_rename_global_statement => "python_rename_global_statement.py",
    python_paste_then_rename => "python_paste_then_rename.py",
    rust_rename_closure_param => "rust_rename_closure_param.rs",
    rust_rename_format_capture => "rust_rename_format_capture.rs",
    rust_rename_local_macro_field_kept => "rust_rename_local_macro_field_kept.rs",
    typescript_rename_class => "typescript_rename_class.ts",
    typescript_rename_property_literal_kept => "typescript_rename_property_literal_kept.ts",
    typescript_rename_object_key_kept => "typescript_rename_object_key_kept.ts",
    typescript_rename_block_scoped => "typescript_rename_block_scoped.ts",
    rust_rename_local => "rust_rename_local.rs",
    rust_rename_parameter => "rust_rename_parameter.rs",
    rust_rename_shadowed => "rust_rename_shadowed.rs",
    rust_rename_shadowed_use => "rust_rename_shadowed_use.rs",
    rust_rename_function => "rust_rename_function.rs",
    rust_rename_field => "rust_rename_field.rs",
    rust_rename_struct => "rust_rename_struct.rs",
    rust_rename_field_shorthand => "rust_rename_field_shorthand.rs",
    rust_literal_argument => "rust_literal_argument.rs",
    rust_literal_other_callee_kept => "rust_literal_other_callee_kept.rs",
    rust_argument_changed => "rust_argument_changed.rs",
    rust_signature_removed => "rust_signature_removed.rs",
    rust_method_signature => "rust_method_signature.rs",
    typescript_rename_local => "typescript_rename_local.ts",
    typescript_rename_parameter => "typescript_rename_parameter.ts",
    typescript_rename_function => "typescript_rename_function.ts",
    typescript_rename_property => "typescript_rename_property.ts",
    typescript_rename_other_function_kept => "typescript_rename_other_function_kept.ts",
    typescript_rename_shorthand => "typescript_rename_shorthand.ts",
    typescript_literal_argument => "typescript_literal_argument.ts",
    typescript_argument_added => "typescript_argument_added.ts",
    typescript_signature_removed => "typescript_signature_removed.ts",
    typescript_signature_added => "typescript_signature_added.ts",
    typescript_method_signature => "typescript_method_signature.ts",
    typescript_arrow_signature => "typescript_arrow_signature.ts",
    javascript_rename_local => "javascript_rename_local.js",
}

fn check(path: &Path) {
    let run = run(path);
    nib_fixture::expect_file![nib_fixture::expect_path(path)].assert_eq(&run.report);
}

/// A proposal or an expectation, by its effect: the document it edits and that document's text after it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Edit { key: String, text_after: String },
    Target { key: String, line: usize },
}

/// Hits, misses and wrong proposals of one kind.
#[derive(Debug, Default, Clone, Copy)]
struct Score {
    n_hits: usize,
    n_misses: usize,
    n_wrong: usize,
}

struct Run {
    report: String,
    /// Per kind: the case's kind for misses, the proposal's for hits and wrong ones.
    scores: BTreeMap<String, Score>,
    latencies: Vec<Duration>,
}

fn key_of(name: &str) -> String {
    format!("file:///{name}")
}

fn position(rope: &ropey::Rope, char: usize) -> Position {
    let line = rope.char_to_line(char);
    let units: usize = rope.line(line).chars().take(char - rope.line_to_char(line)).map(char::len_utf16).sum();
    Position { line: line as u32, column: Column::Utf16(units as u32) }
}

/// Chars of `old` (its `n`-th occurrence) on 1-based `line` of `text`.
fn locate(text: &ropey::Rope, spec: &str) -> (std::ops::Range<usize>, String) {
    let (at, change) = spec.split_once(": ").unwrap_or_else(|| panic!("no `: ` in {spec:?}"));
    let (old, new) = change.split_once(" -> ").unwrap_or_else(|| panic!("no ` -> ` in {spec:?}"));
    let (line, n) = at.split_once('.').map_or((at, 1), |(line, n)| (line, n.parse().unwrap()));
    let line: usize = line.trim().parse().unwrap_or_else(|_| panic!("bad line in {spec:?}"));
    let line_text = text.line(line - 1).to_string();
    let byte = line_text.match_indices(old).nth(n - 1).unwrap_or_else(|| panic!("{old:?} not on line {line}")).0;
    let start = text.line_to_char(line - 1) + line_text[..byte].chars().count();
    (start..start + old.chars().count(), new.replace("\\n", "\n"))
}

/// A trace's clock: keystrokes 100 ms apart, and each edit of the trace 10 s after the one before (the user
/// moves elsewhere), so each is one logical edit.
struct Clock(Instant);

impl Clock {
    fn tick(&mut self, by: Duration) -> Instant {
        self.0 += by;
        self.0
    }
}

/// Types `spec` into document `key` as keystrokes; the cursor after it.
fn type_edit(store: &DocumentStore, key: &str, version: &mut i32, clock: &mut Clock, spec: &str) -> usize {
    let rope = store.snapshot(key).unwrap().rope;
    let (range, new) = locate(&rope, spec);
    let old: Vec<char> = rope.slice(range.clone()).chars().collect();
    let new: Vec<char> = new.chars().collect();
    let n_prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let n_suffix = old[n_prefix..].iter().rev().zip(new[n_prefix..].iter().rev()).take_while(|(a, b)| a == b).count();
    let start = range.start + n_prefix;
    let mut change = |start: usize, end: usize, text: String| {
        let rope = store.snapshot(key).unwrap().rope;
        *version += 1;
        let range = Some((position(&rope, start), position(&rope, end)));
        store.change_at(key, *version, &[TextChange { range, text }], clock.tick(Duration::from_millis(100))).unwrap();
    };
    for end in (start..range.end - n_suffix).rev() {
        change(end, end + 1, String::new());
    }
    for (i, c) in new[n_prefix..new.len() - n_suffix].iter().enumerate() {
        change(start + i, start + i, c.to_string());
    }
    store.parse(key);
    start + new.len() - n_prefix - n_suffix
}

/// What an expectation line stands for.
fn expected(store: &DocumentStore, main: &str, line: &str) -> Outcome {
    if let Some(target) = line.strip_prefix("target ") {
        let (key, line) = match target.split_once(' ') {
            Some((name, line)) => (key_of(name), line),
            None => (main.to_owned(), target),
        };
        return Outcome::Target { key, line: line.trim().parse().unwrap() };
    }
    let first = line.split_whitespace().next().unwrap_or_default();
    let (key, spec) =
        if first.ends_with(':') { (main.to_owned(), line) } else { (key_of(first), &line[first.len() + 1..]) };
    let mut rope = store.snapshot(&key).unwrap().rope;
    let (range, new) = locate(&rope, spec);
    rope.remove(range.clone());
    rope.insert(range.start, &new);
    Outcome::Edit { key, text_after: rope.to_string() }
}

fn outcomes(store: &DocumentStore, proposals: &NextEdits) -> Vec<(Outcome, String)> {
    let edits = proposals.edits.iter().map(|edit| {
        let mut rope = store.snapshot(&edit.key).unwrap().rope;
        let shown = format!(
            "{} {:?} -> {:?} ({:?})",
            at(&rope, edit.range.start),
            rope.slice(edit.range.clone()).to_string(),
            edit.new_text,
            edit.kind
        );
        rope.remove(edit.range.clone());
        rope.insert(edit.range.start, &edit.new_text);
        (Outcome::Edit { key: edit.key.clone(), text_after: rope.to_string() }, format!("{} {shown}", edit.key))
    });
    let targets = proposals.targets.iter().map(|target| {
        let rope = store.snapshot(&target.key).unwrap().rope;
        let line = rope.char_to_line(target.range.start) + 1;
        (Outcome::Target { key: target.key.clone(), line }, format!("{} target {line}", target.key))
    });
    edits.chain(targets).collect()
}

/// `line:column`, 1-based.
fn at(rope: &ropey::Rope, char: usize) -> String {
    let line = rope.char_to_line(char);
    format!("{}:{}", line + 1, char - rope.line_to_char(line) + 1)
}

fn run(path: &Path) -> Run {
    let fixture = nib_fixture::parse(&std::fs::read_to_string(path).unwrap());
    let case_kind =
        fixture.header.trim().strip_prefix("kind=").unwrap_or_else(|| panic!("{}: no kind=", path.display()));
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
    let main = key_of(&format!("main.{extension}"));
    let store = DocumentStore::new(PositionEncoding::Utf16);
    let (mut version, mut cursor, mut n_edits) = (1, 0, 0);
    let mut clock = Clock(Instant::now());
    let mut run = Run { report: String::new(), scores: BTreeMap::new(), latencies: Vec::new() };
    for (name, body) in &fixture.sections {
        match name.split_once(' ').unwrap_or((name, "")) {
            ("text", _) => store.open(&main, body, 1, "").map(|_| store.parse(&main)).unwrap(),
            ("file", other) => store.open(&key_of(other), body, 1, "").map(|_| store.parse(&key_of(other))).unwrap(),
            ("edit", _) => {
                for spec in body.lines().filter(|l| !l.trim().is_empty()) {
                    // `+ ` types on without a pause: the same logical edit.
                    let (spec, pause) =
                        spec.strip_prefix("+ ").map_or((spec, Duration::from_secs(10)), |s| (s, Duration::ZERO));
                    clock.tick(pause);
                    cursor = type_edit(&store, &main, &mut version, &mut clock, spec);
                    n_edits += 1;
                }
            }
            ("expect", _) => {
                let docs: Vec<_> = fixture
                    .sections
                    .iter()
                    .filter_map(|(name, _)| name.strip_prefix("file "))
                    .map(|other| (key_of(other), store.snapshot(&key_of(other)).unwrap()))
                    .collect();
                let others: Vec<OpenDocument> =
                    docs.iter().map(|(key, document)| OpenDocument { key, document }).collect();
                let current = store.snapshot(&main).unwrap();
                let started = Instant::now();
                let proposals = next_edits(OpenDocument { key: &main, document: &current }, cursor, &others);
                run.latencies.push(started.elapsed());
                assert_compatible(&proposals);
                let lines: Vec<&str> = body.lines().map(str::trim).filter(|l| !l.is_empty() && *l != "none").collect();
                let mut wanted: Vec<(Outcome, &str)> = lines.iter().map(|l| (expected(&store, &main, l), *l)).collect();
                run.report.push_str(&format!("after {n_edits} edits:\n"));
                for (outcome, shown) in outcomes(&store, &proposals) {
                    let kind = shown.rsplit_once('(').map_or("target", |(_, k)| k.trim_end_matches(')')).to_lowercase();
                    let score = run.scores.entry(kind).or_default();
                    if let Some(i) = wanted.iter().position(|(w, _)| *w == outcome) {
                        score.n_hits += 1;
                        run.report.push_str(&format!("  hit   {}\n", wanted.remove(i).1));
                    } else {
                        score.n_wrong += 1;
                        run.report.push_str(&format!("  wrong {shown}\n"));
                    }
                }
                for (_, line) in wanted {
                    run.scores.entry(case_kind.to_owned()).or_default().n_misses += 1;
                    run.report.push_str(&format!("  miss  {line}\n"));
                }
            }
            (other, _) => panic!("{}: unknown section {other:?}", path.display()),
        }
    }
    run
}

/// Proposals can all be taken: no two edits of one document overlap (they may touch).
fn assert_compatible(proposals: &NextEdits) {
    let mut edits: Vec<_> = proposals.edits.iter().map(|e| (&e.key, e.range.clone())).collect();
    edits.sort_by_key(|(key, range)| (*key, range.start, range.end));
    for pair in edits.windows(2) {
        let ((a_key, a), (b_key, b)) = (&pair[0], &pair[1]);
        assert!(a_key != b_key || a.end <= b.start, "overlapping proposals {a:?} and {b:?} in {a_key}");
    }
}

/// Nearest-rank quantile of sorted durations.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or_default()
}

#[test]
fn scores() {
    let mut total: BTreeMap<String, Score> = BTreeMap::new();
    let mut latencies = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "expect"))
        .collect();
    paths.sort();
    for path in &paths {
        let run = run(path);
        for (kind, score) in run.scores {
            let sum = total.entry(kind).or_default();
            *sum = Score {
                n_hits: sum.n_hits + score.n_hits,
                n_misses: sum.n_misses + score.n_misses,
                n_wrong: sum.n_wrong + score.n_wrong,
            };
        }
        latencies.extend(run.latencies);
    }
    let ratio = |a: usize, b: usize| if b == 0 { "-".to_owned() } else { format!("{:.2}", a as f64 / b as f64) };
    let all = total.values().fold(Score::default(), |sum, s| Score {
        n_hits: sum.n_hits + s.n_hits,
        n_misses: sum.n_misses + s.n_misses,
        n_wrong: sum.n_wrong + s.n_wrong,
    });
    println!("{:<10} {:>5} {:>6} {:>6} {:>9} {:>6}", "kind", "hits", "misses", "wrong", "precision", "recall");
    for (kind, s) in total.iter().map(|(k, s)| (k.as_str(), s)).chain([("all", &all)]) {
        let (p, r) = (ratio(s.n_hits, s.n_hits + s.n_wrong), ratio(s.n_hits, s.n_hits + s.n_misses));
        println!("{kind:<10} {:>5} {:>6} {:>6} {p:>9} {r:>6}", s.n_hits, s.n_misses, s.n_wrong);
    }
    latencies.sort();
    println!(
        "{} cases, {} proposals timed: median {:?}, p95 {:?} (target p95 <= 50 ms)",
        paths.len(),
        latencies.len(),
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.95)
    );
    println!("large document: {}", large_document_latency());
    let precision = all.n_hits as f64 / (all.n_hits + all.n_wrong).max(1) as f64;
    assert!(precision >= 0.95, "precision {precision:.3} < 0.95 over the trace set");
}

/// Median and p95 of proposing after renaming a function that 2,000 functions (10,000 lines) call: the
/// worst the engine meets (every name in the file looked at, thousands of proposals).
fn large_document_latency() -> String {
    let mut text = String::from("def helper(value):\n    return value * 2\n\n");
    for i in 0..2000 {
        text.push_str(&format!("\ndef step_{i}(rows):\n    total = helper(len(rows))\n    return total + {i}\n\n"));
    }
    let store = DocumentStore::new(PositionEncoding::Utf16);
    let key = key_of("large.py");
    store.open(&key, &text, 1, "python").unwrap();
    store.parse(&key);
    let cursor = type_edit(&store, &key, &mut 1, &mut Clock(Instant::now()), "1: helper -> double");
    let document = store.snapshot(&key).unwrap();
    let mut took: Vec<Duration> = (0..20)
        .map(|_| {
            let started = Instant::now();
            let proposals = next_edits(OpenDocument { key: &key, document: &document }, cursor, &[]);
            assert_eq!(proposals.edits.len(), 2000);
            started.elapsed()
        })
        .collect();
    took.sort();
    format!("{} lines, median {:?}, p95 {:?}", document.rope.len_lines(), quantile(&took, 0.5), quantile(&took, 0.95))
}
