//! `nib serve`: the language server over stdin/stdout.

use anyhow::Result;

use super::ModelArg;

pub fn run(args: ModelArg) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(nib_lsp::serve(args.command_line()));
    // A read of stdin may still be pending on a blocking thread: do not wait for it.
    runtime.shutdown_background();
    Ok(())
}
