//! A fixed-capacity ring buffer of recent samples, for the metrics panel.

pub struct RingBuffer<T> {
    slots: Vec<Option<T>>,
    head: usize,
    len: usize,
}

impl<T: Clone> RingBuffer<T> {
    pub fn with_capacity(capacity: usize) -> Self {
        assert!(capacity > 0, "a ring buffer needs room for one sample");
        RingBuffer { slots: vec![None; capacity], head: 0, len: 0 }
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a sample, overwriting the oldest when full.
    pub fn push(&mut self, value: T) {
        self.slots[self.head] = Some(value);
        self.head += 1;
        if self.head > self.capacity() {
            self.head = 0;
        }
        self.len = (self.len + 1).min(self.capacity());
    }

    /// Samples from the oldest to the newest.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        let start = (self.head + self.capacity() - self.len) % self.capacity();
        (0..self.len).filter_map(move |i| self.slots[(start + i) % self.capacity()].as_ref())
    }

    pub fn latest(&self) -> Option<&T> {
        self.iter().last()
    }
}

/// Moving averages of a series over a window, one per sample.
pub fn moving_averages(samples: &RingBuffer<f64>, window: usize) -> Vec<f64> {
    let mut averages = Vec::new();
    for end in 1..=samples.len() {
        let all: Vec<f64> = samples.iter().cloned().collect();
        let from = end.saturating_sub(window);
        let part = &all[from..end];
        averages.push(part.iter().sum::<f64>() / part.len() as f64);
    }
    averages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_samples() {
        let mut ring = RingBuffer::with_capacity(2);
        ring.push(1);
        ring.push(2);
        assert_eq!(ring.iter().copied().collect::<Vec<_>>(), [1, 2]);
    }
}
