//! `nib bench`: how fast the completion pipeline is, measured through the engine or through `nib serve`.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand, ValueEnum};

use super::{ModelArg, explain, read_text};
use nib_prompt::{Budget, Template};
use nib_text::syntax::Language;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Cold time-to-first-token, then warm ones while typing at the cursor, one character at a time.
    Typing(TypingArgs),
    /// Replay edit traces through `nib serve` over stdio (and llama-server with --vs-server).
    Replay(ReplayArgs),
    /// Many editors, one server: N `nib serve` clients replay traces at once against one remote engine.
    Load(LoadArgs),
    /// Parse, reparse and prompt-building times on a large file, with the model's tokenizer.
    Context(ContextArgs),
    /// Typing, cancellations, saves, file switches and a 2 MB bundle through `nib serve` for N minutes:
    /// resident memory and latency per minute.
    Soak(SoakArgs),
    /// Multi-line generation speed with prompt-lookup decoding and without (`engine.lookup_decoding`), on the
    /// same prompts, and whether the text is the same.
    Lookup(LookupArgs),
    /// A plugin's `suggestion` round trip on the keystroke path (a trivial plugin, or --command), and the
    /// built-in `redact-secrets` on a 6 KB prompt.
    Plugins(PluginsArgs),
}

#[derive(Args)]
pub struct PluginsArgs {
    /// Calls to time, each.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..))]
    calls: u32,
    /// The plugin to time, and its arguments (e.g. --command python3 plugins/examples/house_style.py); by default
    /// a trivial Python plugin that answers every suggestion with null.
    #[arg(long, num_args = 1.., allow_hyphen_values = true, value_name = "PROGRAM")]
    command: Option<Vec<String>>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct LookupArgs {
    /// Source files, each completed at its end; names starting `repeats` and `fresh` are summed apart.
    #[arg(value_name = "FILE", default_values = ["tests/fixtures/lookup/repeats.py", "tests/fixtures/lookup/repeats.rs",
        "tests/fixtures/lookup/fresh.py", "tests/fixtures/lookup/fresh.rs"])]
    files: Vec<PathBuf>,
    /// Tokens generated at most per suggestion.
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    /// Runs per file and side; the median is kept.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Print the rows as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArg,
}

#[derive(Args)]
pub struct SoakArgs {
    #[arg(long, default_value_t = 60)]
    minutes: usize,
    /// Write the minutes as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArg,
}

#[derive(Args)]
pub struct ReplayArgs {
    /// Trace files (JSON; format in tests/replay/README.md).
    #[arg(required = true, value_name = "TRACE")]
    traces: Vec<PathBuf>,
    /// Also replay against a running llama.cpp llama-server at this URL (e.g. http://127.0.0.1:8012).
    #[arg(long, value_name = "URL")]
    vs_server: Option<String>,
    /// Write every sample and summary row as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// initializationOptions for `nib serve`, as JSON (e.g. '{"completion": {"deadline_ms": 1000}}').
    #[arg(long, value_name = "JSON")]
    options: Option<String>,
    /// Open this folder as nib's workspace, so it is indexed while the trace plays.
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArg,
}

#[derive(Args)]
pub struct LoadArgs {
    /// Simulated editors, each its own `nib serve`; client i plays trace i mod the number of traces.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    clients: u16,
    /// What the server speaks.
    #[arg(long, value_enum, default_value = "llama-server")]
    backend: RemoteArg,
    /// Trace files (JSON; format in tests/replay/README.md).
    #[arg(long, num_args = 1.., value_name = "TRACE",
        default_values = ["tests/replay/python.json", "tests/replay/rust.json"])]
    traces: Vec<PathBuf>,
    /// initializationOptions for every `nib serve`, as JSON.
    #[arg(long, value_name = "JSON")]
    options: Option<String>,
    /// Write the report (totals, rows, every client's samples) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// The server: llama-server's root, or an OpenAI-compatible base URL ending in /v1.
    #[arg(value_name = "URL")]
    url: String,
}

/// The remote backends a load test can aim at, as `nib serve --backend` spells them.
#[derive(Clone, Copy, ValueEnum)]
enum RemoteArg {
    LlamaServer,
    Openai,
}

#[derive(Args)]
pub struct ContextArgs {
    /// A source file; without one, a generated Python file of --lines lines.
    file: Option<PathBuf>,
    #[arg(long, default_value_t = 20_000)]
    lines: usize,
    /// Prompts built, at cursors spread over the file.
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Print the whole report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArg,
}

#[derive(Args)]
pub struct TypingArgs {
    #[arg(value_name = "FILE:LINE:COL")]
    location: String,
    /// Characters to type.
    #[arg(long, default_value_t = 10)]
    keystrokes: usize,
    /// Print the whole report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArg,
}

pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Typing(args) => typing(args),
        BenchCommand::Replay(args) => replay(args),
        BenchCommand::Load(args) => load(args),
        BenchCommand::Context(args) => context(args),
        BenchCommand::Soak(args) => soak(args),
        BenchCommand::Plugins(args) => plugins(args),
        BenchCommand::Lookup(args) => lookup(args),
    }
}

fn typing(args: TypingArgs) -> Result<()> {
    let s = super::complete::setup(&args.location, &args.model)?;
    let report = s
        .runtime
        .block_on(nib_bench::typing(&s.completer, s.document.rope.clone(), s.cursor, args.keystrokes))
        .map_err(|e| explain(e, &s.model))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("model              {}", s.model.path.display());
        println!(
            "cold               ttft {:.1} ms ({} prompt tokens evaluated)",
            report.cold.ttft_ms, report.cold.n_evaluated_tokens
        );
        println!(
            "warm, {} keystrokes ttft median {:.1} ms, p95 {:.1} ms; median reuse {:.1} %",
            report.warm.len(),
            report.warm_ttft_ms_median,
            report.warm_ttft_ms_p95,
            report.warm_reuse_median * 100.0
        );
        println!("cold / warm        {:.1}x", report.speedup);
    }
    Ok(())
}

fn context(args: ContextArgs) -> Result<()> {
    let (text, name) = match &args.file {
        Some(path) => (read_text(path)?, path.to_string_lossy().into_owned()),
        None => (nib_bench::context::synthetic_python(args.lines), "generated.py".to_owned()),
    };
    let language = Language::detect("", &name).with_context(|| format!("{name}: not a language nib parses"))?;
    let (config, model) = args.model.resolve()?;
    let started = super::start(config, model)?;
    let (info, tokenizer) = started.ready()?;
    let config = &started.config;
    let template = Template::choose(config.completion.template.as_deref(), tokenizer.as_ref(), &info.name)?;
    let budget = Budget {
        n_tokens: config.completion.n_prompt_tokens as usize,
        suffix_percent: config.completion.suffix_percent as usize,
        n_suffix_max: usize::MAX,
        n_context_tokens: config.completion.context_tokens as usize,
    };
    let report = nib_bench::context::context(tokenizer.as_ref(), &template, &text, language, budget, args.runs);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("file               {name}, {} lines ({})", report.n_lines, language.name());
        println!("first parse        {:.1} ms", report.parse_ms);
        println!("reparse, 1 char    median {:.2} ms", report.reparse_ms_median);
        println!("window             median {:.2} ms (tokenizing prefix and suffix)", report.window_ms_median);
        println!(
            "context            median {:.2} ms, p95 {:.2} ms over {} cursors (gathered and fitted, {})",
            report.context_ms_median, report.context_ms_p95, args.runs, template.name
        );
        println!(
            "prompt tokens      at most {} of {}; context median {:.0} tokens",
            report.n_tokens_max, report.budget, report.n_context_tokens_median
        );
    }
    Ok(())
}

fn lookup(args: LookupArgs) -> Result<()> {
    let (config, model) = args.model.resolve()?;
    let engine = |lookup_decoding| {
        let mut config = config.clone();
        config.engine.lookup_decoding = lookup_decoding;
        super::start(config, model.clone())
    };
    let (without, with) = (engine(false)?, engine(true)?);
    let (info, tokenizer) = with.ready()?;
    without.ready()?;
    let template = Template::choose(config.completion.template.as_deref(), tokenizer.as_ref(), &info.name)?;
    let mut cases = Vec::new();
    for path in &args.files {
        let text = read_text(path)?;
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let n_tokens = config.completion.n_prompt_tokens as usize;
        cases.push((name, nib_bench::lookup::prompt(tokenizer.as_ref(), &template, &text, n_tokens)));
    }
    let rows = with
        .runtime
        .block_on(nib_bench::lookup::bench(&without.engine, &with.engine, &cases, args.max_tokens, args.runs))
        .map_err(|e| anyhow!("{e}"))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", nib_bench::lookup::render(&rows, &["repeats", "fresh"]));
    }
    Ok(())
}

fn plugins(args: PluginsArgs) -> Result<()> {
    let scratch = std::env::temp_dir().join(format!("nib-bench-plugins-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let report = nib_bench::plugins::bench(args.command, args.calls as usize, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", nib_bench::plugins::render(&report));
    }
    Ok(())
}

fn soak(args: SoakArgs) -> Result<()> {
    use nib_bench::soak;
    let (_, model) = args.model.resolve()?;
    let binary = std::env::current_exe().context("cannot find the nib binary")?;
    let stdlib =
        nib_bench::trace::python_stdlib().map_err(|e| anyhow!("the soak types into Python's standard library: {e}"))?;
    println!("| minute | rss MiB | requests | empty | errors | p50 ms | p95 ms |\n|---|---|---|---|---|---|---|");
    let minutes = soak::soak(&binary, &model.path, &stdlib, args.minutes, |m| {
        println!(
            "| {} | {:.0} | {} | {} | {} | {:.0} | {:.0} |",
            m.minute, m.rss_mib, m.n_requests, m.n_empty, m.n_errors, m.p50_ms, m.p95_ms
        );
    })?;
    print!("\n{}", soak::summary(&minutes));
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&minutes)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// `--options`, or none.
fn init_options(text: Option<&str>) -> Result<serde_json::Value> {
    text.map_or(Ok(serde_json::Value::Null), |text| serde_json::from_str(text).context("--options is not JSON"))
}

fn load(args: LoadArgs) -> Result<()> {
    use nib_bench::{load, replay, trace::Replay};
    let backend = match args.backend {
        RemoteArg::LlamaServer => "llama-server",
        RemoteArg::Openai => "openai",
    };
    // No --model: the engine is remote, and no client needs a model file.
    let serve = replay::NibServe {
        binary: std::env::current_exe().context("cannot find the nib binary")?,
        model: None,
        args: ["--backend", backend, "--engine-url", &args.url].map(str::to_owned).to_vec(),
        options: init_options(args.options.as_deref())?,
        workspace: None,
        next_edits: false,
    };
    let traces = args.traces.iter().map(|path| Replay::load(path)).collect::<Result<Vec<_>, _>>()?;
    let n_clients = usize::from(args.clients);
    eprintln!("{n_clients} clients replaying against {backend} at {}...", args.url);
    let report = load::load(&serve, &traces, n_clients);
    println!("{}", load::render(&report));
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn replay(args: ReplayArgs) -> Result<()> {
    use nib_bench::{replay, trace::Replay};
    let (config, model) = args.model.resolve()?;
    let options = init_options(args.options.as_deref())?;
    let workspace = (args.workspace.as_ref())
        .map(|dir| dunce::canonicalize(dir).with_context(|| format!("cannot open {}", dir.display())))
        .transpose()?;
    let serve = replay::NibServe {
        binary: std::env::current_exe().context("cannot find the nib binary")?,
        model: Some(model.path.clone()),
        args: args.model.serve_args(),
        options,
        workspace,
        next_edits: true,
    };
    let tokenizer = match &args.vs_server {
        Some(_) => Some(nib_engine::load_tokenizer(&model.path).map_err(|e| anyhow!(model.problem(&e.to_string())))?),
        None => None,
    };
    let mut report = Vec::new();
    for path in &args.traces {
        let trace = Replay::load(path)?;
        eprintln!("replaying {} ({} requests) through nib...", trace.name, trace.events().count());
        let ours = replay::replay_nib(&trace, &serve)?;
        let theirs = match (&args.vs_server, &tokenizer) {
            (Some(url), Some(tokenizer)) => {
                eprintln!("replaying {} through llama-server at {url}...", trace.name);
                Some(replay::replay_server(&trace, url, tokenizer, &config.completion)?)
            }
            _ => None,
        };
        let (our_rows, their_rows) = (replay::summarize(&ours.samples), theirs.as_deref().map(replay::summarize));
        let next_edits = replay::summarize_next_edits(&ours.next_edits);
        println!("{}", replay::render(&trace.name, &our_rows, their_rows.as_deref()));
        println!("{}", replay::render_cold(&ours.samples, ours.prompt_rate));
        println!("{}", replay::render_next_edits(&next_edits));
        println!("{}", replay::render_acceptance(&ours.acceptance));
        report.push(serde_json::json!({
            "trace": trace.name,
            "nib": {"rows": our_rows, "samples": ours.samples, "acceptance": ours.acceptance,
                "prompt_rate": ours.prompt_rate,
                "next_edits": {"row": next_edits, "samples": ours.next_edits}},
            "server": theirs.map(|samples| serde_json::json!({"rows": their_rows, "samples": samples})),
        }));
    }
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
