//! Test fixtures shared by the unit tests of this crate: small directories
//! forming a few closures, and helpers to build nodes tersely.

use std::sync::LazyLock;

use crate::{B3Digest, Directory, Node, PathComponent};

/// A digest that names nothing stored anywhere.
pub const DUMMY_DIGEST: B3Digest = B3Digest::new([0x42; 32]);

/// A valid name, for tests that spell it out.
pub fn name(s: &str) -> PathComponent {
    PathComponent::try_from(s).expect("fixture name must be valid")
}

pub fn file(digest: B3Digest, size: u64) -> Node {
    Node::File {
        digest,
        size,
        executable: false,
    }
}

pub fn symlink(target: &str) -> Node {
    Node::Symlink {
        target: target.try_into().expect("fixture target must be valid"),
    }
}

/// The node pointing at `directory`.
pub fn directory_node(directory: &Directory) -> Node {
    Node::Directory {
        digest: directory.digest(),
        size: directory.size(),
    }
}

/// The blake3 digest of the empty blob.
pub static EMPTY_BLOB_DIGEST: LazyLock<B3Digest> = LazyLock::new(|| B3Digest::of(b""));

/// A directory with no entries.
pub static DIRECTORY_EMPTY: LazyLock<Directory> = LazyLock::new(Directory::new);

/// A directory holding one empty file, `.keep`.
pub static DIRECTORY_WITH_KEEP: LazyLock<Directory> = LazyLock::new(|| {
    Directory::try_from_iter([(name(".keep"), file(*EMPTY_BLOB_DIGEST, 0))]).expect("valid fixture")
});

/// A directory with one entry of each kind; its child is
/// [DIRECTORY_WITH_KEEP].
pub static DIRECTORY_COMPLICATED: LazyLock<Directory> = LazyLock::new(|| {
    Directory::try_from_iter([
        (name("keep"), directory_node(&DIRECTORY_WITH_KEEP)),
        (name(".keep"), file(*EMPTY_BLOB_DIGEST, 0)),
        (name("aa"), symlink("/nix/store/somewhereelse")),
    ])
    .expect("valid fixture")
});

/// A directory referencing [DIRECTORY_EMPTY] twice under different names, so
/// recursive traversals must deduplicate.
pub static DIRECTORY_TWICE_EMPTY: LazyLock<Directory> = LazyLock::new(|| {
    Directory::try_from_iter([
        (name("a"), directory_node(&DIRECTORY_EMPTY)),
        (name("b"), directory_node(&DIRECTORY_EMPTY)),
    ])
    .expect("valid fixture")
});

/// Three levels: the root references [DIRECTORY_COMPLICATED] and
/// [DIRECTORY_TWICE_EMPTY], which share no children.
pub static DIRECTORY_DEEP: LazyLock<Directory> = LazyLock::new(|| {
    Directory::try_from_iter([
        (name("complicated"), directory_node(&DIRECTORY_COMPLICATED)),
        (name("twice"), directory_node(&DIRECTORY_TWICE_EMPTY)),
        (name("file"), file(DUMMY_DIGEST, 42)),
    ])
    .expect("valid fixture")
});

/// Deterministic, incompressible blob contents of `size` bytes, different
/// for each `seed`, so chunking cuts realistic pieces.
pub fn blob_contents(seed: &str, size: usize) -> Vec<u8> {
    let mut contents = vec![0; size];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut contents);
    contents
}

/// proptest strategies for the domain types.
pub mod strategies {
    use proptest::prelude::*;

    use crate::{B3Digest, Directory, Node, PathComponent, SymlinkTarget};

    /// Any valid [PathComponent], favouring short names so collisions (and
    /// so sorting and deduplication) actually happen.
    pub fn path_component() -> impl Strategy<Value = PathComponent> {
        proptest::collection::vec(
            any::<u8>().prop_filter("no / or NUL", |b| *b != b'/' && *b != 0),
            1..8,
        )
        .prop_filter_map("not . or ..", |bytes| {
            PathComponent::try_from(bytes.as_slice()).ok()
        })
    }

    pub fn node() -> impl Strategy<Value = Node> {
        let digest = any::<[u8; 32]>().prop_map(B3Digest::from);
        prop_oneof![
            (digest.clone(), 0..u64::MAX / 1024)
                .prop_map(|(digest, size)| Node::Directory { digest, size }),
            (digest, any::<u64>(), any::<bool>()).prop_map(|(digest, size, executable)| {
                Node::File {
                    digest,
                    size,
                    executable,
                }
            }),
            proptest::collection::vec(1..=255u8, 1..64).prop_map(|target| Node::Symlink {
                target: SymlinkTarget::try_from(target.as_slice()).expect("no NUL, not empty"),
            }),
        ]
    }

    /// Any valid [Directory] of up to 16 entries.
    pub fn directory() -> impl Strategy<Value = Directory> {
        proptest::collection::btree_map(path_component(), node(), 0..16).prop_map(|entries| {
            Directory::try_from_iter(entries).expect("unique names, sizes far from overflow")
        })
    }
}
