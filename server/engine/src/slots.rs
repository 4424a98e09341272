//! The hot tier: several KV-cache sequences in one context, each remembered
//! with its tokens and the document it last served. Pure bookkeeping; the
//! worker performs the cache operations.

use super::kv::{CachedTokens, ReusePlan};
use nib_vocab::TokenId;

/// A sequence's content is worth a snapshot before it is overwritten only if
/// restoring it later saves more than a quick evaluation.
pub const MIN_SNAPSHOT_TOKENS: usize = 64;

#[derive(Debug, Default)]
pub struct Slot {
    pub cached: CachedTokens,
    /// The document whose prompt the sequence holds.
    pub owner: Option<String>,
    last_used: u64,
}

/// Which slot serves a prompt, how, and what it held before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub index: usize,
    pub plan: ReusePlan,
    /// The previous owner, when its content is about to be mostly lost.
    pub evicts: Option<String>,
}

#[derive(Debug)]
pub struct Slots {
    slots: Vec<Slot>,
    tick: u64,
}

impl Slots {
    pub fn new(n: usize) -> Slots {
        Slots { slots: (0..n.max(1)).map(|_| Slot::default()).collect(), tick: 0 }
    }

    #[allow(clippy::len_without_is_empty)] // never empty: `new` makes at least one slot
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn get_mut(&mut self, index: usize) -> &mut Slot {
        &mut self.slots[index]
    }

    pub fn get(&self, index: usize) -> &Slot {
        &self.slots[index]
    }

    /// Marks a slot as serving `owner` now.
    pub fn touch(&mut self, index: usize, owner: Option<&str>) {
        self.tick += 1;
        let slot = &mut self.slots[index];
        slot.last_used = self.tick;
        slot.owner = owner.map(str::to_owned);
    }

    /// The slot sharing the most with `prompt`; when none shares much, the
    /// document's own slot, else an empty one, else the least recently used.
    pub fn choose(&self, owner: Option<&str>, prompt: &[TokenId], can_shift: bool) -> Choice {
        let plans: Vec<ReusePlan> = self.slots.iter().map(|s| s.cached.plan(prompt, can_shift)).collect();
        let owned = |i: usize| owner.is_some() && self.slots[i].owner.as_deref() == owner;
        let best = (0..self.slots.len())
            .max_by_key(|&i| (plans[i].n_reused(), owned(i), self.slots[i].last_used))
            .unwrap_or(0);
        // A shared header (BOS, a license comment) is not worth taking another file's slot for.
        let index = if plans[best].n_reused() * 4 >= prompt.len() {
            best
        } else {
            (0..self.slots.len())
                .find(|&i| owned(i))
                .or_else(|| (0..self.slots.len()).find(|&i| self.slots[i].cached.is_empty()))
                .or_else(|| (0..self.slots.len()).min_by_key(|&i| self.slots[i].last_used))
                .unwrap_or(0)
        };
        let slot = &self.slots[index];
        let plan = plans[index];
        let loses_most = plan.n_reused() * 2 < slot.cached.len();
        let evicts = slot
            .owner
            .clone()
            .filter(|o| Some(o.as_str()) != owner && loses_most && slot.cached.len() >= MIN_SNAPSHOT_TOKENS);
        Choice { index, plan, evicts }
    }

    /// Forgets every slot's content (after a failure, the cache is cleared whole).
    pub fn clear(&mut self) {
        for slot in &mut self.slots {
            slot.cached.clear();
            slot.owner = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(slots: &mut Slots, index: usize, owner: &str, tokens: std::ops::Range<TokenId>) {
        let tokens: Vec<TokenId> = tokens.collect();
        slots.get_mut(index).cached.extend(&tokens);
        slots.touch(index, Some(owner));
    }

    #[test]
    fn the_longest_shared_prefix_wins() {
        let mut slots = Slots::new(3);
        fill(&mut slots, 0, "a", 0..100);
        fill(&mut slots, 1, "b", 1000..1100);
        let prompt: Vec<TokenId> = (1000..1101).collect();
        let choice = slots.choose(Some("b"), &prompt, false);
        assert_eq!((choice.index, choice.plan.n_keep, choice.evicts), (1, 100, None));
    }

    #[test]
    fn a_new_file_takes_an_empty_slot_then_the_least_recently_used() {
        let mut slots = Slots::new(2);
        fill(&mut slots, 0, "a", 0..100);
        let prompt: Vec<TokenId> = (5000..5100).collect();
        assert_eq!(slots.choose(Some("c"), &prompt, false).index, 1);
        fill(&mut slots, 1, "b", 1000..1100);
        slots.touch(0, Some("a"));
        let choice = slots.choose(Some("c"), &prompt, false);
        assert_eq!(choice.index, 1);
        assert_eq!(choice.evicts.as_deref(), Some("b"));
    }

    #[test]
    fn a_file_returns_to_its_own_slot_even_after_a_big_edit() {
        let mut slots = Slots::new(2);
        fill(&mut slots, 0, "a", 0..100);
        fill(&mut slots, 1, "b", 1000..1100);
        let prompt: Vec<TokenId> = (0..5).chain(7000..7100).collect();
        let choice = slots.choose(Some("a"), &prompt, false);
        assert_eq!((choice.index, choice.evicts), (0, None));
    }

    #[test]
    fn small_contents_are_not_snapshotted() {
        let mut slots = Slots::new(1);
        fill(&mut slots, 0, "a", 0..10);
        let prompt: Vec<TokenId> = (5000..5100).collect();
        assert_eq!(slots.choose(Some("b"), &prompt, false).evicts, None);
    }
}
