//! Test fixtures shared by the unit tests of this crate.

use std::sync::LazyLock;

use nix_compat::nixhash::{CAHash, NixHash};
use nix_compat::store_path::StorePath;
use tvix_castore::{B3Digest, Node};

use crate::{PathInfo, Signature};

pub fn store_path(basename: &str) -> StorePath {
    StorePath::from_bytes(basename.as_bytes()).expect("fixture store path must be valid")
}

/// A digest that names nothing stored anywhere.
pub const DUMMY_B3_DIGEST: B3Digest = B3Digest::new([0x42; 32]);

/// A PathInfo for a single file, with no references or other metadata.
pub static PATH_INFO_FILE: LazyLock<PathInfo> = LazyLock::new(|| PathInfo {
    store_path: store_path("00bgd045z0d4icpbc2yyz4gx48ak44la-net-tools-1.60_p20170221182432"),
    node: Node::File {
        digest: DUMMY_B3_DIGEST,
        size: 42,
        executable: false,
    },
    references: vec![],
    nar_size: 144,
    nar_sha256: [0xab; 32],
    signatures: vec![],
    deriver: None,
    ca: None,
});

/// A PathInfo using every field: a directory root, references (one of them
/// to itself), two signatures, a deriver and a content address.
pub static PATH_INFO_FULL: LazyLock<PathInfo> = LazyLock::new(|| PathInfo {
    store_path: store_path("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-full"),
    node: Node::Directory {
        digest: DUMMY_B3_DIGEST,
        size: 3,
    },
    references: vec![
        store_path("00000000000000000000000000000000-dep"),
        store_path("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-full"),
    ],
    nar_size: 1024,
    nar_sha256: [0x01; 32],
    signatures: vec![
        Signature::new("cache.nixos.org-1".to_owned(), [0x11; 64]).expect("valid name"),
        Signature::new("tvix-test-1".to_owned(), [0x22; 64]).expect("valid name"),
    ],
    deriver: Some(store_path("11111111111111111111111111111111-full.drv")),
    ca: Some(CAHash::Nar(NixHash::Sha256([0x33; 32]))),
});

/// proptest strategies for the domain types.
pub mod strategies {
    use nix_compat::nixhash::{CAHash, NixHash};
    use nix_compat::store_path::StorePath;
    use proptest::prelude::*;
    use tvix_castore::{B3Digest, Node, SymlinkTarget};

    use crate::{PathInfo, Signature};

    pub fn store_path() -> impl Strategy<Value = StorePath> {
        (any::<[u8; 20]>(), "[a-zA-Z0-9+._?=-]{1,40}").prop_map(|(digest, name)| {
            StorePath::from_name_and_digest(&name, &digest).expect("valid name and digest")
        })
    }

    pub fn node() -> impl Strategy<Value = Node> {
        let digest = any::<[u8; 32]>().prop_map(B3Digest::from);
        prop_oneof![
            (digest.clone(), any::<u64>())
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

    pub fn signature() -> impl Strategy<Value = Signature> {
        (
            "[a-z0-9.-]{1,20}",
            proptest::collection::vec(any::<u8>(), 64),
        )
            .prop_map(|(name, bytes)| {
                let bytes = bytes.try_into().expect("64 bytes");
                Signature::new(name, bytes).expect("valid name")
            })
    }

    pub fn ca_hash() -> impl Strategy<Value = CAHash> {
        let nix_hash = prop_oneof![
            any::<[u8; 16]>().prop_map(NixHash::Md5),
            any::<[u8; 20]>().prop_map(NixHash::Sha1),
            any::<[u8; 32]>().prop_map(NixHash::Sha256),
            proptest::collection::vec(any::<u8>(), 64)
                .prop_map(|digest| NixHash::Sha512(Box::new(digest.try_into().expect("64 bytes")))),
        ];
        prop_oneof![
            nix_hash.clone().prop_map(CAHash::Nar),
            nix_hash.prop_map(CAHash::Flat),
            any::<[u8; 32]>().prop_map(CAHash::Text),
        ]
    }

    pub fn path_info() -> impl Strategy<Value = PathInfo> {
        (
            store_path(),
            node(),
            proptest::collection::vec(store_path(), 0..4),
            any::<u64>(),
            any::<[u8; 32]>(),
            proptest::collection::vec(signature(), 0..3),
            proptest::option::of(store_path()),
            proptest::option::of(ca_hash()),
        )
            .prop_map(
                |(store_path, node, references, nar_size, nar_sha256, signatures, deriver, ca)| {
                    PathInfo {
                        store_path,
                        node,
                        references,
                        nar_size,
                        nar_sha256,
                        signatures,
                        deriver,
                        ca,
                    }
                },
            )
    }
}
