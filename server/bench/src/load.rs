//! `nib bench load`: many editors, one server. N clients, each its own `nib serve` pointed at the same remote
//! engine, replay traces at the same time; figures per event kind over all of them, errors, and how much of the
//! prompts the server found in its prompt cache.

use std::sync::Barrier;
use std::time::Instant;

use serde::Serialize;

use super::replay::{self, NibServe, Row, Sample};
use super::trace::Replay;

/// What one simulated editor did.
#[derive(Debug, Serialize)]
pub struct Client {
    pub trace: String,
    /// Requests in its trace.
    pub n_requests: usize,
    /// Why its replay stopped early: its requests without a sample are errors.
    pub failure: Option<String>,
    pub samples: Vec<Sample>,
}

impl Client {
    /// Requests answered with an error, or never answered because the replay failed.
    fn n_errors(&self) -> usize {
        let answered = self.samples.iter().filter(|s| s.error.is_none()).count();
        self.n_requests.saturating_sub(answered)
    }
}

#[derive(Debug, Serialize)]
pub struct LoadReport {
    pub n_clients: usize,
    /// From the first client's start to the last one's end.
    pub wall_s: f64,
    /// Requests in the traces the clients played, all together.
    pub n_requests: usize,
    /// Requests answered without an error (empty answers included).
    pub n_answered: usize,
    /// `n_requests - n_answered`: answered with an error, or lost with a client that failed.
    pub n_errors: usize,
    pub n_failed_clients: usize,
    /// Prompt tokens and those the server found in its cache, over answers with figures.
    pub n_prompt_tokens: usize,
    pub n_reused_tokens: usize,
    /// `n_reused_tokens / n_prompt_tokens`; none without figures.
    pub prompt_reuse: Option<f64>,
    /// Per event kind, over every client's samples.
    pub rows: Vec<Row>,
    pub clients: Vec<Client>,
}

/// Runs `n_clients` replays side by side, client `i` playing `traces[i % traces.len()]`; each starts its own
/// `serve`. A client that fails is reported, never the end of the run.
pub fn load(serve: &NibServe, traces: &[Replay], n_clients: usize) -> LoadReport {
    let barrier = Barrier::new(n_clients);
    let started = Instant::now();
    let clients: Vec<Client> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n_clients)
            .filter_map(|i| traces.get(i % traces.len().max(1)))
            .map(|trace| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    play(serve, trace)
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(traces.iter().cycle())
            .map(|(handle, trace)| {
                handle.join().unwrap_or_else(|_| Client {
                    trace: trace.name.clone(),
                    n_requests: trace.events().count(),
                    failure: Some("the client's thread panicked".to_owned()),
                    samples: Vec::new(),
                })
            })
            .collect()
    });
    let wall_s = started.elapsed().as_secs_f64();
    let samples: Vec<Sample> = clients.iter().flat_map(|c| c.samples.iter().cloned()).collect();
    let with_figures = samples.iter().filter_map(|s| s.n_prompt_tokens.zip(s.n_reused_tokens));
    let (n_prompt_tokens, n_reused_tokens) = with_figures.fold((0, 0), |(p, r), (np, nr)| (p + np, r + nr));
    let n_requests: usize = clients.iter().map(|c| c.n_requests).sum();
    let n_errors: usize = clients.iter().map(Client::n_errors).sum();
    LoadReport {
        n_clients: clients.len(),
        wall_s,
        n_requests,
        n_answered: n_requests - n_errors,
        n_errors,
        n_failed_clients: clients.iter().filter(|c| c.failure.is_some()).count(),
        n_prompt_tokens,
        n_reused_tokens,
        prompt_reuse: (n_prompt_tokens > 0).then(|| n_reused_tokens as f64 / n_prompt_tokens as f64),
        rows: replay::summarize(&samples),
        clients,
    }
}

fn play(serve: &NibServe, trace: &Replay) -> Client {
    let n_requests = trace.events().count();
    let (samples, failure) = match replay::replay_nib(trace, serve) {
        Ok(replayed) => (replayed.samples, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Client { trace: trace.name.clone(), n_requests, failure, samples }
}

/// The run's totals, the replay's table over all clients, and why clients failed.
pub fn render(report: &LoadReport) -> String {
    let reuse = report.prompt_reuse.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0));
    let name = format!(
        "{} clients: {} requests in {:.1} s, {} errors ({} clients failed), server prompt-cache reuse {reuse}",
        report.n_clients, report.n_requests, report.wall_s, report.n_errors, report.n_failed_clients
    );
    let mut out = replay::render(&name, &report.rows, None);
    for (i, client) in report.clients.iter().enumerate() {
        if let Some(failure) = &client.failure {
            out.push_str(&format!("client {i} ({}) failed: {failure}\n", client.trace));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::EventKind;

    fn sample(error: bool) -> Sample {
        Sample {
            kind: EventKind::Type,
            ttft_ms: 1.0,
            e2e_ms: 2.0,
            n_prompt_tokens: Some(100),
            n_reused_tokens: Some(75),
            n_evaluated_tokens: Some(25),
            cache: None,
            n_indexed_files: None,
            empty: false,
            ready_ms: None,
            error: error.then(|| serde_json::json!({"code": -32603, "message": "engine down"})),
        }
    }

    fn client(samples: Vec<Sample>, failure: Option<&str>) -> Client {
        Client { trace: "t".into(), n_requests: 3, failure: failure.map(str::to_owned), samples }
    }

    #[test]
    fn errors_and_lost_requests_are_counted() {
        let played = client(vec![sample(false); 3], None);
        let one_error = client(vec![sample(false), sample(true), sample(false)], None);
        let failed = client(vec![sample(false)], Some("nib exited"));
        assert_eq!((played.n_errors(), one_error.n_errors(), failed.n_errors()), (0, 1, 2));
        let rows = replay::summarize(&one_error.samples);
        assert_eq!((rows[0].n, rows[0].n_errors, rows[0].n_empty), (3, 1, 0));
    }
}
