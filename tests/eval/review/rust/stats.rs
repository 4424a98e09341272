//! Summary statistics of response times for the load-test report.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub mean_ms: f64,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

/// The value below which `percent` of the sorted samples fall.
fn percentile(sorted: &[f64], percent: f64) -> f64 {
    let rank = (percent / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
    let median = sorted[sorted.len() / 2 + 1];
    Some(Summary {
        count: sorted.len(),
        mean_ms: mean,
        median_ms: median,
        p95_ms: percentile(&sorted, 95.0),
        max_ms: sorted[sorted.len() - 1],
    })
}

/// Distinct endpoints in the order they first appear.
pub fn endpoints(requests: &[(String, f64)]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for (endpoint, _) in requests {
        if !seen.contains(endpoint) {
            seen.push(endpoint.clone());
        }
    }
    seen
}

pub fn by_endpoint(requests: &[(String, f64)]) -> HashMap<String, Summary> {
    let mut groups: HashMap<String, Vec<f64>> = HashMap::new();
    for (endpoint, ms) in requests {
        groups.entry(endpoint.clone()).or_default().push(*ms);
    }
    groups.into_iter().filter_map(|(endpoint, times)| summarize(&times).map(|s| (endpoint, s))).collect()
}

pub fn slowest(requests: &[(String, f64)], n: usize) -> Vec<(String, f64)> {
    let mut sorted = requests.to_vec();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    sorted.truncate(n);
    sorted
}
