//! Data-driven: each `tests/fixtures/context/*` file holds one or more files
//! (`//- path` or `#- path` lines start each), the last with a `$0` cursor; the
//! prompt built there, with context, must equal the `.expect` file beside it.
//! `UPDATE_EXPECT=1 cargo test` rewrites the expectations; `cargo test -p nib-prompt context::tests::rust` runs one.

use std::path::{Path, PathBuf};

use ropey::Rope;

use super::*;
use crate::{self as prompt, Budget, Template, TokenId, Tokenizer};
use nib_text::syntax::Language;

/// One token per char, so budgets read as char counts.
struct Chars;

impl Tokenizer for Chars {
    fn tokenize(&self, text: &str, _: bool) -> Vec<TokenId> {
        text.chars().map(|c| c as TokenId).collect()
    }
}

nib_fixture::tests! {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/context"), check;
    c => "c.c",
    cpp => "cpp.cpp",
    go => "go.go",
    java => "java.java",
    javascript => "javascript.js",
    minified => "minified.js",
    plain => "plain.txt",
    python => "python.py",
    rust => "rust.rs",
    typescript => "typescript.ts",
}

fn check(path: &Path) {
    let actual = prompt_for(&std::fs::read_to_string(path).unwrap());
    nib_fixture::expect_file![nib_fixture::expect_path(path)].assert_eq(&actual);
}

/// The fixture's budget: its header may set `budget=N context=N`.
fn budget(header: &str) -> Budget {
    let mut budget = Budget { n_tokens: 4000, suffix_percent: 25, n_suffix_max: usize::MAX, n_context_tokens: 1500 };
    for setting in header.split_whitespace() {
        match setting.split_once('=') {
            Some(("budget", n)) => budget.n_tokens = n.parse().unwrap(),
            Some(("context", n)) => budget.n_context_tokens = n.parse().unwrap(),
            _ => panic!("unknown fixture setting {setting:?}"),
        }
    }
    budget
}

/// The prompt at the `$0` of the fixture's last file, as text.
fn prompt_for(fixture: &str) -> String {
    let fixture = nib_fixture::parse(fixture);
    let (budget, files) = (budget(&fixture.header), fixture.sections);
    let workspace = Workspace::default();
    workspace.set_root(PathBuf::from("/ws"));
    let (last_path, last_text) = files.last().expect("a fixture has files").clone();
    let open = |path: &str, text: &str| {
        let uri = format!("file:///ws/{path}");
        let rope = Rope::from_str(text);
        let syntax = Language::detect("", path).and_then(|l| Syntax::parse(l, &rope));
        (uri, rope, syntax)
    };
    for (path, text) in &files[..files.len() - 1] {
        let (uri, rope, syntax) = open(path, text);
        workspace.observe(&uri, &rope, syntax.as_ref(), 0);
    }
    let cursor_byte = last_text.find("$0").expect("the last file has a $0");
    let (uri, rope, syntax) = open(&last_path, &last_text.replace("$0", ""));
    workspace.observe(&uri, &rope, syntax.as_ref(), 0);
    let cursor = rope.byte_to_char(cursor_byte);
    let template = Template::prefix_only();
    let window = prompt::window(&Chars, &template, &rope, cursor, budget, None).unwrap();
    let request = Request {
        key: &uri,
        rope: &rope,
        syntax: syntax.as_ref(),
        cursor,
        window: window.prefix_start..window.suffix_end,
    };
    let context = workspace.gather(&request);
    let prompt = prompt::assemble(&Chars, &template, window, &context, budget);
    assert!(prompt.tokens.len() <= budget.n_tokens, "over budget");
    prompt.tokens.iter().map(|&t| char::from_u32(t as u32).unwrap_or('?')).collect()
}

#[test]
fn the_budget_holds_for_a_20000_line_file() {
    let text: String = (0..20_000)
        .map(|i| if i % 10 == 0 { format!("def f{i}(x):\n") } else { format!("    y{i} = f{}(x)\n", i - i % 10) })
        .collect();
    let rope = Rope::from_str(&format!("import os\n{text}"));
    let syntax = Syntax::parse(Language::detect("python", "").unwrap(), &rope).unwrap();
    let workspace = Workspace::default();
    workspace.observe("file:///big.py", &rope, Some(&syntax), 0);
    let budget = Budget { n_tokens: 1536, suffix_percent: 25, n_suffix_max: usize::MAX, n_context_tokens: 384 };
    let cursor = rope.line_to_char(10_005) + 8;
    let template = Template::prefix_only();
    let window = prompt::window(&Chars, &template, &rope, cursor, budget, None).unwrap();
    let request = Request {
        key: "file:///big.py",
        rope: &rope,
        syntax: Some(&syntax),
        cursor,
        window: window.prefix_start..window.suffix_end,
    };
    let context = workspace.gather(&request);
    assert!(context.preamble.iter().any(|s| s.text.starts_with("import os")), "{context:?}");
    let prompt = prompt::assemble(&Chars, &template, window, &context, budget);
    assert!(prompt.tokens.len() <= 1536);
    assert!(prompt.n_context_tokens > 0);
}

/// Writes `files` (path, text) under a fresh folder named `name`.
fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("nib-ws-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    root
}

fn defined_in(workspace: &Workspace, name: &str) -> Vec<String> {
    workspace.index.lookup(name).into_iter().map(|(_, file, _)| file.path.to_string()).collect()
}

#[test]
fn every_folder_is_indexed_and_files_changed_on_disk_are_followed() {
    let a = folder("a", &[("util.py", "def helper(x):\n    return x\n"), ("src/lib.rs", "fn twice() {}\n")]);
    let b = folder("b", &[("other.go", "package b\n\nfunc Other() {}\n")]);
    let workspace = Workspace::default();
    workspace.set_roots(vec![a.clone(), b.clone()]);
    assert_eq!(workspace.scan(), 3);
    assert_eq!(defined_in(&workspace, "helper"), ["util.py"]);
    assert_eq!(defined_in(&workspace, "Other"), ["other.go"]);

    // Deleted: its definitions leave the index. Created: indexed, unless the walk would leave it out.
    std::fs::remove_file(a.join("util.py")).unwrap();
    std::fs::write(a.join("src/more.py"), "def extra():\n    pass\n").unwrap();
    std::fs::create_dir_all(a.join("node_modules")).unwrap();
    std::fs::write(a.join("node_modules/dep.js"), "function dep() {}\n").unwrap();
    let changed = ["util.py", "src/more.py", "node_modules/dep.js"].map(|p| a.join(p));
    workspace.run(IndexJob::Changed(changed.to_vec()));
    assert!(defined_in(&workspace, "helper").is_empty());
    assert_eq!(defined_in(&workspace, "extra"), ["src/more.py"]);
    assert!(defined_in(&workspace, "dep").is_empty());
    // A deleted folder is reported alone: what was under it goes too.
    std::fs::remove_dir_all(a.join("src")).unwrap();
    workspace.run(IndexJob::Changed(vec![a.join("src")]));
    assert!(defined_in(&workspace, "extra").is_empty() && defined_in(&workspace, "twice").is_empty());

    // A folder that leaves the workspace takes its files along (what `remove_root` does, without the thread).
    workspace.set_roots(vec![a.clone()]);
    workspace.run(IndexJob::Forget(b.clone()));
    assert!(defined_in(&workspace, "Other").is_empty());
    assert_eq!(workspace.n_indexed_files(), 0);
    let _ = (std::fs::remove_dir_all(a), std::fs::remove_dir_all(b));
}
