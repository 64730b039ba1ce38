//! A set of output indices (vouts), the currency the change heuristics trade in: each heuristic
//! returns the outputs it cannot rule out as change, and callers combine them with `&`, `|` and
//! `-` before asking for [`OutputSet::unique`], as BlockSci's change API does.

use std::ops::{BitAnd, BitOr, Sub};

use smallvec::SmallVec;

/// Output indices as a bitset: one inline word covers the 64 outputs nearly every transaction
/// stays within, so building and combining sets costs no allocation on the ingest path.
#[derive(Clone, Debug, Default)]
pub struct OutputSet {
    words: SmallVec<[u64; 1]>,
}

impl OutputSet {
    pub fn new() -> OutputSet {
        OutputSet::default()
    }

    /// The outputs among `0..n` for which `keep` holds.
    pub(crate) fn from_fn(n: usize, keep: impl Fn(usize) -> bool) -> OutputSet {
        (0..n).filter(|&i| keep(i)).collect()
    }

    /// Adds `vout`. Indices come from a transaction's outputs, so the set grows no larger than
    /// that transaction.
    pub fn insert(&mut self, vout: usize) {
        let (word, bit) = (vout / 64, vout % 64);
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << bit;
    }

    pub fn contains(&self, vout: usize) -> bool {
        self.words
            .get(vout / 64)
            .is_some_and(|w| w & (1 << (vout % 64)) != 0)
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The indices, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            (0..64)
                .filter(move |bit| w & (1 << bit) != 0)
                .map(move |bit| i * 64 + bit)
        })
    }

    /// The single member, if there is exactly one (BlockSci's `unique_change`): clustering should
    /// only ever merge a change output named this way, never every member of a larger set.
    pub fn unique(&self) -> Option<usize> {
        let mut members = self.iter();
        let first = members.next()?;
        members.next().is_none().then_some(first)
    }

    fn zip_with(&self, other: &OutputSet, f: impl Fn(u64, u64) -> u64) -> OutputSet {
        let n = self.words.len().max(other.words.len());
        let word = |set: &OutputSet, i: usize| set.words.get(i).copied().unwrap_or(0);
        OutputSet {
            words: (0..n).map(|i| f(word(self, i), word(other, i))).collect(),
        }
    }
}

impl FromIterator<usize> for OutputSet {
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> OutputSet {
        let mut set = OutputSet::new();
        for vout in iter {
            set.insert(vout);
        }
        set
    }
}

/// Sets compare by members, whatever trailing empty words either carries.
impl PartialEq for OutputSet {
    fn eq(&self, other: &OutputSet) -> bool {
        self.zip_with(other, |a, b| a ^ b).is_empty()
    }
}

impl Eq for OutputSet {}

impl BitAnd for &OutputSet {
    type Output = OutputSet;
    fn bitand(self, other: &OutputSet) -> OutputSet {
        self.zip_with(other, |a, b| a & b)
    }
}

impl BitOr for &OutputSet {
    type Output = OutputSet;
    fn bitor(self, other: &OutputSet) -> OutputSet {
        self.zip_with(other, |a, b| a | b)
    }
}

impl Sub for &OutputSet {
    type Output = OutputSet;
    fn sub(self, other: &OutputSet) -> OutputSet {
        self.zip_with(other, |a, b| a & !b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_algebra_across_word_boundaries() {
        let a: OutputSet = [0, 63, 64, 130].into_iter().collect();
        let b: OutputSet = [63, 130].into_iter().collect();
        assert_eq!((&a & &b).iter().collect::<Vec<_>>(), [63, 130]);
        assert_eq!((&a - &b).iter().collect::<Vec<_>>(), [0, 64]);
        assert_eq!((&b | &a).len(), 4);
        assert!(a.contains(64) && !a.contains(65) && !a.contains(10_000));
    }

    #[test]
    fn equality_ignores_empty_words_and_unique_needs_one_member() {
        let far: OutputSet = [3, 200].into_iter().collect();
        let near: OutputSet = [3].into_iter().collect();
        assert_eq!(&far - &[200].into_iter().collect(), near);
        assert_eq!(near.unique(), Some(3));
        assert_eq!(far.unique(), None);
        assert_eq!(OutputSet::new().unique(), None);
    }
}
