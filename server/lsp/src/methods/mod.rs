//! One file per LSP method, requests and notifications alike, named after the method: the server's
//! `LanguageServer` impl only dispatches here.

pub mod code_action;
pub mod completion;
pub mod copilot_inline_edit;
pub mod cursor_rest;
pub mod diagnostic;
pub mod did_change;
pub mod did_change_configuration;
pub mod did_change_watched_files;
pub mod did_change_workspace_folders;
pub mod did_close;
pub mod did_open;
pub mod did_save;
pub mod execute_command;
pub mod initialize;
pub mod initialized;
pub mod inline_completion;
pub mod nib_document;
pub mod nib_next_edits;
pub mod nib_status;
pub mod shutdown;
