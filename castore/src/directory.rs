//! [Directory]: a Merkle node listing named [Node]s.
//!
//! A `Directory` must never exist in an invalid state: every way to build
//! one ([Directory::add], [Directory::try_from_iter], the proto conversion)
//! checks names, uniqueness and that the size cannot overflow, so its digest
//! and size can be trusted wherever it travels.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bstr::BString;
use prost::Message;
use thiserror::Error;

use crate::{B3Digest, B3DigestError, Node, PathComponent, PathComponentError, SymlinkTargetError};

/// A validated directory listing: names are unique valid [PathComponent]s,
/// kept sorted, and [Directory::size] cannot overflow.
///
/// Its digest is the blake3 digest of its canonical protobuf encoding (see
/// `castore/protos/castore.proto`), so equal trees have equal digests.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    nodes: BTreeMap<PathComponent, Node>,
    /// Cached [Directory::size], kept up to date by [Directory::add].
    size: u64,
    /// Cached [Directory::digest], computed when first asked for and
    /// forgotten by [Directory::add]: a directory read from a store has its
    /// digest checked there, and its readers ask for it again.
    digest: OnceLock<B3Digest>,
}

/// Equal entries: the cached size and digest follow from them.
impl PartialEq for Directory {
    fn eq(&self, other: &Self) -> bool {
        self.nodes == other.nodes
    }
}

impl Eq for Directory {}

/// Why a directory (or a proto message meant to become one) is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DirectoryError {
    #[error("invalid entry name {name:?}: {source}")]
    InvalidName {
        name: BString,
        source: PathComponentError,
    },
    #[error("duplicate entry name {0}")]
    DuplicateName(PathComponent),
    #[error("entry {0} is not in sorted order")]
    WrongSorting(PathComponent),
    #[error("invalid digest of entry {name}: {source}")]
    InvalidDigest {
        name: PathComponent,
        source: B3DigestError,
    },
    #[error("invalid symlink target of entry {name}: {source}")]
    InvalidSymlinkTarget {
        name: PathComponent,
        source: SymlinkTargetError,
    },
    #[error("total size of the directory overflows at entry {0}")]
    SizeOverflow(PathComponent),
    #[error("entry has no node set")]
    NoNodeSet,
}

impl Directory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a directory from `(name, node)` pairs in any order.
    pub fn try_from_iter(
        iter: impl IntoIterator<Item = (PathComponent, Node)>,
    ) -> Result<Self, DirectoryError> {
        let mut directory = Self::new();
        for (name, node) in iter {
            directory.add(name, node)?;
        }
        Ok(directory)
    }

    /// Adds an entry. Fails, leaving the directory unchanged, if the name is
    /// taken or the size would overflow.
    pub fn add(&mut self, name: PathComponent, node: Node) -> Result<(), DirectoryError> {
        let weight = match &node {
            Node::Directory { size, .. } => size.checked_add(1),
            Node::File { .. } | Node::Symlink { .. } => Some(1),
        };
        let size = weight
            .and_then(|weight| self.size.checked_add(weight))
            .ok_or_else(|| DirectoryError::SizeOverflow(name.clone()))?;
        match self.nodes.entry(name) {
            std::collections::btree_map::Entry::Occupied(occupied) => {
                Err(DirectoryError::DuplicateName(occupied.key().clone()))
            }
            std::collections::btree_map::Entry::Vacant(vacant) => {
                vacant.insert(node);
                self.size = size;
                self.digest = OnceLock::new();
                Ok(())
            }
        }
    }

    /// Number of entries in this directory and all directories below it: each
    /// entry counts one, and a child directory adds its own size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The blake3 digest of the canonical protobuf encoding.
    pub fn digest(&self) -> B3Digest {
        *self
            .digest
            .get_or_init(|| B3Digest::of(&crate::proto::Directory::from(self).encode_to_vec()))
    }

    /// The directory a decoded proto message describes, and its digest,
    /// computed from the message rather than from the directory: a valid
    /// message, encoded again, is the directory's canonical encoding (its
    /// lists are sorted, its unknown fields were dropped by decoding), and
    /// encoding it costs no conversion.
    pub(crate) fn from_proto_with_digest(
        proto: crate::proto::Directory,
    ) -> Result<(Self, B3Digest), DirectoryError> {
        let digest = B3Digest::of(&proto.encode_to_vec());
        let directory = Self::try_from(proto)?;
        debug_assert_eq!(
            digest,
            B3Digest::of(&crate::proto::Directory::from(&directory).encode_to_vec()),
            "a valid message is encoded canonically"
        );
        // Remembered, so the readers of the directory do not encode it again.
        let _ = directory.digest.set(digest);
        Ok((directory, digest))
    }

    /// The entry called `name`, if any.
    pub fn get(&self, name: &[u8]) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// All entries, sorted by name.
    pub fn nodes(&self) -> impl Iterator<Item = (&PathComponent, &Node)> {
        self.nodes.iter()
    }

    /// The child directories as `(name, digest, size)`, sorted by name.
    pub fn directories(&self) -> impl Iterator<Item = (&PathComponent, &B3Digest, u64)> {
        self.nodes.iter().filter_map(|(name, node)| match node {
            Node::Directory { digest, size } => Some((name, digest, *size)),
            Node::File { .. } | Node::Symlink { .. } => None,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of direct entries (not counting below child directories).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
}

impl IntoIterator for Directory {
    type Item = (PathComponent, Node);
    type IntoIter = std::collections::btree_map::IntoIter<PathComponent, Node>;

    fn into_iter(self) -> Self::IntoIter {
        self.nodes.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{DUMMY_DIGEST, file, name, symlink};
    use rstest::rstest;

    #[test]
    fn size_counts_entries_recursively() {
        let directory = Directory::try_from_iter([
            (name("a"), file(DUMMY_DIGEST, 100)),
            (name("b"), symlink("a")),
            (
                name("c"),
                Node::Directory {
                    digest: DUMMY_DIGEST,
                    size: 5,
                },
            ),
        ])
        .expect("valid directory");
        // three entries, plus five below "c"
        assert_eq!(8, directory.size());
    }

    #[rstest]
    #[case::overflowing_child(u64::MAX)]
    #[case::overflowing_sum(u64::MAX - 1)]
    fn size_overflow(#[case] child_size: u64) {
        let mut directory = Directory::new();
        directory
            .add(name("a"), file(DUMMY_DIGEST, 1))
            .expect("first entry");
        let err = directory
            .add(
                name("b"),
                Node::Directory {
                    digest: DUMMY_DIGEST,
                    size: child_size,
                },
            )
            .expect_err("must overflow");
        assert_eq!(DirectoryError::SizeOverflow(name("b")), err);
        assert_eq!(1, directory.size(), "failed add leaves the size unchanged");
        assert_eq!(1, directory.len());
    }

    #[test]
    fn duplicate_name() {
        let err = Directory::try_from_iter([
            (name("a"), file(DUMMY_DIGEST, 1)),
            (name("a"), symlink("x")),
        ])
        .expect_err("duplicate");
        assert_eq!(DirectoryError::DuplicateName(name("a")), err);
    }

    /// The digest of the empty directory is the blake3 digest of zero bytes,
    /// as an empty proto message encodes to nothing.
    #[test]
    fn empty_digest() {
        assert_eq!(B3Digest::of(b""), Directory::new().digest());
    }

    /// The digest, once asked for, is remembered until an entry is added.
    #[test]
    fn digest_follows_additions() {
        let mut directory = Directory::new();
        let empty = directory.digest();
        directory.add(name("a"), symlink("x")).expect("valid");
        let expected = Directory::try_from_iter([(name("a"), symlink("x"))]).expect("valid");
        assert_ne!(empty, directory.digest());
        // Equal whether or not the digest was computed yet.
        assert_eq!(expected, directory);
        assert_eq!(expected.digest(), directory.digest());
    }

    #[test]
    fn digest_independent_of_insertion_order() {
        let entries = [
            (name("b"), file(DUMMY_DIGEST, 1)),
            (name("a"), symlink("x")),
        ];
        let forward = Directory::try_from_iter(entries.clone()).expect("valid");
        let backward = Directory::try_from_iter(entries.into_iter().rev()).expect("valid");
        assert_eq!(forward.digest(), backward.digest());
    }
}
