//! End-to-end tests: the built `nib` binary, spoken to over stdio, with the real default model.

mod acceptance;
mod candidates;
mod cli;
mod doctor;
mod emacs;
mod first_contact;
mod fuzz;
mod hardening;
mod interop;
mod latency;
mod llama_server;
mod load;
mod lsp;
mod neovim;
mod next_edit;
mod plugin_examples;
mod plugins;
mod remote;
mod review;
mod support;
mod top;
mod vscode;
mod windows;
