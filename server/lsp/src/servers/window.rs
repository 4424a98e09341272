//! Figures over the last minute: completion latency percentiles and the rate of generated tokens.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use nib_engine::quantile;

/// How far back `nib top`'s figures look.
pub const SPAN: Duration = Duration::from_secs(60);

/// At most this many answers are kept: past it the oldest go first, so memory stays bounded whatever the rate.
const MAX_SAMPLES: usize = 4096;

/// The time each completion took to answer, over the last `SPAN`.
#[derive(Debug, Default)]
pub struct LatencyWindow {
    samples: VecDeque<(Instant, f64)>,
}

/// Latency percentiles of the answers in the window, nearest rank.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub n: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

impl LatencyWindow {
    pub fn record(&mut self, at: Instant, total_ms: f64) {
        if self.samples.len() == MAX_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((at, total_ms));
    }

    /// `None` when nothing was answered in the last `SPAN` before `now`.
    pub fn percentiles(&mut self, now: Instant) -> Option<Percentiles> {
        while self.samples.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > SPAN) {
            self.samples.pop_front();
        }
        let ms: Vec<f64> = self.samples.iter().map(|(_, ms)| *ms).collect();
        if ms.is_empty() {
            return None;
        }
        Some(Percentiles { n: ms.len(), p50_ms: quantile(&ms, 0.50), p95_ms: quantile(&ms, 0.95) })
    }
}

/// A counter's rate over the last `SPAN`, from samples of its running total.
#[derive(Debug, Default)]
pub struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    /// Adds the total at `now` and answers the increase per second since the oldest sample in the window
    /// (0 until two samples are a moment apart).
    pub fn per_second(&mut self, now: Instant, total: u64) -> f64 {
        self.samples.push_back((now, total));
        while self.samples.len() > 2 && self.samples.front().is_some_and(|(at, _)| now.duration_since(*at) > SPAN) {
            self.samples.pop_front();
        }
        let Some(&(since, from)) = self.samples.front() else { return 0.0 };
        let seconds = now.duration_since(since).as_secs_f64();
        if seconds < 0.001 { 0.0 } else { total.saturating_sub(from) as f64 / seconds }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_the_last_minute_only() {
        let start = Instant::now();
        let mut window = LatencyWindow::default();
        assert_eq!(window.percentiles(start), None);
        window.record(start, 10_000.0); // over a minute old by the end: left out
        for ms in 1..=100 {
            window.record(start + Duration::from_secs(30), ms as f64);
        }
        let now = start + Duration::from_secs(61);
        assert_eq!(window.percentiles(now), Some(Percentiles { n: 100, p50_ms: 50.0, p95_ms: 95.0 }));
        assert_eq!(window.percentiles(now + SPAN), None);
    }

    #[test]
    fn one_answer_is_every_percentile() {
        let now = Instant::now();
        let mut window = LatencyWindow::default();
        window.record(now, 42.0);
        assert_eq!(window.percentiles(now), Some(Percentiles { n: 1, p50_ms: 42.0, p95_ms: 42.0 }));
    }

    #[test]
    fn the_window_is_bounded() {
        let now = Instant::now();
        let mut window = LatencyWindow::default();
        (0..MAX_SAMPLES + 10).for_each(|i| window.record(now, i as f64));
        assert_eq!(window.percentiles(now).map(|p| p.n), Some(MAX_SAMPLES));
    }

    #[test]
    fn rate_over_the_window() {
        let start = Instant::now();
        let mut rate = Rate::default();
        assert_eq!(rate.per_second(start, 100), 0.0);
        assert_eq!(rate.per_second(start + Duration::from_secs(10), 600), 50.0);
        // A minute later the first sample is out of the window.
        assert_eq!(rate.per_second(start + Duration::from_secs(70), 600), 0.0);
    }
}
