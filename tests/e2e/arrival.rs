//! Requests answer for the document as it was when they arrived (docs/lsp-extensions.md, "Latency behaviour").
//!
//! A property test over stdio against the real `nib serve`: a seeded stream of `didChange` notifications (single
//! changes and batches of several; lines deleted, inserted, split and joined; CRLF and LF; characters outside
//! ASCII and the BMP; now and then the whole text) sent back to back, with requests about the document as it
//! stands after the last edit sent (inline and classic completion, next edits in both shapes, code actions)
//! interleaved without waiting for their answers. Every request answers exactly once and never with an error (each
//! position was valid when it was sent); what an answer places is placed in the text it was asked about; the
//! server's copy matches the reference at the end. Run in both position encodings. `NIB_ARRIVAL_SEED` and
//! `NIB_ARRIVAL_STEPS` explore further.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nib_bench::SplitMix;
use serde_json::{Value, json};

use crate::support::{init_with, model_path, serve, shut_down, stdlib_file, wait_ready};

const URI: &str = "file:///work/arrival.py";
const SEED: u64 = 0x6172_7269_7661_6c31;
/// Edit batches per run: a couple of seconds per encoding on two busy cores.
const N_STEPS: usize = 300;
/// The model is not what is tested: automatic requests wait for it only briefly, and nothing runs ahead.
const OPTIONS: &str = r#"{"completion": {"deadline_ms": 20, "partial_after_ms": 0, "prefetch": false,
    "max_tokens": 8, "n_prompt_tokens": 512}}"#;

#[derive(Clone, Copy, Debug)]
enum Encoding {
    Utf16,
    Utf8,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Utf16 => "utf-16",
            Encoding::Utf8 => "utf-8",
        }
    }

    fn units(self, text: &str) -> usize {
        match self {
            Encoding::Utf16 => text.encode_utf16().count(),
            Encoding::Utf8 => text.len(),
        }
    }
}

/// The document as the client holds it: a plain string, edited with positions in whole chars. Lines end with
/// `\n` or `\r\n`; edits never split a `\r\n`, so no lone `\r` ever appears.
struct Reference {
    text: String,
    version: i32,
    encoding: Encoding,
}

impl Reference {
    /// Each line's content as a byte range (its end excluded).
    fn lines(&self) -> Vec<(usize, usize)> {
        let bytes = self.text.as_bytes();
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                let end = if i > start && bytes[i - 1] == b'\r' { i - 1 } else { i };
                lines.push((start, end));
                start = i + 1;
            }
        }
        lines.push((start, bytes.len()));
        lines
    }

    fn content(&self, line: usize) -> &str {
        let (start, end) = self.lines()[line];
        &self.text[start..end]
    }

    fn n_chars(&self, line: usize) -> usize {
        self.content(line).chars().count()
    }

    /// The byte offset of a line and a char column within its content.
    fn offset(&self, line: usize, col: usize) -> usize {
        let (start, end) = self.lines()[line];
        start + self.text[start..end].char_indices().nth(col).map_or(end - start, |(i, _)| i)
    }

    /// A line and a char column in the protocol's terms.
    fn position(&self, line: usize, col: usize) -> Value {
        let prefix: String = self.content(line).chars().take(col).collect();
        json!({"line": line, "character": self.encoding.units(&prefix)})
    }

    /// Whether an LSP position names a place in the text (a column on a char boundary within its line).
    fn holds(&self, position: &Value) -> bool {
        let (Some(line), Some(units)) = (position["line"].as_u64(), position["character"].as_u64()) else {
            return false;
        };
        let lines = self.lines();
        let Some(&(start, end)) = lines.get(line as usize) else { return false };
        let content = &self.text[start..end];
        (0..=content.chars().count()).any(|col| {
            let prefix: String = content.chars().take(col).collect();
            self.encoding.units(&prefix) == units as usize
        })
    }

    /// Replaces the text between two (line, char column) places; returns the change as the protocol sends it.
    fn replace(&mut self, from: (usize, usize), to: (usize, usize), text: &str) -> Value {
        let range = json!({"start": self.position(from.0, from.1), "end": self.position(to.0, to.1)});
        let (start, end) = (self.offset(from.0, from.1), self.offset(to.0, to.1));
        self.text.replace_range(start..end, text);
        json!({"range": range, "text": text})
    }

    fn end(&self) -> (usize, usize) {
        let last = self.lines().len() - 1;
        (last, self.n_chars(last))
    }
}

const WORDS: &[&str] = &["x", "total", "é", "naïve", "中文", "😀", "𝕏", "= 1", "(a, b)", "  ", "return", "width"];

fn word(rng: &mut SplitMix) -> String {
    (0..1 + rng.below(3)).map(|_| *rng.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

fn line_end(rng: &mut SplitMix) -> &'static str {
    if rng.percent(40) { "\r\n" } else { "\n" }
}

/// One change against the reference as it stands, applied to it; mostly deletions while the text is long.
fn change(rng: &mut SplitMix, doc: &mut Reference) -> Value {
    let n_lines = doc.lines().len();
    // Deletions outweigh insertions while the text is long: it shrinks from hundreds of lines to dozens.
    let deletions = if n_lines > 60 { 45 } else { 15 };
    let line = rng.below(n_lines);
    let col = rng.below(doc.n_chars(line) + 1);
    match rng.below(100) {
        // Whole lines deleted: from a line's start to a later line's start.
        n if n < deletions && n_lines > 1 => {
            let line = rng.below(n_lines - 1);
            let to = (line + 1 + rng.below(6)).min(n_lines - 1);
            doc.replace((line, 0), (to, 0), "")
        }
        // Lines inserted at a line's start.
        n if n < 60 => {
            let text: String = (0..1 + rng.below(3)).map(|_| format!("    {}{}", word(rng), line_end(rng))).collect();
            doc.replace((line, 0), (line, 0), &text)
        }
        // Words typed or replaced within a line.
        n if n < 75 => {
            let to = col + rng.below(doc.n_chars(line) - col + 1).min(4);
            doc.replace((line, col), (line, to), &word(rng))
        }
        // A line split, or joined with the next.
        n if n < 85 => doc.replace((line, col), (line, col), line_end(rng)),
        _ if line + 1 < n_lines => {
            let len = doc.n_chars(line);
            doc.replace((line, len), (line + 1, 0), "")
        }
        // A deletion that runs to the end of the text.
        _ => {
            let end = doc.end();
            doc.replace((line, col), end, "")
        }
    }
}

/// A request's method and params about the reference as it stands.
fn request(rng: &mut SplitMix, doc: &Reference) -> (&'static str, Value) {
    let lines = doc.lines().len();
    // Mostly where an editor asks: the end of the text (the cursor after the last edit), or its last lines.
    let (line, col) = match rng.below(10) {
        0..=3 => doc.end(),
        4..=6 => {
            let line = lines - 1 - rng.below(lines.min(8));
            (line, rng.below(doc.n_chars(line) + 1))
        }
        _ => {
            let line = rng.below(lines);
            (line, rng.below(doc.n_chars(line) + 1))
        }
    };
    let position = doc.position(line, col);
    let document = json!({"uri": URI});
    let versioned = json!({"uri": URI, "version": doc.version});
    match rng.below(100) {
        n if n < 40 => {
            let trigger = if rng.percent(15) { 1 } else { 2 };
            let context = json!({"triggerKind": trigger});
            (
                "textDocument/inlineCompletion",
                json!({"textDocument": document, "position": position, "context": context}),
            )
        }
        n if n < 55 => ("textDocument/completion", json!({"textDocument": document, "position": position})),
        n if n < 75 => ("nib/nextEdits", json!({"textDocument": document, "position": position})),
        n if n < 90 => ("textDocument/copilotInlineEdit", json!({"textDocument": versioned, "position": position})),
        _ => {
            let range = json!({"start": position, "end": position});
            let diagnostic = json!({"range": range, "message": "a finding", "source": "nib",
                "data": {"replacement": "fixed"}});
            let context = json!({"diagnostics": [diagnostic]});
            ("textDocument/codeAction", json!({"textDocument": document, "range": range, "context": context}))
        }
    }
}

/// What a request was sent with: its method, its params, and the text they were about.
struct Sent {
    method: &'static str,
    params: Value,
    version: i32,
}

#[derive(Debug, Default)]
struct Counts {
    n_requests: usize,
    /// Code actions, answered at once: never superseded.
    n_code_actions: usize,
    n_non_empty: usize,
    n_empty: usize,
    n_errors: usize,
    /// Requests answered twice or more (no id may be).
    n_duplicates: usize,
}

/// Checks an answer against the text its request was about; `Ok(true)` when it proposes something.
fn check_answer(sent: &Sent, result: &Value, doc: &Reference) -> Result<bool, String> {
    let position = &sent.params["position"];
    let placed_at = |range: &Value, what: &str| {
        if doc.holds(&range["start"]) && doc.holds(&range["end"]) {
            Ok(())
        } else {
            Err(format!("{what} {range} is not in version {} it was asked about", sent.version))
        }
    };
    match sent.method {
        "textDocument/inlineCompletion" => {
            let items = result["items"].as_array().ok_or("no items")?;
            for item in items {
                let range = &item["range"];
                if (&range["start"], &range["end"]) != (position, position) {
                    return Err(format!("an item at {range}, asked at {position}"));
                }
            }
            Ok(!items.is_empty())
        }
        "textDocument/completion" => {
            let items = result.as_array().ok_or("not a list")?;
            for item in items {
                let range = &item["textEdit"]["range"];
                if &range["end"] != position {
                    return Err(format!("an item replacing {range}, asked at {position}"));
                }
                placed_at(range, "an item replacing")?;
            }
            Ok(!items.is_empty())
        }
        "nib/nextEdits" => {
            let edits = result["edits"].as_array().ok_or("no edits")?;
            let targets = result["targets"].as_array().ok_or("no targets")?;
            for edit in edits.iter().chain(targets).filter(|e| e["uri"] == URI) {
                placed_at(&edit["range"], "an edit of")?;
            }
            Ok(!edits.is_empty() || !targets.is_empty())
        }
        "textDocument/copilotInlineEdit" => {
            let edits = result["edits"].as_array().ok_or("no edits")?;
            for edit in edits.iter().filter(|e| e["textDocument"]["uri"] == URI) {
                if edit["textDocument"]["version"] != sent.version {
                    return Err(format!("an edit for version {}, asked at {}", edit["textDocument"], sent.version));
                }
                placed_at(&edit["range"], "an edit of")?;
            }
            Ok(!edits.is_empty())
        }
        "textDocument/codeAction" => {
            let actions = result.as_array().ok_or("no actions")?;
            let edit = &actions.first().ok_or("no quick fix")?["edit"]["changes"][URI][0];
            if edit["range"] != sent.params["range"] {
                return Err(format!("a quick fix of {}, asked for {}", edit["range"], sent.params["range"]));
            }
            Ok(true)
        }
        other => Err(format!("an answer to {other}")),
    }
}

/// Runs the stream in `encoding`; returns the counts and every problem found.
fn run(encoding: Encoding, seed: u64, n_steps: usize) -> (Counts, Option<Value>, Vec<String>) {
    let mut client = serve(&model_path());
    let capabilities = json!({"general": {"positionEncodings": [encoding.name()]}});
    let options: Value = serde_json::from_str(OPTIONS).expect("the options are JSON");
    let result = init_with(&mut client, capabilities, options);
    assert_eq!(result["capabilities"]["positionEncoding"], encoding.name(), "{result}");
    wait_ready(&mut client);
    // A real file, long enough that a parse takes a while, with CRLF on some lines and chars outside ASCII.
    let text: String = stdlib_file("textwrap.py")
        .lines()
        .enumerate()
        .map(|(i, line)| match i % 7 {
            0 => format!("{line}\r\n"),
            3 => format!("{line}  # é 中 😀\n"),
            _ => format!("{line}\n"),
        })
        .collect();
    let mut doc = Reference { text, version: 1, encoding };
    client.open(URI, "python", &doc.text).unwrap();
    let mut rng = SplitMix(seed);
    let mut sent: HashMap<i64, Sent> = HashMap::new();
    // The texts requests were about, by version.
    let mut texts: HashMap<i32, String> = HashMap::new();
    for _ in 0..n_steps {
        doc.version += 1;
        let changes: Vec<Value> = if rng.percent(2) {
            // The whole text, as some clients send it.
            doc.text = doc.text.replacen("def ", "def  ", 1);
            vec![json!({"text": doc.text})]
        } else {
            (0..if rng.percent(30) { 2 + rng.below(3) } else { 1 }).map(|_| change(&mut rng, &mut doc)).collect()
        };
        let params = json!({"textDocument": {"uri": URI, "version": doc.version}, "contentChanges": changes});
        client.notify("textDocument/didChange", params).unwrap();
        let n_requests = [0, 0, 1, 1, 2][rng.below(5)];
        for _ in 0..n_requests {
            let (method, params) = request(&mut rng, &doc);
            let id = client.request(method, params.clone()).unwrap();
            sent.insert(id, Sent { method, params, version: doc.version });
            texts.entry(doc.version).or_insert_with(|| doc.text.clone());
        }
        // Now and then the typist pauses after asking: some requests find their document still current.
        if n_requests > 0 && rng.percent(12) {
            std::thread::sleep(Duration::from_millis(60));
        }
    }
    let mut problems = Vec::new();
    let document = client.call("nib/document", json!({"uri": URI})).unwrap();
    if document["text"] != doc.text || document["version"] != doc.version {
        problems.push(format!("the server's document (version {}) is not the reference's", document["version"]));
    }
    let n_code_actions = sent.values().filter(|s| s.method == "textDocument/codeAction").count();
    let mut counts = Counts { n_requests: sent.len(), n_code_actions, ..Counts::default() };
    let until = Instant::now() + Duration::from_secs(60);
    let mut ids: Vec<i64> = sent.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let Ok(Some((_, response))) =
            client.wait_until(until, "an answer", |m| m["id"] == id && m.get("method").is_none())
        else {
            problems.push(format!("request {id} ({}) was never answered", sent[&id].method));
            continue;
        };
        let request = &sent[&id];
        if let Some(error) = response.get("error") {
            counts.n_errors += 1;
            problems.push(format!("{} at {} (version {}): {error}", request.method, request.params, request.version));
            continue;
        }
        let asked = Reference { text: texts[&request.version].clone(), version: request.version, encoding };
        match check_answer(request, &response["result"], &asked) {
            Ok(true) => counts.n_non_empty += 1,
            Ok(false) => counts.n_empty += 1,
            Err(problem) => problems.push(format!("{} (id {id}): {problem}", request.method)),
        }
    }
    // Anything answered twice has had time to arrive by the time the server answers one more request.
    let status = client.status().unwrap();
    counts.n_duplicates = client
        .drain()
        .iter()
        .filter(|m| m.get("method").is_none() && m["id"].as_i64().is_some_and(|id| sent.contains_key(&id)))
        .count();
    if counts.n_duplicates > 0 {
        problems.push(format!("{} answers to requests already answered", counts.n_duplicates));
    }
    shut_down(client);
    (counts, status.get("requests").cloned(), problems)
}

#[test]
fn requests_answer_for_the_document_they_arrived_at_in_both_encodings() {
    let seed = std::env::var("NIB_ARRIVAL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(SEED);
    let n_steps = std::env::var("NIB_ARRIVAL_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(N_STEPS);
    let mut failures = Vec::new();
    for encoding in [Encoding::Utf16, Encoding::Utf8] {
        let started = Instant::now();
        let (counts, requests, problems) = run(encoding, seed, n_steps);
        let n_superseded = requests.as_ref().map(|r| r["n_superseded"].clone()).unwrap_or(Value::Null);
        eprintln!(
            "{}: {} requests ({} code actions): {} superseded (nib/status), {} answered non-empty, {} empty, {} errors; \
             {:.1} s",
            encoding.name(),
            counts.n_requests,
            counts.n_code_actions,
            n_superseded,
            counts.n_non_empty,
            counts.n_empty,
            counts.n_errors,
            started.elapsed().as_secs_f64()
        );
        // Superseded requests answer empty, and the status counts them and nothing else. Not every request about a
        // position is superseded: the pauses leave some documents unchanged long enough for their requests.
        match n_superseded.as_u64() {
            Some(n) if n as usize <= counts.n_empty && (n as usize) < counts.n_requests - counts.n_code_actions => {}
            _ => failures.push(format!("{}: superseded {n_superseded}, {counts:?}", encoding.name())),
        }
        failures.extend(problems.into_iter().take(20).map(|p| format!("{}: {p}", encoding.name())));
    }
    assert!(failures.is_empty(), "seed {seed:#x}, {n_steps} steps:\n{}", failures.join("\n"));
}
