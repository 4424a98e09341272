//! Prompt templates, loaded from `prompts/fim/*.toml` (compiled in).
//!
//! A template's `format` is literal text with placeholders: `{prefix}` and
//! `{suffix}` are the windows around the cursor; `{fim_pre}`, `{fim_suf}`,
//! `{fim_mid}` are the model's special tokens, resolved by id, never by text.

use serde::Deserialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("prefix-only", include_str!("../../../prompts/fim/prefix-only.toml")),
    ("psm", include_str!("../../../prompts/fim/psm.toml")),
    ("spm", include_str!("../../../prompts/fim/spm.toml")),
];

/// A special token a template may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Special {
    FimPre,
    FimSuf,
    FimMid,
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Special(Special),
    Prefix,
    Suffix,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub parts: Vec<Part>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("no prompt template named {0:?}")]
    Unknown(String),
    #[error("template {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("template {name} needs the {special:?} token, which the model does not have")]
    MissingToken { name: String, special: Special },
}

impl Template {
    /// The compiled-in template `name`.
    pub fn named(name: &str) -> Result<Template, TemplateError> {
        let (_, text) =
            TEMPLATES.iter().find(|(n, _)| *n == name).ok_or_else(|| TemplateError::Unknown(name.to_owned()))?;
        Template::parse(text)
    }

    /// The configured template, or the model's default.
    pub fn choose(configured: Option<&str>, has_fim_tokens: bool) -> Result<Template, TemplateError> {
        match configured {
            Some(name) => Template::named(name),
            None => Ok(Template::for_model(has_fim_tokens)),
        }
    }

    /// The template for a model: fill-in-the-middle when it has the tokens, else prefix-only.
    pub fn for_model(has_fim_tokens: bool) -> Template {
        let name = if has_fim_tokens { "psm" } else { "prefix-only" };
        // Both are compiled in and checked by `every_template_parses`.
        Template::named(name).expect("built-in template parses")
    }

    pub fn parse(toml_text: &str) -> Result<Template, TemplateError> {
        #[derive(Deserialize)]
        struct File {
            name: String,
            format: String,
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
        if !parts.contains(&Part::Prefix) {
            return Err(invalid("the format has no {prefix}".into()));
        }
        Ok(Template { name: file.name, parts })
    }

    pub fn uses_suffix(&self) -> bool {
        self.parts.contains(&Part::Suffix)
    }

    /// The special tokens this template needs.
    pub fn specials(&self) -> impl Iterator<Item = Special> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Special(s) => Some(*s),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, text) in TEMPLATES {
            let template = Template::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&template.name, name);
        }
    }

    #[test]
    fn psm_orders_prefix_then_suffix_then_middle() {
        let t = Template::named("psm").unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Special(Special::FimPre),
                Part::Prefix,
                Part::Special(Special::FimSuf),
                Part::Suffix,
                Part::Special(Special::FimMid)
            ]
        );
        assert!(!Template::for_model(false).uses_suffix());
    }

    #[test]
    fn bad_templates_are_reported() {
        assert!(Template::parse("name='x'\nformat='{prefix}{oops}'").is_err());
        assert!(Template::parse("name='x'\nformat='{suffix}'").is_err());
        assert!(Template::parse("name='x'\nformat='{prefix'").is_err());
        assert_eq!(Template::named("nope"), Err(TemplateError::Unknown("nope".into())));
    }
}
