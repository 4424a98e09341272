//! The `nib` command line: `serve` for editors, `complete` and `bench` for people and scripts.

#[cfg(test)]
mod build_info;
mod commands;

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use commands::ModelArg;
use commands::bench::BenchCommand;
use commands::complete::CompleteArgs;
use commands::doctor::DoctorArgs;
use commands::eval::EvalArgs;
use commands::models::ModelsCommand;
use commands::review::{ReviewArgs, Verdict};
use commands::top::TopArgs;

/// Local, private AI code completion: a language server backed by a GGUF model run in-process.
#[derive(Parser)]
#[command(name = "nib", version, about, after_help = MODEL_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const MODEL_HELP: &str = "\
Model resolution, first match wins: --model PATH, $NIB_MODEL, the LSP initializationOptions.model,
`model` in the config file ($NIB_CONFIG or ~/.config/nib/config.toml), the default model in
$NIB_HOME/models (NIB_HOME defaults to ~/.cache/nib; fetch it with `nib models pull`).
Logging: NIB_LOG=debug (tracing filter syntax), on stderr.";

#[derive(Subcommand)]
enum Command {
    /// Run the language server over stdin/stdout (what editors start).
    Serve(ModelArg),
    /// Complete the code at FILE:LINE:COL and print the suggestion.
    Complete(CompleteArgs),
    /// Measure the completion pipeline.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Measure completion quality: hide code at sampled positions and score what nib suggests.
    Eval(EvalArgs),
    /// Review files, or what a diff changed, with the local model; write a report CI tools read.
    Review(ReviewArgs),
    /// Show every nib server of this user, live: editor, model, memory, CPU, latency, caches.
    Top(TopArgs),
    /// What nib runs on and with: machine, model, engine, NIB_HOME, configuration, a short measurement and
    /// recommendations. Exit code 1 when something is broken.
    Doctor(DoctorArgs),
    /// The models nib can download: list, pull, verify, rm.
    #[command(subcommand)]
    Models(ModelsCommand),
}

/// Exit codes: 0 done, 1 findings at the fail level (`nib review`) or something broken (`nib doctor`), 2 an error.
fn main() -> ExitCode {
    spin_less();
    let cli = Cli::command().version(version()).get_matches();
    let cli = Cli::from_arg_matches(&cli).unwrap_or_else(|e| e.exit());
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {err:?}");
            ExitCode::from(2)
        }
    }
}

/// What `nib --version` prints after the name: the version, the commit it was built from (build.rs) and the
/// backends built in, e.g. `0.1.0 (commit 89a9e82; backends: cpu, vulkan)`.
fn version() -> String {
    let backends = nib_engine::built_backends().join(", ");
    format!("{} (commit {}; backends: {backends})", env!("CARGO_PKG_VERSION"), env!("NIB_COMMIT"))
}

/// llama.cpp's OpenMP threads spin up to 300,000 times at every barrier before they sleep: when another process
/// takes a core (the editor, a compiler, a second nib), a spinning thread waits on a descheduled one. Measured on
/// two cores, a cold 1,308-token prompt beside one busy process: 10.5 s by default, 6.8 s spinning 1,000 times,
/// the same 3.1 s on an idle machine. libgomp reads its settings when it loads, before `main`, so nib starts itself
/// again with the setting, once; a user's own OpenMP settings win.
#[cfg(unix)]
fn spin_less() {
    use std::os::unix::process::CommandExt;
    let set = |name| std::env::var_os(name).is_some();
    if set("GOMP_SPINCOUNT") || set("OMP_WAIT_POLICY") {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let err = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("GOMP_SPINCOUNT", "1000").exec();
    // Only reached when the exec failed: go on as we are.
    eprintln!("nib: cannot restart with GOMP_SPINCOUNT set: {err}");
}

#[cfg(not(unix))]
fn spin_less() {}

fn run(cli: Cli) -> Result<ExitCode> {
    let default_log = match cli.command {
        Command::Serve(_) => "warn,nib=info,llama-cpp-2=error",
        _ => "warn,llama-cpp-2=error",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("NIB_LOG").unwrap_or_else(|_| default_log.into()))
        .init();
    match cli.command {
        Command::Serve(args) => commands::serve::run(args)?,
        Command::Top(args) => commands::top::run(args)?,
        Command::Complete(args) => commands::complete::run(args)?,
        Command::Bench(command) => commands::bench::run(command)?,
        Command::Eval(args) => commands::eval::run(args)?,
        Command::Models(command) => commands::models::run(command)?,
        Command::Review(args) => match commands::review::run(args)? {
            Verdict::Passed => {}
            Verdict::Failed => return Ok(ExitCode::from(1)),
        },
        Command::Doctor(args) => {
            if !commands::doctor::run(args)? {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
