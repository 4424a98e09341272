//! Prompt templates, loaded from `prompts/fim/*.toml` (compiled in), and the
//! choice of one for a model.
//!
//! A template's `format` is literal text with placeholders: `{prefix}` and
//! `{suffix}` are the windows around the cursor; `{context}` the snippets of
//! other files and `{file}` the current file's label (both empty without
//! context); `{fim_pre}`, `{fim_suf}`, `{fim_mid}` are the special tokens the
//! GGUF declares, resolved by id. Control tokens written literally (`<|fim_prefix|>`)
//! must be listed in `tokens`: a model is matched, and checked, by them.

use serde::Deserialize;

use super::{Special, Tokenizer};

/// Every template, in the order automatic choice tries them: the most specific first.
const TEMPLATES: &[(&str, &str)] = &[
    ("qwen", include_str!("../../../prompts/fim/qwen.toml")),
    ("codegemma", include_str!("../../../prompts/fim/codegemma.toml")),
    ("starcoder2", include_str!("../../../prompts/fim/starcoder2.toml")),
    ("granite", include_str!("../../../prompts/fim/granite.toml")),
    ("starcoder", include_str!("../../../prompts/fim/starcoder.toml")),
    ("deepseek-coder", include_str!("../../../prompts/fim/deepseek-coder.toml")),
    ("codestral", include_str!("../../../prompts/fim/codestral.toml")),
    ("codellama", include_str!("../../../prompts/fim/codellama.toml")),
    ("psm", include_str!("../../../prompts/fim/psm.toml")),
    ("prefix-only", include_str!("../../../prompts/fim/prefix-only.toml")),
    // Only by configuration: nothing tells from a GGUF that a model was trained suffix-first.
    ("spm", include_str!("../../../prompts/fim/spm.toml")),
];

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Special(Special),
    Prefix,
    Suffix,
    Context,
    File,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub parts: Vec<Part>,
    /// Control tokens the model's vocabulary must have, each as one token: those written literally
    /// in the formats, and any that tell its family apart.
    pub tokens: Vec<String>,
    /// Lower-case fragments of model names this template is for; empty: any model with the tokens.
    names: Vec<String>,
    /// A snippet of another file: `{comment}`, `{path}`, `{text}`.
    pub context_file: String,
    /// The current file's label: `{comment}`, `{path}`.
    pub current_file: String,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("no prompt template named {0:?}")]
    Unknown(String),
    #[error("template {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("template {name} needs the {special:?} token, which the model does not have")]
    MissingToken { name: String, special: Special },
    #[error("template {name} needs the control token {token:?}, which is not in the model's vocabulary")]
    MissingControl { name: String, token: String },
}

impl Template {
    /// The compiled-in template `name`.
    pub fn named(name: &str) -> Result<Template, TemplateError> {
        let (_, text) =
            TEMPLATES.iter().find(|(n, _)| *n == name).ok_or_else(|| TemplateError::Unknown(name.to_owned()))?;
        Template::parse(text)
    }

    /// The configured template, checked against the model; else the first that fits the model.
    pub fn choose(
        configured: Option<&str>,
        tokenizer: &dyn Tokenizer,
        model_name: &str,
    ) -> Result<Template, TemplateError> {
        if let Some(name) = configured {
            let template = Template::named(name)?;
            template.check(tokenizer)?;
            return Ok(template);
        }
        let model_name = model_name.to_lowercase();
        // An estimated vocabulary has every control token: only the model's name can tell its family.
        let named = |t: &Template| match (t.names.is_empty(), tokenizer.is_estimate()) {
            (true, false) => true,
            (true, true) => model_name.contains(t.name.as_str()),
            (false, _) => t.names.iter().any(|n| model_name.contains(n.as_str())),
        };
        let fits = |t: &Template| named(t) && t.check(tokenizer).is_ok();
        // prefix-only fits every model, and is compiled in like the rest (checked by `every_template_parses`).
        Ok(TEMPLATES[..TEMPLATES.len() - 1]
            .iter()
            .filter_map(|(_, text)| Template::parse(text).ok())
            .find(fits)
            .unwrap_or_else(Template::prefix_only))
    }

    pub fn prefix_only() -> Template {
        Template::named("prefix-only").expect("built-in template parses")
    }

    /// Whether the model has every token this template uses.
    pub fn check(&self, tokenizer: &dyn Tokenizer) -> Result<(), TemplateError> {
        if let Some(special) = self.specials().find(|&s| tokenizer.special(s).is_none()) {
            return Err(TemplateError::MissingToken { name: self.name.clone(), special });
        }
        if let Some(token) = self.tokens.iter().find(|t| tokenizer.tokenize(t, true).len() != 1) {
            return Err(TemplateError::MissingControl { name: self.name.clone(), token: token.clone() });
        }
        Ok(())
    }

    pub fn parse(toml_text: &str) -> Result<Template, TemplateError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            name: String,
            format: String,
            #[serde(default)]
            tokens: Vec<String>,
            #[serde(default)]
            names: Vec<String>,
            context_file: Option<String>,
            current_file: Option<String>,
        }
        let file: File = toml::from_str(toml_text)
            .map_err(|e| TemplateError::Invalid { name: "?".into(), message: e.to_string() })?;
        let invalid = |message: String| TemplateError::Invalid { name: file.name.clone(), message };
        let mut parts = Vec::new();
        let mut rest = file.format.as_str();
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').ok_or_else(|| invalid("unclosed '{'".into()))? + open;
            parts.push(match &rest[open + 1..close] {
                "prefix" => Part::Prefix,
                "suffix" => Part::Suffix,
                "context" => Part::Context,
                "file" => Part::File,
                "fim_pre" => Part::Special(Special::FimPre),
                "fim_suf" => Part::Special(Special::FimSuf),
                "fim_mid" => Part::Special(Special::FimMid),
                other => return Err(invalid(format!("unknown placeholder {{{other}}}"))),
            });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        for required in [Part::Prefix, Part::Context, Part::File] {
            if !parts.contains(&required) {
                return Err(invalid(format!("the format has no {required:?} placeholder")));
            }
        }
        Ok(Template {
            name: file.name,
            parts,
            tokens: file.tokens,
            names: file.names.iter().map(|n| n.to_lowercase()).collect(),
            context_file: file.context_file.unwrap_or_else(|| "{comment} {path}\n{text}\n".into()),
            current_file: file.current_file.unwrap_or_else(|| "{comment} {path}\n".into()),
        })
    }

    pub fn uses_suffix(&self) -> bool {
        self.parts.contains(&Part::Suffix)
    }

    /// The suffix follows the prefix (prefix-suffix-middle): text typed at the cursor moves the suffix,
    /// so every keystroke evaluates it again.
    pub fn suffix_follows_prefix(&self) -> bool {
        let at = |part: Part| self.parts.iter().position(|p| *p == part);
        matches!((at(Part::Prefix), at(Part::Suffix)), (Some(prefix), Some(suffix)) if prefix < suffix)
    }

    /// The special tokens this template needs by id.
    pub fn specials(&self) -> impl Iterator<Item = Special> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Special(s) => Some(*s),
            _ => None,
        })
    }
}

/// Fills a label format (`context_file`, `current_file`): what goes before and after the text.
pub fn label(format: &str, comment: &str, path: &str) -> (String, String) {
    let filled = fill(format, |name| match name {
        "comment" => Some(comment.to_owned()),
        "path" => Some(path.to_owned()),
        _ => None,
    });
    match filled.split_once("{text}") {
        Some((before, after)) => (before.to_owned(), after.to_owned()),
        None => (filled, String::new()),
    }
}

/// Replaces each `{name}` that `value` knows, in one pass, so a value containing `{path}` stays as
/// it is. `{{` and `}}` stand for `{` and `}`; unknown names and an unclosed `{` are kept as written.
pub fn fill(format: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(format.len());
    let mut rest = format;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let (brace, after) = rest[at..].split_at(1);
        if let Some(unescaped) = after.strip_prefix(brace) {
            out.push_str(brace);
            rest = unescaped;
            continue;
        }
        let known =
            (brace == "{").then(|| after.split_once('}')).flatten().and_then(|(name, tail)| Some((value(name)?, tail)));
        match known {
            Some((text, tail)) => {
                out.push_str(&text);
                rest = tail;
            }
            None => {
                out.push_str(brace);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenId;

    /// A vocabulary with some control tokens, given as text.
    struct Vocab {
        controls: &'static [&'static str],
        fim_ids: bool,
    }

    impl Tokenizer for Vocab {
        fn tokenize(&self, text: &str, parse_special: bool) -> Vec<TokenId> {
            if parse_special && self.controls.contains(&text) {
                return vec![-7];
            }
            text.chars().map(|c| c as TokenId).collect()
        }
        fn special(&self, _: Special) -> Option<TokenId> {
            self.fim_ids.then_some(-2)
        }
    }

    #[test]
    fn every_template_parses() {
        for (name, text) in TEMPLATES {
            let template = Template::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&template.name, name);
        }
    }

    #[test]
    fn templates_are_chosen_by_the_tokens_and_name_of_the_model() {
        let qwen: &'static [&str] =
            &["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|repo_name|>", "<|file_sep|>"];
        let gemma: &'static [&str] = &["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_separator|>"];
        let starcoder: &'static [&str] = &["<fim_prefix>", "<fim_suffix>", "<fim_middle>"];
        let starcoder2: &'static [&str] =
            &["<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>", "<repo_name>"];
        let deepseek: &'static [&str] = &["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"];
        let cases: &[(&[&str], bool, &str, &str)] = &[
            (qwen, true, "Qwen2.5 Coder 1.5B", "qwen"),
            (gemma, true, "Codegemma 2b", "codegemma"),
            // Gemma 3 has CodeGemma's tokens but was not trained to fill in.
            (gemma, false, "Gemma 3 270m", "prefix-only"),
            (starcoder2, true, "Starcoder2 3b", "starcoder2"),
            (starcoder, true, "Granite 3b Code Base", "granite"),
            (starcoder, true, "Tiny Starcoder Py", "starcoder"),
            (deepseek, true, "Deepseek Coder 1.3b Base", "deepseek-coder"),
            (&["[SUFFIX]", "[PREFIX]"], true, "Codestral 22B", "codestral"),
            (&[], true, "CodeLlama 7b", "codellama"),
            (&[], true, "Some FIM Model", "psm"),
            (&[], false, "SmolLM2 135M", "prefix-only"),
        ];
        for &(controls, fim_ids, model, expect) in cases {
            let chosen = Template::choose(None, &Vocab { controls, fim_ids }, model).unwrap();
            assert_eq!(chosen.name, expect, "{model}");
        }
    }

    /// Counts by chars; every `<...>` tag is a control token (a server's model whose vocabulary nib lacks).
    struct Estimate;

    impl Tokenizer for Estimate {
        fn tokenize(&self, text: &str, parse_special: bool) -> Vec<TokenId> {
            if parse_special && text.starts_with('<') && text.ends_with('>') {
                return vec![-7];
            }
            text.chars().map(|c| c as TokenId).collect()
        }
        fn is_estimate(&self) -> bool {
            true
        }
    }

    #[test]
    fn with_an_estimated_vocabulary_only_the_name_tells_the_family() {
        for (model, expect) in [
            ("qwen2.5-coder-7b-instruct", "qwen"),
            ("bigcode/starcoder2-3b", "starcoder2"),
            ("deepseek-coder-1.3b-base", "deepseek-coder"),
            ("meta-llama/Llama-3.1-8B", "prefix-only"),
        ] {
            assert_eq!(Template::choose(None, &Estimate, model).unwrap().name, expect, "{model}");
        }
        assert_eq!(Template::choose(Some("qwen"), &Estimate, "my-finetune").unwrap().name, "qwen");
    }

    #[test]
    fn a_configured_template_the_model_cannot_fill_is_reported() {
        let vocab = Vocab { controls: &[], fim_ids: false };
        let err = Template::choose(Some("qwen"), &vocab, "x").unwrap_err();
        assert!(matches!(err, TemplateError::MissingControl { .. }), "{err}");
        let err = Template::choose(Some("psm"), &vocab, "x").unwrap_err();
        assert!(matches!(err, TemplateError::MissingToken { .. }), "{err}");
        assert_eq!(Template::choose(Some("spm"), &Vocab { controls: &[], fim_ids: true }, "x").unwrap().name, "spm");
    }

    #[test]
    fn bad_templates_are_reported() {
        let parse = |format: &str| Template::parse(&format!("name='x'\nformat='{format}'"));
        assert!(parse("{context}{file}{prefix}{oops}").is_err());
        assert!(parse("{context}{file}{suffix}").is_err());
        assert!(parse("{context}{file}{prefix").is_err());
        assert!(parse("{prefix}").is_err(), "no place for context");
        assert_eq!(Template::named("nope"), Err(TemplateError::Unknown("nope".into())));
    }

    #[test]
    fn placeholders_fill_in_one_pass() {
        let value = |name: &str| (name == "path").then(|| "{path}".to_owned());
        assert_eq!(fill("{path} {{x}} {other} {", value), "{path} {x} {other} {");
    }

    #[test]
    fn labels_go_around_the_text() {
        assert_eq!(label("{comment} {path}\n{text}\n", "#", "a.py"), ("# a.py\n".into(), "\n".into()));
        assert_eq!(label("<|file_sep|>{path}\n", "#", "a.py"), ("<|file_sep|>a.py\n".into(), "".into()));
    }
}
