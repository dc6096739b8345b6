use bytes::Bytes;
use nix_compat::nixhash::{HashAlgo, NixHashError};
use nix_compat::store_path::{self, StorePath};
use proptest::prelude::*;
use prost::Message;
use rstest::rstest;
use tvix_castore::proto::{FileNode, entry};
use tvix_castore::{DirectoryError, PathComponentError};

use super::{PathInfo, ValidatePathInfoError as E, nar_info};
use crate::fixtures::{PATH_INFO_FILE, PATH_INFO_FULL, store_path, strategies};

#[rstest]
#[case::file(&PATH_INFO_FILE)]
#[case::full(&PATH_INFO_FULL)]
fn roundtrip_fixture(#[case] path_info: &crate::PathInfo) {
    let proto = PathInfo::from(path_info.clone());
    assert_eq!(Ok(path_info.store_path.clone()), proto.validate());
    assert_eq!(Ok(path_info.clone()), crate::PathInfo::try_from(proto));
}

/// The wire form of [PATH_INFO_FULL]'s references and narinfo, field by
/// field.
#[test]
fn full_fields() {
    let proto = PathInfo::from(PATH_INFO_FULL.clone());
    assert_eq!(
        vec![Bytes::from(vec![0; 20]), Bytes::from(vec![0xff; 20])],
        proto.references
    );
    let narinfo = proto.narinfo.expect("narinfo");
    assert_eq!(
        vec![
            "00000000000000000000000000000000-dep",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-full"
        ],
        narinfo.reference_names
    );
    assert_eq!(
        Some(super::StorePath {
            name: "full.drv".to_owned(),
            digest: store_path("11111111111111111111111111111111-full.drv")
                .digest()
                .to_vec()
                .into(),
        }),
        narinfo.deriver
    );
    assert_eq!(
        Some(nar_info::Ca {
            r#type: nar_info::ca::Hash::NarSha256.into(),
            digest: Bytes::from(vec![0x33; 32]),
        }),
        narinfo.ca
    );
    let Some(entry::Entry::Directory(root)) = proto.node.and_then(|node| node.entry) else {
        panic!("root must be a directory node");
    };
    assert_eq!(
        Bytes::from_static(b"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-full"),
        root.name
    );
}

fn narinfo(proto: &mut PathInfo) -> &mut super::NarInfo {
    proto.narinfo.as_mut().expect("fixture has a narinfo")
}

fn set_root_name(proto: &mut PathInfo, name: &'static [u8]) {
    proto.node = Some(tvix_castore::proto::Entry {
        entry: Some(entry::Entry::File(FileNode {
            name: Bytes::from_static(name),
            digest: Bytes::from(vec![0; 32]),
            size: 0,
            executable: false,
        })),
    });
}

fn store_path_error(basename: &str) -> store_path::Error {
    StorePath::from_bytes(basename.as_bytes()).expect_err("must be invalid")
}

/// Each case breaks one field of [PATH_INFO_FULL]'s message.
#[rstest]
#[case::no_node(|p: &mut PathInfo| p.node = None, E::NoRootNode)]
#[case::empty_node(
    |p: &mut PathInfo| p.node = Some(Default::default()),
    E::InvalidRootNode(DirectoryError::NoNodeSet)
)]
#[case::node_name_slash(
    |p: &mut PathInfo| set_root_name(p, b"a/b"),
    E::InvalidRootNode(DirectoryError::InvalidName {
        name: "a/b".into(),
        source: PathComponentError::Slash,
    })
)]
#[case::node_name_not_store_path(
    |p: &mut PathInfo| set_root_name(p, b"foo"),
    E::InvalidNodeName("foo".into(), store_path_error("foo"))
)]
#[case::node_name_bad_char(
    |p: &mut PathInfo| set_root_name(p, b"00000000000000000000000000000000-a b"),
    E::InvalidNodeName(
        "00000000000000000000000000000000-a b".into(),
        store_path_error("00000000000000000000000000000000-a b"),
    )
)]
#[case::no_narinfo(|p: &mut PathInfo| p.narinfo = None, E::NoNarInfo)]
#[case::reference_digest_short(
    |p: &mut PathInfo| p.references[1] = Bytes::from(vec![0xff; 19]),
    E::InvalidReferenceDigestLen(1, 19)
)]
#[case::reference_missing(
    |p: &mut PathInfo| { p.references.pop(); },
    E::ReferenceCountMismatch { references: 1, names: 2 }
)]
#[case::reference_name_missing(
    |p: &mut PathInfo| { narinfo(p).reference_names.pop(); },
    E::ReferenceCountMismatch { references: 2, names: 1 }
)]
#[case::reference_name_invalid(
    |p: &mut PathInfo| narinfo(p).reference_names[0] = "dep".to_owned(),
    E::InvalidReferenceName(0, store_path_error("dep"))
)]
#[case::reference_name_absolute(
    |p: &mut PathInfo| narinfo(p).reference_names[0] =
        "/nix/store/00000000000000000000000000000000-dep".to_owned(),
    E::InvalidReferenceName(0, store_path_error("/nix/store/00000000000000000000000000000000-dep"))
)]
#[case::reference_name_other_digest(
    |p: &mut PathInfo| narinfo(p).reference_names.swap(0, 1),
    E::ReferenceNameMismatch(0, store_path("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-full"))
)]
#[case::nar_sha256_empty(
    |p: &mut PathInfo| narinfo(p).nar_sha256 = Bytes::new(),
    E::InvalidNarSha256Len(0)
)]
#[case::nar_sha256_long(
    |p: &mut PathInfo| narinfo(p).nar_sha256 = Bytes::from(vec![0; 33]),
    E::InvalidNarSha256Len(33)
)]
#[case::signature_short(
    |p: &mut PathInfo| narinfo(p).signatures[1].data = Bytes::from(vec![0; 63]),
    E::InvalidSignatureLen(1, 63)
)]
#[case::signature_name_empty(
    |p: &mut PathInfo| narinfo(p).signatures[0].name = String::new(),
    E::InvalidSignatureName(0, nix_compat::narinfo::NamedBytesError::InvalidName(String::new()))
)]
#[case::signature_name_colon(
    |p: &mut PathInfo| narinfo(p).signatures[0].name = "a:b".to_owned(),
    E::InvalidSignatureName(0, nix_compat::narinfo::NamedBytesError::InvalidName("a:b".to_owned()))
)]
#[case::deriver_digest_short(
    |p: &mut PathInfo| narinfo(p).deriver.as_mut().expect("deriver").digest = Bytes::from(vec![0; 19]),
    E::InvalidDeriver(store_path::Error::InvalidDigestLength(19))
)]
#[case::deriver_name_empty(
    |p: &mut PathInfo| narinfo(p).deriver.as_mut().expect("deriver").name = String::new(),
    E::InvalidDeriver(StorePath::from_name_and_digest("", &[0; 20]).expect_err("empty name"))
)]
#[case::ca_unknown_type(
    |p: &mut PathInfo| narinfo(p).ca.as_mut().expect("ca").r#type = 9,
    E::UnknownCaType(9)
)]
#[case::ca_digest_wrong_len(
    |p: &mut PathInfo| narinfo(p).ca.as_mut().expect("ca").digest = Bytes::from(vec![0; 20]),
    E::InvalidCaDigest(NixHashError::InvalidDigestLength { algo: HashAlgo::Sha256, expected: 32, actual: 20 })
)]
#[case::ca_text_digest_wrong_len(
    |p: &mut PathInfo| *narinfo(p).ca.as_mut().expect("ca") = nar_info::Ca {
        r#type: nar_info::ca::Hash::TextSha256.into(),
        digest: Bytes::from(vec![0; 64]),
    },
    E::InvalidCaDigest(NixHashError::InvalidDigestLength { algo: HashAlgo::Sha256, expected: 32, actual: 64 })
)]
#[case::ca_md5_wrong_len(
    |p: &mut PathInfo| *narinfo(p).ca.as_mut().expect("ca") = nar_info::Ca {
        r#type: nar_info::ca::Hash::FlatMd5.into(),
        digest: Bytes::from(vec![0; 32]),
    },
    E::InvalidCaDigest(NixHashError::InvalidDigestLength { algo: HashAlgo::Md5, expected: 16, actual: 32 })
)]
fn invalid(#[case] break_it: fn(&mut PathInfo), #[case] expected: E) {
    let mut proto = PathInfo::from(PATH_INFO_FULL.clone());
    break_it(&mut proto);
    assert_eq!(Err(expected.clone()), proto.validate());
    assert_eq!(Err(expected), crate::PathInfo::try_from(proto));
}

proptest! {
    /// Domain → message → bytes → message → domain gives back the value.
    #[test]
    fn roundtrip(path_info in strategies::path_info()) {
        let encoded = PathInfo::from(path_info.clone()).encode_to_vec();
        let decoded = PathInfo::decode(encoded.as_slice()).expect("decodes");
        prop_assert_eq!(Ok(path_info), crate::PathInfo::try_from(decoded));
    }

    /// Arbitrary bytes decode to an error or a message; validating the
    /// message never panics.
    #[test]
    fn validate_arbitrary(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(proto) = PathInfo::decode(bytes.as_slice()) {
            let _ = proto.validate();
        }
    }
}
