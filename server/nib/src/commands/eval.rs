//! `nib eval`: completion quality on code hidden at sampled positions; `nib eval review` (`eval_review.rs`):
//! review quality on seeded defects; `nib eval humaneval` (`eval_humaneval.rs`): completions checked by execution.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

use super::eval_humaneval::{self, EvalHumanEvalArgs};
use super::eval_review::{self, EvalReviewArgs};
use super::eval_surprise::{self, EvalSurpriseArgs};
use super::{ModelArg, Started, explain};
use nib_bench::eval::{self, Hide};
use nib_pipeline::completion::Trigger;
use nib_pipeline::config::ContextMode;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    kind: Option<EvalKind>,
    /// Source files or folders [default: tests/eval/corpus].
    paths: Vec<PathBuf>,
    /// What to hide at each position.
    #[arg(long, value_enum, default_value = "line")]
    hide: HideArg,
    /// Positions per file.
    #[arg(long, default_value_t = 8)]
    samples: usize,
    /// Seed of the position sampling: the same seed gives the same positions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Ask as an explicit request (the whole suffix, the whole suggestion) or as an automatic one while typing
    /// (the short suffix and the held window a keystroke gets; no deadline, nothing held back).
    #[arg(long, value_enum, default_value = "invoked")]
    trigger: TriggerArg,
    /// Context modes to compare, in order.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "prefix,window,full")]
    context: Vec<ContextModeArg>,
    /// Also write every position, suggestion and score as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArg,
}

/// What else `nib eval` measures; completion quality without one.
#[derive(Subcommand)]
enum EvalKind {
    /// Review quality: precision and recall per rule on files with seeded defects.
    Review(EvalReviewArgs),
    /// Review by surprise: recall and false alarms per threshold on single-line mutants of this machine's code.
    Surprise(EvalSurpriseArgs),
    /// Completions checked by execution: pass@1 on HumanEval single-line infilling tasks, run with python3.
    #[command(name = "humaneval")]
    HumanEval(EvalHumanEvalArgs),
}

/// [`Hide`] as the command line spells it.
#[derive(Clone, Copy, ValueEnum)]
enum HideArg {
    /// The rest of a line, from a point after its first character.
    Line,
    /// The body of a block, after a line that opens it.
    Block,
}

impl From<HideArg> for Hide {
    fn from(arg: HideArg) -> Hide {
        match arg {
            HideArg::Line => Hide::Line,
            HideArg::Block => Hide::Block,
        }
    }
}

/// [`Trigger`] as the command line spells it.
#[derive(Clone, Copy, ValueEnum)]
enum TriggerArg {
    /// An explicit request.
    Invoked,
    /// A request while typing.
    Automatic,
}

impl From<TriggerArg> for Trigger {
    fn from(arg: TriggerArg) -> Trigger {
        match arg {
            TriggerArg::Invoked => Trigger::Invoked,
            TriggerArg::Automatic => Trigger::Automatic,
        }
    }
}

/// [`ContextMode`] as the command line spells it.
#[derive(Clone, Copy, ValueEnum)]
enum ContextModeArg {
    /// Prefix-only prompting, whatever the model.
    Prefix,
    /// The model's template with the prefix and suffix windows. The default: with the small models
    /// measured here (`nib eval`), context gained no accuracy and cost KV reuse while typing.
    Window,
    /// The window plus the file's header, enclosing signatures, definitions and recent code.
    Full,
}

impl From<ContextModeArg> for ContextMode {
    fn from(arg: ContextModeArg) -> ContextMode {
        match arg {
            ContextModeArg::Prefix => ContextMode::Prefix,
            ContextModeArg::Window => ContextMode::Window,
            ContextModeArg::Full => ContextMode::Full,
        }
    }
}

pub fn run(args: EvalArgs) -> Result<()> {
    match args.kind {
        Some(EvalKind::Review(review)) => return eval_review::run(review),
        Some(EvalKind::Surprise(surprise)) => return eval_surprise::run(surprise),
        Some(EvalKind::HumanEval(humaneval)) => return eval_humaneval::run(humaneval),
        None => {}
    }
    let hide = Hide::from(args.hide);
    let modes: Vec<ContextMode> = args.context.iter().map(|&mode| mode.into()).collect();
    let paths = if args.paths.is_empty() { vec![PathBuf::from("tests/eval/corpus")] } else { args.paths };
    let files = eval::source_files(&paths).with_context(|| format!("reading {}", paths[0].display()))?;
    if files.is_empty() {
        bail!(
            "no source files nib can parse under {}",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let cases = eval::sample(&files, hide, args.samples, args.seed);
    let root = std::fs::canonicalize(&paths[0]).unwrap_or_else(|_| paths[0].clone());
    let root = if root.is_dir() { root } else { root.parent().map(Path::to_path_buf).unwrap_or_default() };
    let (config, model) = args.model.resolve()?;
    let Started { config, model, engine, runtime, stop: _stop } = super::start(config, model)?;
    eprintln!("nib: {} positions in {} files, {} mode(s)", cases.len(), files.len(), modes.len());
    let outcomes = runtime
        .block_on(eval::run(&engine, &config.completion, (&root, args.trigger.into()), &cases, &modes, |o| {
            let confidence = o.confidence.map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
            eprintln!(
                "  {} {}: {:?} -> {:?} ({confidence})",
                o.mode.name(),
                o.case,
                cases[o.case].expected,
                o.suggestion
            );
        }))
        .map_err(|e| explain(e, &model))?;
    let rows = eval::summarize(&cases, &outcomes);
    print!("{}", eval::table(&rows));
    let held = eval::thresholds(&outcomes, &eval::THRESHOLDS);
    println!("\nSuggestions held back below each confidence (`completion.min_confidence`):\n");
    print!("{}", eval::threshold_table(&held));
    println!(
        "\nmodel {}; hide {:?}; {} positions per file; seed {}",
        model.path.display(),
        hide,
        args.samples,
        args.seed
    );
    if let Some(path) = args.json {
        let report = serde_json::json!({
            "model": model.path, "hide": hide, "seed": args.seed, "samples_per_file": args.samples,
            "cases": cases, "outcomes": outcomes, "rows": rows, "thresholds": held,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
