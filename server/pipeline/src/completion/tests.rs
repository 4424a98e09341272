//! Data-driven: each `tests/fixtures/postprocess/*.txt` holds a file (`//- name.ext`) with a `$0`
//! cursor and the model's raw text (`//- raw`); the suggestion nib makes of it must equal the
//! `.expect` file beside it (empty: rejected). `UPDATE_EXPECT=1 cargo test` rewrites the expectations.

use std::path::Path;

use ropey::Rope;

use super::candidates::{distinct, most_confident_first};
use super::site::Site;
use nib_text::syntax::{Language, Syntax};

nib_fixture::tests! {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/postprocess"), check;
    c_trimmed_before_the_stray_brace => "c_trimmed_before_the_stray_brace.txt",
    cpp_stray_closer_rejected => "cpp_stray_closer_rejected.txt",
    go_block_ends_with_its_scope => "go_block_ends_with_its_scope.txt",
    java_semicolon => "java_semicolon.txt",
    javascript_stray_closer_rejected => "javascript_stray_closer_rejected.txt",
    javascript_trimmed_before_the_error => "javascript_trimmed_before_the_error.txt",
    python_block_after_header => "python_block_after_header.txt",
    python_colon_in_dict_is_one_line => "python_colon_in_dict_is_one_line.txt",
    python_no_extra_space_after_indentation => "python_no_extra_space_after_indentation.txt",
    python_stray_closer_rejected => "python_stray_closer_rejected.txt",
    rust_block_after_brace => "rust_block_after_brace.txt",
    rust_extra_closers => "rust_extra_closers.txt",
    rust_unclosed_block_is_incomplete_not_wrong => "rust_unclosed_block_is_incomplete_not_wrong.txt",
    typescript_completes_the_line => "typescript_completes_the_line.txt",
}

fn check(path: &Path) {
    let fixture = nib_fixture::parse(&std::fs::read_to_string(path).unwrap());
    let [(file, code), (_, raw)] = &fixture.sections[..] else { panic!("{}: two sections", path.display()) };
    let cursor_byte = code.find("$0").unwrap_or_else(|| panic!("{}: no $0", path.display()));
    let rope = Rope::from_str(&code.replace("$0", ""));
    let syntax = Language::detect("", file).and_then(|l| Syntax::parse(l, &rope));
    let site = Site::new(&rope, rope.byte_to_char(cursor_byte), 8, syntax.as_ref());
    // The raw text without the newline that ends its section.
    let actual = site.finish(raw.strip_suffix('\n').unwrap_or(raw));
    nib_fixture::expect_file![nib_fixture::expect_path(path)].assert_eq(&actual);
}

fn candidates(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_owned()).collect()
}

#[test]
fn candidates_keep_their_order_without_empty_or_repeated_ones() {
    let all = candidates(&["a + b", "", "a + b  \n", "a - b", "  \n", "a * b", "a / b"]);
    assert_eq!(distinct(&all, 3), candidates(&["a + b", "a - b", "a * b"]));
}

#[test]
fn candidates_differing_only_in_leading_whitespace_are_distinct() {
    let all = candidates(&["x\n    y", "x\n  y", "x\n    y\n"]);
    assert_eq!(distinct(&all, 5), candidates(&["x\n    y", "x\n  y"]));
}

#[test]
fn alternatives_come_most_confident_first() {
    let alternatives = vec![
        ("unknown".to_owned(), None),
        ("unsure".to_owned(), Some(0.2)),
        ("sure".to_owned(), Some(0.9)),
        ("also unknown".to_owned(), None),
    ];
    assert_eq!(most_confident_first(alternatives), candidates(&["sure", "unsure", "unknown", "also unknown"]));
}

#[test]
fn one_candidate_is_the_first() {
    assert_eq!(distinct(&candidates(&["first", "second"]), 1), candidates(&["first"]));
}
