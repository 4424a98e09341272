//! `nib eval surprise`: review by surprise on a mutation corpus built from the machine's own code (recall
//! against false alarms per threshold, per language and per mutation kind), and what reviewing a 500-line file
//! by surprise costs against one evaluation of its tokens.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;

use super::review::{model_and_engine, model_sha256};
use super::{ModelArg, Started};
use nib_bench::surprise_eval::{self, Sources};
use nib_engine::Priority;
use nib_pipeline::review::cache::ReviewCache;
use nib_pipeline::review::{ReviewError, Reviewer};

#[derive(Args)]
pub struct EvalSurpriseArgs {
    /// Functions per language (Rust from the cargo registry, Python from its standard library).
    #[arg(long, default_value_t = 100)]
    per_language: usize,
    /// Seed of the corpus: the same seed (and sources) gives the same functions and mutants.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the corpus here (each case's clean and mutant files) to read it.
    #[arg(long, value_name = "DIR")]
    write_corpus: Option<PathBuf>,
    /// The file whose first 500 lines are reviewed by surprise and evaluated once, for the cost figure.
    #[arg(long, value_name = "FILE", default_value = "/usr/lib/python3.11/argparse.py")]
    speed_file: PathBuf,
    /// Also write the figures, and every case's scores, as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArg,
}

pub fn run(args: EvalSurpriseArgs) -> Result<()> {
    let cases = surprise_eval::corpus(&Sources::on_this_machine(args.per_language, args.seed));
    if cases.is_empty() {
        bail!("no functions to mutate: neither ~/.cargo/registry/src nor /usr/lib/python3.11 has any");
    }
    if let Some(dir) = &args.write_corpus {
        write_corpus(dir, &cases)?;
    }
    let (config, model) = args.model.resolve()?;
    let model_sha256 = model_sha256(&model)?;
    let Started { config, model, engine, runtime, stop: _stop } = super::start(config, model)?;
    let mut limits = config.review.limits();
    limits.surprise = Some(config.review.surprise_threshold);
    let reviewer = Reviewer::new(engine.clone(), limits, Arc::new(ReviewCache::new(None)), Priority::Foreground);
    eprintln!("nib: {} cases", cases.len());
    let started = Instant::now();
    let scored = runtime
        .block_on(surprise_eval::run(&reviewer, &cases, |done, total| {
            if done % 20 == 0 || done == total {
                eprintln!("  {done}/{total}");
            }
        }))
        .map_err(|e| unavailable(e, &model))?;
    let wall_s = started.elapsed().as_secs_f64();
    let rows = surprise_eval::rows(&cases, &scored, &surprise_eval::THRESHOLDS);
    let (model_name, served_by) = model_and_engine(&engine, &model);
    println!("model {model_name} (sha256 {model_sha256}), engine {served_by}");
    println!("{} cases (seed {}), {wall_s:.0} s\n", cases.len(), args.seed);
    print!("{}", surprise_eval::table(&rows));
    let ranked_first = scored.iter().filter(|s| s.n_above == 0).count();
    println!("\nthe mutated line scores highest in its file: {ranked_first} of {}", scored.len());
    let speed = runtime
        .block_on(surprise_eval::speed(&reviewer, &engine, &args.speed_file))
        .map_err(|e| unavailable(e, &model))?;
    println!(
        "{}: {} lines, {} tokens: review by surprise {:.2} s, one evaluation {:.2} s ({:.2}x)",
        args.speed_file.display(),
        speed.n_lines,
        speed.n_tokens,
        speed.review_s,
        speed.evaluation_s,
        speed.review_s / speed.evaluation_s
    );
    if let Some(path) = args.json {
        let report = serde_json::json!({
            "model": {"path": model_name, "sha256": model_sha256},
            "engine": served_by,
            "seed": args.seed,
            "wall_s": wall_s,
            "rows": rows,
            "cases": cases,
            "scored": scored,
            "speed": {"file": args.speed_file, "lines": speed.n_lines, "tokens": speed.n_tokens,
                      "review_s": speed.review_s, "evaluation_s": speed.evaluation_s},
        });
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn unavailable(err: ReviewError, model: &nib_pipeline::config::ModelChoice) -> anyhow::Error {
    match err {
        ReviewError::ModelUnavailable(m) => anyhow!(model.problem(&m)),
        other => anyhow!(other),
    }
}

fn write_corpus(dir: &std::path::Path, cases: &[surprise_eval::Case]) -> Result<()> {
    for (i, case) in cases.iter().enumerate() {
        let ext = if case.language == "rust" { "rs" } else { "py" };
        let folder = dir.join(format!("{i:03}-{}", case.kind.name().replace(' ', "-")));
        std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
        std::fs::write(folder.join(format!("clean.{ext}")), &case.clean)?;
        std::fs::write(folder.join(format!("mutant.{ext}")), &case.mutant)?;
        std::fs::write(folder.join("case.txt"), format!("{}\nline {}\n", case.source, case.line + 1))?;
    }
    Ok(())
}
