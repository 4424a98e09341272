//! `nib eval review`: review quality on the seeded-defect corpus, precision and recall per rule, language and
//! overall, through the pipeline `nib review` runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use super::review::{explain, model_and_engine, model_sha256};
use super::{ModelArg, Started};
use nib_bench::review_eval::{self, Corpus};
use nib_engine::Priority;
use nib_pipeline::review::Reviewer;
use nib_pipeline::review::cache::ReviewCache;
use nib_pipeline::review::prompt::ReviewPrompt;

#[derive(Args)]
pub struct EvalReviewArgs {
    /// The corpus, or files and folders in it [default: tests/eval/review]; the defects are those listed in the
    /// expect.toml at or above the first.
    paths: Vec<PathBuf>,
    /// Also write the figures, and each finding's verdict, as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArg,
}

pub fn run(args: EvalReviewArgs) -> Result<()> {
    let paths = if args.paths.is_empty() { vec![PathBuf::from("tests/eval/review")] } else { args.paths };
    let root = Corpus::root_of(&paths[0])?;
    let rules = ReviewPrompt::builtin().rules;
    let corpus = Corpus::load(&root, &rules)?.select(&paths)?;
    let (config, model) = args.model.resolve()?;
    let model_sha256 = model_sha256(&model)?;
    let Started { config, model, engine, runtime, stop: _stop } = super::start(config, model)?;
    // In memory and new each run: every figure comes from the model now, never from a past run's answers.
    let cache = Arc::new(ReviewCache::new(None));
    let reviewer = Reviewer::new(engine.clone(), config.review.limits(), cache, Priority::Foreground);
    let n_seeded: usize = corpus.files.iter().map(|f| f.seeded.len()).sum();
    eprintln!("nib: {} files, {n_seeded} seeded defects in {}", corpus.files.len(), root.display());
    let started = Instant::now();
    let (findings, stats) = runtime
        .block_on(review_eval::run(&reviewer, &corpus, |path, done, total| {
            if done == total {
                eprintln!("  {path}: {total} unit(s)");
            }
        }))
        .map_err(|e| explain(e, &model))?;
    let wall_s = started.elapsed().as_secs_f64();
    let prompt = reviewer.prompt();
    let scores = review_eval::score(&corpus.files, &prompt.rules, &findings);
    let (model_name, served_by) = model_and_engine(&engine, &model);
    println!("model {model_name} (sha256 {model_sha256}), engine {served_by}, prompt {}", prompt.version);
    println!(
        "{} files, {} units ({:.0} ms per unit), {wall_s:.0} s\n",
        corpus.files.len(),
        stats.n_units,
        stats.reviewed_ms / stats.n_reviewed.max(1) as f64
    );
    print!("{}", review_eval::table(&scores));
    if let Some(path) = args.json {
        let report = serde_json::json!({
            "model": {"path": model_name, "sha256": model_sha256},
            "engine": served_by,
            "prompt_version": prompt.version,
            "corpus": root,
            "files": corpus.files,
            "units": stats.n_units,
            "wall_s": wall_s,
            "rules": scores.rules,
            "languages": scores.languages,
            "overall": scores.overall,
            "findings": scores.findings,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
