//! NARs the reader must reject, with the exact reason, and never a panic.

use std::io;

use rstest::rstest;

use super::fixtures::golden;
use super::harness::{ALL, Impl};
use crate::nar::reader::{Error, Expected, Field};
use crate::nar::rules::{NameError, TargetError};

/// How a read failed: a malformed NAR, or an I/O error of some kind.
#[derive(Debug, PartialEq)]
pub(super) enum Failure {
    Invalid(Error),
    Io(io::ErrorKind),
}

pub(super) fn failure(err: io::Error) -> Failure {
    match err.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
        Some(invalid) => {
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            Failure::Invalid(invalid.clone())
        }
        None => Failure::Io(err.kind()),
    }
}

/// Frames each string as a NAR token.
fn nar(strings: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in strings {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s);
        out.resize(out.len().next_multiple_of(8), 0);
    }
    out
}

/// A directory NAR with these entries, each a file holding its name.
pub(super) fn dir_of(names: &[&[u8]]) -> Vec<u8> {
    let mut out = nar(&[b"nix-archive-1", b"(", b"type", b"directory"]);
    for name in names {
        out.extend(nar(&[
            b"entry", b"(", b"name", name, b"node", b"(", b"type",
        ]));
        out.extend(nar(&[b"regular", b"contents", name, b")", b")"]));
    }
    out.extend(nar(&[b")"]));
    out
}

/// A symlink NAR with this target.
fn symlink_to(target: &[u8]) -> Vec<u8> {
    nar(&[
        b"nix-archive-1",
        b"(",
        b"type",
        b"symlink",
        b"target",
        target,
        b")",
    ])
}

/// `nar` with the byte right after `needle` (its first padding byte) set.
pub(super) fn poke_padding(nar: Vec<u8>, needle: &[u8]) -> Vec<u8> {
    let mut nar = nar;
    let at = nar
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in NAR")
        + needle.len();
    nar[at] = 1;
    nar
}

/// `nar` with the 8 bytes at `at` replaced by `len`.
fn with_len(nar: Vec<u8>, at: usize, len: u64) -> Vec<u8> {
    let mut nar = nar;
    nar[at..at + 8].copy_from_slice(&len.to_le_bytes());
    nar
}

fn invalid(err: impl Into<Error>) -> Failure {
    Failure::Invalid(err.into())
}

fn unexpected(expected: Expected) -> Failure {
    Failure::Invalid(Error::UnexpectedToken(expected))
}

const EOF: Failure = Failure::Io(io::ErrorKind::UnexpectedEof);

#[rstest]
#[case::empty(vec![], EOF)]
#[case::bad_magic(nar(&[b"nix-archive-2", b"(", b"type", b"directory", b")"]), unexpected(Expected::Header))]
#[case::magic_unpadded(b"\x0d\0\0\0\0\0\0\0nix-archive-1".to_vec(), EOF)]
#[case::bad_open(nar(&[b"nix-archive-1", b"[", b"type", b"directory", b")"]), unexpected(Expected::Header))]
#[case::unknown_type(nar(&[b"nix-archive-1", b"(", b"type", b"fifo", b")"]), unexpected(Expected::NodeType))]
#[case::type_in_caps(nar(&[b"nix-archive-1", b"(", b"type", b"Regular", b"contents", b"", b")"]), unexpected(Expected::NodeType))]
#[case::executable_marker_not_empty(nar(&[b"nix-archive-1", b"(", b"type", b"regular", b"executable", b"1", b"contents", b"", b")"]), unexpected(Expected::NodeType))]
#[case::contents_before_executable(nar(&[b"nix-archive-1", b"(", b"type", b"regular", b"contents", b"", b"executable", b"", b")"]), unexpected(Expected::NodeEnd))]
#[case::file_without_contents(nar(&[b"nix-archive-1", b"(", b"type", b"regular", b")"]), unexpected(Expected::NodeType))]
#[case::file_not_closed(nar(&[b"nix-archive-1", b"(", b"type", b"regular", b"contents", b"abc", b"("]), unexpected(Expected::NodeEnd))]
#[case::symlink_not_closed(nar(&[b"nix-archive-1", b"(", b"type", b"symlink", b"target", b"abc", b"entry"]), unexpected(Expected::NodeEnd))]
#[case::symlink_without_target(nar(&[b"nix-archive-1", b"(", b"type", b"symlink", b")"]), unexpected(Expected::NodeType))]
#[case::entry_without_name(nar(&[b"nix-archive-1", b"(", b"type", b"directory", b"entry", b"(", b"node"]), unexpected(Expected::EntryOrEnd))]
#[case::directory_junk(nar(&[b"nix-archive-1", b"(", b"type", b"directory", b"target"]), unexpected(Expected::EntryOrEnd))]
#[case::entry_without_node(nar(&[b"nix-archive-1", b"(", b"type", b"directory", b"entry", b"(", b"name", b"a", b")", b")", b")"]), unexpected(Expected::NodeStart))]
#[case::entry_not_closed(nar(&[b"nix-archive-1", b"(", b"type", b"directory", b"entry", b"(", b"name", b"a", b"node", b"(", b"type", b"symlink", b"target", b"b", b")", b"entry"]), unexpected(Expected::EntryEnd))]
#[case::unsorted(dir_of(&[b"b", b"a"]), invalid(NameError::Unsorted { prev: "b".into(), name: "a".into() }))]
#[case::unsorted_case(dir_of(&[b"a", b"B"]), invalid(NameError::Unsorted { prev: "a".into(), name: "B".into() }))]
#[case::duplicate(dir_of(&[b"a", b"a"]), invalid(NameError::Duplicate("a".into())))]
#[case::name_empty(dir_of(&[b""]), invalid(NameError::Empty))]
#[case::name_dot(dir_of(&[b"."]), invalid(NameError::Dot))]
#[case::name_dotdot(dir_of(&[b".."]), invalid(NameError::DotDot))]
#[case::name_with_slash(dir_of(&[b"a/b"]), invalid(NameError::ContainsSlash("a/b".into())))]
#[case::name_with_nul(dir_of(&[b"a\0b"]), invalid(NameError::ContainsNul("a\0b".into())))]
#[case::name_too_long(dir_of(&[&[b'x'; 256]]), invalid(NameError::TooLong(256)))]
#[case::name_len_huge(with_len(dir_of(&[b"a"]), 128, u64::MAX), invalid(NameError::TooLong(u64::MAX)))]
#[case::name_padding(
    poke_padding(golden("nested"), b"\x01\0\0\0\0\0\0\0B"),
    invalid(Error::NonZeroPadding(Field::Name))
)]
#[case::target_empty(symlink_to(b""), invalid(TargetError::Empty))]
#[case::target_with_nul(symlink_to(b"a\0b"), invalid(TargetError::ContainsNul("a\0b".into())))]
#[case::target_too_long(symlink_to(&[b'x'; 4096]), invalid(TargetError::TooLong(4096)))]
#[case::target_len_huge(
    with_len(symlink_to(b"a"), 88, u64::MAX),
    invalid(TargetError::TooLong(u64::MAX))
)]
#[case::target_padding(
    poke_padding(golden("symlink"), b"target/of/link"),
    invalid(Error::NonZeroPadding(Field::Target))
)]
#[case::contents_padding(
    poke_padding(golden("regular"), b"Hello, NAR!\n"),
    invalid(Error::NonZeroPadding(Field::Contents))
)]
#[case::contents_len_huge(with_len(golden("regular"), 88, u64::MAX), EOF)]
#[case::contents_len_short(with_len(golden("regular"), 88, 8), unexpected(Expected::NodeEnd))]
#[case::contents_len_long(with_len(golden("regular"), 88, 17), EOF)]
#[case::root_not_closed(golden("regular")[..120].to_vec(), EOF)]
fn rejects(#[case] nar: Vec<u8>, #[case] expected: Failure) {
    for imp in ALL {
        let err = imp.read(&nar).expect_err("malformed NAR read");
        assert_eq!(failure(err), expected, "{imp:?}");
    }
}

/// Every proper prefix of a NAR ends too early, and says so.
#[rstest]
fn rejects_truncated(
    #[values(Impl::Sync, Impl::SyncTrickle, Impl::Async, Impl::AsyncTrickle)] imp: Impl,
    #[values("nested", "executable", "empty-file")] name: &str,
) {
    let nar = golden(name);
    for len in 0..nar.len() {
        let err = imp.read(&nar[..len]).expect_err("truncated NAR read");
        assert_eq!(failure(err), EOF, "{imp:?} {name} cut at {len}");
    }
}
