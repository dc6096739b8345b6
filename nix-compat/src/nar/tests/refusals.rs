//! Input the writer refuses, so that it never writes a non-canonical NAR.

use std::io;

use rstest::rstest;

use super::harness::{Impl, Tree, block_on};
use crate::nar::rules::{NameError, TargetError};
use crate::nar::writer::{self, Error};

fn writer_error(err: io::Error) -> Error {
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    err.get_ref()
        .and_then(|e| e.downcast_ref::<Error>())
        .expect("a writer::Error")
        .clone()
}

/// Writes a directory of empty files named `before`, then tries `refused`,
/// then goes on with `after`; returns the refusal and the NAR.
fn entries_around_refusal(
    imp: Impl,
    before: &[u8],
    refused: &[u8],
    after: &[u8],
) -> (Error, Vec<u8>) {
    let mut out = Vec::new();
    let err = match imp {
        Impl::Sync | Impl::SyncTrickle => {
            let mut dir = writer::open(&mut out).unwrap().directory().unwrap();
            dir.entry(before)
                .unwrap()
                .file(false, 0, &mut &b""[..])
                .unwrap();
            let err = dir.entry(refused).map(drop).unwrap_err();
            dir.entry(after)
                .unwrap()
                .file(false, 0, &mut &b""[..])
                .unwrap();
            dir.close().unwrap();
            err
        }
        Impl::Async | Impl::AsyncTrickle => block_on(async {
            let root = writer::r#async::open(&mut out).await.unwrap();
            let mut dir = root.directory().await.unwrap();
            let node = dir.entry(before).await.unwrap();
            node.file(false, 0, &mut &b""[..]).await.unwrap();
            let err = dir.entry(refused).await.map(drop).unwrap_err();
            let node = dir.entry(after).await.unwrap();
            node.file(false, 0, &mut &b""[..]).await.unwrap();
            dir.close().await.unwrap();
            err
        }),
    };
    (writer_error(err), out)
}

/// A refused name writes nothing: the directory goes on as if it had not
/// been tried.
#[rstest]
#[case::duplicate(b"a", b"a", b"b", NameError::Duplicate("a".into()))]
#[case::unsorted(b"b", b"a", b"c", NameError::Unsorted { prev: "b".into(), name: "a".into() })]
#[case::upper_after_lower(b"a", b"B", b"b", NameError::Unsorted { prev: "a".into(), name: "B".into() })]
#[case::empty(b"a", b"", b"b", NameError::Empty)]
#[case::dot(b"a", b".", b"b", NameError::Dot)]
#[case::dotdot(b"a", b"..", b"b", NameError::DotDot)]
#[case::slash(b"a", b"b/c", b"b", NameError::ContainsSlash("b/c".into()))]
#[case::nul(b"a", b"b\0", b"b", NameError::ContainsNul("b\0".into()))]
#[case::too_long(b"a", &[b'b'; 256], b"b", NameError::TooLong(256))]
fn refuses_entry_name(
    #[values(Impl::Sync, Impl::Async)] imp: Impl,
    #[case] before: &[u8],
    #[case] refused: &[u8],
    #[case] after: &[u8],
    #[case] expected: NameError,
) {
    let (err, nar) = entries_around_refusal(imp, before, refused, after);
    assert_eq!(err, Error::Name(expected));
    let tree = Tree::directory([(before, Tree::file(b"")), (after, Tree::file(b""))]);
    assert_eq!(nar, imp.write(&tree).unwrap());
}

/// Ways to misuse the writer.
#[derive(Debug, Clone, Copy)]
enum Misuse {
    EmptyTarget,
    NulInTarget,
    ContentsShort,
    ContentsLong,
    /// An entry's node is dropped unwritten, then another entry is added.
    EntryAfterUnwrittenNode,
    /// An entry's node is dropped unwritten, then the directory is closed.
    CloseAfterUnwrittenNode,
    /// A subdirectory is left open, then another entry is added.
    EntryAfterOpenDirectory,
}

fn misuse_sync(misuse: Misuse) -> io::Error {
    let mut out = Vec::new();
    let root = writer::open(&mut out).unwrap();
    match misuse {
        Misuse::EmptyTarget => root.symlink(b""),
        Misuse::NulInTarget => root.symlink(b"a\0"),
        Misuse::ContentsShort => root.file(false, 5, &mut &b"abc"[..]),
        Misuse::ContentsLong => root.file(true, 2, &mut &b"abc"[..]),
        Misuse::EntryAfterUnwrittenNode | Misuse::CloseAfterUnwrittenNode => {
            let mut dir = root.directory().unwrap();
            let _ = dir.entry(b"a").unwrap();
            match misuse {
                Misuse::EntryAfterUnwrittenNode => dir.entry(b"b").map(drop),
                _ => dir.close(),
            }
        }
        Misuse::EntryAfterOpenDirectory => {
            let mut dir = root.directory().unwrap();
            let _ = dir.entry(b"a").unwrap().directory().unwrap();
            dir.entry(b"b").map(drop)
        }
    }
    .unwrap_err()
}

async fn misuse_async(misuse: Misuse) -> io::Error {
    let mut out = Vec::new();
    let root = writer::r#async::open(&mut out).await.unwrap();
    match misuse {
        Misuse::EmptyTarget => root.symlink(b"").await,
        Misuse::NulInTarget => root.symlink(b"a\0").await,
        Misuse::ContentsShort => root.file(false, 5, &mut &b"abc"[..]).await,
        Misuse::ContentsLong => root.file(true, 2, &mut &b"abc"[..]).await,
        Misuse::EntryAfterUnwrittenNode | Misuse::CloseAfterUnwrittenNode => {
            let mut dir = root.directory().await.unwrap();
            let _ = dir.entry(b"a").await.unwrap();
            match misuse {
                Misuse::EntryAfterUnwrittenNode => dir.entry(b"b").await.map(drop),
                _ => dir.close().await,
            }
        }
        Misuse::EntryAfterOpenDirectory => {
            let mut dir = root.directory().await.unwrap();
            let _ = dir.entry(b"a").await.unwrap().directory().await.unwrap();
            dir.entry(b"b").await.map(drop)
        }
    }
    .unwrap_err()
}

#[rstest]
#[case::empty_target(Misuse::EmptyTarget, Error::Target(TargetError::Empty))]
#[case::nul_in_target(Misuse::NulInTarget, Error::Target(TargetError::ContainsNul("a\0".into())))]
#[case::contents_short(Misuse::ContentsShort, Error::ContentsTooShort { declared: 5, read: 3 })]
#[case::contents_long(Misuse::ContentsLong, Error::ContentsTooLong { declared: 2 })]
#[case::entry_after_unwritten_node(Misuse::EntryAfterUnwrittenNode, Error::UnfinishedEntry)]
#[case::close_after_unwritten_node(Misuse::CloseAfterUnwrittenNode, Error::UnfinishedEntry)]
#[case::entry_after_open_directory(Misuse::EntryAfterOpenDirectory, Error::UnfinishedEntry)]
fn refuses_misuse(
    #[values(Impl::Sync, Impl::Async)] imp: Impl,
    #[case] misuse: Misuse,
    #[case] expected: Error,
) {
    let err = match imp {
        Impl::Sync | Impl::SyncTrickle => misuse_sync(misuse),
        Impl::Async | Impl::AsyncTrickle => block_on(misuse_async(misuse)),
    };
    assert_eq!(writer_error(err), expected);
}

/// `file_with` checks the count its contents writer returns as `file`
/// checks its reader, and writes the same bytes when it is right.
#[rstest]
#[case::exact(b"abc".as_slice(), 3, None)]
#[case::short(b"abc".as_slice(), 5, Some(Error::ContentsTooShort { declared: 5, read: 3 }))]
#[case::long(b"abc".as_slice(), 2, Some(Error::ContentsTooLong { declared: 2 }))]
fn file_with_checks_the_count(
    #[case] contents: &[u8],
    #[case] size: u64,
    #[case] expected: Option<Error>,
) {
    let mut out = Vec::new();
    let written = writer::open(&mut out).unwrap().file_with(true, size, |w| {
        w.extend_from_slice(contents);
        Ok(contents.len() as u64)
    });
    match expected {
        Some(expected) => assert_eq!(writer_error(written.unwrap_err()), expected),
        None => {
            written.unwrap();
            let mut by_reader = Vec::new();
            writer::open(&mut by_reader)
                .unwrap()
                .file(true, size, &mut &contents[..])
                .unwrap();
            assert_eq!(by_reader, out);
        }
    }
}
