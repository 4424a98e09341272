//! Review reports in the formats CI tools read: text, SARIF 2.1.0 (GitHub code
//! scanning), reviewdog rdjson / rdjsonl, GitHub workflow annotations, GitLab
//! Code Quality. Text and SARIF name the model (file and sha256), the engine that ran it and the prompt version;
//! the other formats have no place for a run's metadata (the command states it on stderr).

use serde_json::{Value, json};

use super::prompt::Rule;
use super::{Finding, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Sarif,
    Rdjson,
    Rdjsonl,
    Github,
    Gitlab,
}

impl Format {
    /// Every format, by the name the command line takes.
    pub const BY_NAME: [(&str, Format); 6] = [
        ("text", Format::Text),
        ("sarif", Format::Sarif),
        ("rdjson", Format::Rdjson),
        ("rdjsonl", Format::Rdjsonl),
        ("github", Format::Github),
        ("gitlab", Format::Gitlab),
    ];

    pub fn named(name: &str) -> Option<Format> {
        Format::BY_NAME.iter().find(|(n, _)| *n == name).map(|(_, format)| *format)
    }
}

/// What a run found, and what produced it.
pub struct Report<'a> {
    pub findings: &'a [Finding],
    pub rules: &'a [Rule],
    pub model_path: &'a str,
    pub model_sha256: &'a str,
    /// Where the model ran: `local` (in-process), else the inference server's URL.
    pub engine: &'a str,
    pub prompt_version: &'a str,
}

const INFORMATION_URI: &str = "https://github.com/nib-dev/nib";

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => text(report),
        Format::Sarif => format!("{:#}\n", sarif(report)),
        Format::Rdjson => format!("{:#}\n", rdjson(report)),
        Format::Rdjsonl => report.findings.iter().map(|f| format!("{}\n", rd_diagnostic(f))).collect(),
        Format::Github => github(report),
        Format::Gitlab => format!("{:#}\n", gitlab(report)),
    }
}

fn text(report: &Report) -> String {
    let mut out = String::new();
    for f in report.findings {
        out.push_str(&format!(
            "{}:{}:{}: {}[{}] {}\n    {}\n",
            f.path,
            f.start.line + 1,
            f.start.utf8 + 1,
            f.severity.name(),
            f.rule,
            f.message,
            f.quote.lines().next().unwrap_or_default().trim()
        ));
        if let Some(replacement) = &f.replacement {
            out.push_str(&format!("    suggested: {}\n", replacement.lines().next().unwrap_or_default().trim()));
        }
    }
    out.push_str(&format!(
        "{} finding(s); model {} (sha256 {}), engine {}, prompt {}\n",
        report.findings.len(),
        report.model_path,
        report.model_sha256,
        report.engine,
        report.prompt_version
    ));
    out
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn sarif(report: &Report) -> Value {
    let rules: Vec<Value> = report
        .rules
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.name},
                "fullDescription": {"text": r.description},
                "defaultConfiguration": {"level": sarif_level(r.severity)},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f.rule,
                "ruleIndex": report.rules.iter().position(|r| r.id == f.rule).unwrap_or(0),
                "level": sarif_level(f.severity),
                "message": {"text": f.message},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                    "region": sarif_region(f),
                }}],
                "partialFingerprints": {"nibFinding/v1": f.fingerprint},
            });
            if let Some(replacement) = &f.replacement {
                result["fixes"] = json!([{
                    "description": {"text": "Apply nib's suggestion"},
                    "artifactChanges": [{
                        "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                        "replacements": [{"deletedRegion": sarif_region(f), "insertedContent": {"text": replacement}}],
                    }],
                }]);
            }
            result
        })
        .collect();
    // Code scanning keeps `run.properties`; the driver's own properties say what the tool ran with, for viewers
    // that show only the driver.
    let properties = json!({
        "modelPath": report.model_path,
        "modelSha256": report.model_sha256,
        "engine": report.engine,
        "promptVersion": report.prompt_version,
    });
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "nib",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": INFORMATION_URI,
                "rules": rules,
                "properties": properties,
            }},
            "columnKind": "utf16CodeUnits",
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The repository root"}}},
            "results": results,
            "properties": properties,
        }],
    })
}

/// 1-based lines and UTF-16 columns, as `columnKind` says.
fn sarif_region(f: &Finding) -> Value {
    json!({
        "startLine": f.start.line + 1,
        "startColumn": f.start.utf16 + 1,
        "endLine": f.end.line + 1,
        "endColumn": f.end.utf16 + 1,
    })
}

fn rd_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
        Severity::Info => "INFO",
    }
}

/// 1-based lines; columns 1-based in UTF-8 bytes, as reviewdog's format says.
fn rd_range(f: &Finding) -> Value {
    json!({
        "start": {"line": f.start.line + 1, "column": f.start.utf8 + 1},
        "end": {"line": f.end.line + 1, "column": f.end.utf8 + 1},
    })
}

fn rd_diagnostic(f: &Finding) -> Value {
    let mut diagnostic = json!({
        "message": f.message,
        "location": {"path": f.path, "range": rd_range(f)},
        "severity": rd_severity(f.severity),
        "source": {"name": "nib", "url": INFORMATION_URI},
        "code": {"value": f.rule},
        "original_output": f.quote,
    });
    if let Some(replacement) = &f.replacement {
        diagnostic["suggestions"] = json!([{"range": rd_range(f), "text": replacement}]);
    }
    diagnostic
}

fn rdjson(report: &Report) -> Value {
    json!({
        "source": {"name": "nib", "url": INFORMATION_URI},
        "diagnostics": report.findings.iter().map(rd_diagnostic).collect::<Vec<_>>(),
    })
}

/// Workflow commands: data escapes `%`, CR and LF; property values also `:` and `,`.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn github(report: &Report) -> String {
    report
        .findings
        .iter()
        .map(|f| {
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "notice",
            };
            format!(
                "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
                escape_property(&f.path),
                f.start.line + 1,
                f.start.utf8 + 1,
                f.end.line + 1,
                f.end.utf8 + 1,
                escape_property(&format!("nib {}", f.rule)),
                escape_data(&f.message)
            )
        })
        .collect()
}

fn gitlab(report: &Report) -> Value {
    let issues: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "description": f.message,
                "check_name": f.rule,
                "fingerprint": f.fingerprint,
                "severity": match f.severity { Severity::Error => "critical", Severity::Warning => "major", Severity::Info => "info" },
                "location": {"path": f.path, "lines": {"begin": f.start.line + 1, "end": f.end.line + 1}},
            })
        })
        .collect();
    Value::Array(issues)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::Position;
    use crate::review::prompt::ReviewPrompt;

    fn finding(replacement: Option<&str>) -> Finding {
        Finding {
            path: "src/a,b.py".into(),
            rule: "bug".into(),
            severity: Severity::Error,
            message: "100% wrong:\nsee here".into(),
            quote: "return x".into(),
            replacement: replacement.map(str::to_owned),
            start: Position { line: 2, utf8: 4, utf16: 4 },
            end: Position { line: 2, utf8: 12, utf16: 12 },
            fingerprint: "abc123".into(),
        }
    }

    fn render_with(findings: &[Finding], format: Format) -> String {
        let prompt = ReviewPrompt::builtin();
        let report = Report {
            findings,
            rules: &prompt.rules,
            model_path: "/m.gguf",
            model_sha256: "ff00",
            engine: "local",
            prompt_version: &prompt.version,
        };
        render(&report, format)
    }

    #[test]
    fn sarif_has_the_structure_code_scanning_requires() {
        let sarif: Value = serde_json::from_str(&render_with(&[finding(Some("return y"))], Format::Sarif)).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
        assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
        let run = &sarif["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "nib");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert!(rules.iter().all(|r| r["id"].is_string() && r["shortDescription"]["text"].is_string()));
        let result = &run["results"][0];
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(result["level"], "error");
        assert!(result["message"]["text"].is_string());
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "src/a,b.py");
        assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert_eq!(location["region"], json!({"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 13}));
        assert_eq!(result["partialFingerprints"]["nibFinding/v1"], "abc123");
        assert_eq!(result["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"], "return y");
        assert_eq!(run["properties"]["modelSha256"], "ff00");
        assert_eq!(run["properties"]["engine"], "local");
        assert_eq!(run["tool"]["driver"]["properties"], run["properties"]);
        assert!(run["properties"]["promptVersion"].is_string());
    }

    #[test]
    fn rdjson_and_rdjsonl_carry_reviewdog_fields() {
        let rd: Value = serde_json::from_str(&render_with(&[finding(Some("return y"))], Format::Rdjson)).unwrap();
        assert_eq!(rd["source"]["name"], "nib");
        let d = &rd["diagnostics"][0];
        assert_eq!(d["severity"], "ERROR");
        assert_eq!(d["code"]["value"], "bug");
        assert_eq!(d["location"]["path"], "src/a,b.py");
        assert_eq!(d["location"]["range"]["start"], json!({"line": 3, "column": 5}));
        assert_eq!(d["suggestions"][0]["text"], "return y");
        let lines = render_with(&[finding(None), finding(None)], Format::Rdjsonl);
        assert_eq!(lines.lines().count(), 2);
        for line in lines.lines() {
            let d: Value = serde_json::from_str(line).unwrap();
            assert!(d["message"].is_string() && d.get("suggestions").is_none());
        }
    }

    #[test]
    fn github_annotations_are_escaped() {
        let out = render_with(&[finding(None)], Format::Github);
        assert_eq!(
            out,
            "::error file=src/a%2Cb.py,line=3,col=5,endLine=3,endColumn=13,title=nib bug::100%25 wrong:%0Asee here\n"
        );
    }

    #[test]
    fn gitlab_code_quality_fields() {
        let gl: Value = serde_json::from_str(&render_with(&[finding(None)], Format::Gitlab)).unwrap();
        let issue = &gl[0];
        assert_eq!(issue["check_name"], "bug");
        assert_eq!(issue["severity"], "critical");
        assert_eq!(issue["fingerprint"], "abc123");
        assert_eq!(issue["location"], json!({"path": "src/a,b.py", "lines": {"begin": 3, "end": 3}}));
        assert!(issue["description"].is_string());
    }

    #[test]
    fn text_names_the_model_and_prompt() {
        let out = render_with(&[finding(None)], Format::Text);
        assert!(out.starts_with("src/a,b.py:3:5: error[bug] 100% wrong:"), "{out}");
        assert!(out.contains("sha256 ff00") && out.contains("engine local"), "{out}");
    }
}
