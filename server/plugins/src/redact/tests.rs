//! Data-driven: each `tests/fixtures/redact/*.txt` holds one or more texts (`//- name` or `#- name` lines start
//! each); each is redacted on its own, and the kinds found with their counts, then the redacted text, must equal the
//! `.expect` file beside it. `UPDATE_EXPECT=1 cargo test -p nib-plugins` rewrites the expectations.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use super::*;

nib_fixture::tests! {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/redact"), check;
    already_redacted => "already_redacted.txt",
    assignments_in_go => "assignments_in_go.txt",
    assignments_in_javascript => "assignments_in_javascript.txt",
    assignments_in_json_and_php => "assignments_in_json_and_php.txt",
    assignments_in_python => "assignments_in_python.txt",
    assignments_in_rust => "assignments_in_rust.txt",
    assignments_in_toml => "assignments_in_toml.txt",
    assignments_in_yaml => "assignments_in_yaml.txt",
    aws_credentials_file => "aws_credentials_file.txt",
    aws_keys_in_javascript => "aws_keys_in_javascript.txt",
    bearer_tokens => "bearer_tokens.txt",
    dotenv => "dotenv.txt",
    github_tokens_in_rust => "github_tokens_in_rust.txt",
    gitlab_token_in_ci => "gitlab_token_in_ci.txt",
    google_api_key_in_html => "google_api_key_in_html.txt",
    jwt_in_typescript => "jwt_in_typescript.txt",
    lookalikes_are_kept => "lookalikes_are_kept.txt",
    openai_and_anthropic_keys_in_python => "openai_and_anthropic_keys_in_python.txt",
    placeholders_are_kept => "placeholders_are_kept.txt",
    private_key_cut_by_the_window => "private_key_cut_by_the_window.txt",
    private_key_pgp_and_encrypted => "private_key_pgp_and_encrypted.txt",
    private_keys_in_python => "private_keys_in_python.txt",
    references_are_kept => "references_are_kept.txt",
    references_in_github_actions => "references_in_github_actions.txt",
    slack_tokens_in_javascript => "slack_tokens_in_javascript.txt",
    stripe_keys_in_ruby => "stripe_keys_in_ruby.txt",
    type_annotations_are_kept => "type_annotations_are_kept.txt",
    url_passwords => "url_passwords.txt",
}

fn check(path: &Path) {
    let fixture = nib_fixture::parse(&std::fs::read_to_string(path).expect("the fixture reads"));
    assert!(!fixture.sections.is_empty(), "{}: no `//- name` section", path.display());
    let mut actual = String::new();
    for (name, text) in &fixture.sections {
        let redacted = redact(text);
        let found: Vec<String> = redacted.found.iter().map(|(kind, n)| format!("{} {n}", kind.name())).collect();
        let found = if found.is_empty() { "nothing".to_owned() } else { found.join(", ") };
        writeln!(actual, "//- {name}: {found}").expect("writes to a String");
        actual.push_str(&redacted.text);
        // Nothing found must cost no copy, the same text must redact the same, and redacted text has no secrets.
        assert_eq!(redacted.found.is_empty(), matches!(redacted.text, Cow::Borrowed(_)), "{name}");
        assert_eq!(redact(text), redacted, "{name}: not deterministic");
        assert_eq!(redact(&redacted.text).found, [], "{name}: redacting again finds more");
    }
    nib_fixture::expect_file![nib_fixture::expect_path(path)].assert_eq(&actual);
}

#[test]
fn secret_names_by_their_last_word() {
    for name in ["DB_PASSWORD", "self.api_token", "apiKey", "x-api-key", "AWS_SECRET_ACCESS_KEY", "clientSecret", "PWD"]
    {
        assert!(is_secret_name(name), "{name}");
    }
    for name in ["password_hash", "token_url", "max_tokens", "author", "monkey", "tokenizer", "keyToken_id", "hotkey"] {
        assert!(!is_secret_name(name), "{name}");
    }
}

/// Redaction of an ~8 KB prompt of real code, 1,000 times: `cargo test --release -p nib-plugins -- --ignored
/// --nocapture redaction_cost`.
#[test]
#[ignore = "a measurement; prints figures"]
fn redaction_cost() {
    let path = "/usr/lib/python3.11/json/encoder.py";
    let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut prompt: String = source.chars().take(7_600).collect();
    // A few secrets among the code, so the slow path (captures, the copy) is what is measured.
    prompt.push_str("\nDB_PASSWORD = \"Tr0ub4dor&3\"\nclient = Client(\"ghp_FAKE9naHVck6pbd4ZRj2SxphvDTwrzqwo72n\")\n");
    prompt.push_str("url = \"postgres://app:s3cr3t-Pa55@db.internal:5432/app\"\n");
    let clean: String = source.chars().take(8_000).collect();
    for (label, text) in [("with secrets", &prompt), ("clean", &clean)] {
        assert_eq!(redact(text).found.is_empty(), label == "clean");
        let mut micros: Vec<f64> = (0..1_000)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(redact(std::hint::black_box(text)));
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        micros.sort_by(f64::total_cmp);
        let median = micros[micros.len() / 2];
        let p95 = micros[micros.len() * 95 / 100];
        println!("redact, {} bytes {label}: median {median:.1} µs, p95 {p95:.1} µs", text.len());
    }
}
