//! The review prompt and rule catalogue (`prompts/review/review.toml`, compiled in),
//! and the grammar that makes every answer parse.

use serde::Deserialize;

use super::Severity;

const REVIEW_TOML: &str = include_str!("../../../../prompts/review/review.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub description: String,
    pub severity: Severity,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewPrompt {
    pub version: String,
    pub system: String,
    unit: String,
    pub rules: Vec<Rule>,
}

/// Findings one unit may get: small models repeat themselves past this.
pub const MAX_FINDINGS: usize = 4;
/// Bounds on quoted and written text, so a rambling model stops.
const MAX_MESSAGE_CHARS: usize = 240;
const MAX_QUOTE_CHARS: usize = 300;

impl ReviewPrompt {
    /// The compiled-in prompt; `cargo test` checks that it parses.
    pub fn builtin() -> ReviewPrompt {
        toml::from_str(REVIEW_TOML).expect("prompts/review/review.toml parses (checked by tests)")
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The user message for one unit of code.
    pub fn unit(&self, language: &str, path: &str, lines: (usize, usize), code: &str) -> String {
        let rules: Vec<String> = self.rules.iter().map(|r| format!("- {}: {}", r.id, r.description)).collect();
        nib_prompt::template::fill(&self.unit, |name| match name {
            "language" => Some(language.to_owned()),
            "path" => Some(path.to_owned()),
            "start" => Some((lines.0 + 1).to_string()),
            "end" => Some((lines.1 + 1).to_string()),
            "code" => Some(code.to_owned()),
            "rules" => Some(rules.join("\n")),
            _ => None,
        })
    }

    /// The GBNF grammar of an answer: `{"findings": [...]}` with the catalogue's rule ids only, fields
    /// in the order that grounds the model (what, where, why, fix), bounded strings, and no free
    /// whitespace (small models otherwise loop on newlines).
    pub fn grammar(&self) -> String {
        let rules: Vec<String> = self.rules.iter().map(|r| format!("\"\\\"{}\\\"\"", r.id)).collect();
        format!(
            r#"root ::= "{{\"findings\": [" (item ("," item){{0,{more}}})? "]}}"
item ::= "{{\"rule\": " rule ", \"severity\": " severity ", \"quote\": " quote ", \"message\": " message ", \"replacement\": " (quote | "null") "}}"
rule ::= {rules}
severity ::= "\"error\"" | "\"warning\"" | "\"info\""
quote ::= "\"" char{{1,{quote}}} "\""
message ::= "\"" char{{1,{message}}} "\""
char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{{4}})
"#,
            more = MAX_FINDINGS - 1,
            rules = rules.join(" | "),
            quote = MAX_QUOTE_CHARS,
            message = MAX_MESSAGE_CHARS,
        )
    }

    /// The same answer as a JSON schema, for servers that constrain output by schema (OpenAI's
    /// `response_format`) rather than by grammar.
    pub fn schema(&self) -> serde_json::Value {
        let text = |max: usize| serde_json::json!({"type": "string", "minLength": 1, "maxLength": max});
        let rules: Vec<&str> = self.rules.iter().map(|r| r.id.as_str()).collect();
        serde_json::json!({
            "type": "object",
            "properties": {"findings": {
                "type": "array",
                "maxItems": MAX_FINDINGS,
                "items": {
                    "type": "object",
                    "properties": {
                        "rule": {"type": "string", "enum": rules},
                        "severity": {"type": "string", "enum": ["error", "warning", "info"]},
                        "quote": text(MAX_QUOTE_CHARS),
                        "message": text(MAX_MESSAGE_CHARS),
                        "replacement": {"anyOf": [text(MAX_QUOTE_CHARS), {"type": "null"}]},
                    },
                    "required": ["rule", "severity", "quote", "message", "replacement"],
                    "additionalProperties": false,
                },
            }},
            "required": ["findings"],
            "additionalProperties": false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_prompt_parses_and_fills_its_placeholders() {
        let prompt = ReviewPrompt::builtin();
        assert!(prompt.rules.len() >= 5 && prompt.rule("bug").is_some() && prompt.rule("security").is_some());
        let text = prompt.unit("python", "a.py", (0, 2), "x = '{path}'");
        assert!(text.contains("from a.py (lines 1-3)"), "{text}");
        assert!(text.contains("x = '{path}'"), "code is never expanded: {text}");
        assert!(text.contains("{\"findings\": [...]}"), "{text}");
        assert!(text.contains("- security: "));
    }

    #[test]
    fn the_grammar_names_every_rule() {
        let prompt = ReviewPrompt::builtin();
        let grammar = prompt.grammar();
        for rule in &prompt.rules {
            assert!(grammar.contains(&format!("\"\\\"{}\\\"\"", rule.id)), "{grammar}");
        }
        assert!(grammar.starts_with("root ::= "));
    }

    #[test]
    fn the_schema_names_every_rule_and_bounds_the_findings() {
        let prompt = ReviewPrompt::builtin();
        let schema = prompt.schema();
        let item = &schema["properties"]["findings"]["items"];
        let rules: Vec<&str> =
            item["properties"]["rule"]["enum"].as_array().unwrap().iter().flat_map(|r| r.as_str()).collect();
        assert_eq!(rules, prompt.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>());
        assert_eq!(schema["properties"]["findings"]["maxItems"], MAX_FINDINGS);
    }
}
