//! The completion and review pipelines: from a document snapshot (and a cursor,
//! or a diff) through prompt and engine to post-processed suggestions and
//! findings. The LSP server and the CLI both call them; neither knows LSP here.

pub mod chat;
pub mod completion;
pub mod config;
pub mod engine;
pub mod next_edit;
pub mod plugins;
pub mod review;
pub mod settings;
pub mod tasks;
