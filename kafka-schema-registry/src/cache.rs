//! A bounded map for the client's caches: at most `capacity` entries, the oldest
//! inserted evicted first. A hit clones an `Arc` or a number and allocates nothing.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

#[derive(Debug)]
pub(crate) struct BoundedCache<K, V> {
    capacity: usize,
    inner: Mutex<Inner<K, V>>,
}

#[derive(Debug)]
struct Inner<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V: Clone> BoundedCache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        BoundedCache {
            capacity,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.map.get(key).cloned()
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.map.insert(key.clone(), value).is_some() {
            return;
        }
        inner.order.push_back(key);
        while inner.order.len() > self.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.map.remove(&old);
            }
        }
    }

    pub(crate) fn retain(&self, mut keep: impl FnMut(&K) -> bool) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.map.retain(|k, _| keep(k));
        let Inner { map, order } = &mut *inner;
        order.retain(|k| map.contains_key(k));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_oldest_beyond_capacity() {
        let c = BoundedCache::new(2);
        c.insert(1, "a");
        c.insert(2, "b");
        c.insert(1, "a2");
        c.insert(3, "c");
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&1), None);
        assert_eq!(c.get(&2), Some("b"));
        assert_eq!(c.get(&3), Some("c"));
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let c = BoundedCache::new(0);
        c.insert(1, 1);
        assert_eq!(c.get(&1), None);
    }

    #[test]
    fn retain_drops_entries_and_their_order() {
        let c = BoundedCache::new(3);
        for i in 0..3 {
            c.insert(i, i);
        }
        c.retain(|k| *k != 1);
        c.insert(3, 3);
        c.insert(4, 4);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&0), None);
        assert_eq!(c.get(&4), Some(4));
    }
}
