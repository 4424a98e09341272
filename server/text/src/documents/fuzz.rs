//! Property test of incremental sync. Random batches of edits (multi-line ranges; `\n`, `\r\n` and lone `\r`;
//! astral-plane characters, combining marks, ZWJ sequences; columns inside a character and past the line's end;
//! lines past the last; inverted ranges; stale versions; both position encodings) go to a `DocumentStore` and to
//! a plain `String` model that knows nothing of ropey. After every batch both agree on the outcome (applied, or
//! refused and why), the text and the version, and the document's tree describes its text: no stale ranges, and
//! where the text parses without errors, the very tree a fresh parse gives. Documents mostly start as valid code,
//! and half the batches are followed by an incremental edit back to the text as opened, so that many trees are
//! compared in full. The edit history stays bounded and its latest entry matches the text, and next edits
//! proposed from it stay within the text.
//!
//! The budget is fixed so CI runs the same cases every time: [`N_CASES`] cases from a fixed seed.
//! `PROPTEST_CASES=20000 PROPTEST_RNG_SEED=7 cargo test --release documents::fuzz` explores further; a failure
//! found is kept in `server/text/proptest-regressions/documents/fuzz.txt` (commit it) and replayed first.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use tree_sitter::Node;

use super::history::{MAX_EDITS, MAX_HISTORY_BYTES};
use super::{Column, Document, DocumentError, DocumentStore, Position, PositionEncoding, PositionError, TextChange};
use crate::next_edit::OpenDocument;
use crate::syntax::{Language, Syntax};

/// Longer than parsing these small documents can take unless the machine stalls the test.
const STALL: Duration = Duration::from_millis(300);
/// Cases per CI run: about 5 s in release on two busy cores.
const N_CASES: u32 = 1000;
const SEED: u64 = 0x6e69_6266_757a_7a31;

/// What documents and inserted text are made of: code of both languages, every kind of line break (weighted up, so
/// ranges span lines), and characters whose widths differ between UTF-8, UTF-16 and chars.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    "\n", "\n", "\n", "\r\n", "\r\n", "\r", " ", "    ", "\t", "x", "y1", "def ", "f", "(", ")", ":", "return ",
    " = ", "1", "if ", "else:", "class ", "'", "\"", "\"\"\"", "#", "fn ", "{", "}", ";", "let ", "r#\"", "//",
    "/*", "*/", "'a", "::", "->", "é", "e\u{301}", "😀", "𝕏", "👩\u{200d}💻", "中", "\u{2028}", "\u{85}",
    "\u{feff}",
];

fn config() -> Config {
    // Config::default() reads PROPTEST_CASES and PROPTEST_RNG_SEED; without them the CI budget holds.
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = N_CASES;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    config
}

/// A line chosen relative to the text it will apply to: one that exists, or one past the last.
#[derive(Debug, Clone)]
enum LineChoice {
    Existing(u32),
    PastEnd(u32),
}

/// A column chosen relative to its line: within it (possibly inside a character), or past its end.
#[derive(Debug, Clone)]
enum ColumnChoice {
    Within(u32),
    PastEnd(u32),
    Max,
}

#[derive(Debug, Clone)]
struct Spot {
    line: LineChoice,
    column: ColumnChoice,
}

/// Where a range ends: mostly a few lines below its start (so documents grow), sometimes anywhere.
#[derive(Debug, Clone)]
enum End {
    Near { lines_down: u32, column: ColumnChoice },
    Anywhere(Spot),
}

#[derive(Debug, Clone)]
enum Change {
    Range { start: Spot, end: End, inverted: bool, text: String },
    Whole(String),
}

#[derive(Debug, Clone)]
struct Batch {
    version_step: i32,
    changes: Vec<Change>,
    /// Then restore the text as opened, with one incremental edit over what differs.
    revert: bool,
}

/// Valid code, a unit of lines at a time, with the line breaks chosen apart.
const PYTHON: &[&[&str]] = &[
    &["import os"],
    &["x = 1"],
    &["s = 'é😀𝕏 e\u{301}'  # 👩\u{200d}💻"],
    &["def f(a, b):", "    c = a + b  # 𝕏", "    return c"],
    &["class C:", "    def m(self):", "        pass"],
    &["if x:", "    y = [1,", "         2]", "else:", "    y = None"],
    &[""],
];
const RUST: &[&[&str]] = &[
    &["use std::io;"],
    &["const S: &str = \"é😀𝕏 e\u{301}\"; // 👩\u{200d}💻"],
    &["fn f(a: u32) -> u32 {", "    let b = a + 1; // 𝕏", "    b", "}"],
    &["struct P {", "    x: i32,", "}"],
    &["impl P {", "    fn new() -> Self { P { x: 0 } }", "}"],
    &["/* block", "   𝕏 */"],
    &[""],
];

fn text(max_pieces: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..=max_pieces).prop_map(|pieces| pieces.concat())
}

fn column() -> impl Strategy<Value = ColumnChoice> {
    prop_oneof![
        12 => any::<u32>().prop_map(ColumnChoice::Within),
        2 => (0..4u32).prop_map(ColumnChoice::PastEnd),
        1 => Just(ColumnChoice::Max),
    ]
}

fn spot() -> impl Strategy<Value = Spot> {
    let line =
        prop_oneof![20 => any::<u32>().prop_map(LineChoice::Existing), 1 => (0..3u32).prop_map(LineChoice::PastEnd)];
    (line, column()).prop_map(|(line, column)| Spot { line, column })
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        4 => (0..3u32, column()).prop_map(|(lines_down, column)| End::Near { lines_down, column }),
        1 => spot().prop_map(End::Anywhere),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        30 => (spot(), end(), prop::bool::weighted(0.05), text(8))
            .prop_map(|(start, end, inverted, text)| Change::Range { start, end, inverted, text }),
        1 => text(24).prop_map(Change::Whole),
    ]
}

fn batch() -> impl Strategy<Value = Batch> {
    let version_step = prop_oneof![20 => Just(1), 1 => Just(0), 1 => Just(-1), 1 => Just(3)];
    (version_step, prop::collection::vec(change(), 1..=4), prop::bool::weighted(0.5))
        .prop_map(|(version_step, changes, revert)| Batch { version_step, changes, revert })
}

/// A language and a document in it: mostly valid code with mixed line breaks, sometimes any text at all.
fn document() -> impl Strategy<Value = (&'static str, String)> {
    prop::sample::select(&["python", "rust"][..]).prop_flat_map(|language_id| {
        let units = if language_id == "python" { PYTHON } else { RUST };
        let line = (
            prop::sample::select(units),
            prop::collection::vec(prop::sample::select(&["\n", "\n", "\n", "\n", "\r\n", "\r\n", "\r\n", "\r"][..]), 8),
        );
        let code = prop::collection::vec(line, 0..12).prop_map(|lines| {
            lines
                .iter()
                .flat_map(|(unit, breaks)| unit.iter().zip(breaks.iter().cycle()).map(|(l, b)| format!("{l}{b}")))
                .collect()
        });
        (Just(language_id), prop_oneof![4 => code, 1 => text(60)])
    })
}

// --- The model: a String, and LSP's rules written out over it without ropey. ---

fn width(c: char, encoding: PositionEncoding) -> usize {
    match encoding {
        PositionEncoding::Utf8 => c.len_utf8(),
        PositionEncoding::Utf16 => c.len_utf16(),
    }
}

/// Byte offsets where lines start: after each `\n`, `\r\n` and lone `\r`.
fn line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = vec![0];
    for (i, &b) in bytes.iter().enumerate() {
        let lone_cr = b == b'\r' && bytes.get(i + 1) != Some(&b'\n');
        if b == b'\n' || lone_cr {
            starts.push(i + 1);
        }
    }
    starts
}

/// The bytes of `line`'s text, without its line break.
fn line_bytes(text: &str, starts: &[usize], line: usize) -> std::ops::Range<usize> {
    let Some(&next) = starts.get(line + 1) else { return starts[line]..text.len() };
    let break_len = if text[..next].ends_with("\r\n") { 2 } else { 1 };
    starts[line]..next - break_len
}

fn line_units(text: &str, line: usize, encoding: PositionEncoding) -> u32 {
    let starts = line_starts(text);
    text[line_bytes(text, &starts, line)].chars().map(|c| width(c, encoding)).sum::<usize>() as u32
}

/// The byte offset of an LSP position: a column past the line's end is its end, a column inside a character is
/// that character's start, a line past the last is an error.
fn byte_offset(text: &str, pos: Position, encoding: PositionEncoding) -> Result<usize, PositionError> {
    let starts = line_starts(text);
    let line = pos.line as usize;
    if line >= starts.len() {
        return Err(PositionError::LineOutOfRange { line: pos.line, n_lines: starts.len() });
    }
    let column = match pos.column {
        Column::Utf8(units) | Column::Utf16(units) => units as usize,
    };
    let range = line_bytes(text, &starts, line);
    let mut units = 0;
    for (i, c) in text[range.clone()].char_indices() {
        units += width(c, encoding);
        if units > column {
            return Ok(range.start + i);
        }
    }
    Ok(range.end)
}

/// The LSP position of `byte`, which must not fall between the `\r` and `\n` of one line break.
fn lsp_position(text: &str, byte: usize, encoding: PositionEncoding) -> Position {
    let starts = line_starts(text);
    let line = starts.iter().rposition(|&start| start <= byte).unwrap_or(0);
    let units: usize = text[starts[line]..byte].chars().map(|c| width(c, encoding)).sum();
    Position { line: line as u32, column: Column::new(encoding, units as u32) }
}

/// The one change that turns `now` back into `before`: a range over what differs between them.
fn revert_change(before: &str, now: &str, encoding: PositionEncoding) -> TextChange {
    let prefix: usize = before.chars().zip(now.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a.len_utf8()).sum();
    let suffix: usize = before[prefix..]
        .chars()
        .rev()
        .zip(now[prefix..].chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum();
    // A position cannot fall inside a \r\n: widen the range by the \r, or by the \n.
    let between = |text: &str, byte: usize| byte > 0 && text[..byte].ends_with('\r') && text[byte..].starts_with('\n');
    let start = if between(now, prefix) { prefix - 1 } else { prefix };
    let (mut now_end, mut before_end) = (now.len() - suffix, before.len() - suffix);
    if between(now, now_end) {
        now_end += 1;
        before_end += 1;
    }
    let range = (lsp_position(now, start, encoding), lsp_position(now, now_end, encoding));
    TextChange { range: Some(range), text: before[start..before_end].to_owned() }
}

fn n_chars(text: &str, byte: usize) -> usize {
    text[..byte].chars().count()
}

/// Applies `changes` to `text`, all or nothing, as LSP says (each change sees the text the previous ones left).
fn model_apply(text: &str, changes: &[TextChange], encoding: PositionEncoding) -> Result<String, PositionError> {
    let mut text = text.to_owned();
    for change in changes {
        let Some((start, end)) = change.range else {
            text = change.text.clone();
            continue;
        };
        let start = byte_offset(&text, start, encoding)?;
        let end = byte_offset(&text, end, encoding)?;
        if end < start {
            return Err(PositionError::InvertedRange { start: n_chars(&text, start), end: n_chars(&text, end) });
        }
        text.replace_range(start..end, &change.text);
    }
    Ok(text)
}

/// Turns the plan of a change into an LSP change against `text`, the text it will apply to.
fn resolve(change: &Change, text: &str, encoding: PositionEncoding) -> TextChange {
    let (start, end, inverted, new_text) = match change {
        Change::Whole(new_text) => return TextChange { range: None, text: new_text.clone() },
        Change::Range { start, end, inverted, text } => (start, end, *inverted, text),
    };
    let n_lines = line_starts(text).len() as u32;
    let place = |line: u32, column: &ColumnChoice| {
        let units = if line < n_lines { line_units(text, line as usize, encoding) } else { 0 };
        let column = match *column {
            ColumnChoice::Within(n) => n % (units + 1),
            ColumnChoice::PastEnd(k) => units + 1 + k,
            ColumnChoice::Max => u32::MAX,
        };
        (line, column)
    };
    let line = |spot: &Spot| match spot.line {
        LineChoice::Existing(n) => n % n_lines,
        LineChoice::PastEnd(k) => n_lines + k,
    };
    let mut start = place(line(start), &start.column);
    let mut end = match end {
        End::Near { lines_down, column } => place((start.0 + lines_down).min(n_lines - 1), column),
        End::Anywhere(spot) => place(line(spot), &spot.column),
    };
    // Most ranges run forwards; a few are inverted on purpose.
    if (start > end) != inverted {
        std::mem::swap(&mut start, &mut end);
    }
    let position = |(line, units)| Position { line, column: Column::new(encoding, units) };
    TextChange { range: Some((position(start), position(end))), text: new_text.clone() }
}

// --- The tree: the incrementally edited one must be the one a fresh parse gives. ---

type NodeFacts = (&'static str, std::ops::Range<usize>, (usize, usize), (usize, usize), bool);

fn facts(root: Node) -> Vec<NodeFacts> {
    let mut out = Vec::new();
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        let (start, end) = (node.start_position(), node.end_position());
        out.push((node.kind(), node.byte_range(), (start.row, start.column), (end.row, end.column), node.is_missing()));
        if cursor.goto_first_child() || cursor.goto_next_sibling() {
            continue;
        }
        loop {
            if !cursor.goto_parent() {
                return out;
            }
            if cursor.goto_next_sibling() {
                break;
            }
        }
    }
}

/// Where tree-sitter puts `byte`: rows count `\n` only (a lone `\r` ends an LSP line, not a tree-sitter row).
fn ts_point(text: &str, byte: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..byte];
    let row = before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (row, byte - line_start)
}

/// No stale ranges: every node lies within the text and its parent, after its older sibling, and its points are
/// where its bytes are.
fn check_ranges(node: Node, text: &str) -> Result<(), TestCaseError> {
    let range = node.byte_range();
    prop_assert!(
        range.start <= range.end && range.end <= text.len(),
        "{} at {:?} in {} bytes",
        node.kind(),
        range,
        text.len()
    );
    let (start, end) = (node.start_position(), node.end_position());
    prop_assert_eq!((start.row, start.column), ts_point(text, range.start), "{} at {:?}", node.kind(), range);
    prop_assert_eq!((end.row, end.column), ts_point(text, range.end), "{} at {:?}", node.kind(), range);
    let mut cursor = node.walk();
    let mut last_end = range.start;
    for child in node.children(&mut cursor) {
        prop_assert!(
            child.start_byte() >= last_end && child.end_byte() <= range.end,
            "{} in {}",
            child.kind(),
            node.kind()
        );
        last_end = child.end_byte();
        check_ranges(child, text)?;
    }
    Ok(())
}

/// The tree describes the text: its ranges are right, and where the text parses cleanly it is the very tree a
/// fresh parse gives. (Where it does not, tree-sitter's error recovery may legitimately differ between an
/// incremental and a fresh parse: `'a\n/*` can end up a label in one and a quote and an identifier in the other.)
///
/// A parse has a wall-clock budget, and a document that cannot be parsed within it has no tree, by design: on a
/// machine that stalled the parse that long (`edit_took` past [`STALL`]) a missing tree is no failure.
fn check_tree(doc: &Document, text: &str, edit_took: Duration) -> Result<(), TestCaseError> {
    prop_assert!(doc.is_parsed(), "checked before its parse");
    let Some(syntax) = doc.syntax() else {
        prop_assert!(edit_took > STALL, "the document lost its tree ({edit_took:?})");
        return Ok(());
    };
    let started = Instant::now();
    let Some(fresh) = Syntax::parse(syntax.language, &doc.rope) else {
        prop_assert!(started.elapsed() > STALL, "no fresh parse ({:?})", started.elapsed());
        return Ok(());
    };
    let (edited, fresh) = (syntax.tree.root_node(), fresh.tree.root_node());
    check_ranges(edited, text)?;
    prop_assert_eq!(edited.byte_range(), fresh.byte_range());
    if fresh.has_error() {
        return Ok(());
    }
    let (edited_facts, fresh_facts) = (facts(edited), facts(fresh));
    if let Some(i) = (0..edited_facts.len().max(fresh_facts.len())).find(|&i| edited_facts.get(i) != fresh_facts.get(i))
    {
        return Err(TestCaseError::fail(format!(
            "the edited tree differs from a fresh parse of {text:?} at node {i}: {:?} vs {:?}\nedited: {}\nfresh:  {}",
            edited_facts.get(i),
            fresh_facts.get(i),
            edited.to_sexp(),
            fresh.to_sexp()
        )));
    }
    Ok(())
}

/// The history stays bounded, and its latest entry, if this version made it, holds what the text holds.
fn check_history(doc: &Document) -> Result<(), TestCaseError> {
    let history = &doc.history;
    prop_assert!(history.len() <= MAX_EDITS && history.n_bytes() <= MAX_HISTORY_BYTES);
    if let Some(edit) = history.last().filter(|edit| edit.version == doc.version) {
        let written = doc.rope.get_slice(edit.new_range()).map(String::from);
        if let Some(new) = edit.new.as_str() {
            prop_assert_eq!(written.as_deref(), Some(new), "{:?}", edit);
        }
        prop_assert!(!edit.unified_diff().is_empty());
    }
    Ok(())
}

/// Next edits from whatever the history holds stay within the text.
fn check_next_edits(doc: &Document, uri: &str) -> Result<(), TestCaseError> {
    let cursor = doc.history.last().map_or(0, |edit| edit.new_range().end);
    let proposals = crate::next_edit::next_edits(OpenDocument { key: uri, document: doc }, cursor, &[]);
    let n_chars = doc.rope.len_chars();
    for range in proposals.edits.iter().map(|e| &e.range).chain(proposals.targets.iter().map(|t| &t.range)) {
        prop_assert!(range.start <= range.end && range.end <= n_chars, "{:?} in {} chars", range, n_chars);
    }
    Ok(())
}

fn run_case(utf8: bool, language_id: &str, initial: &str, batches: &[Batch]) -> Result<(), TestCaseError> {
    let encoding = if utf8 { PositionEncoding::Utf8 } else { PositionEncoding::Utf16 };
    let uri = format!("file:///fuzz.{}", if language_id == "python" { "py" } else { "rs" });
    let store = DocumentStore::new(encoding);
    let started = Instant::now();
    store.open(&uri, initial, 1, language_id).map_err(|e| TestCaseError::fail(e.to_string()))?;
    store.parse(&uri);
    let open_took = started.elapsed();
    prop_assert!(Language::detect(language_id, &uri).is_some());
    let (mut text, mut version) = (initial.to_owned(), 1);
    check_tree(&store.snapshot(&uri).map_err(|e| TestCaseError::fail(e.to_string()))?, &text, open_took)?;
    for (i, batch) in batches.iter().enumerate() {
        // Each change is placed against the text the changes before it leave.
        let mut scratch = text.clone();
        let changes: Vec<TextChange> = batch
            .changes
            .iter()
            .map(|plan| {
                let change = resolve(plan, &scratch, encoding);
                if let Ok(next) = model_apply(&scratch, std::slice::from_ref(&change), encoding) {
                    scratch = next;
                }
                change
            })
            .collect();
        let new_version = version + batch.version_step;
        let expected = if new_version <= version {
            Err(DocumentError::StaleVersion { uri: uri.clone(), have: version, got: new_version })
        } else {
            model_apply(&text, &changes, encoding)
                .map_err(|source| DocumentError::Position { uri: uri.clone(), source })
        };
        let started = Instant::now();
        let got = store.change(&uri, new_version, &changes);
        // Every third batch lands while the tree is still to be parsed: the parse after the next must
        // bring both batches' edits in.
        if i % 3 != 2 {
            store.parse(&uri);
        }
        let edit_took = started.elapsed();
        prop_assert_eq!(got.as_ref().err(), expected.as_ref().err(), "{:?} on {:?}", changes, text);
        if let Ok(next) = expected {
            text = next;
            version = new_version;
        }
        let doc = store.snapshot(&uri).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(doc.rope.to_string(), text.clone(), "after {:?}", changes);
        prop_assert_eq!(doc.version, version);
        check_history(&doc)?;
        check_next_edits(&doc, &uri)?;
        if doc.is_parsed() {
            check_tree(&doc, &text, edit_took)?;
        }
        if batch.revert && text != initial {
            let change = revert_change(initial, &text, encoding);
            version += 1;
            let started = Instant::now();
            store
                .change(&uri, version, std::slice::from_ref(&change))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            store.parse(&uri);
            let edit_took = started.elapsed();
            let doc = store.snapshot(&uri).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(doc.rope.to_string(), initial, "reverting with {:?}", change);
            text = initial.to_owned();
            check_tree(&doc, &text, edit_took)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_edits_keep_the_document_its_model_and_its_tree_in_step(
        utf8 in any::<bool>(),
        (language_id, initial) in document(),
        batches in prop::collection::vec(batch(), 1..40),
    ) {
        run_case(utf8, language_id, &initial, &batches)?;
    }
}

mod model {
    //! The model is only as good as its own reading of LSP: pin it down on cases worked out by hand.

    use super::*;

    fn at(line: u32, units: u32, encoding: PositionEncoding) -> Position {
        Position { line, column: Column::new(encoding, units) }
    }

    #[test]
    fn the_model_reads_positions_as_lsp_does() {
        let text = "a𝕏b\r\nc\rd\n";
        let u16 = PositionEncoding::Utf16;
        assert_eq!(line_starts(text), vec![0, 8, 10, 12]);
        assert_eq!(byte_offset(text, at(0, 1, u16), u16), Ok(1));
        assert_eq!(byte_offset(text, at(0, 2, u16), u16), Ok(1), "inside the surrogate pair: its start");
        assert_eq!(byte_offset(text, at(0, 3, u16), u16), Ok(5));
        assert_eq!(byte_offset(text, at(0, 99, u16), u16), Ok(6), "past the end: before the \\r\\n");
        assert_eq!(byte_offset(text, at(1, 5, u16), u16), Ok(9), "before the lone \\r");
        assert_eq!(byte_offset(text, at(3, 0, u16), u16), Ok(12));
        assert_eq!(byte_offset(text, at(4, 0, u16), u16), Err(PositionError::LineOutOfRange { line: 4, n_lines: 4 }));
        let u8 = PositionEncoding::Utf8;
        assert_eq!(byte_offset(text, at(0, 3, u8), u8), Ok(1), "inside the 4-byte char: its start");
        assert_eq!(byte_offset(text, at(0, 5, u8), u8), Ok(5));
    }
}
