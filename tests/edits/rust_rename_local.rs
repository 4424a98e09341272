kind=rename
//- text
use std::collections::HashMap;

pub fn word_counts(text: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for word in text.split_whitespace() {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
        *counts.entry(word).or_insert(0) += 1;
    }
    counts
}

pub fn top(counts: &HashMap<String, usize>, n: usize) -> Vec<(&str, usize)> {
    let mut sorted: Vec<_> = counts.iter().map(|(w, c)| (w.as_str(), *c)).collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1));
    sorted.truncate(n);
    sorted
}
//- edit
4: counts -> tally
//- expect
7: counts -> tally
9: counts -> tally
