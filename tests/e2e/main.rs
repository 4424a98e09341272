//! End-to-end tests: the built `nib` binary, spoken to over stdio, with the real default model.

mod cli;
mod emacs;
mod first_contact;
mod fuzz;
mod hardening;
mod interop;
mod latency;
mod load;
mod lsp;
mod neovim;
mod review;
mod support;
mod vscode;
