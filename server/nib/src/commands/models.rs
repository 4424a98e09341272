//! `nib models list | pull | verify | rm`: the catalogue's models in `$NIB_HOME/models`.

use std::io::Write;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use nib_models::{self as models, Model, Progress, Store, Verdict};

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// The catalogue's models: name, size, installed or not, the default.
    List,
    /// Download a model (the default one without NAME), resuming an interrupted download; prints its path.
    Pull { name: Option<String> },
    /// Hash installed models (or NAME) against the catalogue.
    Verify { name: Option<String> },
    /// Delete an installed model.
    Rm { name: String },
}

pub fn run(command: ModelsCommand) -> Result<()> {
    let store = Store::new();
    match command {
        ModelsCommand::List => list(&store),
        ModelsCommand::Pull { name } => {
            let model = pick(name.as_deref())?;
            let path = store.pull(&model, &mut Bar::default()).with_context(|| format!("pulling {}", model.name))?;
            println!("{}", path.display());
            Ok(())
        }
        ModelsCommand::Verify { name } => verify(&store, name.as_deref()),
        ModelsCommand::Rm { name } => {
            let model = models::find(&name)?;
            if store.remove(&model)? {
                eprintln!("nib: removed {}", store.path(&model).display());
            } else {
                eprintln!("nib: {} is not installed", model.name);
            }
            Ok(())
        }
    }
}

fn pick(name: Option<&str>) -> Result<Model> {
    Ok(match name {
        Some(name) => models::find(name)?,
        None => models::catalogue::default_model(),
    })
}

/// Written with `writeln!`, not `println!`: a closed pipe (`| head`) ends the listing, never in a panic.
fn list(store: &Store) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<22} {:>9}  {:<9}  description", "name", "size", "installed")?;
    for model in models::catalogue::models() {
        let installed = if store.installed(&model) { "yes" } else { "no" };
        let default = if model.default { " (default)" } else { "" };
        let mb = model.n_bytes / 1_000_000;
        writeln!(out, "{:<22} {mb:>6} MB  {installed:<9}  {}{default}", model.name, model.description)?;
    }
    Ok(())
}

fn verify(store: &Store, name: Option<&str>) -> Result<()> {
    let models = match name {
        Some(name) => vec![models::find(name)?],
        None => models::catalogue::models().into_iter().filter(|m| store.installed(m)).collect(),
    };
    let mut bad = 0;
    for model in &models {
        match store.verify(model)? {
            Verdict::Good => println!("{}: ok", model.name),
            Verdict::Missing => {
                bad += 1;
                println!("{}: not installed", model.name);
            }
            Verdict::Bad { sha256 } => {
                bad += 1;
                println!(
                    "{}: sha256 {sha256}, expected {} (run `nib models rm` then `pull`)",
                    model.name, model.sha256
                );
            }
        }
    }
    if bad > 0 {
        bail!("{bad} model(s) failed verification");
    }
    Ok(())
}

/// A progress bar on stderr, drawn only when it is a terminal.
#[derive(Default)]
struct Bar(Option<ProgressBar>);

impl Progress for Bar {
    fn start(&mut self, label: &str, total: Option<u64>, done: u64) {
        let bar = total.map_or_else(ProgressBar::no_length, ProgressBar::new);
        if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
        {
            bar.set_style(style.progress_chars("#."));
        }
        bar.set_message(label.to_string());
        bar.set_position(done);
        if let Some(old) = self.0.replace(bar) {
            old.finish_and_clear();
        }
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}
