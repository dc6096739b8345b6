//! [BoundedMap]: a shared map that forgets its oldest entries beyond a
//! capacity, for what the bridge remembers between requests.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;

pub struct BoundedMap<K, V> {
    capacity: usize,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    entries: HashMap<K, V>,
    /// Insertion order, for forgetting the oldest.
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V: Clone> BoundedMap<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// Sets `key` to `value`; a new key may push out the oldest one.
    pub fn insert(&self, key: K, value: V) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.entries.insert(key.clone(), value).is_none() {
            inner.order.push_back(key);
            if inner.order.len() > self.capacity
                && let Some(oldest) = inner.order.pop_front()
            {
                inner.entries.remove(&oldest);
            }
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .get(key)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::BoundedMap;

    #[test]
    fn forgets_the_oldest() {
        let map = BoundedMap::new(2);
        map.insert(1, "one");
        map.insert(2, "two");
        map.insert(1, "uno");
        map.insert(3, "three");
        assert_eq!(None, map.get(&1));
        assert_eq!(Some("two"), map.get(&2));
        assert_eq!(Some("three"), map.get(&3));
    }
}
