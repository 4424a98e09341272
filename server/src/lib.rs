//! nib: a local, private AI code-completion language server.
//!
//! Data flows one way: `lsp` -> `documents` -> `prompt` -> `engine` ->
//! `completion` (post-processing) -> `lsp`. See ARCHITECTURE.md.

pub mod bench;
pub mod completion;
pub mod config;
pub mod context;
pub mod documents;
pub mod engine;
pub mod lsp;
pub mod prompt;
pub mod review;
pub mod syntax;
