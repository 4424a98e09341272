//! Data-driven: each `tests/fixtures/postprocess/*.txt` holds a file (`//- name.ext`) with a `$0`
//! cursor, the model's raw text (`//- raw`) and the suggestion nib must make of it (`//- expect`;
//! empty: rejected). `UPDATE_EXPECT=1 cargo test` rewrites the expectations.

use std::path::Path;

use ropey::Rope;

use super::Site;
use nib_text::syntax::{Language, Syntax};

fn sections(text: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("//- ") {
            found.push((name.trim().to_owned(), String::new()));
        } else if let Some((_, body)) = found.last_mut() {
            body.push_str(line);
        }
    }
    found
}

/// A section's text without the newline that ends the section.
fn body(text: &str) -> &str {
    text.strip_suffix('\n').unwrap_or(text)
}

#[test]
fn postprocess_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/postprocess");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    assert!(paths.len() >= 8);
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for path in paths {
        let fixture = std::fs::read_to_string(&path).unwrap();
        let parts = sections(&fixture);
        let [(file, code), (_, raw), (_, expected)] = &parts[..] else { panic!("{}: three sections", path.display()) };
        let cursor_byte = code.find("$0").unwrap_or_else(|| panic!("{}: no $0", path.display()));
        let rope = Rope::from_str(&code.replace("$0", ""));
        let syntax = Language::detect("", file).and_then(|l| Syntax::parse(l, &rope));
        let site = Site::new(&rope, rope.byte_to_char(cursor_byte), 8, syntax.as_ref());
        let actual = site.finish(body(raw));
        if update {
            let head = &fixture[..fixture.rfind("//- expect").unwrap()];
            std::fs::write(&path, format!("{head}//- expect\n{actual}\n")).unwrap();
        } else if actual != body(expected) {
            failures.push(format!("{}: expected {:?}, got {actual:?}", path.display(), body(expected)));
        }
    }
    assert!(failures.is_empty(), "{}\n(UPDATE_EXPECT=1 rewrites)", failures.join("\n"));
}
