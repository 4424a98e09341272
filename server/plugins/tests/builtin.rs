//! The built-in plugins through the chain: `redact-secrets` on by default with a remote backend and counted,
//! `banned-patterns` from the configuration.

use nib_plugins::banned::{Action, BannedPattern};
use nib_plugins::{FileInfo, PluginConfig, PluginState, Plugins, PromptParts, Setting, Snippet, SuggestionParams};

fn parts() -> PromptParts {
    PromptParts {
        prefix: "AWS_ACCESS_KEY_ID = \"AKIAIOSFODNN7EXAMPLE\"\ndef f():\n    ".into(),
        suffix: "\nDB_PASSWORD = \"s3cr3t-Pa55word!\"\n".into(),
        snippets: vec![Snippet {
            path: "config.py".into(),
            text: "token = \"ghp_FAKEabcdefghijklmnopqrstuvwxyz0123456789\"".into(),
        }],
        ..PromptParts::default()
    }
}

#[test]
fn redact_secrets_runs_by_default_with_a_remote_backend_and_counts_what_it_redacts() {
    let remote = Plugins::start(&[], &Setting { remote: true, ..Setting::default() });
    let mut sent = parts();
    remote.prompt(&mut sent).unwrap();
    for secret in ["AKIAIOSFODNN7EXAMPLE", "s3cr3t-Pa55word!", "ghp_FAKE"] {
        let all = format!("{}{}{}", sent.prefix, sent.suffix, sent.snippets[0].text);
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    assert!(sent.prefix.contains("<redacted:aws-access-key>"), "{}", sent.prefix);
    let status = remote.status().remove(0);
    assert_eq!((status.name.as_str(), status.builtin, status.state), ("redact-secrets", true, PluginState::Running));
    assert_eq!(status.counts.values().sum::<u64>(), 3, "{:?}", status.counts);

    // Local: nothing leaves the machine, nothing is redacted unless configured; and it can be turned off.
    let mut kept = parts();
    Plugins::start(&[], &Setting::default()).prompt(&mut kept).unwrap();
    assert_eq!(kept, parts());
    let off = PluginConfig { name: "redact-secrets".into(), enabled: false, ..PluginConfig::default() };
    let mut kept = parts();
    Plugins::start(&[off], &Setting { remote: true, ..Setting::default() }).prompt(&mut kept).unwrap();
    assert_eq!(kept, parts());
}

#[test]
fn banned_patterns_drop_and_trim_suggestions() {
    let config = PluginConfig {
        name: "banned-patterns".into(),
        patterns: vec![
            BannedPattern { regex: r"Copyright \(c\)".into(), action: Action::Drop },
            BannedPattern { regex: r"\.iteritems\(\)".into(), action: Action::Trim },
        ],
        ..PluginConfig::default()
    };
    let plugins = Plugins::start(&[config], &Setting::default());
    let suggestion = |text: &str| {
        plugins.suggestion(SuggestionParams { file: FileInfo::default(), line: 0, column: 0, text: text.into() })
    };
    assert_eq!(suggestion("# Copyright (c) 2024 Someone"), None);
    assert_eq!(suggestion("total = 0\nfor k, v in d.iteritems():").as_deref(), Some("total = 0\nfor k, v in d"));
    assert_eq!(suggestion("return x").as_deref(), Some("return x"));
    let counts = plugins.status().remove(0).counts;
    assert_eq!((counts.get("dropped"), counts.get("trimmed")), (Some(&1), Some(&1)));

    let bad = PluginConfig {
        name: "banned-patterns".into(),
        patterns: vec![BannedPattern { regex: "(".into(), action: Action::Drop }],
        ..PluginConfig::default()
    };
    let status = Plugins::start(&[bad], &Setting::default()).status().remove(0);
    assert_eq!(status.state, PluginState::Failed);
    assert!(status.last_error.unwrap_or_default().contains('('));
}
