//! The acceptance figures as `nib/status` carries them (and `nib bench replay` reads them): counts and rates per
//! language and kind. Field names are stable snake_case.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counts for one language, one kind, or all. Field names are stable snake_case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Figures {
    /// Suggestions shown (the same suggestion shown again at the same place counts once).
    pub shown: u64,
    /// Suggestions inserted whole in one edit.
    pub accepted_whole: u64,
    /// Suggestions whose acceptance began with a word (an editor's "accept next word").
    pub accepted_word: u64,
    /// Suggestions whose acceptance began with a line.
    pub accepted_line: u64,
    /// Chars inserted by acceptances, all pieces together.
    pub chars_accepted: u64,
    /// Of those, chars still in place 30 s later (or when the document closed).
    pub chars_retained_30s: u64,
    /// Acceptances whose text was deleted again within 30 s (an undo).
    pub reversals: u64,
}

impl Figures {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Figures) {
        self.shown += other.shown;
        self.accepted_whole += other.accepted_whole;
        self.accepted_word += other.accepted_word;
        self.accepted_line += other.accepted_line;
        self.chars_accepted += other.chars_accepted;
        self.chars_retained_30s += other.chars_retained_30s;
        self.reversals += other.reversals;
    }

    pub fn n_accepted(&self) -> u64 {
        self.accepted_whole + self.accepted_word + self.accepted_line
    }
}

/// Figures with their rates, as `nib/status` shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    #[serde(flatten)]
    pub figures: Figures,
    /// Accepted (whole, word or line) / shown; `None` before anything was shown.
    pub acceptance_rate: Option<f64>,
    /// Chars retained / chars accepted and judged; `None` before any was judged.
    pub retention_rate: Option<f64>,
}

impl Report {
    /// The figures with their rates; `chars_judged`: the chars whose retention was judged.
    pub fn of(figures: Figures, chars_judged: u64) -> Report {
        Report {
            acceptance_rate: ratio(figures.n_accepted(), figures.shown),
            retention_rate: ratio(figures.chars_retained_30s, chars_judged),
            figures,
        }
    }
}

/// All the figures: the totals, per language (the document's `languageId`) and per kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    pub total: Report,
    pub by_language: BTreeMap<String, Report>,
    pub by_kind: BTreeMap<String, Report>,
    /// Acceptances whose 30 s have not passed yet: their retention is still to be judged.
    pub n_pending_retention: usize,
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}
