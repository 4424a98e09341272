//! `nib doctor`: the machine, the model, the engine, NIB_HOME, the configuration, a short measurement and
//! recommendations (`nib_bench::doctor` builds the report; this prints it).

use anyhow::Result;
use clap::Args;

use super::ModelArg;
use nib_bench::doctor::{self, Doctor, Input};
use nib_pipeline::config::{self, Config};

#[derive(Args)]
pub struct DoctorArgs {
    /// Print one JSON object (stable field names) instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArg,
}

/// The report, printed; `false` when something is broken.
pub fn run(args: DoctorArgs) -> Result<bool> {
    // A config file nib refuses is one of the things the doctor reports, not a reason to stop.
    let cli = args.model.command_line();
    let loaded = Config::load().map(|c| c.with_command_line(&cli)).map_err(|e| e.to_string());
    let config = loaded.clone().unwrap_or_else(|_| Config::default().with_command_line(&cli));
    let model = config::resolve_model(args.model.model.as_deref(), &config);
    let started = super::start(config, model)?;
    let home = config::nib_home();
    let input =
        Input { config: loaded, command_line: &cli, model: &started.model, engine: &started.engine, nib_home: &home };
    let report = started.runtime.block_on(doctor::examine(input));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    if !report.ok {
        for problem in &report.problems {
            eprintln!("nib doctor: {problem}");
        }
    }
    Ok(report.ok)
}

fn line(out: &mut String, label: &str, value: String) {
    out.push_str(&format!("  {label:<22}{value}\n"));
}

fn text(d: &Doctor) -> String {
    let mut out = String::new();
    let m = &d.machine;
    let gib = |bytes: u64| format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64);
    let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64);
    let opt = |bytes: Option<u64>| bytes.map_or("unknown".to_owned(), gib);
    let mut sections = Vec::new();
    line(&mut out, "cores", m.cores.to_string());
    line(&mut out, "simd", m.simd.join(" "));
    line(
        &mut out,
        "memory",
        format!("{} total, {} available", opt(m.memory_total_bytes), opt(m.memory_available_bytes)),
    );
    line(&mut out, "backends built", m.backends_built.join(", "));
    for dev in &m.devices {
        line(
            &mut out,
            &format!("device {}", dev.name),
            format!(
                "{} ({}, {}; {} free of {})",
                dev.description,
                dev.backend,
                dev.kind,
                gib(dev.memory_free),
                gib(dev.memory_total)
            ),
        );
    }
    sections.push(("machine", std::mem::take(&mut out)));

    let model = &d.model;
    line(&mut out, "path", format!("{} (from {})", model.path.display(), model.source));
    match &model.info {
        Some(i) => {
            line(&mut out, "name", format!("{} ({})", i.name, i.architecture));
            line(&mut out, "parameters", format!("{:.1}M in {} layers", i.n_params as f64 / 1e6, i.n_layers));
            line(
                &mut out,
                "quantisation",
                if i.quantization.is_empty() { "unknown".into() } else { i.quantization.clone() },
            );
            let fits = match model.fits_in_memory {
                Some(true) => "fits in the memory available",
                Some(false) => "LARGER than the memory available",
                None => "memory unknown",
            };
            line(&mut out, "size", format!("{} ({fits})", mib(i.n_bytes)));
            line(&mut out, "trained context", format!("{} tokens", i.n_ctx_train));
            line(&mut out, "FIM tokens", if i.has_fim_tokens { "yes".into() } else { "no".into() });
            line(&mut out, "sliding window", if i.sliding_window { "yes (no KV shift)".into() } else { "no".into() });
            line(&mut out, "offloaded", format!("{} of {} layers on {}", i.n_gpu_layers, i.n_layers, i.device));
        }
        None => line(&mut out, "loaded", "NO".into()),
    }
    line(&mut out, "template", format!("{} ({})", model.template.as_deref().unwrap_or("none"), model.template_why));
    sections.push(("model", std::mem::take(&mut out)));

    let e = &d.engine;
    line(&mut out, "backend", e.backend.clone());
    if let Some(url) = &e.url {
        line(&mut out, "url", url.clone());
    }
    line(&mut out, "answers", if e.answers { "yes".into() } else { "NO".into() });
    let surprise = match &e.surprise_unavailable {
        None => "available".to_owned(),
        Some(why) => format!("unavailable: {why}"),
    };
    line(&mut out, "review by surprise", surprise);
    if let Some(problem) = &e.health.problem {
        line(&mut out, "last problem", format!("{problem} ({} in a row)", e.health.n_failures));
    }
    sections.push(("engine", std::mem::take(&mut out)));

    let h = &d.nib_home;
    line(&mut out, "path", format!("{} ({})", h.path.display(), if h.writable { "writable" } else { "NOT writable" }));
    line(&mut out, "snapshots", mib(h.snapshots_bytes));
    line(&mut out, "review cache", mib(h.review_cache_bytes));
    sections.push(("NIB_HOME", std::mem::take(&mut out)));

    let c = &d.config;
    let file = c.file.path.as_ref().map_or("none".to_owned(), |p| p.display().to_string());
    line(&mut out, "file", format!("{file}{}", if c.file.exists { "" } else { " (absent: defaults)" }));
    // As the config file would spell them; keys are longer than the label column.
    for set in &c.sources {
        out.push_str(&format!("  {} = {} (from {})\n", set.key, set.value, set.by));
    }
    if !c.file.unknown_keys.is_empty() {
        line(&mut out, "UNKNOWN keys", c.file.unknown_keys.join(", "));
    }
    if let Some(error) = &c.error {
        line(&mut out, "error", error.clone());
    }
    line(&mut out, "other keys", "defaults".into());
    sections.push(("configuration", std::mem::take(&mut out)));

    for p in &d.plugins {
        let error = p.last_error.as_ref().map_or(String::new(), |error| format!(" ({error})"));
        let kind = if p.builtin { "built in" } else { "process" };
        line(&mut out, &p.name, format!("{kind}, {}{error}", p.state.name()));
    }
    if !d.plugins.is_empty() {
        sections.push(("plugins", std::mem::take(&mut out)));
    }

    match &d.measurement {
        Some(ms) => {
            line(
                &mut out,
                "cold prompt",
                format!("{} tokens, first token in {:.0} ms", ms.cold_prompt_tokens, ms.cold_ttft_ms),
            );
            line(
                &mut out,
                "prompt",
                format!("{:.0} tokens/s (a second cold prompt, {} tokens)", ms.prompt_tokens_per_s, ms.prompt_tokens),
            );
            line(&mut out, "generation", format!("{:.0} tokens/s", ms.generation_tokens_per_s));
            line(
                &mut out,
                "warm keystroke",
                format!("{:.1} ms median of {}", ms.warm_ttft_ms_median, ms.warm_keystrokes),
            );
            line(&mut out, "took", format!("{:.1} s", ms.seconds));
        }
        None => line(&mut out, "skipped", "no model, or it did not finish in 10 s".into()),
    }
    sections.push(("measurement", std::mem::take(&mut out)));

    for r in &d.recommendations {
        out.push_str(&format!("  {} = {}\n      {}\n", r.setting, r.value, r.why));
    }
    sections.push(("recommendations", std::mem::take(&mut out)));
    for problem in &d.problems {
        out.push_str(&format!("  {problem}\n"));
    }
    if !d.problems.is_empty() {
        sections.push(("PROBLEMS", std::mem::take(&mut out)));
    }
    sections.into_iter().map(|(title, body)| format!("{title}\n{body}\n")).collect()
}
