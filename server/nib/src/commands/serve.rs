//! `nib serve`: the language server over stdin/stdout.

use std::io::Write;

use anyhow::Result;

use super::ModelArg;

pub fn run(args: ModelArg) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(nib_lsp::serve(args.command_line()));
    // A read of stdin may still be pending on a blocking thread: do not wait for it.
    runtime.shutdown_background();
    exit_under_running_threads()
}

/// Ends the process without running C++'s static destructors. A blocking thread may still be inside llama.cpp
/// (tokenizing a 2 MB line for a prompt nobody waits for any more): `exit` would free llama.cpp's static tables
/// under it, and the server that had shut down cleanly died of SIGSEGV. Everything nib keeps is saved by then.
fn exit_under_running_threads() -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` only ends the process; nothing of this one runs after it.
    unsafe { libc::_exit(0) }
}
