//! The `nib` command line: `serve` for editors, `complete` and `bench` for people and scripts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};

use nib_bench::eval::{self, Hide};
use nib_engine::{CancelToken, Engine, ModelState, Priority};
use nib_pipeline::completion::{Completer, CompletionError, Request, Suggestion, Trigger};
use nib_pipeline::config::{self, Config, ContextMode, ModelChoice};
use nib_pipeline::review::batch::{self, Batch, FilterMode, Target};
use nib_pipeline::review::cache::ReviewCache;
use nib_pipeline::review::noise::Baseline;
use nib_pipeline::review::report::{self, Format, Report};
use nib_pipeline::review::{Reviewer, Severity};
use nib_prompt::context::Workspace;
use nib_prompt::{Budget, Template};
use nib_text::documents::{Column, Document, MAX_DOCUMENT_BYTES, Position, position};
use nib_text::syntax::Language;

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
$NIB_HOME/models (NIB_HOME defaults to ~/.cache/nib; fetch it with `python3 models/fetch.py`).
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
}

#[derive(Args)]
struct ReviewArgs {
    /// Files or folders to review [default: the current folder], unless --diff is given.
    paths: Vec<PathBuf>,
    /// Review what changed since a git revision, or the unified diff on stdin with `-`.
    #[arg(long, value_name = "REV|-")]
    diff: Option<String>,
    /// Which findings of a diff review to keep.
    #[arg(long, value_enum, default_value = "added")]
    filter_mode: FilterMode,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit with 1 when a finding is at least this severe (after writing the report).
    #[arg(long, value_enum, default_value = "error")]
    fail_level: FailLevel,
    /// Leave out findings below this severity [default: review.min_severity in the config].
    #[arg(long, value_enum)]
    min_severity: Option<Severity>,
    /// Leave out findings recorded in this baseline file.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Record this run's findings as the baseline in FILE (the report is still written).
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArg,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
enum FailLevel {
    Info,
    Warning,
    Error,
    None,
}

#[derive(Args)]
struct EvalArgs {
    /// Source files or folders [default: tests/eval/corpus].
    paths: Vec<PathBuf>,
    /// What to hide at each position.
    #[arg(long, value_enum, default_value = "line")]
    hide: Hide,
    /// Positions per file.
    #[arg(long, default_value_t = 8)]
    samples: usize,
    /// Seed of the position sampling: the same seed gives the same positions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Context modes to compare, in order.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "prefix,window,full")]
    context: Vec<ContextMode>,
    /// Also write every position, suggestion and score as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArg,
}

#[derive(Args)]
struct ModelArg {
    /// GGUF model file (overrides $NIB_MODEL and the config).
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
}

#[derive(Args)]
struct CompleteArgs {
    /// Where to complete: 1-based line and column (UTF-8 bytes), as compilers print them.
    #[arg(value_name = "FILE:LINE:COL")]
    location: String,
    /// Print one JSON object with the suggestion and its figures (tokens reused, evaluated, timings).
    #[arg(long)]
    json: bool,
    /// Print the prompt the model would see (template, context, window) instead of completing.
    #[arg(long, conflicts_with = "json")]
    prompt: bool,
    #[command(flatten)]
    model: ModelArg,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Cold time-to-first-token, then warm ones while typing at the cursor, one character at a time.
    Typing(TypingArgs),
    /// Replay edit traces through `nib serve` over stdio (and llama-server with --vs-server).
    Replay(ReplayArgs),
    /// Parse, reparse and prompt-building times on a large file, with the model's tokenizer.
    Context(ContextArgs),
    /// Typing, cancellations, saves, file switches and a 2 MB bundle through `nib serve` for N minutes:
    /// resident memory and latency per minute.
    Soak(SoakArgs),
}

#[derive(Args)]
struct SoakArgs {
    #[arg(long, default_value_t = 60)]
    minutes: usize,
    /// Write the minutes as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArg,
}

#[derive(Args)]
struct ReplayArgs {
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
struct ContextArgs {
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
struct TypingArgs {
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

/// Exit codes: 0 done, 1 findings at the fail level (`nib review`), 2 an error.
fn main() -> std::process::ExitCode {
    spin_less();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:?}");
            std::process::ExitCode::from(2)
        }
    }
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

fn run(cli: Cli) -> Result<()> {
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
        Command::Serve(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            runtime.block_on(nib_lsp::serve(args.model));
            // A read of stdin may still be pending on a blocking thread: do not wait for it.
            runtime.shutdown_background();
            Ok(())
        }
        Command::Complete(args) => complete(args),
        Command::Bench(BenchCommand::Typing(args)) => bench_typing(args),
        Command::Bench(BenchCommand::Replay(args)) => bench_replay(args),
        Command::Bench(BenchCommand::Context(args)) => bench_context(args),
        Command::Bench(BenchCommand::Soak(args)) => bench_soak(args),
        Command::Eval(args) => eval(args),
        Command::Review(args) => review(args),
    }
}

/// A file loaded for the CLI, the cursor in it, and a started engine.
struct Setup {
    model: ModelChoice,
    completer: Completer,
    uri: String,
    document: Document,
    cursor: usize,
    runtime: tokio::runtime::Runtime,
}

fn setup(location: &str, model: &ModelArg) -> Result<Setup> {
    let (path, line, column) = parse_location(location)?;
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    let uri = format!("file://{}", path.display());
    let document = Document::new(&uri, &read_text(&path)?, 0, "");
    let rope = &document.rope;
    let pos = Position { line: line - 1, column: Column::Utf8(column - 1) };
    let cursor = position::to_char_offset(rope, pos).with_context(|| format!("{}: bad position", path.display()))?;
    let config = Config::load()?;
    let model = config::resolve_model(model.model.as_deref(), &config);
    let engine = Engine::start(config.engine.clone(), model.path.clone(), config::nib_home().join("snapshots"));
    // One completion, run to its end: no deadline, nothing to prefetch for.
    let completion =
        nib_pipeline::config::CompletionConfig { invoked_timeout_ms: 3_600_000, prefetch: false, ..config.completion };
    // Context from the file itself and its folder's files.
    let workspace = Arc::new(Workspace::default());
    if let Some(folder) = path.parent() {
        workspace.set_root(folder.to_path_buf());
        workspace.scan();
    }
    workspace.observe(&uri, rope, document.syntax(), rope.char_to_line(cursor));
    let completer = Completer::new(engine, completion, workspace);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(Setup { model, completer, uri, document, cursor, runtime })
}

fn explain(err: CompletionError, model: &ModelChoice) -> anyhow::Error {
    match err {
        CompletionError::ModelUnavailable(error) => anyhow!(model.problem(&error)),
        other => anyhow!(other),
    }
}

fn complete(args: CompleteArgs) -> Result<()> {
    let s = setup(&args.location, &args.model)?;
    let request = Request {
        rope: &s.document.rope,
        cursor: s.cursor,
        document: Some(&s.uri),
        syntax: s.document.syntax(),
        trigger: Trigger::Invoked,
    };
    if args.prompt {
        let prompt = s.runtime.block_on(s.completer.prompt_text(request)).map_err(|e| explain(e, &s.model))?;
        print!("{prompt}");
        return Ok(());
    }
    let suggestion: Suggestion = s
        .runtime
        .block_on(s.completer.complete(request, CancelToken::default(), |_| {}))
        .map_err(|e| explain(e, &s.model))?;
    if args.json {
        let json = serde_json::json!({
            "text": suggestion.text,
            "reason": suggestion.reason,
            "template": suggestion.template,
            "model": s.model.path,
            "stats": suggestion.stats,
        });
        println!("{json}");
    } else {
        println!("{}", suggestion.text);
        let st = &suggestion.stats;
        eprintln!(
            "nib: first token in {:.0} ms, done in {:.0} ms; prompt {} tokens ({} reused, {} evaluated), {} generated",
            st.ttft_ms,
            st.total_ms,
            st.n_prompt_tokens,
            st.n_reused_tokens,
            st.n_evaluated_tokens,
            st.n_generated_tokens
        );
    }
    Ok(())
}

fn bench_typing(args: TypingArgs) -> Result<()> {
    let s = setup(&args.location, &args.model)?;
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

fn bench_context(args: ContextArgs) -> Result<()> {
    let (text, name) = match &args.file {
        Some(path) => (read_text(path)?, path.to_string_lossy().into_owned()),
        None => (nib_bench::context::synthetic_python(args.lines), "generated.py".to_owned()),
    };
    let language = Language::detect("", &name).with_context(|| format!("{name}: not a language nib parses"))?;
    let config = Config::load()?;
    let model = config::resolve_model(args.model.model.as_deref(), &config);
    let engine = Engine::start(config.engine.clone(), model.path.clone(), config::nib_home().join("snapshots"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (info, tokenizer) = match runtime.block_on(engine.ready()) {
        ModelState::Ready { info, tokenizer } => (info, tokenizer),
        ModelState::Failed(error) => bail!(model.problem(&error)),
        ModelState::Loading => bail!("the model did not load"),
    };
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

fn bench_soak(args: SoakArgs) -> Result<()> {
    use nib_bench::soak;
    let config = Config::load()?;
    let model = config::resolve_model(args.model.model.as_deref(), &config);
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

fn bench_replay(args: ReplayArgs) -> Result<()> {
    use nib_bench::{replay, trace::Replay};
    let config = Config::load()?;
    let model = config::resolve_model(args.model.model.as_deref(), &config);
    let options = match &args.options {
        Some(text) => serde_json::from_str(text).context("--options is not JSON")?,
        None => serde_json::Value::Null,
    };
    let workspace = (args.workspace.as_ref())
        .map(|dir| std::fs::canonicalize(dir).with_context(|| format!("cannot open {}", dir.display())))
        .transpose()?;
    let serve = replay::NibServe {
        binary: std::env::current_exe().context("cannot find the nib binary")?,
        model: model.path.clone(),
        options,
        workspace,
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
        let (our_rows, their_rows) = (replay::summarize(&ours), theirs.as_deref().map(replay::summarize));
        println!("{}", replay::render(&trace.name, &our_rows, their_rows.as_deref()));
        report.push(serde_json::json!({
            "trace": trace.name, "nib": {"rows": our_rows, "samples": ours},
            "server": theirs.map(|samples| serde_json::json!({"rows": their_rows, "samples": samples})),
        }));
    }
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// `FILE:LINE:COL`, split from the right so the path may hold colons; LINE and COL count from 1.
fn parse_location(location: &str) -> Result<(PathBuf, u32, u32)> {
    let mut parts = location.rsplitn(3, ':');
    let (Some(col), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        bail!("expected FILE:LINE:COL, got {location:?}");
    };
    let number = |s: &str, what: &str| -> Result<u32> {
        match s.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => bail!("{what} in {location:?} must be a number from 1"),
        }
    };
    Ok((PathBuf::from(file), number(line, "LINE")?, number(col, "COL")?))
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        bail!("{} is {} bytes, over nib's {MAX_DOCUMENT_BYTES}-byte limit", path.display(), bytes.len());
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "{} is not valid UTF-8 (bad byte at offset {}): nib completes text files only",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

fn eval(args: EvalArgs) -> Result<()> {
    let paths = if args.paths.is_empty() { vec![PathBuf::from("tests/eval/corpus")] } else { args.paths };
    let files = eval::source_files(&paths).with_context(|| format!("reading {}", paths[0].display()))?;
    if files.is_empty() {
        bail!(
            "no source files nib can parse under {}",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let cases = eval::sample(&files, args.hide, args.samples, args.seed);
    let root = std::fs::canonicalize(&paths[0]).unwrap_or_else(|_| paths[0].clone());
    let root = if root.is_dir() { root } else { root.parent().map(Path::to_path_buf).unwrap_or_default() };
    let config = Config::load()?;
    let model = config::resolve_model(args.model.model.as_deref(), &config);
    let engine = Engine::start(config.engine.clone(), model.path.clone(), config::nib_home().join("snapshots"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    eprintln!("nib: {} positions in {} files, {} mode(s)", cases.len(), files.len(), args.context.len());
    let outcomes = runtime
        .block_on(eval::run(&engine, &config.completion, &root, &cases, &args.context, |o| {
            eprintln!("  {} {}: {:?} -> {:?}", o.mode.name(), o.case, cases[o.case].expected, o.suggestion);
        }))
        .map_err(|e| explain(e, &model))?;
    let rows = eval::summarize(&cases, &outcomes);
    print!("{}", eval::table(&rows));
    println!(
        "\nmodel {}; hide {:?}; {} positions per file; seed {}",
        model.path.display(),
        args.hide,
        args.samples,
        args.seed
    );
    if let Some(path) = args.json {
        let report = serde_json::json!({
            "model": model.path, "hide": args.hide, "seed": args.seed, "samples_per_file": args.samples,
            "cases": cases, "outcomes": outcomes, "rows": rows,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn review(args: ReviewArgs) -> Result<()> {
    let root = repository_root()?;
    let target = match args.diff.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).context("reading the diff on stdin")?;
            Target::Diff(text)
        }
        Some(rev) => Target::Diff(git_diff(&root, rev)?),
        None if args.paths.is_empty() => Target::Paths(vec![PathBuf::from(".")]),
        None => Target::Paths(args.paths.clone()),
    };
    let config = Config::load()?;
    let baseline = match &args.baseline {
        Some(path) => Some(Baseline::load(path).with_context(|| format!("reading the baseline {}", path.display()))?),
        None => None,
    };
    let batch = Batch {
        root: root.clone(),
        target,
        filter_mode: args.filter_mode,
        min_severity: args.min_severity.unwrap_or(config.review.min_severity),
        include: config.review.include.clone(),
        exclude: config.review.exclude.clone(),
        baseline,
    };
    let model = config::resolve_model(args.model.model.as_deref(), &config);
    let model_sha256 = sha256_file(&model.path).map_err(|e| anyhow!(model.problem(&e.to_string())))?;
    let engine = Engine::start(config.engine.clone(), model.path.clone(), config::nib_home().join("snapshots"));
    let cache = Arc::new(ReviewCache::new(Some(config::nib_home().join("review-cache"))));
    let reviewer = Reviewer::new(engine, config.review.limits(), cache, Priority::Foreground);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let show_progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let result = runtime
        .block_on(batch::run(&reviewer, &batch, |path, done, total| {
            if show_progress {
                let bar: String = (0..20).map(|i| if i * total < done * 20 { '#' } else { '.' }).collect();
                eprint!("\r\x1b[2K[{bar}] {done}/{total} {path}");
            }
        }))
        .map_err(|e| match e {
            batch::BatchError::Review(nib_pipeline::review::ReviewError::ModelUnavailable(m)) => {
                anyhow!(model.problem(&m))
            }
            other => anyhow!(other),
        })?;
    if show_progress {
        eprintln!();
    }
    for (path, why) in &result.skipped {
        eprintln!("nib: skipped {path}: {why}");
    }
    let stats = &result.stats;
    eprintln!(
        "nib: {} file(s), {} unit(s): {} reviewed ({:.0} ms per unit), {} from the cache",
        result.n_files,
        stats.n_units,
        stats.n_reviewed,
        stats.reviewed_ms / stats.n_reviewed.max(1) as f64,
        stats.n_cached
    );
    let prompt = reviewer.prompt();
    let report = Report {
        findings: &result.findings,
        rules: &prompt.rules,
        model_path: &model.path.to_string_lossy(),
        model_sha256: &model_sha256,
        prompt_version: &prompt.version,
    };
    let rendered = report::render(&report, args.format);
    match &args.output {
        Some(path) => std::fs::write(path, rendered).with_context(|| format!("writing {}", path.display()))?,
        None => print!("{rendered}"),
    }
    if let Some(path) = &args.write_baseline {
        Baseline::of(&result.findings).save(path).with_context(|| format!("writing {}", path.display()))?;
    }
    let worst = result.findings.iter().map(|f| f.severity).max();
    let fails = |level: Severity| worst.is_some_and(|w| w >= level);
    let failed = match args.fail_level {
        FailLevel::None => false,
        FailLevel::Info => fails(Severity::Info),
        FailLevel::Warning => fails(Severity::Warning),
        FailLevel::Error => fails(Severity::Error),
    };
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

/// The git work tree's top folder, else the current folder.
fn repository_root() -> Result<PathBuf> {
    let out = std::process::Command::new("git").args(["rev-parse", "--show-toplevel"]).output();
    match out {
        Ok(out) if out.status.success() => Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())),
        _ => std::env::current_dir().context("the current folder"),
    }
}

/// `git diff REV` without anything the repository could configure to run: no external diff, no textconv.
fn git_diff(root: &Path, rev: &str) -> Result<String> {
    if rev.starts_with('-') {
        bail!("{rev:?} is not a revision");
    }
    let out = std::process::Command::new("git")
        .current_dir(root)
        .args(["-c", "core.fsmonitor=false", "--no-pager", "diff", "--no-ext-diff", "--no-textconv", "--no-color"])
        .args(["--unified=3", rev, "--"])
        .output()
        .context("running git diff")?;
    if !out.status.success() {
        bail!("git diff {rev}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path)?;
    let mut digest = sha2::Sha256::new();
    std::io::copy(&mut file, &mut digest)?;
    Ok(digest.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_split_from_the_right() {
        assert_eq!(parse_location("a:b.py:3:7").unwrap(), (PathBuf::from("a:b.py"), 3, 7));
        assert!(parse_location("a.py:0:1").is_err());
        assert!(parse_location("a.py:3").is_err());
        assert!(parse_location("a.py:x:1").is_err());
    }
}
