//! Plugin hooks: the built-in plugins, `redact-secrets` (prompts leave the machine without secrets) and
//! `banned-patterns` (suggestions matching configured regexes are dropped or trimmed).

pub mod banned;
pub mod redact;
