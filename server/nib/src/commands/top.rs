//! `nib top`: every nib server of this user, from the snapshots they publish under `$NIB_HOME/servers`
//! (`nib_lsp::servers`). A live table refreshed each second, `q` quits; `--once` prints one plain table,
//! `--json` the snapshots. Without a terminal, `--once`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::Constraint;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Row, Table};

use nib_lsp::servers::{self, ServerSnapshot};

#[derive(Args)]
pub struct TopArgs {
    /// Print the servers once and exit.
    #[arg(long)]
    pub once: bool,
    /// Print the servers' snapshots as a JSON array (implies --once).
    #[arg(long)]
    pub json: bool,
}

const REFRESH: Duration = Duration::from_secs(1);

const HEADERS: [&str; 19] = [
    "PID",
    "EDITOR",
    "WORKSPACE",
    "MODEL",
    "BACKEND",
    "STATE",
    "RSS",
    "CPU",
    "QUEUE",
    "DONE",
    "HELD",
    "P50",
    "P95",
    "CACHE",
    "KV",
    "TOK/S",
    "REVIEWS",
    "ACCEPT",
    "KEPT",
];

pub fn run(args: TopArgs) -> Result<()> {
    let dir = servers::dir();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&servers::read(&dir))?);
    } else if args.once || !std::io::stdout().is_terminal() {
        print!("{}", plain(&servers::read(&dir)));
    } else {
        live(&dir)?;
    }
    Ok(())
}

/// The table as aligned text; a line saying so when no server runs.
fn plain(servers: &[ServerSnapshot]) -> String {
    if servers.is_empty() {
        return format!("no nib server is running (looked in {})\n", servers::dir().display());
    }
    let rows: Vec<[String; 19]> = servers.iter().map(row).collect();
    let widths: Vec<usize> = (0..HEADERS.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([HEADERS[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(HEADERS.to_vec());
    rows.iter().for_each(|r| out += &line(r.iter().map(String::as_str).collect()));
    servers.iter().filter_map(by_kind).for_each(|l| out += &l);
    out
}

/// A server's acceptance rate per kind of suggestion, as one line; `None` before anything was shown.
fn by_kind(s: &ServerSnapshot) -> Option<String> {
    let kinds: Vec<String> = s
        .acceptance
        .by_kind
        .iter()
        .filter_map(|(kind, r)| Some(format!("{kind} {:.0}% of {}", r.acceptance_rate? * 100.0, r.figures.shown)))
        .collect();
    (!kinds.is_empty()).then(|| format!("{} accepted: {}\n", s.pid, kinds.join(", ")))
}

/// The live view until `q`, Esc or Ctrl-C; the terminal is restored however it ends.
fn live(dir: &std::path::Path) -> Result<()> {
    let mut terminal = ratatui::try_init().context("cannot take over the terminal")?;
    let result = (|| -> Result<()> {
        loop {
            let servers = servers::read(dir);
            terminal.draw(|frame| frame.render_widget(table(&servers), frame.area()))?;
            let until = Instant::now() + REFRESH;
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                if !event::poll(left)? {
                    break;
                }
                if let Event::Key(key) = event::read()?
                    && key.kind == KeyEventKind::Press
                    && (matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)
                        || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)))
                {
                    return Ok(());
                }
            }
        }
    })();
    ratatui::restore();
    result
}

fn table(servers: &[ServerSnapshot]) -> Table<'static> {
    let widths = [6, 15, 12, 27, 10, 6, 6, 5, 5, 5, 4, 7, 7, 5, 4, 6, 7, 6, 4].map(Constraint::Min);
    let title = format!(" nib top: {} server(s), refreshed every second, q quits ", servers.len());
    Table::new(servers.iter().map(|s| Row::new(row(s))), widths)
        .header(Row::new(HEADERS).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(Block::bordered().title(title))
}

fn row(s: &ServerSnapshot) -> [String; 19] {
    let dash = || "-".to_owned();
    let editor = s.editor.as_ref().map_or_else(dash, |e| match &e.version {
        Some(version) => format!("{} {version}", e.name),
        None => e.name.clone(),
    });
    let folders: Vec<String> = s
        .workspace_folders
        .iter()
        .map(|f| f.file_name().map_or_else(|| f.display().to_string(), |n| n.to_string_lossy().into_owned()))
        .collect();
    let state = if s.backend_problem.is_some() { format!("{}!", s.model.state) } else { s.model.state.clone() };
    let ms = |v: Option<f64>| v.map_or_else(dash, |ms| format!("{ms:.0}ms"));
    let percent = |v: Option<f64>| v.map_or_else(dash, |r| format!("{:.0}%", r * 100.0));
    [
        s.pid.to_string(),
        editor,
        if folders.is_empty() { dash() } else { folders.join(",") },
        s.model.name.clone(),
        s.backend.clone(),
        state,
        s.resident_bytes.map_or_else(dash, |b| format!("{}M", b / (1024 * 1024))),
        s.cpu_percent.map_or_else(dash, |c| format!("{c:.0}%")),
        s.requests_in_flight.to_string(),
        s.n_completions.to_string(),
        s.n_held_back.to_string(),
        ms(s.last_minute.p50_ms),
        ms(s.last_minute.p95_ms),
        percent(s.completion_cache_hit_rate),
        percent(s.kv_reuse_rate),
        format!("{:.1}", s.last_minute.tokens_per_second),
        s.reviews_running.to_string(),
        percent(s.acceptance.total.acceptance_rate),
        percent(s.acceptance.total.retention_rate),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_table_is_aligned() {
        let server = ServerSnapshot { pid: 7, backend: "local".into(), ..ServerSnapshot::default() };
        let text = plain(&[server]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("PID  EDITOR"), "{text}");
        assert!(lines[1].starts_with("7    -"), "{text}");
        assert_eq!(lines[0].find("BACKEND"), lines[1].find("local"));
    }

    #[test]
    fn acceptance_shows_in_a_column_and_per_kind_below() {
        let snapshot: ServerSnapshot = serde_json::from_value(serde_json::json!({
            "pid": 7,
            "acceptance": {
                "total": {"shown": 4, "accepted_whole": 1, "acceptance_rate": 0.25, "retention_rate": 1.0},
                "by_kind": {"automatic_line": {"shown": 4, "accepted_whole": 1, "acceptance_rate": 0.25}},
            },
        }))
        .expect("a snapshot");
        let text = plain(&[snapshot]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].find("ACCEPT"), lines[1].find("25%"), "{text}");
        assert_eq!(lines[2], "7 accepted: automatic_line 25% of 4", "{text}");
    }
}
