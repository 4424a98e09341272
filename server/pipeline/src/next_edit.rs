//! Next edits from a model: the document's recent edits (as diffs) and the region around the cursor go into a
//! prompt (`prompts/edit/*.toml`), the model rewrites the region, and the rewrite, diffed line by line against the
//! region, becomes edits. On for models trained for edit prediction (recognised by name), or when the user turns it
//! on; the model-free proposals (`nib_text::next_edit`) need no model at all.

use std::ops::Range;
use std::sync::LazyLock;

use ropey::Rope;
use serde::{Deserialize, Serialize};

use nib_engine::{
    CancelToken, Engine, EngineError, Event, GenerateRequest, ModelState, Priority, PriorityHandle, PromptText,
};

/// How the model path is used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelUse {
    /// On for models trained for edit prediction (a template names them), off for the rest.
    #[default]
    Auto,
    On,
    Off,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NextEditConfig {
    /// Whether the model proposes edits besides the exact ones (renames, changed calls).
    pub model: ModelUse,
    /// A template from `prompts/edit` (`zeta`, `instruct`); unset: the one trained for the model, else `instruct`.
    pub template: Option<String>,
    /// Lines on each side of the cursor the model may rewrite.
    pub lines_around: u32,
    /// Most tokens the model writes (the rewritten region).
    pub max_tokens: u32,
    /// The most recent edits the prompt shows.
    pub max_edits: u32,
    /// How long `nib/nextEdits` waits for the model's edits (its answer, the exact edits included, waits with it).
    pub timeout_ms: u64,
}

impl Default for NextEditConfig {
    fn default() -> NextEditConfig {
        NextEditConfig {
            model: ModelUse::Auto,
            template: None,
            lines_around: 8,
            max_tokens: 384,
            max_edits: 5,
            timeout_ms: 10_000,
        }
    }
}

/// A prompt format for edit prediction (`prompts/edit/*.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditTemplate {
    pub name: String,
    /// Lower-case pieces of the names of models trained on this format.
    pub models: Vec<String>,
    /// Laid out by the model's chat template (`system`, then `prompt` as the user's message), or sent as is.
    pub chat: bool,
    #[serde(default)]
    pub system: String,
    /// With `{edits}`, `{path}`, `{region}`, and `{cursor}`, `{region_start}`, `{region_end}` for the markers.
    pub prompt: String,
    /// One recent edit: `{path}`, `{diff}`.
    pub edit: String,
    pub region_start: String,
    pub region_end: String,
    pub cursor: String,
}

static TEMPLATES: LazyLock<Vec<EditTemplate>> = LazyLock::new(|| {
    [include_str!("../../../prompts/edit/zeta.toml"), include_str!("../../../prompts/edit/instruct.toml")]
        .iter()
        .map(|text| toml::from_str(text).expect("prompts/edit templates parse (a unit test checks them)"))
        .collect()
});

impl EditTemplate {
    pub fn named(name: &str) -> Option<&'static EditTemplate> {
        TEMPLATES.iter().find(|t| t.name == name)
    }

    /// The template a model was trained on, by its name.
    pub fn trained_for(model_name: &str) -> Option<&'static EditTemplate> {
        let name = model_name.to_lowercase();
        TEMPLATES.iter().find(|t| t.models.iter().any(|m| name.contains(m.as_str())))
    }

    /// The template the model path uses with `model_name`; `None`: the model path is off.
    pub fn choose(config: &NextEditConfig, model_name: &str) -> Option<&'static EditTemplate> {
        let configured = config.template.as_deref().and_then(EditTemplate::named);
        match config.model {
            ModelUse::Off => None,
            ModelUse::Auto => EditTemplate::trained_for(model_name).map(|trained| configured.unwrap_or(trained)),
            ModelUse::On => configured.or(EditTemplate::trained_for(model_name)).or(EditTemplate::named("instruct")),
        }
    }
}

/// The lines around the cursor the model may rewrite: their char range in the document, and their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub range: Range<usize>,
    pub text: String,
}

/// A prompt for one prediction, and the region it asks to rewrite.
#[derive(Debug, Clone)]
pub struct EditPrompt {
    pub text: PromptText,
    pub region: Region,
}

/// An edit the model proposes: chars `range` of the document become `new_text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedEdit {
    pub range: Range<usize>,
    pub new_text: String,
}

/// The prompt for the document `rope` (labelled `path`) with the cursor at char `cursor`, after `diffs` (the
/// recent edits as unified diffs, oldest first).
pub fn prompt(
    template: &EditTemplate,
    rope: &Rope,
    cursor: usize,
    path: &str,
    diffs: &[String],
    lines: usize,
) -> EditPrompt {
    let cursor = cursor.min(rope.len_chars());
    let line = rope.char_to_line(cursor);
    let first = line.saturating_sub(lines);
    let end_line = (line + lines + 1).min(rope.len_lines());
    let start = rope.line_to_char(first);
    let end = if end_line >= rope.len_lines() { rope.len_chars() } else { rope.line_to_char(end_line) };
    let region = Region { range: start..end, text: rope.slice(start..end).to_string() };
    let mut marked = rope.slice(start..cursor).to_string();
    marked.push_str(&template.cursor);
    marked.push_str(&rope.slice(cursor..end).to_string());
    if !marked.ends_with('\n') {
        marked.push('\n');
    }
    let edits: String =
        diffs.iter().map(|diff| template.edit.replace("{path}", path).replace("{diff}", diff.trim_end())).collect();
    let text = template
        .prompt
        .replace("{edits}", &edits)
        .replace("{path}", path)
        .replace("{region}", &format!("{}\n{marked}{}", template.region_start, template.region_end))
        .replace("{region_start}", &template.region_start)
        .replace("{region_end}", &template.region_end)
        .replace("{cursor}", &template.cursor);
    let text = match template.chat {
        true => PromptText::Chat { system: template.system.clone(), user: text },
        false => PromptText::Completion { text, infill: None },
    };
    EditPrompt { text, region }
}

/// The edits a model's rewrite of `region` makes, line by line. None when the answer is cut off (no end marker)
/// or rewrites more than half the region: that is a new text, not an edit.
pub fn parse(template: &EditTemplate, region: &Region, output: &str) -> Vec<ProposedEdit> {
    let body = output.split_once(template.region_start.as_str()).map_or(output, |(_, after)| after);
    let Some((body, _)) = body.split_once(template.region_end.as_str()) else { return Vec::new() };
    let body = body.strip_prefix('\n').unwrap_or(body).replace(template.cursor.as_str(), "");
    // The prompt ends the region with a line break; so must the text it is compared with.
    let mut original = region.text.clone();
    if !original.ends_with('\n') {
        original.push('\n');
    }
    let diff = similar::TextDiff::from_lines(original.as_str(), body.as_str());
    let old_lines: Vec<&str> = original.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = body.split_inclusive('\n').collect();
    let line_start = |i: usize| -> usize { old_lines[..i].iter().map(|l| l.chars().count()).sum() };
    let n_region_chars = region.text.chars().count();
    let mut edits = Vec::new();
    let mut n_changed = 0;
    for op in diff.ops() {
        if op.tag() == similar::DiffTag::Equal {
            continue;
        }
        let (old, new) = (op.old_range(), op.new_range());
        n_changed += old.len().max(new.len());
        let start = line_start(old.start).min(n_region_chars);
        let end = line_start(old.end).min(n_region_chars);
        let mut new_text: String = new_lines[new.start..new.end].concat();
        // The region's last line had no line break of its own.
        if end == n_region_chars && !region.text.ends_with('\n') {
            new_text = new_text.strip_suffix('\n').map(str::to_owned).unwrap_or(new_text);
        }
        edits.push(ProposedEdit { range: region.range.start + start..region.range.start + end, new_text });
    }
    if n_changed * 2 > old_lines.len().max(1) {
        return Vec::new();
    }
    edits
}

/// Asks the model for the rewrite of `prompt`'s region and turns it into edits.
pub async fn propose(
    engine: &Engine,
    template: &EditTemplate,
    prompt: EditPrompt,
    max_tokens: usize,
    cancel: CancelToken,
) -> Result<Vec<ProposedEdit>, EngineError> {
    let ModelState::Ready { tokenizer, .. } = engine.ready().await else { return Ok(Vec::new()) };
    // Off the async threads: a server's tokenizer answers over HTTP.
    let text = prompt.text.clone();
    let tokens = tokio::task::spawn_blocking(move || match &text {
        PromptText::Chat { system, user } => crate::chat::tokens(tokenizer.as_ref(), system, user, ""),
        PromptText::Completion { text, .. } => {
            tokenizer.bos().into_iter().chain(tokenizer.tokenize(text, true)).collect()
        }
        PromptText::None => Vec::new(),
    })
    .await
    .map_err(|err| EngineError::Panicked(err.to_string()))?;
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let job = GenerateRequest {
        prompt: tokens,
        max_tokens,
        // Kept in the text: the parser looks for it to know the answer is whole.
        stop: Vec::new(),
        cancel,
        owner: Some("nib-next-edit".into()),
        priority: PriorityHandle::new(Priority::Late),
        grammar: None,
        schema: None,
        sampling: None,
        text: prompt.text.clone(),
    };
    let mut events = engine.generate(job);
    let mut output = String::new();
    loop {
        match events.recv().await {
            Some(Event::Text(text)) => {
                output.push_str(&text);
                if output.contains(template.region_end.as_str()) {
                    break;
                }
            }
            Some(Event::Started { .. } | Event::Logprob(_)) => {}
            Some(Event::Done { .. }) | None => break,
            Some(Event::Failed(err)) => return Err(err),
        }
    }
    tracing::debug!(%output, "next-edit answer");
    Ok(parse(template, &prompt.region, &output))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region_of(text: &str, start: usize) -> Region {
        Region { range: start..start + text.chars().count(), text: text.to_owned() }
    }

    #[test]
    fn every_template_parses_and_each_model_use_chooses_as_documented() {
        assert_eq!(TEMPLATES.len(), 2);
        let config = |model| NextEditConfig { model, ..NextEditConfig::default() };
        // The packaged models are not trained for it: off unless turned on.
        assert!(EditTemplate::choose(&config(ModelUse::Auto), "SmolLM2-135M-Instruct").is_none());
        assert_eq!(EditTemplate::choose(&config(ModelUse::Auto), "zeta-Q8_0").map(|t| t.name.as_str()), Some("zeta"));
        assert_eq!(EditTemplate::choose(&config(ModelUse::On), "SmolLM2").map(|t| t.name.as_str()), Some("instruct"));
        assert!(EditTemplate::choose(&config(ModelUse::Off), "zeta").is_none());
    }

    #[test]
    fn the_prompt_carries_the_diffs_and_the_marked_region() {
        let template = EditTemplate::named("zeta").unwrap();
        let rope = Rope::from_str("a\nb\ndef f(count):\n    return count\nc\nd\n");
        let cursor = rope.line_to_char(3) + 4;
        let diff = "@@ -1 +1 @@\n-def f(n):\n+def f(count):\n".to_owned();
        let prompt = prompt(template, &rope, cursor, "m.py", &[diff], 1);
        assert_eq!(prompt.region.text, "def f(count):\n    return count\nc\n");
        let PromptText::Completion { text, .. } = prompt.text else { panic!("zeta is not a chat format") };
        assert!(
            text.contains("User edited \"m.py\":\n```diff\n@@ -1 +1 @@\n-def f(n):\n+def f(count):\n```"),
            "{text}"
        );
        assert!(
            text.contains("```m.py\n<|editable_region_start|>\ndef f(count):\n    <|user_cursor_is_here|>return count\nc\n<|editable_region_end|>\n```"),
            "{text}"
        );
    }

    #[test]
    fn a_rewrite_becomes_line_edits_and_a_cut_or_wholesale_one_none() {
        let template = EditTemplate::named("zeta").unwrap();
        let region = region_of("def f(count):\n    total = n + 1\n    return n\n\n\ndef g():\n    pass\n", 100);
        let output = "<|editable_region_start|>\ndef f(count):\n    total = count + 1\n    return count\n\n\ndef g():\n    pass\n<|editable_region_end|>";
        let edits = parse(template, &region, output);
        assert_eq!(
            edits,
            [ProposedEdit { range: 114..145, new_text: "    total = count + 1\n    return count\n".into() }]
        );
        // Cut off before its end: not trusted.
        assert!(parse(template, &region, "<|editable_region_start|>\ndef f(count):\n    total").is_empty());
        // Unchanged: nothing to do.
        let same = format!("{}\n{}{}", template.region_start, region.text, template.region_end);
        assert!(parse(template, &region, &same).is_empty());
        // A different text altogether is not an edit.
        let other = "<|editable_region_start|>\nx = 1\ny = 2\nz = 3\nw = 4\n<|editable_region_end|>";
        assert!(parse(template, &region, other).is_empty());
    }

    #[test]
    fn a_region_without_a_final_line_break_gets_none_added() {
        let template = EditTemplate::named("instruct").unwrap();
        let region = region_of("a = 1\nb = a\nc = 2\nprint(a)", 0);
        let output = "<|region_start|>\na = 1\nb = a\nc = 2\nprint(b)\n<|region_end|>";
        assert_eq!(parse(template, &region, output), [ProposedEdit { range: 18..26, new_text: "print(b)".into() }]);
    }
}
