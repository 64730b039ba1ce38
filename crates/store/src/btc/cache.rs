//! A bounded two-generation cache: roughly LRU at O(1) cost per operation.
//!
//! New and recently used entries live in the young generation. When it outgrows half the
//! capacity, the old generation is dropped whole and the young one takes its place. The writer
//! only rotates right after a commit, so nothing dropped is ever missing from the database.

use std::hash::Hash;

use rustc_hash::FxHashMap as HashMap;

pub struct GenCache<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> GenCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        GenCache {
            young: HashMap::default(),
            old: HashMap::default(),
            capacity: capacity.max(2),
        }
    }

    pub fn get(&mut self, k: &K) -> Option<&mut V> {
        if let Some(v) = self.old.remove(k) {
            self.young.insert(k.clone(), v);
        }
        self.young.get_mut(k)
    }

    pub fn contains(&self, k: &K) -> bool {
        self.young.contains_key(k) || self.old.contains_key(k)
    }

    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let previous = self.old.remove(&k);
        self.young.insert(k, v).or(previous)
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.young.remove(k).or_else(|| self.old.remove(k))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// Drops the old generation if the young one has grown past half the capacity.
    /// Call only when every entry is also in the database.
    pub fn rotate_if_full(&mut self) {
        if self.young.len() > self.capacity / 2 {
            self.old = std::mem::take(&mut self.young);
        }
    }

    pub fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_bounded_and_keeps_recent_entries() {
        let mut c = GenCache::new(100);
        for i in 0..10_000u32 {
            c.insert(i, i);
            c.rotate_if_full();
            assert!(c.len() <= 102);
        }
        assert!(c.contains(&9_999));
        assert_eq!(c.get(&9_990).copied(), Some(9_990));
        assert!(!c.contains(&0));
    }

    #[test]
    fn get_promotes_from_the_old_generation() {
        let mut c = GenCache::new(4);
        c.insert(1, "a");
        c.insert(2, "b");
        c.insert(3, "c");
        c.rotate_if_full(); // 1,2,3 are now old
        assert!(c.get(&1).is_some()); // promoted
        c.insert(4, "d");
        c.insert(5, "e");
        c.rotate_if_full(); // old (2,3) dropped
        assert!(c.contains(&1));
        assert!(!c.contains(&2));
        assert_eq!(c.remove(&1), Some("a"));
    }
}
