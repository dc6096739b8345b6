//! The inode table of a mounted castore: which inode number stands for
//! which node, handed out on first sight and kept for as long as the kernel
//! holds it.
//!
//! Files share one inode per (digest, executable) and symlinks one per
//! target, wherever they appear, so identical contents are one inode to
//! the kernel (and cached once). Directories get one inode per place
//! (parent inode and name), not per digest: Linux keeps a single dentry per
//! directory inode, and a second directory with the same inode (two empty
//! subdirectories side by side) would be refused with `ESTALE` or moved
//! away from under its first parent. Their listings are still fetched and
//! kept once per digest. Entries of the top directory are per place too,
//! whatever their type, so that a name looked up again after the kernel
//! forgot it is asked of the root node provider again.
//!
//! Every inode counts the kernel's lookups of it (each `lookup` and
//! `readdirplus` entry it was sent) and is dropped when the kernel's
//! `forget`s bring the count back to zero, so the table holds what the
//! kernel holds, not everything seen since the mount. Numbers are never
//! reused: a node looked up again after being forgotten gets a fresh one.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{B3Digest, Node, PathComponent, SymlinkTarget};

/// The inode of the top directory (FUSE's fixed root), never forgotten.
pub const ROOT_INODE: u64 = 1;

/// What an inode stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InodeData {
    /// The top directory, whose entries come from a `RootNodes`.
    Root,
    Directory {
        digest: B3Digest,
        size: u64,
    },
    File {
        digest: B3Digest,
        size: u64,
        executable: bool,
    },
    Symlink {
        target: SymlinkTarget,
    },
}

/// What an inode is shared by: the key of one of the table's maps.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    File(B3Digest, bool),
    Symlink(SymlinkTarget),
    Place(u64, PathComponent),
}

struct Slot {
    data: Arc<InodeData>,
    key: Key,
    /// Lookups the kernel was sent and has not forgotten.
    lookups: u64,
}

pub struct InodeTable {
    slots: HashMap<u64, Slot>,
    by_key: HashMap<Key, u64>,
    next: u64,
}

impl Default for InodeTable {
    fn default() -> Self {
        Self {
            slots: HashMap::new(),
            by_key: HashMap::new(),
            next: ROOT_INODE + 1,
        }
    }
}

impl InodeTable {
    /// What `inode` stands for, `None` for an inode not (or no longer)
    /// handed out.
    pub fn get(&self, inode: u64) -> Option<Arc<InodeData>> {
        if inode == ROOT_INODE {
            return Some(Arc::new(InodeData::Root));
        }
        self.slots.get(&inode).map(|slot| slot.data.clone())
    }

    /// The inode of `node`, found as `name` in directory `parent`, and what
    /// it stands for, counting one lookup by the kernel: the same inode
    /// every time while the kernel holds it.
    pub fn lookup(
        &mut self,
        parent: u64,
        name: &PathComponent,
        node: &Node,
    ) -> (u64, Arc<InodeData>) {
        let key = key(parent, name, node);
        if let Some(&inode) = self.by_key.get(&key)
            && let Some(slot) = self.slots.get_mut(&inode)
        {
            slot.lookups += 1;
            return (inode, slot.data.clone());
        }
        let inode = self.fresh();
        let data = Arc::new(InodeData::of(node));
        self.by_key.insert(key.clone(), inode);
        self.slots.insert(
            inode,
            Slot {
                data: data.clone(),
                key,
                lookups: 1,
            },
        );
        (inode, data)
    }

    /// The inode `node` has as `name` in `parent` if the kernel holds one,
    /// without counting a lookup.
    pub fn peek(&self, parent: u64, name: &PathComponent, node: &Node) -> Option<u64> {
        self.by_key.get(&key(parent, name, node)).copied()
    }

    /// The inode of `name` in the top directory, counting a lookup, if the
    /// kernel holds it already.
    pub fn lookup_root_entry(&mut self, name: &PathComponent) -> Option<(u64, Arc<InodeData>)> {
        let inode = *self.by_key.get(&Key::Place(ROOT_INODE, name.clone()))?;
        let slot = self.slots.get_mut(&inode)?;
        slot.lookups += 1;
        Some((inode, slot.data.clone()))
    }

    /// A number no inode has or will have, for a plain `readdir` entry the
    /// kernel does not count as a lookup (so it may never forget it).
    pub fn fresh(&mut self) -> u64 {
        let inode = self.next;
        // Inode numbers are u64: handing out one per nanosecond takes
        // centuries to run out.
        self.next += 1;
        inode
    }

    /// The kernel forgets `count` lookups of `inode`; at zero the inode is
    /// dropped. Returns whether it was. Forgetting more than was looked up
    /// (a confused kernel) drops it too.
    pub fn forget(&mut self, inode: u64, count: u64) -> bool {
        let Some(slot) = self.slots.get_mut(&inode) else {
            return false;
        };
        slot.lookups = slot.lookups.saturating_sub(count);
        if slot.lookups > 0 {
            return false;
        }
        if let Some(slot) = self.slots.remove(&inode) {
            self.by_key.remove(&slot.key);
        }
        true
    }

    /// How many inodes the kernel holds (the top directory not counted).
    pub fn len(&self) -> usize {
        self.slots.len()
    }
}

fn key(parent: u64, name: &PathComponent, node: &Node) -> Key {
    match node {
        _ if parent == ROOT_INODE => Key::Place(parent, name.clone()),
        Node::Directory { .. } => Key::Place(parent, name.clone()),
        Node::File {
            digest, executable, ..
        } => Key::File(*digest, *executable),
        Node::Symlink { target } => Key::Symlink(target.clone()),
    }
}

impl InodeData {
    pub fn of(node: &Node) -> Self {
        match node {
            Node::Directory { digest, size } => InodeData::Directory {
                digest: *digest,
                size: *size,
            },
            Node::File {
                digest,
                size,
                executable,
            } => InodeData::File {
                digest: *digest,
                size: *size,
                executable: *executable,
            },
            Node::Symlink { target } => InodeData::Symlink {
                target: target.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{DUMMY_DIGEST, EMPTY_BLOB_DIGEST, file, name, symlink};

    const DIR: u64 = 100;

    fn lookup(table: &mut InodeTable, parent: u64, name: &PathComponent, node: &Node) -> u64 {
        table.lookup(parent, name, node).0
    }

    #[test]
    fn files_share_by_digest_and_mode_directories_by_place() {
        let mut table = InodeTable::default();
        let a = lookup(&mut table, DIR, &name("a"), &file(DUMMY_DIGEST, 3));
        let b = lookup(&mut table, 7, &name("b"), &file(DUMMY_DIGEST, 3));
        assert_eq!(a, b);
        let executable = Node::File {
            digest: DUMMY_DIGEST,
            size: 3,
            executable: true,
        };
        assert_ne!(a, lookup(&mut table, DIR, &name("a"), &executable));
        assert_ne!(
            a,
            lookup(&mut table, DIR, &name("e"), &file(*EMPTY_BLOB_DIGEST, 0))
        );
        // At the top, even files are per name.
        assert_ne!(
            a,
            lookup(&mut table, ROOT_INODE, &name("a"), &file(DUMMY_DIGEST, 3))
        );

        let dir = Node::Directory {
            digest: DUMMY_DIGEST,
            size: 0,
        };
        let d1 = lookup(&mut table, DIR, &name("d1"), &dir);
        let d2 = lookup(&mut table, DIR, &name("d2"), &dir);
        assert_ne!(d1, d2);
        assert_eq!(d1, lookup(&mut table, DIR, &name("d1"), &dir));

        let l1 = lookup(&mut table, DIR, &name("l1"), &symlink("x"));
        assert_eq!(l1, lookup(&mut table, d1, &name("l2"), &symlink("x")));

        assert_eq!(
            Some(InodeData::Directory {
                digest: DUMMY_DIGEST,
                size: 0
            }),
            table.get(d2).as_deref().cloned()
        );
        assert_eq!(
            Some(InodeData::Root),
            table.get(ROOT_INODE).as_deref().cloned()
        );
        assert_eq!(None, table.get(0));
        assert_eq!(None, table.get(10_000));
    }

    /// An inode goes when every lookup of it is forgotten, from the table
    /// and from the maps sharing it, and comes back under a new number.
    #[test]
    fn forgetting_every_lookup_drops_the_inode() {
        let mut table = InodeTable::default();
        let shared = file(DUMMY_DIGEST, 3);
        let a = lookup(&mut table, DIR, &name("a"), &shared);
        assert_eq!(a, lookup(&mut table, DIR, &name("b"), &shared));
        let dir = Node::Directory {
            digest: DUMMY_DIGEST,
            size: 0,
        };
        let d = lookup(&mut table, DIR, &name("d"), &dir);
        assert_eq!(2, table.len());

        assert!(!table.forget(a, 1), "one lookup is left");
        assert_eq!(Some(a), table.peek(DIR, &name("c"), &shared));
        assert!(table.forget(a, 1));
        assert_eq!(None, table.get(a));
        assert_eq!(None, table.peek(DIR, &name("a"), &shared));
        assert_eq!(1, table.len());

        assert!(table.forget(d, 5), "over-forgetting drops it too");
        assert_eq!(0, table.len());
        assert!(!table.forget(d, 1), "already gone");

        let again = lookup(&mut table, DIR, &name("a"), &shared);
        assert_ne!(a, again, "numbers are not reused");
        assert_eq!(1, table.len());
        assert!(table.fresh() > again);
    }

    #[test]
    fn root_entries_are_found_by_name_until_forgotten() {
        let mut table = InodeTable::default();
        assert_eq!(None, table.lookup_root_entry(&name("p")));
        let p = lookup(&mut table, ROOT_INODE, &name("p"), &symlink("x"));
        let (found, _) = table.lookup_root_entry(&name("p")).expect("held");
        assert_eq!(p, found);
        assert!(!table.forget(p, 1));
        assert!(table.forget(p, 1));
        assert_eq!(None, table.lookup_root_entry(&name("p")));
    }
}
