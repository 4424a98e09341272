//! Text and syntax: the open documents as rope buffers kept in step with the
//! editor's edits, and their tree-sitter trees, parsed off the async threads.

pub mod documents;
pub mod indent;
pub mod next_edit;
pub mod syntax;
pub mod uri;
