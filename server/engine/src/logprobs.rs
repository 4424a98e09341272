//! Log-probabilities from a position's logits: the log-softmax of one token, and the most likely tokens.
//!
//! One pass finds the maximum (and the top k), a second sums the exponentials: never a softmax over the whole
//! vocabulary held in memory, and never a sort of it.

/// The log-softmax's normaliser `ln(Σ exp(logit))`, as the maximum and the log of the sum of exponentials taken
/// from it: no exponential overflows, and subtracting them apart keeps the precision a large logit would lose.
fn normaliser(logits: &[f32]) -> (f32, f32) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return (max, 0.0);
    }
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    (max, sum.ln() as f32)
}

fn log_softmax(logit: f32, (max, ln_sum): (f32, f32)) -> f32 {
    (logit - max) - ln_sum
}

/// The natural log-probability of `token` under `logits`; `None` for a token outside the vocabulary.
pub fn logprob(logits: &[f32], token: usize) -> Option<f32> {
    let logit = *logits.get(token)?;
    Some(log_softmax(logit, normaliser(logits)))
}

/// The `k` most likely tokens with their log-probabilities, most likely first (ties: the lower id first), and
/// `token`'s log-probability, from one pass for the top `k` and one for the normaliser.
pub fn scored(logits: &[f32], token: usize, k: usize) -> Option<(f32, Vec<(usize, f32)>)> {
    let logit = *logits.get(token)?;
    let norm = normaliser(logits);
    let top = top_k(logits, k).into_iter().map(|(id, l)| (id, log_softmax(l, norm))).collect();
    Some((log_softmax(logit, norm), top))
}

/// The `k` largest logits, largest first: a small sorted buffer, so the cost is one pass for a small `k`.
fn top_k(logits: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut top: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
    if k == 0 {
        return top;
    }
    for (id, &logit) in logits.iter().enumerate() {
        if top.len() == k && top.last().is_some_and(|&(_, least)| logit <= least) {
            continue;
        }
        let at = top.partition_point(|&(_, l)| l >= logit);
        top.insert(at, (id, logit));
        top.truncate(k);
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    fn softmax(logits: &[f32]) -> Vec<f64> {
        let exps: Vec<f64> = logits.iter().map(|&l| f64::from(l).exp()).collect();
        let sum: f64 = exps.iter().sum();
        exps.iter().map(|e| e / sum).collect()
    }

    #[test]
    fn log_probabilities_match_a_plain_softmax() {
        let logits = [1.0, 2.0, 0.5, -3.0, 2.0];
        let probs = softmax(&logits);
        for (token, p) in probs.iter().enumerate() {
            let lp = logprob(&logits, token).unwrap();
            assert!((f64::from(lp) - p.ln()).abs() < 1e-5, "token {token}: {lp} vs {}", p.ln());
        }
        assert_eq!(logprob(&logits, 5), None);
    }

    #[test]
    fn large_logits_do_not_overflow() {
        let lp = logprob(&[1000.0, 1000.0], 0).unwrap();
        assert!((lp - 0.5f32.ln()).abs() < 1e-5);
        assert_eq!(logprob(&[f32::NEG_INFINITY, 0.0], 1), Some(0.0));
    }

    #[test]
    fn the_top_k_are_the_most_likely_in_order() {
        let logits = [0.1, 3.0, -1.0, 3.0, 2.5, 0.0];
        let (lp, top) = scored(&logits, 4, 3).unwrap();
        let ids: Vec<usize> = top.iter().map(|&(id, _)| id).collect();
        assert_eq!(ids, [1, 3, 4]);
        assert!((lp - logprob(&logits, 4).unwrap()).abs() < 1e-6);
        assert!((top[0].1 - logprob(&logits, 1).unwrap()).abs() < 1e-6);
        assert!(scored(&logits, 0, 0).unwrap().1.is_empty());
        assert_eq!(scored(&logits, 0, 10).unwrap().1.len(), logits.len());
    }
}
