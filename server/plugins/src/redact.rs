//! `redact-secrets`: finds secrets in text about to leave the machine (a prompt for a remote model server) and
//! replaces each secret's value, never the key name or quotes around it, with `<redacted:KIND>`. The output is a
//! pure function of the input, byte for byte, so a server's prompt cache keeps working.
//!
//! What counts as a secret:
//! - `private-key`: the body of a PEM private key (`-----BEGIN RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP ... PRIVATE KEY
//!   (BLOCK)-----`); the BEGIN and END lines stay. A key without its END line (a prompt window cut through it) is
//!   redacted to the end of the text.
//! - `aws-access-key`: `AKIA`/`ASIA`/... followed by 16 upper-case letters or digits.
//! - `aws-secret-key`: 40 base64 characters assigned to a name containing `secret_access_key` (any case, `_`
//!   optional), quoted or not, as in `~/.aws/credentials`.
//! - `github-token` (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), `gitlab-token` (`glpat-`),
//!   `slack-token` (`xoxa-`, `xoxb-`, `xoxe-`, `xoxp-`, `xoxr-`, `xoxs-`), `stripe-key` (`sk_`/`rk_` then `live_` or
//!   `test_`: test keys still open the account's API), `google-api-key` (`AIza` and 35 characters),
//!   `anthropic-key` (`sk-ant-`), `openai-key` (`sk-`, `sk-proj-`, `sk-svcacct-`, `sk-admin-`), each by its prefix
//!   and length.
//! - `jwt`: three base64url segments, the first starting `eyJ` (`{"`).
//! - `bearer-token`: what follows `Bearer ` (16 characters or more).
//! - `url-password`: the password of `scheme://user:password@host`.
//! - `secret-assignment`: a literal assigned to a secret-named variable, key or field: the name's last word (split
//!   at `_`, `-`, `.` and camelCase) is `password`, `passwd`, `pwd`, `passphrase`, `secret`, `token`, `auth`,
//!   `apikey`, `accesskey`, `privatekey`, `secretkey`, `clientsecret`, or `key` after `api`, `access`, `private` or
//!   `secret` (`DB_PASSWORD`, `self.api_token`, `apiKey`, `"x-api-key"`). The name may be quoted (JSON, PHP, a
//!   dict's subscript) and followed by a type annotation (`password: str = "..."`). The literal is quoted after
//!   `=`, `:`, `:=` or `=>`, or it is unquoted on a line of its own after `NAME=` (`.env`, shell) or `name: `
//!   (YAML).
//!
//! What does not, to keep completions faithful where no secret is:
//! - for `secret-assignment`: values under 6 bytes (`""`, flags like `"none"`), quoted values with whitespace
//!   (messages: `"Invalid token"`), names whose last word is something else (`password_hash`, `token_url`,
//!   `max_tokens`, `author`), unquoted values in code (`token = get_token()`, `password: str`): an unquoted value
//!   must stand alone on its line after `NAME=` or `name: `, must not end with `,` or `;`, and must hold a digit or
//!   a symbol (`!@#%^&*+/=~-`), so an identifier is taken for a reference (a letters-only YAML password is missed);
//! - for every rule but the prefixed tokens: references and templates (`$VAR`, `${{ secrets.X }}`, `{{ x }}`,
//!   `%(x)s`, `<your-key>`, `os.environ[...]` is no literal at all), paths (`/run/secrets/db`, `./key.pem`, `~`),
//!   URLs, a single repeated character (`xxxxxx`, `******`), and well-known placeholders (`changeme`, `password`,
//!   `secret`, `example`, `your...`); a placeholder says nothing about the user's secrets, and the model writes
//!   better code seeing it;
//! - `openai-key` and `bearer-token` values must mix letters and digits, so `sk-fading-circle-animation` (CSS) and
//!   `Bearer authentication` (prose) stay;
//! - prose: every rule needs a name and an operator, or a format's prefix, so "the token is invalid" never matches.
//!
//! Redacting redacted text finds nothing: a value starting `<redacted:` is never a secret.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet};

/// The kinds of secret recognised, in the order of their rules' precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretKind {
    PrivateKey,
    AwsAccessKey,
    AwsSecretKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    StripeKey,
    GoogleApiKey,
    AnthropicKey,
    OpenaiKey,
    Jwt,
    BearerToken,
    UrlPassword,
    SecretAssignment,
}

impl SecretKind {
    /// The stable kebab-case name, used in the placeholder and in status counters.
    pub fn name(self) -> &'static str {
        match self {
            SecretKind::PrivateKey => "private-key",
            SecretKind::AwsAccessKey => "aws-access-key",
            SecretKind::AwsSecretKey => "aws-secret-key",
            SecretKind::GithubToken => "github-token",
            SecretKind::GitlabToken => "gitlab-token",
            SecretKind::SlackToken => "slack-token",
            SecretKind::StripeKey => "stripe-key",
            SecretKind::GoogleApiKey => "google-api-key",
            SecretKind::AnthropicKey => "anthropic-key",
            SecretKind::OpenaiKey => "openai-key",
            SecretKind::Jwt => "jwt",
            SecretKind::BearerToken => "bearer-token",
            SecretKind::UrlPassword => "url-password",
            SecretKind::SecretAssignment => "secret-assignment",
        }
    }
}

/// A text with its secrets replaced, and how many of each kind were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted<'a> {
    /// Borrowed when nothing was found.
    pub text: Cow<'a, str>,
    /// Each kind found, with its count, in `SecretKind` order; empty when nothing was found.
    pub found: Vec<(SecretKind, usize)>,
}

/// Replaces every secret's value in `text` with `<redacted:KIND>` (see the module's documentation for the rules).
pub fn redact(text: &str) -> Redacted<'_> {
    let rules = &*RULES;
    let candidates = rules.any.matches(text);
    if !candidates.matched_any() {
        return Redacted { text: Cow::Borrowed(text), found: Vec::new() };
    }
    // Rules run in precedence order and a span overlapping one already taken is dropped, so the token in
    // `GITHUB_TOKEN=ghp_...` counts as a GitHub token, not as a secret assignment. Taken spans never overlap, so
    // only the last one starting before a new span's end can overlap it: a text full of secrets costs no quadratic
    // check.
    let mut taken: BTreeMap<usize, (usize, SecretKind)> = BTreeMap::new();
    for i in candidates.iter() {
        let rule = &RULES_SPEC[i];
        for caps in rules.regexes[i].captures_iter(text) {
            let Some(span) = (rule.value)(&caps) else { continue };
            if span.is_empty() || text[span.clone()].starts_with("<redacted:") {
                continue;
            }
            if taken.range(..span.end).next_back().is_none_or(|(_, (end, _))| *end <= span.start) {
                taken.insert(span.start, (span.end, rule.kind));
            }
        }
    }
    if taken.is_empty() {
        return Redacted { text: Cow::Borrowed(text), found: Vec::new() };
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut found: Vec<(SecretKind, usize)> = Vec::new();
    for (&start, &(end, kind)) in &taken {
        out.push_str(&text[at..start]);
        out.push_str("<redacted:");
        out.push_str(kind.name());
        out.push('>');
        at = end;
        match found.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => found.push((kind, 1)),
        }
    }
    out.push_str(&text[at..]);
    found.sort();
    Redacted { text: Cow::Owned(out), found }
}

/// One rule: its kind, its regex, and the span of the secret in a match (`None`: not a secret after all).
struct Rule {
    kind: SecretKind,
    pattern: &'static str,
    value: fn(&Captures) -> Option<Range<usize>>,
}

struct Rules {
    /// One pass that tells which rules can match, so a text without candidates (most prompts) costs one scan.
    any: RegexSet,
    regexes: Vec<Regex>,
}

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    let patterns = RULES_SPEC.iter().map(|r| r.pattern);
    Rules {
        any: RegexSet::new(patterns.clone()).expect("the secret patterns compile as a set"),
        regexes: patterns.map(|p| Regex::new(p).expect("each secret pattern compiles")).collect(),
    }
});

// Patterns use ASCII word boundaries and classes: Unicode ones would keep the regex engine off its fastest paths,
// and every format here is ASCII.
const RULES_SPEC: &[Rule] = &[
    Rule {
        kind: SecretKind::PrivateKey,
        pattern: r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?P<v>(?s:.*?))(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
        value: pem_body,
    },
    Rule {
        kind: SecretKind::AwsAccessKey,
        pattern: r"(?-u:\b)(?P<v>(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16})(?-u:\b)",
        value: group,
    },
    Rule {
        kind: SecretKind::AwsSecretKey,
        pattern: r#"(?i:secret_?access_?key)["'\]]*[ \t]*(?:=>|:=|=|:)[ \t]*["']?(?P<v>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|\z)"#,
        value: group,
    },
    Rule {
        kind: SecretKind::GithubToken,
        pattern: r"(?-u:\b)(?P<v>gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{82})(?-u:\b)",
        value: group,
    },
    Rule { kind: SecretKind::GitlabToken, pattern: r"(?-u:\b)(?P<v>glpat-[A-Za-z0-9_-]{20,})", value: group },
    Rule { kind: SecretKind::SlackToken, pattern: r"(?-u:\b)(?P<v>xox[abeprs]-[A-Za-z0-9-]{10,})", value: group },
    Rule {
        kind: SecretKind::StripeKey,
        pattern: r"(?-u:\b)(?P<v>[rs]k_(?:live|test)_[A-Za-z0-9]{20,247})(?-u:\b)",
        value: group,
    },
    Rule { kind: SecretKind::GoogleApiKey, pattern: r"(?-u:\b)(?P<v>AIza[A-Za-z0-9_-]{35})", value: group },
    Rule { kind: SecretKind::AnthropicKey, pattern: r"(?-u:\b)(?P<v>sk-ant-[A-Za-z0-9_-]{20,})", value: group },
    Rule {
        kind: SecretKind::OpenaiKey,
        pattern: r"(?-u:\b)(?P<v>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})",
        value: random_group,
    },
    Rule {
        kind: SecretKind::Jwt,
        pattern: r"(?-u:\b)(?P<v>eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})",
        value: group,
    },
    Rule {
        kind: SecretKind::BearerToken,
        pattern: r"(?-u:\b)[Bb]earer[ \t]+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)",
        value: random_group,
    },
    Rule {
        kind: SecretKind::UrlPassword,
        pattern: r#"(?-u:\b)[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@'"`]*:(?P<v>[^\s/@'"`]+)@"#,
        value: literal_group,
    },
    // A quoted literal after a secret name, an optional type annotation, and an operator.
    Rule {
        kind: SecretKind::SecretAssignment,
        pattern: concat!(
            r#"(?P<name>[A-Za-z0-9_.$@-]*(?i:password|passwd|pwd|passphrase|secret|token|auth|key))["'`]?\]?"#,
            r"(?::[ \t]*[A-Za-z_&][A-Za-z0-9_\[\]<>&.,| ]*?)?",
            r#"[ \t]*(?:=>|:=|=|:)[ \t]*(?:"(?P<v>[^"\s]*)"|'(?P<v2>[^'\s]*)'|`(?P<v3>[^`\s]*)`)"#,
        ),
        value: quoted_assignment,
    },
    // An unquoted value alone on its line: `.env` and shell (`NAME=value`, no spaces) and YAML (`name: value`).
    Rule {
        kind: SecretKind::SecretAssignment,
        pattern: concat!(
            r"(?m)^[ \t]*(?:export[ \t]+|-[ \t]+)?",
            r"(?P<name>[A-Za-z0-9_.-]*(?i:password|passwd|pwd|passphrase|secret|token|auth|key))",
            r#"(?:=|[ \t]*:[ \t]+)(?P<v>[^\s'"`]+)(?:[ \t]+#.*)?[ \t]*\r?$"#,
        ),
        value: unquoted_assignment,
    },
];

fn group(caps: &Captures) -> Option<Range<usize>> {
    caps.name("v").map(|m| m.range())
}

/// The body between the BEGIN and END lines, without the line breaks around it, real or escaped (`\\n` in a
/// one-line string literal).
fn pem_body(caps: &Captures) -> Option<Range<usize>> {
    let body = caps.name("v")?;
    let text = body.as_str();
    let (mut from, mut to) = (0, text.len());
    loop {
        let head = text[from..to].trim_start();
        let head = head.strip_prefix("\\n").unwrap_or(head);
        let new_from = to - head.len();
        let tail = text[new_from..to].trim_end();
        let tail = tail.strip_suffix("\\n").unwrap_or(tail);
        let new_to = new_from + tail.len();
        if (new_from, new_to) == (from, to) {
            break;
        }
        (from, to) = (new_from, new_to);
    }
    (from < to).then(|| body.start() + from..body.start() + to)
}

/// For formats whose prefix alone is common in code: the value must mix letters and digits, as random keys do.
fn random_group(caps: &Captures) -> Option<Range<usize>> {
    let v = caps.name("v")?;
    let s = v.as_str().as_bytes();
    (s.iter().any(u8::is_ascii_digit) && s.iter().any(u8::is_ascii_alphabetic)).then(|| v.range())
}

fn literal_group(caps: &Captures) -> Option<Range<usize>> {
    let v = caps.name("v")?;
    is_literal(v.as_str()).then(|| v.range())
}

fn quoted_assignment(caps: &Captures) -> Option<Range<usize>> {
    let v = caps.name("v").or_else(|| caps.name("v2")).or_else(|| caps.name("v3"))?;
    (is_secret_name(caps.name("name")?.as_str()) && v.len() >= 6 && is_literal(v.as_str())).then(|| v.range())
}

fn unquoted_assignment(caps: &Captures) -> Option<Range<usize>> {
    let v = caps.name("v")?;
    let s = v.as_str();
    // Code puts references here (`tokens[0]`, `get()`, `a,`); a secret holds a digit or a symbol.
    let plain = !s.contains(['(', ')', '[', ']', '{', '}']) && !s.ends_with([',', ';']);
    let random = s.bytes().any(|b| b.is_ascii_digit() || b"!@#%^&*+/=~-".contains(&b));
    (is_secret_name(caps.name("name")?.as_str()) && s.len() >= 6 && plain && random && is_literal(s)).then(|| v.range())
}

/// Whether the name's last word (split at `_`, `-`, `.`, `$`, `@` and lower-to-upper case changes) names a secret.
fn is_secret_name(name: &str) -> bool {
    let mut words = Vec::new();
    for part in name.split(['_', '-', '.', '$', '@']) {
        let bytes = part.as_bytes();
        let mut from = 0;
        for to in 1..bytes.len() {
            if bytes[to - 1].is_ascii_lowercase() && bytes[to].is_ascii_uppercase() {
                words.push(&part[from..to]);
                from = to;
            }
        }
        words.push(&part[from..]);
    }
    let mut last_first = words.iter().rev().map(|w| w.to_ascii_lowercase());
    match last_first.next().unwrap_or_default().as_str() {
        "password" | "passwd" | "pwd" | "passphrase" | "secret" | "token" | "auth" | "apikey" | "accesskey"
        | "privatekey" | "secretkey" | "clientsecret" => true,
        "key" => matches!(last_first.next().as_deref(), Some("api" | "access" | "private" | "secret")),
        _ => false,
    }
}

/// Whether a value is a literal secret rather than a reference, a template, a path, a URL or a placeholder.
fn is_literal(value: &str) -> bool {
    const PLACEHOLDERS: &[&str] = &[
        "changeme",
        "change-me",
        "change_me",
        "password",
        "passwd",
        "secret",
        "token",
        "example",
        "placeholder",
        "redacted",
        "dummy",
        "null",
        "none",
        "undefined",
        "xxx",
    ];
    let lower = value.to_ascii_lowercase();
    let reference = value.starts_with(['$', '%', '<', '{', '/', '~']) || value.starts_with("./");
    let template = value.contains("${") || value.contains("{{") || value.contains("$(") || value.contains("://");
    let repeated = value.chars().all(|c| value.starts_with(c));
    let placeholder = PLACEHOLDERS.contains(&lower.as_str()) || lower.starts_with("your");
    !(reference || template || repeated || placeholder)
}

#[cfg(test)]
mod tests;
