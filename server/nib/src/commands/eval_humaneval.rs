//! `nib eval humaneval`: pass@1 on a seeded sample of HumanEval single-line infilling tasks, each asked as an
//! explicit request and checked by running its tests with python3 (`nib_bench::humaneval`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use super::{ModelArg, Started, explain};
use nib_bench::eval;
use nib_bench::humaneval::{self, Verdict};
use nib_pipeline::completion::Trigger;

#[derive(Args)]
pub struct EvalHumanEvalArgs {
    /// Tasks to draw from the 1,033.
    #[arg(long, default_value_t = 50)]
    n: usize,
    /// Seed of the draw: the same seed gives the same tasks.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds each task's program may run before it is killed and counted as failed.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Also write every task's suggestion and verdict, and the counts, as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArg,
}

pub fn run(args: EvalHumanEvalArgs) -> Result<()> {
    let tasks = humaneval::sample(&humaneval::tasks()?, args.n, args.seed);
    let Some(first) = tasks.first() else { bail!("--n 0: no tasks to run") };
    // The programs run here, never in the repository; the workspace the completer indexes is this empty folder.
    let dir = std::env::temp_dir().join(format!("nib-humaneval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = measure(&args, &tasks, first, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(args: &EvalHumanEvalArgs, tasks: &[humaneval::Task], first: &humaneval::Task, dir: &Path) -> Result<()> {
    let limit = Duration::from_secs(args.timeout);
    // Before any model time is spent: python3 runs here and a known-correct line passes.
    let verdict = humaneval::execute(&first.program(first.canonical_solution.trim()), dir, limit)?;
    if verdict != Verdict::Passed {
        bail!("{}'s own solution does not pass with this python3: {verdict:?}", first.task_id);
    }
    let (config, model) = args.model.resolve()?;
    let Started { config, model, engine, runtime, stop: _stop } = super::start(config, model)?;
    let cases: Vec<eval::Case> = tasks.iter().map(humaneval::Task::case).collect();
    let mode = config.completion.context;
    eprintln!("nib: {} tasks (seed {}), context {}", tasks.len(), args.seed, mode.name());
    let outcomes = runtime
        .block_on(eval::run(&engine, &config.completion, (dir, Trigger::Invoked), &cases, &[mode], |_| {}))
        .map_err(|e| explain(e, &model))?;
    let checked = humaneval::check(tasks, &outcomes, dir, limit, |c| {
        let verdict = match &c.verdict {
            Verdict::Passed => "passed".to_owned(),
            Verdict::Failed(error) => format!("failed: {error}"),
            Verdict::TimedOut => "timed out".to_owned(),
        };
        eprintln!("  {}: {:?} -> {:?}: {verdict}", c.task_id, c.expected, c.suggestion);
    })?;
    let summary = humaneval::summarize(&checked);
    let exact = outcomes.iter().filter(|o| o.exact).count();
    let similarity = outcomes.iter().map(|o| o.similarity).sum::<f64>() / outcomes.len().max(1) as f64;
    println!("| tasks | passed | failed | timed out | empty | pass@1 | exact match | edit similarity |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {} | {} | {} | {:.1} % | {:.1} % | {:.1} % |",
        summary.tasks,
        summary.passed,
        summary.failed,
        summary.timed_out,
        summary.empty,
        summary.pass_at_1 * 100.0,
        exact as f64 * 100.0 / outcomes.len().max(1) as f64,
        similarity * 100.0
    );
    println!(
        "\nmodel {}; context {}; seed {}; {} s per program",
        model.path.display(),
        mode.name(),
        args.seed,
        args.timeout
    );
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "model": model.path, "context": mode, "seed": args.seed, "timeout_s": args.timeout,
            "summary": summary, "tasks": checked, "outcomes": outcomes,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
