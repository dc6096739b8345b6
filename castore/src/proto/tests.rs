use bytes::Bytes;
use prost::Message;
use rstest::rstest;

use super::{Directory, DirectoryNode, Entry, FileNode, SymlinkNode};
use crate::fixtures::{DIRECTORY_COMPLICATED, DUMMY_DIGEST, name};
use crate::{B3DigestError, DirectoryError, Node, PathComponentError, SymlinkTargetError};

fn dir_node(name: &str, size: u64) -> DirectoryNode {
    DirectoryNode {
        name: Bytes::copy_from_slice(name.as_bytes()),
        digest: DUMMY_DIGEST.into(),
        size,
    }
}

fn file_node(name: &str) -> FileNode {
    FileNode {
        name: Bytes::copy_from_slice(name.as_bytes()),
        digest: DUMMY_DIGEST.into(),
        size: 1,
        executable: false,
    }
}

fn symlink_node(name: &str) -> SymlinkNode {
    SymlinkNode {
        name: Bytes::copy_from_slice(name.as_bytes()),
        target: Bytes::from_static(b"target"),
    }
}

#[rstest]
#[case::empty(Directory::default())]
#[case::one_of_each(Directory {
    directories: vec![dir_node("d", 3)],
    files: vec![file_node("f")],
    symlinks: vec![symlink_node("s")],
})]
#[case::sorted_lists(Directory {
    directories: vec![dir_node("a", 0), dir_node("b", 0)],
    files: vec![file_node("c"), file_node("d")],
    symlinks: vec![symlink_node("A"), symlink_node("e")],
})]
fn valid_round_trip(#[case] proto: Directory) {
    let directory = crate::Directory::try_from(proto.clone()).expect("must be valid");
    assert_eq!(proto, Directory::from(&directory));
}

#[rstest]
#[case::empty_name(
    Directory { files: vec![file_node("")], ..Default::default() },
    DirectoryError::InvalidName { name: "".into(), source: PathComponentError::Empty },
)]
#[case::dot_name(
    Directory { directories: vec![dir_node(".", 0)], ..Default::default() },
    DirectoryError::InvalidName { name: ".".into(), source: PathComponentError::Dot },
)]
#[case::dotdot_name(
    Directory { symlinks: vec![symlink_node("..")], ..Default::default() },
    DirectoryError::InvalidName { name: "..".into(), source: PathComponentError::DotDot },
)]
#[case::slash_name(
    Directory { files: vec![file_node("a/b")], ..Default::default() },
    DirectoryError::InvalidName { name: "a/b".into(), source: PathComponentError::Slash },
)]
#[case::nul_name(
    Directory { files: vec![file_node("a\0")], ..Default::default() },
    DirectoryError::InvalidName { name: "a\0".into(), source: PathComponentError::Nul },
)]
#[case::unsorted_files(
    Directory { files: vec![file_node("b"), file_node("a")], ..Default::default() },
    DirectoryError::WrongSorting(name("a")),
)]
#[case::unsorted_directories(
    Directory { directories: vec![dir_node("b", 0), dir_node("a", 0)], ..Default::default() },
    DirectoryError::WrongSorting(name("a")),
)]
#[case::duplicate_in_list(
    Directory { symlinks: vec![symlink_node("a"), symlink_node("a")], ..Default::default() },
    DirectoryError::DuplicateName(name("a")),
)]
#[case::duplicate_across_lists(
    Directory { directories: vec![dir_node("a", 0)], files: vec![file_node("a")], ..Default::default() },
    DirectoryError::DuplicateName(name("a")),
)]
#[case::short_file_digest(
    Directory { files: vec![FileNode { digest: Bytes::from_static(&[0; 31]), ..file_node("f") }], ..Default::default() },
    DirectoryError::InvalidDigest { name: name("f"), source: B3DigestError::InvalidLength(31) },
)]
#[case::empty_directory_digest(
    Directory { directories: vec![DirectoryNode { digest: Bytes::new(), ..dir_node("d", 0) }], ..Default::default() },
    DirectoryError::InvalidDigest { name: name("d"), source: B3DigestError::InvalidLength(0) },
)]
#[case::empty_symlink_target(
    Directory { symlinks: vec![SymlinkNode { target: Bytes::new(), ..symlink_node("s") }], ..Default::default() },
    DirectoryError::InvalidSymlinkTarget { name: name("s"), source: SymlinkTargetError::Empty },
)]
#[case::size_overflow(
    Directory { directories: vec![dir_node("a", u64::MAX / 2), dir_node("b", u64::MAX / 2)], ..Default::default() },
    DirectoryError::SizeOverflow(name("b")),
)]
fn invalid(#[case] proto: Directory, #[case] expected: DirectoryError) {
    assert_eq!(Err(expected), crate::Directory::try_from(proto));
}

/// The digest is blake3 over the canonical encoding, which is what a
/// decoded-then-re-encoded message hashes to as well.
#[test]
fn digest_is_blake3_of_encoding() {
    let encoded = Directory::from(&*DIRECTORY_COMPLICATED).encode_to_vec();
    assert_eq!(
        crate::B3Digest::of(&encoded),
        DIRECTORY_COMPLICATED.digest()
    );
    let decoded = Directory::decode(encoded.as_slice()).expect("decodes");
    assert_eq!(
        DIRECTORY_COMPLICATED.digest(),
        crate::Directory::try_from(decoded).expect("valid").digest()
    );
}

#[rstest]
#[case::directory(Node::Directory { digest: DUMMY_DIGEST, size: 7 })]
#[case::file(Node::File { digest: DUMMY_DIGEST, size: 7, executable: true })]
#[case::symlink(Node::Symlink { target: "t".try_into().expect("valid") })]
fn entry_round_trip(#[case] node: Node) {
    let entry = Entry::from_name_and_node(name("n"), node.clone());
    assert_eq!(Ok((name("n"), node)), entry.try_into_name_and_node());
}

#[test]
fn entry_without_node() {
    assert_eq!(
        Err(DirectoryError::NoNodeSet),
        Entry { entry: None }.try_into_name_and_node()
    );
}

proptest::proptest! {
    /// Every valid directory survives encoding, and decodes to the same
    /// digest.
    #[test]
    fn directory_round_trip(directory in crate::fixtures::strategies::directory()) {
        let encoded = Directory::from(&directory).encode_to_vec();
        let decoded = crate::Directory::try_from(
            Directory::decode(encoded.as_slice()).expect("decodes"),
        )
        .expect("valid");
        proptest::prop_assert_eq!(directory.digest(), decoded.digest());
        proptest::prop_assert_eq!(directory, decoded);
    }
}
