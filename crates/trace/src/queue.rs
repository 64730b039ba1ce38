//! The forward engine's work queue: a radix heap over `u64` keys.
//!
//! A forward trace only ever queues work *after* the step it is running (a spender comes later
//! in the chain than what it spends), so keys popped are non-decreasing. A radix heap exploits
//! that: keys are binned by the highest bit in which they differ from the last key popped, so a
//! push is O(1) and each key is moved between bins at most 64 times over its life, instead of
//! the O(log n) sift with scattered memory accesses of a binary heap holding a large frontier.

/// A min-queue for monotone workloads: every pushed key must be `>=` the last key popped.
#[derive(Debug)]
pub struct RadixQueue {
    last: u64,
    len: usize,
    /// `bins[0]` holds keys equal to `last`; `bins[b]` keys whose highest bit differing from
    /// `last` is bit `b - 1`.
    bins: [Vec<u64>; 65],
}

impl Default for RadixQueue {
    fn default() -> Self {
        RadixQueue {
            last: 0,
            len: 0,
            bins: std::array::from_fn(|_| Vec::new()),
        }
    }
}

impl RadixQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The smallest key that may still be pushed.
    pub fn floor(&self) -> u64 {
        self.last
    }

    /// Queues `key`; returns `false` (and queues nothing) if it lies below [`Self::floor`].
    #[must_use]
    pub fn push(&mut self, key: u64) -> bool {
        if key < self.last {
            return false;
        }
        self.bins[bin(key ^ self.last)].push(key);
        self.len += 1;
        true
    }

    /// Removes and returns the smallest key (duplicates pop once each).
    pub fn pop(&mut self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        if self.bins[0].is_empty() {
            let b = self.bins.iter().position(|v| !v.is_empty())?;
            let keys = std::mem::take(&mut self.bins[b]);
            self.last = keys.iter().copied().min()?;
            for &k in &keys {
                self.bins[bin(k ^ self.last)].push(k);
            }
            // Hand the emptied allocation back so the bin does not regrow from scratch.
            let mut keys = keys;
            keys.clear();
            if self.bins[b].is_empty() {
                self.bins[b] = keys;
            }
        }
        self.len -= 1;
        self.bins[0].pop()
    }
}

fn bin(diff: u64) -> usize {
    (u64::BITS - diff.leading_zeros()) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    #[test]
    fn pops_in_order_with_duplicates() {
        let mut q = RadixQueue::new();
        for k in [5, 3, 9, 3, 0, u64::MAX, 9] {
            assert!(q.push(k));
        }
        let mut out = Vec::new();
        while let Some(k) = q.pop() {
            out.push(k);
        }
        assert_eq!(out, vec![0, 3, 3, 5, 9, 9, u64::MAX]);
        assert!(q.is_empty());
    }

    #[test]
    fn refuses_keys_below_the_last_pop() {
        let mut q = RadixQueue::new();
        assert!(q.push(10));
        assert_eq!(q.pop(), Some(10));
        assert!(!q.push(9));
        assert!(q.push(10));
        assert_eq!((q.len(), q.floor()), (1, 10));
    }

    proptest! {
        /// Interleaved monotone pushes and pops agree with a binary heap.
        #[test]
        fn agrees_with_a_binary_heap(ops in proptest::collection::vec((any::<bool>(), 0u64..1_000, any::<u8>()), 1..400)) {
            let mut q = RadixQueue::new();
            let mut h = BinaryHeap::new();
            for (pop, delta, high) in ops {
                if pop {
                    prop_assert_eq!(q.pop(), h.pop().map(|Reverse(k)| k));
                } else {
                    let key = q.floor() + delta + (u64::from(high) << 40);
                    prop_assert!(q.push(key));
                    h.push(Reverse(key));
                }
                prop_assert_eq!(q.len(), h.len());
            }
            while let Some(Reverse(k)) = h.pop() {
                prop_assert_eq!(q.pop(), Some(k));
            }
            prop_assert_eq!(q.pop(), None);
        }
    }
}
