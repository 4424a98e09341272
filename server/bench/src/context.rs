//! `nib bench context`: what syntax and context cost on a large file, with the
//! model's own tokenizer: the first parse, an incremental reparse after a
//! keystroke, the prompt's window, and its context (gathered and fitted).

use std::time::Instant;

use ropey::Rope;
use serde::Serialize;

use super::quantile;
use nib_prompt::context::{self, Workspace};
use nib_prompt::{self as prompt, Budget, Template, Tokenizer};
use nib_text::syntax::{self, Language, Syntax};

#[derive(Debug, Serialize)]
pub struct ContextReport {
    pub n_lines: usize,
    pub parse_ms: f64,
    pub reparse_ms_median: f64,
    /// Tokenizing the prefix and suffix windows.
    pub window_ms_median: f64,
    /// Gathering context and fitting it with the template around the window.
    pub context_ms_median: f64,
    pub context_ms_p95: f64,
    /// The most prompt tokens any run used, and the budget.
    pub n_tokens_max: usize,
    pub n_context_tokens_median: f64,
    pub budget: usize,
}

/// A Python module of `n_lines` lines: imports, classes, functions calling earlier ones.
pub fn synthetic_python(n_lines: usize) -> String {
    let mut lines =
        vec!["import os".to_owned(), "import sys".into(), "from collections import defaultdict".into(), "".into()];
    for i in 0usize.. {
        if lines.len() >= n_lines {
            break;
        }
        let previous = i.saturating_sub(1);
        lines.extend([
            format!("class Store{i}:"),
            "    def __init__(self, size):".into(),
            "        self.size = size".into(),
            "        self.items = defaultdict(list)".into(),
            "".into(),
            "    def add(self, key, value):".into(),
            "        self.items[key].append(value)".into(),
            "        return len(self.items[key])".into(),
            "".into(),
            "".into(),
            format!("def helper_{i}(values, store):"),
            "    total = 0".into(),
            "    for v in values:".into(),
            format!("        total += store.add(v, helper_{previous}(values, store))"),
            "    return total".into(),
            "".into(),
            "".into(),
        ]);
    }
    lines.truncate(n_lines);
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Times parsing and `n_runs` prompt builds at cursors spread over the file.
pub fn context(
    tokenizer: &dyn Tokenizer,
    template: &Template,
    text: &str,
    language: Language,
    budget: Budget,
    n_runs: usize,
) -> ContextReport {
    let rope = Rope::from_str(text);
    let started = Instant::now();
    let parsed = Syntax::parse(language, &rope);
    let parse_ms = ms(started);
    let uri = "file:///bench/large.py";
    let workspace = Workspace::default();
    workspace.observe(uri, &rope, parsed.as_ref(), 0);
    let n_lines = rope.len_lines();
    let (mut reparse, mut window_ms, mut context_ms, mut n_context) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut n_tokens_max = 0;
    for run in 0..n_runs {
        let line = (run * 7919) % n_lines.max(1);
        let cursor = rope.line_to_char(line) + nib_text::documents::position::line_len_chars(&rope, line);
        // A keystroke's worth of reparsing, the tree cloned so every run starts from the same text.
        if let Some(syntax) = &parsed {
            let mut edited = syntax.clone();
            let mut typed = rope.clone();
            edited.edit(&syntax::input_edit(&typed, cursor, cursor, "x"));
            typed.insert(cursor, "x");
            let started = Instant::now();
            let _ = edited.reparse(&typed);
            reparse.push(ms(started));
        }
        // The window alone, then all of it: what context adds is the difference.
        let started = Instant::now();
        let Ok(window) = prompt::window(tokenizer, template, &rope, cursor, budget, None) else { continue };
        let window_done = Instant::now();
        let context = workspace.gather(&context::Request {
            key: uri,
            rope: &rope,
            syntax: parsed.as_ref(),
            cursor,
            window: window.prefix_start..window.suffix_end,
        });
        let built = prompt::assemble(tokenizer, template, window, &context, budget);
        window_ms.push((window_done - started).as_secs_f64() * 1000.0);
        context_ms.push(ms(window_done));
        n_tokens_max = n_tokens_max.max(built.tokens.len());
        n_context.push(built.n_context_tokens as f64);
    }
    ContextReport {
        n_lines,
        parse_ms,
        reparse_ms_median: quantile(&reparse, 0.5),
        window_ms_median: quantile(&window_ms, 0.5),
        context_ms_median: quantile(&context_ms, 0.5),
        context_ms_p95: quantile(&context_ms, 0.95),
        n_tokens_max,
        n_context_tokens_median: quantile(&n_context, 0.5),
        budget: budget.n_tokens,
    }
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
