//! Attribute sets: immutable maps from names to values, sorted by name.
//!
//! Nix sorts attribute names bytewise everywhere it shows them
//! (`attrNames`, printing, `toJSON`), so the set is a sorted vector: lookups
//! are binary searches and `//` is a linear merge of two sorted runs.

use std::rc::Rc;

use super::{NixString, Value};
use crate::source::{Pos, Span};

/// One attribute: its name, its value and where it was defined.
#[derive(Clone)]
pub struct Entry {
    pub name: NixString,
    pub value: Value,
    pub pos: Pos,
}

impl Entry {
    pub fn new(name: NixString, value: Value, pos: Pos) -> Self {
        Entry { name, value, pos }
    }
}

impl From<(NixString, Value)> for Entry {
    fn from((name, value): (NixString, Value)) -> Self {
        Entry {
            name,
            value,
            pos: Pos::NONE,
        }
    }
}

#[derive(Clone, Default)]
pub struct NixAttrs {
    entries: Rc<Vec<Entry>>,
}

/// A name was bound twice while building a set, first at `first`.
#[derive(Debug)]
pub struct DuplicateAttr {
    pub name: NixString,
    pub first: Pos,
    pub second: Pos,
}

fn unpositioned(entries: Vec<(NixString, Value)>) -> Vec<Entry> {
    entries.into_iter().map(Entry::from).collect()
}

impl NixAttrs {
    pub fn empty() -> Self {
        NixAttrs::default()
    }

    fn wrap(entries: Vec<Entry>) -> Self {
        NixAttrs {
            entries: Rc::new(entries),
        }
    }

    /// Builds a set from unsorted entries; a repeated name is an error.
    pub fn from_entries(entries: Vec<(NixString, Value)>) -> Result<Self, DuplicateAttr> {
        Ok(NixAttrs::from(SortedEntries::new(unpositioned(entries))?))
    }

    /// Builds a set from unsorted entries where later entries win.
    pub fn from_entries_last_wins(entries: Vec<(NixString, Value)>) -> Self {
        let mut entries = unpositioned(entries);
        // A stable sort keeps equal names in input order; keep the last one.
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out: Vec<Entry> = Vec::with_capacity(entries.len());
        for e in entries {
            match out.last_mut() {
                Some(last) if last.name == e.name => *last = e,
                _ => out.push(e),
            }
        }
        NixAttrs::wrap(out)
    }

    /// Builds a set from unsorted entries where the first entry wins
    /// (`listToAttrs` semantics).
    pub fn from_entries_first_wins(mut entries: Vec<Entry>) -> Self {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries.dedup_by(|later, earlier| later.name == earlier.name);
        NixAttrs::wrap(entries)
    }

    /// Builds a set from entries already sorted by name, each name once
    /// (as builtins that walk a set or a sorted map produce them).
    pub fn from_sorted_unique(entries: Vec<(NixString, Value)>) -> Self {
        debug_assert!(entries.is_sorted_by(|a, b| a.0 < b.0));
        NixAttrs::wrap(unpositioned(entries))
    }

    /// The entries whose names `keep` accepts.
    pub fn filter(&self, mut keep: impl FnMut(&NixString) -> bool) -> NixAttrs {
        let entries: Vec<Entry> = self
            .entries
            .iter()
            .filter(|e| keep(&e.name))
            .cloned()
            .collect();
        if entries.len() == self.len() {
            return self.clone();
        }
        NixAttrs::wrap(entries)
    }

    /// The entries of `self` whose names `other` also has: a linear
    /// merge of the two sorted runs, or lookups of the smaller set's names
    /// in the larger one when the sizes differ much.
    pub fn intersect(&self, other: &NixAttrs) -> NixAttrs {
        let entries = if self.len() > 8 * other.len() {
            other
                .keys()
                .filter_map(|k| self.entry(k).cloned())
                .collect()
        } else if other.len() > 8 * self.len() {
            self.entries
                .iter()
                .filter(|e| other.entry(&e.name).is_some())
                .cloned()
                .collect()
        } else {
            let mut out = Vec::new();
            let mut theirs = other.keys().peekable();
            for e in self.entries.iter() {
                while theirs.next_if(|o| **o < e.name).is_some() {}
                if theirs.peek().is_some_and(|o| **o == e.name) {
                    out.push(e.clone());
                }
            }
            out
        };
        NixAttrs::wrap(entries)
    }

    /// Where the attribute `name` was defined, if that is known.
    pub fn position(&self, name: &[u8]) -> Option<Span> {
        self.find(name).and_then(|e| e.pos.span())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, name: &[u8]) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.name.as_bytes().cmp(name))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// The entry of a name held as a string: the entry whose name is the
    /// same string object (compile-time names are shared, see the
    /// compiler's `intern`) matches without comparing bytes.
    fn entry(&self, name: &NixString) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.name.cmp(name))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    pub fn get(&self, name: &[u8]) -> Option<&Value> {
        self.find(name).map(|e| &e.value)
    }

    /// `get` for a name held as a string (see `entry`).
    pub fn get_name(&self, name: &NixString) -> Option<&Value> {
        self.entry(name).map(|e| &e.value)
    }

    pub fn contains(&self, name: &[u8]) -> bool {
        self.find(name).is_some()
    }

    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&NixString, &Value)> + ExactSizeIterator {
        self.entries.iter().map(|e| (&e.name, &e.value))
    }

    /// The entries with their positions.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> + ExactSizeIterator {
        self.entries.iter()
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &NixString> + ExactSizeIterator {
        self.entries.iter().map(|e| &e.name)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|e| &e.value)
    }

    /// `self // other`: names of `other` win.
    pub fn update(&self, other: &NixAttrs) -> NixAttrs {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        merge(&self.entries, other.entries.iter().cloned())
    }

    /// `self // { … }` for the entries of a set literal, without building
    /// the literal's set.
    pub fn update_entries(&self, entries: SortedEntries) -> NixAttrs {
        if self.is_empty() || entries.0.is_empty() {
            return self.update(&NixAttrs::from(entries));
        }
        merge(&self.entries, entries.0.into_iter())
    }

    /// Identity of the underlying storage; used to print `«repeated»`.
    pub fn ptr(&self) -> *const () {
        Rc::as_ptr(&self.entries) as *const ()
    }

    pub fn ptr_eq(&self, other: &NixAttrs) -> bool {
        Rc::ptr_eq(&self.entries, &other.entries)
    }
}

/// The entries of a set being built, sorted by name, each name once.
pub struct SortedEntries(Vec<Entry>);

impl SortedEntries {
    /// Sorts entries by name; a repeated name is an error.
    pub fn new(mut entries: Vec<Entry>) -> Result<Self, DuplicateAttr> {
        // Set literals arrive in order (the compiler emits static names
        // sorted), and strictly ascending names cannot repeat.
        if entries.is_sorted_by(|a, b| a.name < b.name) {
            return Ok(SortedEntries(entries));
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(w) = entries.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(DuplicateAttr {
                name: w[0].name.clone(),
                first: w[0].pos,
                second: w[1].pos,
            });
        }
        Ok(SortedEntries(entries))
    }
}

impl From<SortedEntries> for NixAttrs {
    fn from(entries: SortedEntries) -> Self {
        NixAttrs::wrap(entries.0)
    }
}

/// Merges two runs sorted by name into a set; on equal names the right
/// one wins.
fn merge(left: &[Entry], right: impl ExactSizeIterator<Item = Entry>) -> NixAttrs {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.iter().peekable();
    let mut right = right.peekable();
    while let (Some(x), Some(y)) = (left.peek(), right.peek()) {
        match x.name.cmp(&y.name) {
            std::cmp::Ordering::Less => out.extend(left.next().cloned()),
            std::cmp::Ordering::Greater => out.extend(right.next()),
            std::cmp::Ordering::Equal => {
                left.next();
                out.extend(right.next());
            }
        }
    }
    out.extend(left.cloned());
    out.extend(right);
    NixAttrs::wrap(out)
}

impl Drop for NixAttrs {
    fn drop(&mut self) {
        if let Some(entries) = Rc::get_mut(&mut self.entries)
            && !entries.is_empty()
        {
            super::drop::defer(super::drop::Deferred::Entries(std::mem::take(entries)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn set(names: &[(&str, i64)]) -> NixAttrs {
        NixAttrs::from_entries_last_wins(
            names
                .iter()
                .map(|(k, v)| (NixString::from(*k), Value::Int(*v)))
                .collect(),
        )
    }

    fn pairs(a: &NixAttrs) -> Vec<(String, i64)> {
        a.iter()
            .map(|(k, v)| match v {
                Value::Int(i) => (k.to_string(), *i),
                _ => (k.to_string(), -1),
            })
            .collect()
    }

    #[rstest]
    #[case::disjoint(&[("a", 1)], &[("b", 2)], &[("a", 1), ("b", 2)])]
    #[case::right_wins(&[("a", 1), ("c", 3)], &[("a", 9)], &[("a", 9), ("c", 3)])]
    #[case::left_empty(&[], &[("x", 1)], &[("x", 1)])]
    #[case::interleaved(&[("a", 1), ("c", 3)], &[("b", 2), ("d", 4)], &[("a", 1), ("b", 2), ("c", 3), ("d", 4)])]
    fn update(#[case] l: &[(&str, i64)], #[case] r: &[(&str, i64)], #[case] out: &[(&str, i64)]) {
        let expected: Vec<(String, i64)> = out.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(pairs(&set(l).update(&set(r))), expected);
    }

    #[rstest]
    #[case::disjoint(&[("a", 1)], &[("b", 2)], &[("a", 1), ("b", 2)])]
    #[case::right_wins(&[("a", 1), ("c", 3)], &[("a", 9)], &[("a", 9), ("c", 3)])]
    #[case::left_empty(&[], &[("x", 1)], &[("x", 1)])]
    #[case::right_empty(&[("x", 1)], &[], &[("x", 1)])]
    #[case::unsorted_literal(&[("b", 1)], &[("c", 3), ("a", 2)], &[("a", 2), ("b", 1), ("c", 3)])]
    fn update_entries(
        #[case] l: &[(&str, i64)],
        #[case] r: &[(&str, i64)],
        #[case] out: &[(&str, i64)],
    ) {
        let entries = r
            .iter()
            .map(|(k, v)| Entry::from((NixString::from(*k), Value::Int(*v))))
            .collect();
        let expected: Vec<(String, i64)> = out.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let merged = SortedEntries::new(entries).map(|e| pairs(&set(l).update_entries(e)));
        assert_eq!(merged.ok(), Some(expected));
    }

    #[test]
    fn duplicate_is_reported() {
        let err = NixAttrs::from_entries(vec![
            (NixString::from("a"), Value::Null),
            (NixString::from("a"), Value::Null),
        ])
        .err()
        .map(|e| e.name.to_string());
        assert_eq!(err.as_deref(), Some("a"));
    }

    #[test]
    fn first_wins() {
        let a = NixAttrs::from_entries_first_wins(vec![
            Entry::from((NixString::from("a"), Value::Int(1))),
            Entry::from((NixString::from("a"), Value::Int(2))),
        ]);
        assert_eq!(pairs(&a), vec![("a".to_string(), 1)]);
    }
}
