//! End-to-end tests: the built `nib` binary, spoken to over stdio, with the real default model.

mod acceptance;
mod arrival;
mod candidates;
mod cli;
mod confidence;
mod doctor;
mod emacs;
mod first_contact;
mod first_run;
mod fuzz;
mod hardening;
mod interop;
mod latency;
mod llama_server;
mod load;
mod lookup;
mod lsp;
mod models_server;
mod neovim;
mod next_edit;
mod plugin_examples;
mod plugins;
mod release;
mod remote;
mod review;
mod support;
mod surprise;
mod top;
mod vscode;
// Not yet in the suite: on Mesa 22.3's lavapipe the Vulkan build's first completion ran for over 6 minutes.
// Run by hand: NIB_VULKAN_BIN="$(bash .ci/vulkan)" with `mod vulkan;` here.
mod windows;
