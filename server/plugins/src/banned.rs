//! `banned-patterns`: regexes from the configuration that drop a suggestion, or trim it before the first match
//! (a licence header, a deprecated API). Patterns use the `regex` crate's syntax; flags such as `(?m)` or `(?i)`
//! go inside the pattern.

use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};

/// One configured pattern and what a match does to the suggestion.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct BannedPattern {
    pub regex: String,
    #[serde(default)]
    pub action: Action,
}

/// What a match does: `drop` the whole suggestion (the default) or `trim` it before the match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    #[default]
    Drop,
    Trim,
}

/// The fate of one suggestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// The text before the earliest `trim` match, without trailing whitespace: a suggestion that ended in a newline
    /// and indentation would leave the cursor on a blank line the banned text was to fill.
    Trim(String),
    Drop,
}

/// A pattern of the configuration that does not compile.
#[derive(Debug, thiserror::Error)]
pub enum BannedError {
    #[error("banned pattern {pattern:?} is not a valid regex: {source}")]
    Regex {
        pattern: String,
        #[source]
        source: regex::Error,
    },
}

/// The compiled patterns, built once per configuration.
#[derive(Debug, Clone)]
pub struct Banned {
    /// One pass over the suggestion tells which patterns match at all, so a clean suggestion (nearly all of them)
    /// costs one scan however many patterns there are.
    any: RegexSet,
    patterns: Vec<(Regex, Action)>,
}

impl Banned {
    /// Compiles the patterns; the error names the first that does not compile.
    pub fn new(patterns: &[BannedPattern]) -> Result<Banned, BannedError> {
        let compiled = patterns
            .iter()
            .map(|p| match Regex::new(&p.regex) {
                Ok(regex) => Ok((regex, p.action)),
                Err(source) => Err(BannedError::Regex { pattern: p.regex.clone(), source }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Every pattern compiled alone, so the set can fail only on size, which it reports against them all.
        let any = RegexSet::new(patterns.iter().map(|p| &p.regex)).map_err(|source| BannedError::Regex {
            pattern: patterns.iter().map(|p| p.regex.as_str()).collect::<Vec<_>>().join(" | "),
            source,
        })?;
        Ok(Banned { any, patterns: compiled })
    }

    /// Keeps, trims or drops a suggestion: any `drop` match drops it, else it is cut before the earliest `trim`
    /// match, and dropped when nothing is left.
    pub fn apply(&self, suggestion: &str) -> Verdict {
        let matched = self.any.matches(suggestion);
        if !matched.matched_any() {
            return Verdict::Keep;
        }
        let mut cut = suggestion.len();
        for i in matched.iter() {
            let (regex, action) = &self.patterns[i];
            match action {
                Action::Drop => return Verdict::Drop,
                Action::Trim => {
                    if let Some(m) = regex.find(suggestion) {
                        cut = cut.min(m.start());
                    }
                }
            }
        }
        match suggestion[..cut].trim_end() {
            "" => Verdict::Drop,
            kept => Verdict::Trim(kept.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn banned(patterns: &[(&str, Action)]) -> Banned {
        let patterns: Vec<_> =
            patterns.iter().map(|(regex, action)| BannedPattern { regex: (*regex).into(), action: *action }).collect();
        Banned::new(&patterns).expect("test patterns compile")
    }

    /// The patterns, a suggestion, and its verdict.
    type Case<'a> = (&'a [(&'a str, Action)], &'a str, Verdict);

    #[test]
    fn verdicts() {
        let licence = (r"(?i)(?:#|//)\s*copyright \(c\)", Action::Trim);
        let deprecated = (r"\bimp\.load_module\(", Action::Drop);
        let todo = (r"(?m)^\s*# TODO", Action::Trim);
        let cases: &[Case] = &[
            (&[], "anything", Verdict::Keep),
            (&[licence, deprecated], "x = 1\n", Verdict::Keep),
            (&[licence, deprecated], "m = imp.load_module(name, f)", Verdict::Drop),
            // Drop wins over trim, whatever comes first.
            (&[licence, deprecated], "# Copyright (c) 2024\nimp.load_module(n)", Verdict::Drop),
            (&[licence], "return x\n\n# Copyright (C) ACME", Verdict::Trim("return x".into())),
            (&[licence], "    # copyright (c) me", Verdict::Drop),
            (&[licence], "", Verdict::Keep),
            // The earliest of several trim matches cuts.
            (&[licence, todo], "a()\n    # TODO later\nb()\n# Copyright (c)", Verdict::Trim("a()".into())),
            (&[todo, licence], "a() # Copyright (c)\n# TODO", Verdict::Trim("a()".into())),
            (&[todo], "value = 2  # TODO: not at a line start\n", Verdict::Keep),
            // Multi-byte text before the cut stays whole.
            (&[licence], "s = \"héllo→\"  // Copyright (c)", Verdict::Trim("s = \"héllo→\"".into())),
        ];
        for (patterns, suggestion, verdict) in cases {
            assert_eq!(banned(patterns).apply(suggestion), *verdict, "{suggestion:?} with {patterns:?}");
        }
    }

    #[test]
    fn a_bad_pattern_is_named() {
        let patterns = [
            BannedPattern { regex: "ok".into(), action: Action::Drop },
            BannedPattern { regex: "(unclosed".into(), action: Action::Trim },
        ];
        let error = Banned::new(&patterns).expect_err("an unclosed group does not compile");
        let BannedError::Regex { pattern, .. } = &error;
        assert_eq!(pattern, "(unclosed");
        assert!(error.to_string().contains("\"(unclosed\""), "{error}");
    }

    #[derive(Deserialize)]
    struct Config {
        patterns: Vec<BannedPattern>,
    }

    #[test]
    fn actions_deserialize_kebab_case_with_drop_by_default() {
        let config: Config = serde_json::from_str(
            r#"{"patterns": [{"regex": "a"}, {"regex": "b", "action": "trim"}, {"regex": "c", "action": "drop"}]}"#,
        )
        .expect("valid config");
        let actions: Vec<_> = config.patterns.iter().map(|p| p.action).collect();
        assert_eq!(actions, [Action::Drop, Action::Trim, Action::Drop]);
        assert!(serde_json::from_str::<BannedPattern>(r#"{"regex": "a", "action": "Trim"}"#).is_err());
    }
}
