//! Noise control: `nib: ignore[rule]` comments, the baseline of accepted
//! findings, and path globs.

use std::collections::BTreeSet;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use ropey::Rope;
use serde::{Deserialize, Serialize};

use super::Finding;

/// Whether a comment on the finding's line, or the line above, suppresses it:
/// `nib: ignore` for every rule, `nib: ignore[bug, style]` for those.
pub fn suppressed(rope: &Rope, finding: &Finding) -> bool {
    let line = finding.start.line as usize;
    (line.saturating_sub(1)..=line).filter(|&l| l < rope.len_lines()).any(|l| {
        let text = rope.line(l).to_string();
        let Some(at) = text.find("nib: ignore") else { return false };
        let rest = &text[at + "nib: ignore".len()..];
        match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((rules, _)) => rules.split(',').any(|r| r.trim() == finding.rule),
            None => true,
        }
    })
}

/// Findings accepted as they are, by fingerprint (rule, path and the quoted code, whitespace
/// normalised): moving code around keeps them matched, changing it does not.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Baseline {
    version: u32,
    findings: BTreeSet<BaselineEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct BaselineEntry {
    rule: String,
    path: String,
    fingerprint: String,
}

impl Baseline {
    pub fn of(findings: &[Finding]) -> Baseline {
        let entries = findings
            .iter()
            .map(|f| BaselineEntry { rule: f.rule.clone(), path: f.path.clone(), fingerprint: f.fingerprint.clone() })
            .collect();
        Baseline { version: 1, findings: entries }
    }

    pub fn load(path: &Path) -> std::io::Result<Baseline> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")
    }

    pub fn contains(&self, finding: &Finding) -> bool {
        self.findings.iter().any(|e| e.fingerprint == finding.fingerprint && e.path == finding.path)
    }
}

/// Whether `path` (repository-relative, `/`-separated) is selected by include and exclude globs.
pub fn selected(path: &str, include: &[String], exclude: &[String]) -> bool {
    (include.is_empty() || globs(include).is_match(path)) && !globs(exclude).is_match(path)
}

/// `*` matches within a path segment, `**` across segments, `?` one char. A pattern that does
/// not parse matches nothing: a typo in the configuration should not select or drop every file.
fn globs(patterns: &[String]) -> GlobSet {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        match GlobBuilder::new(pattern).literal_separator(true).build() {
            Ok(glob) => {
                set.add(glob);
            }
            Err(e) => tracing::warn!("review glob {pattern:?} left out: {e}"),
        }
    }
    set.build().unwrap_or_else(|_| GlobSet::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, path: &str) -> bool {
        globs(&[pattern.to_owned()]).is_match(path)
    }

    #[test]
    fn globs_match_within_and_across_segments() {
        assert!(glob("src/**/*.rs", "src/a/b/c.rs"));
        assert!(glob("src/**/*.rs", "src/c.rs"));
        assert!(!glob("src/*.rs", "src/a/c.rs"));
        assert!(glob("**/test_*.py", "tests/test_x.py"));
        assert!(glob("*.p?", "a.py"));
        assert!(!glob("*.p?", "a/b.py"));
        assert!(selected("src/a.rs", &[], &["vendor/**".into()]));
        assert!(!selected("vendor/x/a.rs", &[], &["vendor/**".into()]));
        assert!(!selected("docs/a.md", &["src/**".into()], &[]));
    }

    #[test]
    fn many_double_stars_do_not_backtrack() {
        let pattern = "**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/b";
        let path = "a/".repeat(200) + "c";
        let started = std::time::Instant::now();
        assert!(!glob(pattern, &path));
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[test]
    fn a_pattern_that_does_not_parse_matches_nothing() {
        assert!(selected("src/a.rs", &[], &["src/[".into()]));
        assert!(!selected("src/a.rs", &["src/[".into()], &[]));
    }
}

#[cfg(test)]
mod suppression_tests {
    use super::*;
    use crate::review::{Position, Severity};

    fn at_line(line: u32, rule: &str) -> Finding {
        let position = Position { line, utf8: 0, utf16: 0 };
        Finding {
            path: "a.py".into(),
            rule: rule.into(),
            severity: Severity::Warning,
            message: "m".into(),
            quote: "q".into(),
            replacement: None,
            start: position,
            end: position,
            fingerprint: format!("f{line}{rule}"),
        }
    }

    #[test]
    fn ignore_comments_on_the_line_or_above() {
        let rope = Rope::from_str("a = 1  # nib: ignore\n# nib: ignore[style, bug]\nb = 2\nc = 3\n");
        assert!(suppressed(&rope, &at_line(0, "bug")));
        assert!(suppressed(&rope, &at_line(2, "bug")));
        assert!(!suppressed(&rope, &at_line(2, "security")));
        assert!(!suppressed(&rope, &at_line(3, "bug")));
    }

    #[test]
    fn a_baseline_round_trips_and_matches_by_fingerprint() {
        let path = std::env::temp_dir().join(format!("nib-baseline-{}.json", std::process::id()));
        Baseline::of(&[at_line(1, "bug")]).save(&path).unwrap();
        let baseline = Baseline::load(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(baseline.contains(&at_line(1, "bug")));
        assert!(!baseline.contains(&at_line(2, "bug")));
    }
}
