//! `nib review`: findings on files, or on what a diff changed, written as a report CI tools read.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::{ModelArg, Started};
use nib_engine::{Engine, ModelState, Priority};
use nib_pipeline::config::{self, ModelChoice};
use nib_pipeline::review::batch::{self, Batch, BatchError, FilterMode, Target};
use nib_pipeline::review::cache::ReviewCache;
use nib_pipeline::review::noise::Baseline;
use nib_pipeline::review::report::{self, Format, Report};
use nib_pipeline::review::{ReviewError, Reviewer, Severity, git};

/// Where the model runs, as reports state it: in-process for now.

#[derive(Args)]
pub struct ReviewArgs {
    /// Files or folders to review [default: the current folder], unless --diff is given.
    paths: Vec<PathBuf>,
    /// Review what changed since a git revision, or the unified diff on stdin with `-`.
    #[arg(long, value_name = "REV|-")]
    diff: Option<String>,
    /// Which findings of a diff review to keep.
    #[arg(long, value_enum, default_value = "added")]
    filter_mode: FilterModeArg,
    #[arg(long, default_value = "text", value_parser = format_parser())]
    format: Format,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit with 1 when a finding is at least this severe (after writing the report). `none` by default, as
    /// reviewdog, pr-agent and Copilot review do: a model's opinion fails a build only when a team asks it to.
    #[arg(long, value_enum, default_value = "none")]
    fail_level: FailLevel,
    /// Leave out findings below this severity [default: review.min_severity in the config].
    #[arg(long, value_enum)]
    min_severity: Option<SeverityArg>,
    /// Leave out findings recorded in this baseline file.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Record this run's findings as the baseline in FILE (the report is still written).
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArg,
}

/// Whether a finding reached `--fail-level`; `main` turns it into the exit code.
pub enum Verdict {
    Passed,
    Failed,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailLevel {
    Info,
    Warning,
    Error,
    None,
}

impl FailLevel {
    fn severity(self) -> Option<Severity> {
        match self {
            FailLevel::Info => Some(Severity::Info),
            FailLevel::Warning => Some(Severity::Warning),
            FailLevel::Error => Some(Severity::Error),
            FailLevel::None => None,
        }
    }
}

/// [`Severity`] as the command line spells it.
#[derive(Clone, Copy, ValueEnum)]
enum SeverityArg {
    Info,
    Warning,
    Error,
}

impl From<SeverityArg> for Severity {
    fn from(arg: SeverityArg) -> Severity {
        match arg {
            SeverityArg::Info => Severity::Info,
            SeverityArg::Warning => Severity::Warning,
            SeverityArg::Error => Severity::Error,
        }
    }
}

/// [`FilterMode`] as the command line spells it.
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
enum FilterModeArg {
    /// Findings on added or changed lines.
    Added,
    /// Findings within the diff's hunks, context lines included.
    DiffContext,
    /// Every finding in the units the diff touches.
    File,
}

impl From<FilterModeArg> for FilterMode {
    fn from(arg: FilterModeArg) -> FilterMode {
        match arg {
            FilterModeArg::Added => FilterMode::Added,
            FilterModeArg::DiffContext => FilterMode::DiffContext,
            FilterModeArg::File => FilterMode::File,
        }
    }
}

/// `--format`: one of the report formats' names.
fn format_parser() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::TypedValueParser;
    let names = Format::BY_NAME.map(|(name, _)| name);
    clap::builder::PossibleValuesParser::new(names).try_map(|name: String| Format::named(&name).ok_or("no such format"))
}

/// The model file's sha256, which reports record; a missing file is explained with where nib looked.
/// What reports say ran a review: the model (a server's by the name it gives) and where (`local` or the URL).
pub fn model_and_engine(engine: &Engine, model: &ModelChoice) -> (String, String) {
    let name = match (&model.remote, engine.state()) {
        (Some(_), ModelState::Ready { info, .. }) => info.name,
        _ => model.path.to_string_lossy().into_owned(),
    };
    (name, engine.health().destination)
}

pub fn model_sha256(model: &ModelChoice) -> Result<String> {
    match model.remote {
        // A server's model file is not here to hash: reports name the server and its model instead.
        Some(_) => Ok(String::new()),
        None => nib_engine::model_sha256(&model.path).map_err(|e| anyhow!(model.problem(&e.to_string()))),
    }
}

/// A model that cannot be used is explained with where nib looked for it.
pub fn explain(err: BatchError, model: &ModelChoice) -> anyhow::Error {
    match err {
        BatchError::Review(ReviewError::ModelUnavailable(m)) => anyhow!(model.problem(&m)),
        other => anyhow!(other),
    }
}

pub fn run(args: ReviewArgs) -> Result<Verdict> {
    let root = match git::work_tree_root() {
        Some(root) => root,
        None => std::env::current_dir().context("the current folder")?,
    };
    let target = match args.diff.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).context("reading the diff on stdin")?;
            Target::Diff(text)
        }
        Some(rev) => Target::Diff(git::diff(&root, rev)?),
        None if args.paths.is_empty() => Target::Paths(vec![PathBuf::from(".")]),
        None => Target::Paths(args.paths.clone()),
    };
    let (config, model) = args.model.resolve()?;
    let baseline = match &args.baseline {
        Some(path) => Some(Baseline::load(path).with_context(|| format!("reading the baseline {}", path.display()))?),
        None => None,
    };
    let batch = Batch {
        root: root.clone(),
        target,
        filter_mode: args.filter_mode.into(),
        min_severity: args.min_severity.map_or(config.review.min_severity, Severity::from),
        include: config.review.include.clone(),
        exclude: config.review.exclude.clone(),
        baseline,
    };
    let model_sha256 = model_sha256(&model)?;
    let Started { config, model, engine, runtime, stop: _stop } = super::start(config, model)?;
    let cache = Arc::new(ReviewCache::new(Some(config::nib_home().join("review-cache"))));
    let plugins = nib_pipeline::plugins::start(&config, Some(root.clone()));
    plugins.wait_started(super::PLUGIN_START_TIMEOUT);
    let reviewer =
        Reviewer::new(engine.clone(), config.review.limits(), cache, Priority::Foreground).with_plugins(plugins);
    // Drawn only when stderr is a terminal.
    let progress = ProgressBar::no_length()
        .with_style(ProgressStyle::with_template("[{bar:20}] {pos}/{len} {msg}")?.progress_chars("#."));
    let result = runtime
        .block_on(batch::run(&reviewer, &batch, |path, done, total| {
            progress.set_message(path.to_owned());
            progress.set_length(total as u64);
            progress.set_position(done as u64);
        }))
        .map_err(|e| explain(e, &model))?;
    progress.finish();
    if !progress.is_hidden() {
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
    let (model_path, served_by) = model_and_engine(&engine, &model);
    // Formats without a place for a run's metadata (rdjson, GitHub, GitLab) still get it in the CI log.
    eprintln!("nib: model {model_path} (sha256 {model_sha256}), engine {served_by}, prompt {}", prompt.version);
    let rules = reviewer.rules();
    let report = Report {
        findings: &result.findings,
        rules: &rules,
        model_path: &model_path,
        model_sha256: &model_sha256,
        engine: &served_by,
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
    let failed = args.fail_level.severity().is_some_and(|level| worst.is_some_and(|w| w >= level));
    Ok(if failed { Verdict::Failed } else { Verdict::Passed })
}
