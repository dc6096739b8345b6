//! The inode table of a mounted castore: which inode number stands for
//! which node, handed out on first sight and kept for the life of the
//! mount (castore trees never change, so an inode never goes stale).
//!
//! Files share one inode per (digest, executable) and symlinks one per
//! target, wherever they appear, so identical contents are one inode to
//! the kernel (and cached once). Directories get one inode per place
//! (parent inode and name), not per digest: Linux keeps a single dentry per
//! directory inode, and a second directory with the same inode (two empty
//! subdirectories side by side) would be refused with `ESTALE` or moved
//! away from under its first parent. Their listings are still fetched and
//! kept once per digest.
//!
//! The table only grows: the kernel's `forget` is not tracked, so memory is
//! proportional to the distinct nodes looked up since the mount.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{B3Digest, Node, PathComponent, SymlinkTarget};

/// The inode of the top directory (FUSE's fixed root).
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

#[derive(Default)]
pub struct InodeTable {
    /// Inode `n` is at index `n - ROOT_INODE - 1`.
    data: Vec<Arc<InodeData>>,
    files: HashMap<(B3Digest, bool), u64>,
    symlinks: HashMap<SymlinkTarget, u64>,
    directories: HashMap<(u64, PathComponent), u64>,
}

impl InodeTable {
    /// What `inode` stands for, `None` for an inode never handed out.
    pub fn get(&self, inode: u64) -> Option<Arc<InodeData>> {
        if inode == ROOT_INODE {
            return Some(Arc::new(InodeData::Root));
        }
        let index = inode.checked_sub(ROOT_INODE + 1)?;
        self.data.get(usize::try_from(index).ok()?).cloned()
    }

    /// The inode of `node`, found as `name` in directory `parent`; the same
    /// one every time it is asked for.
    pub fn child(&mut self, parent: u64, name: &PathComponent, node: &Node) -> u64 {
        let existing = match node {
            Node::Directory { .. } => self.directories.get(&(parent, name.clone())),
            Node::File {
                digest, executable, ..
            } => self.files.get(&(*digest, *executable)),
            Node::Symlink { target } => self.symlinks.get(target),
        };
        if let Some(inode) = existing {
            return *inode;
        }
        // Inode numbers are u64, so the table fills memory long before the
        // numbers run out.
        let inode = self.data.len() as u64 + ROOT_INODE + 1;
        let data = match node {
            Node::Directory { digest, size } => {
                self.directories.insert((parent, name.clone()), inode);
                InodeData::Directory {
                    digest: *digest,
                    size: *size,
                }
            }
            Node::File {
                digest,
                size,
                executable,
            } => {
                self.files.insert((*digest, *executable), inode);
                InodeData::File {
                    digest: *digest,
                    size: *size,
                    executable: *executable,
                }
            }
            Node::Symlink { target } => {
                self.symlinks.insert(target.clone(), inode);
                InodeData::Symlink {
                    target: target.clone(),
                }
            }
        };
        self.data.push(Arc::new(data));
        inode
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{DUMMY_DIGEST, EMPTY_BLOB_DIGEST, file, name, symlink};

    #[test]
    fn files_share_by_digest_and_mode_directories_by_place() {
        let mut table = InodeTable::default();
        let a = table.child(ROOT_INODE, &name("a"), &file(DUMMY_DIGEST, 3));
        let b = table.child(7, &name("b"), &file(DUMMY_DIGEST, 3));
        assert_eq!(a, b);
        let executable = Node::File {
            digest: DUMMY_DIGEST,
            size: 3,
            executable: true,
        };
        assert_ne!(a, table.child(ROOT_INODE, &name("a"), &executable));
        assert_ne!(
            a,
            table.child(ROOT_INODE, &name("e"), &file(*EMPTY_BLOB_DIGEST, 0))
        );

        let dir = Node::Directory {
            digest: DUMMY_DIGEST,
            size: 0,
        };
        let d1 = table.child(ROOT_INODE, &name("d1"), &dir);
        let d2 = table.child(ROOT_INODE, &name("d2"), &dir);
        assert_ne!(d1, d2);
        assert_eq!(d1, table.child(ROOT_INODE, &name("d1"), &dir));

        let l1 = table.child(ROOT_INODE, &name("l1"), &symlink("x"));
        assert_eq!(l1, table.child(d1, &name("l2"), &symlink("x")));

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
}
