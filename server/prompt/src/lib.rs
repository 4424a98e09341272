//! From a document snapshot and a cursor to a token-budgeted prompt. Pure: the
//! tokenizer comes in as a trait, so prompts for any vocabulary (a FIM model's
//! included) are built and tested without a model.
//!
//! Invariants: a prompt never exceeds its token budget; windows start and end
//! at line boundaries unless a single line is over budget; document text is
//! tokenized without parsing special tokens, so code cannot inject control tokens.

pub mod template;

use ropey::Rope;

pub mod context;

pub use nib_vocab::{Special, TokenId, Tokenizer};
pub use template::{Part, Template, TemplateError, label};

use crate::context::Context;

/// How many tokens the prompt may take, and how they are shared.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub n_tokens: usize,
    pub suffix_percent: usize,
    /// The most tokens the suffix may take whatever its share: small while typing, since with a
    /// prefix-suffix-middle template every keystroke evaluates the suffix again.
    pub n_suffix_max: usize,
    /// Set aside for context whether or not it is all used, so the window holds still as context changes.
    pub n_context_tokens: usize,
}

/// A prompt ready for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub tokens: Vec<TokenId>,
    pub n_prefix_tokens: usize,
    pub n_suffix_tokens: usize,
    pub n_context_tokens: usize,
    /// Char offset in the document where the prefix window starts.
    pub prefix_start: usize,
    /// The same prompt as text (control tokens spelled out), and its parts: for engines that take text.
    pub text: PromptText,
}

/// A prompt as text, for servers that tokenize it themselves; some lay out a fill-in-the-middle prompt
/// themselves from its parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptText {
    /// The whole prompt.
    pub text: String,
    /// The current file's text before the cursor (its preamble included) and after it.
    pub prefix: String,
    pub suffix: String,
    /// The context snippets of other files kept in the prompt, as (path, text).
    pub extra: Vec<(String, String)>,
    /// Whether the template fills in the middle (has a suffix).
    pub fills_middle: bool,
}

/// The text around the cursor that fits the budget, tokenized.
#[derive(Debug, Clone)]
pub struct Window {
    /// Char offsets: the prefix is `prefix_start..cursor`, the suffix `cursor..suffix_end`.
    pub prefix_start: usize,
    pub suffix_end: usize,
    prefix: Span,
    suffix: Span,
    n_fixed: usize,
    /// The tokens the prefix may take: what the budget leaves it.
    n_prefix_max: usize,
}

impl Window {
    pub fn prefix_text(&self) -> &str {
        &self.prefix.text
    }

    pub fn suffix_text(&self) -> &str {
        &self.suffix.text
    }

    /// Replaces the window's text (a plugin's edit), kept within the budget: the prefix within its share (cut
    /// at its start), the suffix within the tokens it had (cut at its end).
    pub fn replace(&mut self, tokenizer: &dyn Tokenizer, prefix: String, suffix: String) {
        if prefix != self.prefix.text {
            self.prefix = Span::of(tokenizer, prefix).keep(self.n_prefix_max, true);
        }
        if suffix != self.suffix.text {
            let n = self.suffix.tokens.len();
            self.suffix = Span::of(tokenizer, suffix).keep(n, false);
        }
    }
}

/// Part of the document, tokenized.
#[derive(Debug, Clone, Default)]
struct Span {
    tokens: Vec<TokenId>,
    /// Its text; for a line cut by tokens, the same share of its chars.
    text: String,
}

impl Span {
    /// `text` with its lines ending in `\n`: a file with `\r\n` (Windows') prompts the model as the same file with
    /// `\n` would, as the code it was trained on mostly is; the suggestion gets the document's line ends back.
    fn of(tokenizer: &dyn Tokenizer, text: String) -> Span {
        let text = if text.contains("\r\n") { text.replace("\r\n", "\n") } else { text };
        Span { tokens: tokenizer.tokenize(&text, false), text }
    }

    /// Keeps `n` tokens at its start or its end.
    fn keep(mut self, n: usize, at_end: bool) -> Span {
        let (n_tokens, n_chars) = (self.tokens.len(), self.text.chars().count());
        if n >= n_tokens {
            return self;
        }
        let n_keep_chars = n_chars * n / n_tokens.max(1);
        self.text = if at_end {
            self.tokens.drain(..n_tokens - n);
            self.text.chars().skip(n_chars - n_keep_chars).collect()
        } else {
            self.tokens.truncate(n);
            self.text.chars().take(n_keep_chars).collect()
        };
        self
    }
}

/// An upper bound on chars per token for code, used only to bound how much text is tokenized.
const MAX_CHARS_PER_TOKEN: usize = 8;
/// A window cut by the budget starts at a multiple of this many lines.
const ANCHOR_LINES: usize = 16;
/// The same for a window that anchoring to `ANCHOR_LINES` would cut by more than half.
const SHORT_ANCHOR_LINES: usize = 4;
/// The same, in characters, for a line too long for the window.
const ANCHOR_CHARS: usize = 256;

/// The prompt for a cursor at char offset `cursor` of `rope`, without context.
pub fn build(
    tokenizer: &dyn Tokenizer,
    template: &Template,
    rope: &Rope,
    cursor: usize,
    budget: Budget,
) -> Result<Prompt, TemplateError> {
    let window = window(tokenizer, template, rope, cursor, budget, None)?;
    Ok(assemble(tokenizer, template, window, &Context::default(), budget))
}

/// The prefix and suffix windows: what the budget leaves after the template's own tokens and the context's share.
/// `hold`: a line where the document's previous prompt started. The window keeps that start while the text from
/// there fits the budget and fills at least a quarter of it: a jump within the window then finds its whole prefix
/// in the KV cache, where a window moved with the cursor would be evaluated again (seconds on a CPU).
pub fn window(
    tokenizer: &dyn Tokenizer,
    template: &Template,
    rope: &Rope,
    cursor: usize,
    budget: Budget,
    hold: Option<usize>,
) -> Result<Window, TemplateError> {
    let cursor = cursor.min(rope.len_chars());
    template.check(tokenizer)?;
    let n_literal: usize = template
        .parts
        .iter()
        .map(|p| match p {
            Part::Text(text) => tokenizer.tokenize(text, true).len(),
            Part::Special(_) => 1,
            _ => 0,
        })
        .sum();
    let n_fixed = n_literal + usize::from(tokenizer.bos().is_some());
    let available = budget.n_tokens.saturating_sub(n_fixed + budget.n_context_tokens);
    let n_suffix_share = if template.uses_suffix() { available * budget.suffix_percent.min(100) / 100 } else { 0 };
    let (full_end, full) = suffix_window(tokenizer, rope, cursor, n_suffix_share);
    // The prefix may use what the suffix share leaves unused; it is sized by the whole share even when the
    // suffix is kept short, so that a short-suffix prompt (typing) and a whole-suffix one (asked, resting)
    // start at the same place and share the KV cache.
    let n_prefix = available - full.tokens.len();
    let (prefix_start, prefix) = match hold.and_then(|line| held_window(tokenizer, rope, cursor, n_prefix, line)) {
        Some(held) => held,
        None => prefix_window(tokenizer, rope, cursor, n_prefix),
    };
    let (suffix_end, suffix) = if full.tokens.len() > budget.n_suffix_max {
        suffix_window(tokenizer, rope, cursor, budget.n_suffix_max)
    } else {
        (full_end, full)
    };
    Ok(Window { prefix_start, suffix_end, prefix, suffix, n_fixed, n_prefix_max: n_prefix })
}

/// The whole prompt: the window, and as much context as its share of the budget holds, most important first.
pub fn assemble(
    tokenizer: &dyn Tokenizer,
    template: &Template,
    window: Window,
    context: &Context,
    budget: Budget,
) -> Prompt {
    let labelled = |text: String| Span { tokens: tokenizer.tokenize(&text, true), text };
    let file_label = if context.path.is_empty() {
        Span::default()
    } else {
        labelled(label(&template.current_file, &context.comment, &context.path).0)
    };
    let mut n_left = budget.n_context_tokens.saturating_sub(file_label.tokens.len());
    // Labels may hold control tokens; snippet text never does.
    let files: Vec<Span> = context
        .files
        .iter()
        .map(|s| {
            let (before, after) = label(&template.context_file, &context.comment, &s.path);
            let (mut span, body) = (labelled(before), Span::of(tokenizer, s.text.clone()));
            span.tokens.extend(body.tokens);
            span.tokens.extend(tokenizer.tokenize(&after, true));
            span.text = [span.text.as_str(), &body.text, &after].concat();
            span
        })
        .collect();
    let preamble: Vec<Span> = context.preamble.iter().map(|s| Span::of(tokenizer, s.text.clone())).collect();
    // Keep snippets by rank within the budget, then lay them out in their own order.
    let mut order: Vec<(u32, bool, usize)> = (context.files.iter().enumerate().map(|(i, s)| (s.rank, true, i)))
        .chain(context.preamble.iter().enumerate().map(|(i, s)| (s.rank, false, i)))
        .collect();
    order.sort_by_key(|&(rank, _, _)| rank);
    let (mut keep_files, mut keep_preamble) = (vec![false; files.len()], vec![false; preamble.len()]);
    for (_, is_file, i) in order {
        let (span, keep) =
            if is_file { (&files[i], &mut keep_files[i]) } else { (&preamble[i], &mut keep_preamble[i]) };
        if span.tokens.len() <= n_left {
            n_left -= span.tokens.len();
            *keep = true;
        }
    }
    let kept = |all: &[Span], keep: &[bool]| -> Span {
        all.iter().zip(keep).filter(|(_, k)| **k).fold(Span::default(), |mut out, (span, _)| {
            out.tokens.extend_from_slice(&span.tokens);
            out.text.push_str(&span.text);
            out
        })
    };
    let (context_span, preamble_span) = (kept(&files, &keep_files), kept(&preamble, &keep_preamble));
    let n_context_tokens = file_label.tokens.len() + context_span.tokens.len() + preamble_span.tokens.len();
    let extra = (context.files.iter().zip(&keep_files).filter(|(_, k)| **k))
        .map(|(s, _)| (s.path.clone(), s.text.clone()))
        .collect();
    let mut text = PromptText {
        prefix: [preamble_span.text.as_str(), &window.prefix.text].concat(),
        suffix: window.suffix.text.clone(),
        extra,
        text: String::new(),
        fills_middle: template.uses_suffix(),
    };

    let n_window = window.prefix.tokens.len() + window.suffix.tokens.len();
    let mut out =
        Span { tokens: Vec::with_capacity(window.n_fixed + n_context_tokens + n_window), text: String::new() };
    let mut push = |tokens: &[TokenId], text: &str| {
        out.tokens.extend_from_slice(tokens);
        out.text.push_str(text);
    };
    if let Some(bos) = tokenizer.bos() {
        push(&[bos], &tokenizer.detokenize(&[bos]));
    }
    for part in &template.parts {
        match part {
            Part::Text(text) => push(&tokenizer.tokenize(text, true), text),
            Part::Special(s) => {
                if let Some(token) = tokenizer.special(*s) {
                    push(&[token], &tokenizer.detokenize(&[token]));
                }
            }
            Part::Context => push(&context_span.tokens, &context_span.text),
            Part::File => push(&file_label.tokens, &file_label.text),
            Part::Prefix => {
                push(&preamble_span.tokens, &preamble_span.text);
                push(&window.prefix.tokens, &window.prefix.text);
            }
            Part::Suffix => push(&window.suffix.tokens, &window.suffix.text),
        }
    }
    text.text = out.text;
    Prompt {
        tokens: out.tokens,
        n_prefix_tokens: window.prefix.tokens.len(),
        n_suffix_tokens: window.suffix.tokens.len(),
        n_context_tokens,
        prefix_start: window.prefix_start,
        text,
    }
}

/// Whole lines above the cursor plus the cursor line up to the cursor, within `n_max` tokens.
fn prefix_window(tokenizer: &dyn Tokenizer, rope: &Rope, cursor: usize, n_max: usize) -> (usize, Span) {
    let cursor_line = rope.char_to_line(cursor);
    let earliest = cursor.saturating_sub(n_max * MAX_CHARS_PER_TOKEN);
    // A cursor line longer than the window (minified code) is cut by characters before it is tokenized, at a
    // multiple of `ANCHOR_CHARS` so the window's start holds still while typing.
    let cut = earliest.next_multiple_of(ANCHOR_CHARS).min(cursor);
    let tokens_from = |line: usize| {
        let start = rope.line_to_char(line);
        let start = if start < earliest { cut } else { start };
        (start, Span::of(tokenizer, rope.slice(start..cursor).to_string()))
    };
    let mut line = rope.char_to_line(earliest);
    if rope.line_to_char(line) < earliest {
        line = (line + 1).min(cursor_line);
    }
    loop {
        let (start, span) = tokens_from(line);
        if span.tokens.len() <= n_max {
            // Anchor a cut window to a stable line, so the prompt's start (and the KV cache
            // behind it) stays put while the cursor moves within a region. A window of fewer than ~32 lines (a
            // cold place's short window) would lose more than half of them: it anchors to fewer lines.
            let keeps_half = |anchor: usize| (line.next_multiple_of(anchor) - line) * 2 <= cursor_line - line;
            let anchor = if keeps_half(ANCHOR_LINES) { ANCHOR_LINES } else { SHORT_ANCHOR_LINES };
            let anchored = line.next_multiple_of(anchor);
            if line > 0 && anchored != line && anchored < cursor_line {
                return tokens_from(anchored);
            }
            return (start, span);
        }
        if line == cursor_line {
            // One line over budget: its end, nearest the cursor.
            return long_line_window(tokenizer, rope, (start, span), cursor, n_max);
        }
        // Drop lines in proportion to the excess, at least one.
        let excess = (span.tokens.len() - n_max) as f64 / span.tokens.len() as f64;
        let n_drop = ((cursor_line - line) as f64 * excess).ceil().max(1.0) as usize;
        line = (line + n_drop).min(cursor_line);
    }
}

/// The end of a line (from `start` to the cursor, over `n_max` tokens) that fits `n_max` tokens, starting at a
/// multiple of `ANCHOR_CHARS`: the start then holds still while the user types (minified code), and the KV cache
/// behind it is reused, where a window kept by tokens from the cursor would move at every keystroke and be
/// evaluated again.
fn long_line_window(
    tokenizer: &dyn Tokenizer,
    rope: &Rope,
    (mut start, mut span): (usize, Span),
    cursor: usize,
    n_max: usize,
) -> (usize, Span) {
    while span.tokens.len() > n_max {
        // Drop chars in proportion to the excess tokens, at least an anchor's worth.
        let n_chars = cursor - start;
        let n_drop = (n_chars * (span.tokens.len() - n_max)).div_ceil(span.tokens.len());
        let next = (start + n_drop.max(1)).next_multiple_of(ANCHOR_CHARS);
        if next >= cursor {
            // The budget holds less than an anchor's worth of chars.
            return (start, span.keep(n_max, true));
        }
        start = next;
        span = Span::of(tokenizer, rope.slice(start..cursor).to_string());
    }
    (start, span)
}

/// The text from the start of `line` to the cursor, if it fits `n_max` tokens and fills at least a quarter of
/// them (or starts the file).
fn held_window(
    tokenizer: &dyn Tokenizer,
    rope: &Rope,
    cursor: usize,
    n_max: usize,
    line: usize,
) -> Option<(usize, Span)> {
    let start = rope.try_line_to_char(line).ok().filter(|&start| start <= cursor)?;
    // More chars than this are more tokens than `n_max`: not worth tokenizing.
    if cursor - start > n_max * MAX_CHARS_PER_TOKEN {
        return None;
    }
    let span = Span::of(tokenizer, rope.slice(start..cursor).to_string());
    let n = span.tokens.len();
    (n <= n_max && (line == 0 || 4 * n >= n_max)).then_some((start, span))
}

/// Text after the cursor up to a line end, within `n_max` tokens, and where it ends.
fn suffix_window(tokenizer: &dyn Tokenizer, rope: &Rope, cursor: usize, n_max: usize) -> (usize, Span) {
    if n_max == 0 {
        return (cursor, Span::default());
    }
    let cursor_line = rope.char_to_line(cursor);
    let latest = (cursor + n_max * MAX_CHARS_PER_TOKEN).min(rope.len_chars());
    let mut end_line = rope.char_to_line(latest);
    loop {
        let end = if end_line + 1 < rope.len_lines() { rope.line_to_char(end_line + 1) } else { rope.len_chars() };
        // Long lines (minified code) are cut by characters, or left out, before anything is tokenized.
        let end = match end_line == cursor_line {
            true => end.min(latest),
            false if end - cursor > 2 * n_max * MAX_CHARS_PER_TOKEN => {
                end_line -= 1;
                continue;
            }
            false => end,
        };
        let span = Span::of(tokenizer, rope.slice(cursor..end.max(cursor)).to_string());
        if span.tokens.len() <= n_max {
            return (end.max(cursor), span);
        }
        if end_line == cursor_line {
            return (end.max(cursor), span.keep(n_max, false));
        }
        let excess = (span.tokens.len() - n_max) as f64 / span.tokens.len() as f64;
        let n_drop = ((end_line - cursor_line) as f64 * excess).ceil().max(1.0) as usize;
        end_line = end_line.saturating_sub(n_drop).max(cursor_line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One token per char; specials are negative so they stand out. Remembers the longest text it was given.
    #[derive(Default)]
    struct CharTokenizer {
        fim: bool,
        longest: std::cell::Cell<usize>,
    }

    impl Tokenizer for CharTokenizer {
        fn tokenize(&self, text: &str, _: bool) -> Vec<TokenId> {
            self.longest.set(self.longest.get().max(text.len()));
            text.chars().map(|c| c as TokenId).collect()
        }
        fn special(&self, special: Special) -> Option<TokenId> {
            self.fim.then_some(match special {
                Special::FimPre => -2,
                Special::FimSuf => -3,
                Special::FimMid => -4,
            })
        }
        fn bos(&self) -> Option<TokenId> {
            Some(-1)
        }
        fn detokenize(&self, tokens: &[TokenId]) -> String {
            render(tokens)
        }
    }

    fn template(fim: bool) -> Template {
        Template::named(if fim { "psm" } else { "prefix-only" }).unwrap()
    }

    fn render(tokens: &[TokenId]) -> String {
        tokens
            .iter()
            .map(|&t| match t {
                -1 => "<BOS>".to_owned(),
                -2 => "<PRE>".to_owned(),
                -3 => "<SUF>".to_owned(),
                -4 => "<MID>".to_owned(),
                t => char::from_u32(t as u32).unwrap().to_string(),
            })
            .collect()
    }

    /// The prompt for `fixture`, where `$0` marks the cursor.
    fn prompt_at(fim: bool, template: &Template, n_tokens: usize, fixture: &str) -> Prompt {
        let cursor = fixture.find("$0").unwrap();
        let rope = Rope::from_str(&fixture.replace("$0", ""));
        let budget = Budget { n_tokens, suffix_percent: 25, n_suffix_max: usize::MAX, n_context_tokens: 0 };
        let tokenizer = CharTokenizer { fim, ..CharTokenizer::default() };
        build(&tokenizer, template, &rope, rope.byte_to_char(cursor), budget).unwrap()
    }

    fn check(fim: bool, n_tokens: usize, fixture: &str, expect: &str) {
        let prompt = prompt_at(fim, &template(fim), n_tokens, fixture);
        assert!(prompt.tokens.len() <= n_tokens, "{} tokens over a budget of {n_tokens}", prompt.tokens.len());
        assert_eq!(render(&prompt.tokens), expect);
        assert_eq!(prompt.text.text, expect, "the text is the tokens' text");
    }

    #[test]
    fn prefix_only_takes_the_text_above_the_cursor() {
        check(false, 100, "def f():\n    ret$0urn 1\n", "<BOS>def f():\n    ret");
    }

    #[test]
    fn fim_model_gets_prefix_suffix_middle() {
        check(true, 100, "a = 1\nb = $0\nc = 3\n", "<BOS><PRE>a = 1\nb = <SUF>\nc = 3\n<MID>");
    }

    #[test]
    fn the_prompt_keeps_its_parts_as_text_for_servers_that_lay_out_their_own() {
        let prompt = prompt_at(true, &template(true), 100, "a = 1\nb = $0\nc = 3\n");
        assert_eq!((prompt.text.prefix.as_str(), prompt.text.suffix.as_str()), ("a = 1\nb = ", "\nc = 3\n"));
        // A line cut by the budget keeps the same share of its chars as of its tokens.
        let prompt = prompt_at(true, &template(true), 20, &format!("{}$0", "x".repeat(100)));
        assert_eq!(prompt.text.prefix.len(), prompt.n_prefix_tokens);
    }

    #[test]
    fn a_crlf_file_prompts_as_the_same_file_with_lf() {
        let fixture = "a = 1\nb = $0\nc = 3\n";
        let crlf = fixture.replace('\n', "\r\n");
        for (fim, budget) in [(true, 100), (false, 100), (true, 9)] {
            let (lf, crlf) =
                (prompt_at(fim, &template(fim), budget, fixture), prompt_at(fim, &template(fim), budget, &crlf));
            assert_eq!(
                (render(&crlf.tokens), &crlf.text),
                (render(&lf.tokens), &lf.text),
                "fim {fim}, budget {budget}"
            );
        }
    }

    #[test]
    fn suffix_first_templates_change_only_the_end_as_the_user_types() {
        // (template, prompt, tokens kept when a char is typed at the cursor)
        let cases = [
            // llama.cpp's order: <MID> follows the prefix and moves.
            ("spm", "<BOS><SUF>\nc = 3\n<PRE>a = 1\nb = <MID>", 1),
            // The order StarCoder and Code Llama were trained with: the prefix ends the prompt.
            ("codellama", "<BOS><PRE><SUF>\nc = 3\n<MID> a = 1\nb = ", 0),
        ];
        for (name, expect, n_moved) in cases {
            let template = Template::named(name).unwrap();
            let prompt = |fixture: &str| prompt_at(true, &template, 100, fixture).tokens;
            let before = prompt("a = 1\nb = $0\nc = 3\n");
            assert_eq!(render(&before), expect, "{name}");
            assert!(!template.suffix_follows_prefix(), "{name}");
            let after = prompt("a = 1\nb = 2$0\nc = 3\n");
            let common = before.iter().zip(&after).take_while(|(x, y)| x == y).count();
            assert_eq!(common, before.len() - n_moved, "{name}: {}", render(&after));
        }
    }

    #[test]
    fn a_short_suffix_while_typing_keeps_the_prefix_where_the_whole_suffix_puts_it() {
        let text: String = (0..200).map(|i| format!("x{i} = {i}\n")).collect();
        let rope = Rope::from_str(&text);
        let cursor = rope.line_to_char(150) + 2;
        let window = |n_suffix_max| {
            let budget = Budget { n_tokens: 400, suffix_percent: 25, n_suffix_max, n_context_tokens: 0 };
            super::window(
                &CharTokenizer { fim: true, ..CharTokenizer::default() },
                &template(true),
                &rope,
                cursor,
                budget,
                None,
            )
            .unwrap()
        };
        let (typing, resting) = (window(12), window(usize::MAX));
        assert_eq!(typing.prefix_start, resting.prefix_start);
        assert_eq!(typing.prefix.tokens, resting.prefix.tokens);
        assert!(
            typing.suffix.tokens.len() <= 12 && resting.suffix.tokens.len() > 50,
            "{} {}",
            typing.suffix.tokens.len(),
            resting.suffix.tokens.len()
        );
    }

    #[test]
    fn windows_drop_whole_lines_to_fit_the_budget() {
        // 4 fixed tokens; 16 left; suffix gets 4, so at most "\nc\n" fits there.
        check(true, 20, "line1\nline2\nline3\nx = $0\nc\nd\ne\n", "<BOS><PRE>line3\nx = <SUF>\nc\n<MID>");
    }

    #[test]
    fn a_single_long_line_keeps_the_text_nearest_the_cursor() {
        check(false, 6, "abcdefghij$0", "<BOS>fghij");
        // Longer than an anchor: the window starts at one, as near the cursor's as fits.
        let line = "x".repeat(3 * ANCHOR_CHARS + 10);
        check(false, 2 * ANCHOR_CHARS, &format!("{line}$0"), &format!("<BOS>{}", &line[2 * ANCHOR_CHARS..]));
    }

    #[test]
    fn a_megabyte_line_is_cut_by_characters_before_it_is_tokenized() {
        // Minified code: one line of 2 MB, the cursor in its middle, then a line that is as long.
        let line = "var a=1;".repeat(256 * 1024);
        let rope = Rope::from_str(&format!("{line}{line}\n{line}\n"));
        let tokenizer = CharTokenizer { fim: true, ..CharTokenizer::default() };
        let budget = Budget { n_tokens: 1000, suffix_percent: 25, n_suffix_max: usize::MAX, n_context_tokens: 0 };
        let prompt = build(&tokenizer, &template(true), &rope, line.len(), budget).unwrap();
        assert!(prompt.tokens.len() <= 1000);
        assert!(tokenizer.longest.get() <= 1000 * MAX_CHARS_PER_TOKEN, "{} bytes tokenized", tokenizer.longest.get());
        // Typing moves the cut only at multiples of `ANCHOR_CHARS`: the prompt's start, and the KV cache behind it,
        // hold while the user types.
        assert!(prompt.prefix_start.is_multiple_of(ANCHOR_CHARS), "{}", prompt.prefix_start);
        let moved = build(&tokenizer, &template(true), &rope, line.len() + 3, budget).unwrap();
        assert_eq!(moved.prefix_start, prompt.prefix_start);
        let n_prefix = line.len() - prompt.prefix_start;
        assert_eq!(moved.tokens[..n_prefix], prompt.tokens[..n_prefix], "the prompt's start moved");
    }

    #[test]
    fn a_fim_template_on_a_model_without_fim_tokens_is_an_error() {
        let rope = Rope::from_str("x");
        let budget = Budget { n_tokens: 10, suffix_percent: 25, n_suffix_max: usize::MAX, n_context_tokens: 0 };
        let err = build(&CharTokenizer { fim: false, ..CharTokenizer::default() }, &template(true), &rope, 1, budget)
            .unwrap_err();
        assert!(matches!(err, TemplateError::MissingToken { .. }));
    }

    #[test]
    fn the_window_start_stays_put_while_the_cursor_moves_nearby() {
        let text: String = (0..2000).map(|i| format!("let x{i} = {i};\n")).collect();
        let rope = Rope::from_str(&text);
        let template = template(false);
        let starts = |n_tokens| -> std::collections::BTreeSet<usize> {
            let budget = Budget { n_tokens, suffix_percent: 25, n_suffix_max: usize::MAX, n_context_tokens: 0 };
            let tokenizer = CharTokenizer { fim: false, ..CharTokenizer::default() };
            (1000..1010)
                .map(|line| build(&tokenizer, &template, &rope, rope.line_to_char(line) + 3, budget).unwrap())
                .map(|prompt| rope.char_to_line(prompt.prefix_start))
                .collect()
        };
        let whole = starts(1000);
        assert!(whole.len() <= 2, "{whole:?}");
        assert!(whole.iter().all(|s| s.is_multiple_of(ANCHOR_LINES)), "{whole:?}");
        // A short window (~19 lines) keeps most of its lines: it anchors to 4.
        let short = starts(400);
        assert!(short.iter().all(|s| s.is_multiple_of(SHORT_ANCHOR_LINES) && (968..1000).contains(s)), "{short:?}");
        assert!(short.len() <= 3, "{short:?}");
    }

    #[test]
    fn a_jump_up_keeps_the_previous_start_while_it_fills_a_quarter_of_the_budget() {
        // 18 chars a line, 999 tokens for the prefix: a window holds 55 lines, a quarter of it 14.
        let text: String = (0..2000).map(|i| format!("let x{i:05} = {:03};\n", i % 1000)).collect();
        let rope = Rope::from_str(&text);
        let budget = Budget { n_tokens: 1000, suffix_percent: 25, n_suffix_max: usize::MAX, n_context_tokens: 0 };
        let tokenizer = CharTokenizer::default();
        let window = |line: usize, hold| {
            super::window(&tokenizer, &template(false), &rope, rope.line_to_char(line), budget, hold).unwrap()
        };
        let typed = window(1000, None);
        let held = rope.char_to_line(typed.prefix_start);
        // (cursor line, whether the window keeps the held start)
        let cases = [
            (1000, true),
            (held + 14, true),
            (held + 13, false),
            (held + 55, true),
            (held + 56, false),
            (held - 1, false),
        ];
        for (line, keeps) in cases {
            let jumped = window(line, Some(held));
            assert_eq!(jumped.prefix_start == typed.prefix_start, keeps, "cursor on line {line}");
            assert!(jumped.prefix.tokens.len() < 1000);
            if keeps {
                // Above the old cursor the whole prefix is in the KV cache; below it, the old one is.
                let n = jumped.prefix.tokens.len().min(typed.prefix.tokens.len());
                assert_eq!(jumped.prefix.tokens[..n], typed.prefix.tokens[..n], "cursor on line {line}");
            }
        }
        assert_eq!(window(3, Some(0)).prefix_start, 0, "the file's start holds however short");
    }

    #[test]
    fn budget_holds_for_a_large_file() {
        let text: String = (0..20_000).map(|i| format!("let x{i} = {i};\n")).collect();
        let rope = Rope::from_str(&text);
        let budget = Budget { n_tokens: 1536, suffix_percent: 25, n_suffix_max: usize::MAX, n_context_tokens: 0 };
        let cursor = rope.line_to_char(10_000) + 4;
        let prompt =
            build(&CharTokenizer { fim: true, ..CharTokenizer::default() }, &template(true), &rope, cursor, budget)
                .unwrap();
        assert!(prompt.tokens.len() <= 1536);
        // Anchoring gives up at most 15 lines of the window.
        assert!(prompt.n_prefix_tokens > 900, "{}", prompt.n_prefix_tokens);
    }

    #[test]
    fn a_plugin_s_edit_of_the_window_keeps_the_budget() {
        let text: String = (0..2_000).map(|i| format!("let x{i} = {i};\n")).collect();
        let rope = Rope::from_str(&text);
        let budget = Budget { n_tokens: 512, suffix_percent: 25, n_suffix_max: usize::MAX, n_context_tokens: 0 };
        let tokenizer = CharTokenizer { fim: true, ..CharTokenizer::default() };
        let cursor = rope.line_to_char(1_000);
        let mut window = window(&tokenizer, &template(true), &rope, cursor, budget, None).unwrap();
        let (prefix, suffix) = (window.prefix_text().repeat(3), window.suffix_text().repeat(3));
        window.replace(&tokenizer, prefix.clone(), suffix.clone());
        // Grown parts are cut where they are farthest from the cursor.
        assert!(prefix.ends_with(window.prefix_text()) && suffix.starts_with(window.suffix_text()));
        let prompt = assemble(&tokenizer, &template(true), window, &Context::default(), budget);
        assert!(prompt.tokens.len() <= 512, "{}", prompt.tokens.len());
    }
}
