//! `nib complete FILE:LINE:COL`: one suggestion, or the prompt behind it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;

use super::{ModelArg, Started, StopEngine, explain, read_text};
use nib_engine::{CancelToken, ModelState};
use nib_pipeline::completion::{Completer, Request, Suggestion, Trigger};
use nib_pipeline::config::{CompletionConfig, ModelChoice};
use nib_prompt::context::Workspace;
use nib_text::documents::{Column, Document, Position, position};

#[derive(Args)]
pub struct CompleteArgs {
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

/// A file loaded for the CLI, the cursor in it, and a completer on a started engine.
pub struct Setup {
    pub model: ModelChoice,
    pub completer: Completer,
    pub uri: String,
    pub document: Document,
    pub cursor: usize,
    pub runtime: tokio::runtime::Runtime,
    /// Stops the engine when the command is done with it.
    _stop: StopEngine,
}

/// Shared by `complete` and `bench typing`.
pub fn setup(location: &str, model: &ModelArg) -> Result<Setup> {
    let (path, line, column) = parse_location(location)?;
    let path = dunce::canonicalize(&path).unwrap_or(path);
    let uri = nib_text::uri::from_path(&path);
    let document = Document::new(&uri, &read_text(&path)?, 0, "");
    let rope = &document.rope;
    let pos = Position { line: line - 1, column: Column::Utf8(column - 1) };
    let cursor = position::to_char_offset(rope, pos).with_context(|| format!("{}: bad position", path.display()))?;
    let (config, model) = model.resolve()?;
    let Started { config, model, engine, runtime, stop } = super::start(config, model)?;
    let plugins = nib_pipeline::plugins::start(&config, std::env::current_dir().ok());
    plugins.wait_started(super::PLUGIN_START_TIMEOUT);
    // One completion, run to its end: no deadline, nothing to prefetch for.
    let completion = CompletionConfig { invoked_timeout_ms: 3_600_000, prefetch: false, ..config.completion };
    // Context from the file itself and the workspace's files. The workspace is the current folder when the file is
    // in it, as an editor opened there would have it (plugins run there and match the paths they see against it),
    // else the file's folder.
    let workspace = Arc::new(Workspace::default());
    let current = std::env::current_dir().ok().and_then(|dir| dunce::canonicalize(dir).ok());
    let root = current.filter(|dir| path.starts_with(dir)).or_else(|| path.parent().map(Path::to_path_buf));
    if let Some(root) = root {
        workspace.set_root(root);
        workspace.scan();
    }
    workspace.observe(&uri, rope, document.syntax(), rope.char_to_line(cursor));
    let completer = Completer::new(engine, completion, workspace).with_plugins(plugins);
    Ok(Setup { model, completer, uri, document, cursor, runtime, _stop: stop })
}

pub fn run(args: CompleteArgs) -> Result<()> {
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
        let engine = s.completer.engine();
        // A server's model is known by the name it gives.
        let model = match engine.state() {
            ModelState::Ready { info, .. } if s.model.remote.is_some() => info.name,
            _ => s.model.path.display().to_string(),
        };
        let json = serde_json::json!({
            "text": suggestion.text,
            "reason": suggestion.reason,
            "confidence": suggestion.confidence,
            "template": suggestion.template,
            "model": model,
            "engine": engine.health().destination,
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
