//! Using the reader tree out of order: debug builds panic with a clear
//! message; reading each node to its end is all it takes to go on.

use std::io::Read;

use rstest::rstest;
use tokio::io::AsyncReadExt;

use super::fixtures::golden;
use super::harness::{Impl, block_on};
use super::malformed::{dir_of, poke_padding};
use crate::nar::reader;

/// Ways to use the reader tree out of order.
#[derive(Debug, Clone, Copy)]
enum Misuse {
    /// The parent directory goes on while a file entry was not read at all.
    FileUnread,
    /// ... or only partly.
    FilePartlyRead,
    /// The parent goes on while a directory entry was not read to its end.
    DirUnfinished,
    /// A directory is read again after it returned an error.
    NextAfterError,
    /// The parent goes on after its child returned an error.
    ParentAfterChildError,
    /// A file is read again after it returned an error.
    ReadAfterError,
}

impl Misuse {
    fn nar(self) -> Vec<u8> {
        match self {
            Misuse::FileUnread | Misuse::FilePartlyRead | Misuse::DirUnfinished => golden("nested"),
            Misuse::NextAfterError => dir_of(&[b"b", b"a"]),
            Misuse::ParentAfterChildError => poke_padding(golden("nested"), b"upper\n"),
            Misuse::ReadAfterError => poke_padding(golden("regular"), b"Hello, NAR!\n"),
        }
    }
}

fn misuse_sync(misuse: Misuse) {
    let nar = misuse.nar();
    let mut input = &nar[..];
    let mut dir = match reader::open(&mut input).unwrap() {
        reader::Node::Directory(dir) => dir,
        reader::Node::File { mut reader, .. } => {
            reader.read_to_end(&mut Vec::new()).unwrap_err();
            let _ = reader.read(&mut [0]);
            return;
        }
        node => panic!("unexpected root {node:?}"),
    };
    let first = dir.next().unwrap().unwrap();
    match (misuse, first.node) {
        (Misuse::FileUnread, _) => {}
        (Misuse::FilePartlyRead, reader::Node::File { mut reader, .. }) => {
            reader.read_exact(&mut [0; 3]).unwrap();
        }
        (Misuse::DirUnfinished, reader::Node::File { mut reader, .. }) => {
            reader.read_to_end(&mut Vec::new()).unwrap();
            let Some(reader::Entry {
                node: reader::Node::Directory(mut a),
                ..
            }) = dir.next().unwrap()
            else {
                panic!("entry a is not a directory")
            };
            a.next().unwrap().unwrap();
        }
        (Misuse::NextAfterError, reader::Node::File { mut reader, .. }) => {
            reader.read_to_end(&mut Vec::new()).unwrap();
            dir.next().unwrap_err();
        }
        (Misuse::ParentAfterChildError, reader::Node::File { mut reader, .. }) => {
            reader.read_to_end(&mut Vec::new()).unwrap_err();
        }
        (misuse, node) => panic!("{misuse:?} does not fit {node:?}"),
    }
    let _ = dir.next();
}

async fn misuse_async(misuse: Misuse) {
    use reader::r#async::{Entry, Node};
    let nar = misuse.nar();
    let mut input = &nar[..];
    let mut dir = match reader::r#async::open(&mut input).await.unwrap() {
        Node::Directory(dir) => dir,
        Node::File { mut reader, .. } => {
            reader.read_to_end(&mut Vec::new()).await.unwrap_err();
            let _ = reader.read(&mut [0]).await;
            return;
        }
        node => panic!("unexpected root {node:?}"),
    };
    let first = dir.next().await.unwrap().unwrap();
    match (misuse, first.node) {
        (Misuse::FileUnread, _) => {}
        (Misuse::FilePartlyRead, Node::File { mut reader, .. }) => {
            reader.read_exact(&mut [0; 3]).await.unwrap();
        }
        (Misuse::DirUnfinished, Node::File { mut reader, .. }) => {
            reader.read_to_end(&mut Vec::new()).await.unwrap();
            let Some(Entry {
                node: Node::Directory(mut a),
                ..
            }) = dir.next().await.unwrap()
            else {
                panic!("entry a is not a directory")
            };
            a.next().await.unwrap().unwrap();
        }
        (Misuse::NextAfterError, Node::File { mut reader, .. }) => {
            reader.read_to_end(&mut Vec::new()).await.unwrap();
            dir.next().await.unwrap_err();
        }
        (Misuse::ParentAfterChildError, Node::File { mut reader, .. }) => {
            reader.read_to_end(&mut Vec::new()).await.unwrap_err();
        }
        (misuse, node) => panic!("{misuse:?} does not fit {node:?}"),
    }
    let _ = dir.next().await;
}

fn run(imp: Impl, misuse: Misuse) {
    match imp {
        Impl::Sync | Impl::SyncTrickle => misuse_sync(misuse),
        Impl::Async | Impl::AsyncTrickle => block_on(misuse_async(misuse)),
    }
}

#[cfg(debug_assertions)]
#[rstest]
#[should_panic(expected = "child not finished")]
fn panics_on_unfinished_child(
    #[values(Impl::Sync, Impl::Async)] imp: Impl,
    #[values(Misuse::FileUnread, Misuse::FilePartlyRead, Misuse::DirUnfinished)] misuse: Misuse,
) {
    run(imp, misuse);
}

#[cfg(debug_assertions)]
#[rstest]
#[should_panic(expected = "poisoned")]
fn panics_on_use_after_error(
    #[values(Impl::Sync, Impl::Async)] imp: Impl,
    #[values(
        Misuse::NextAfterError,
        Misuse::ParentAfterChildError,
        Misuse::ReadAfterError
    )]
    misuse: Misuse,
) {
    run(imp, misuse);
}

/// Release builds do not check: misuse reads garbage, but never panics.
#[cfg(not(debug_assertions))]
#[rstest]
fn misuse_does_not_panic_in_release(
    #[values(Impl::Sync, Impl::Async)] imp: Impl,
    #[values(
        Misuse::FileUnread,
        Misuse::FilePartlyRead,
        Misuse::DirUnfinished,
        Misuse::NextAfterError,
        Misuse::ParentAfterChildError,
        Misuse::ReadAfterError
    )]
    misuse: Misuse,
) {
    run(imp, misuse);
}

/// A file is finished with its last byte, without a read that finds its
/// end, so `read_exact` of its length is enough to go on.
#[test]
fn file_finished_by_its_last_byte() {
    let nar = golden("nested");
    let mut input = &nar[..];
    let reader::Node::Directory(mut dir) = reader::open(&mut input).unwrap() else {
        panic!("root is not a directory");
    };
    let Some(reader::Entry {
        node: reader::Node::File { mut reader, .. },
        ..
    }) = dir.next().unwrap()
    else {
        panic!("first entry is not a file");
    };
    let mut contents = [0; 6];
    reader.read_exact(&mut contents).unwrap();
    assert_eq!(&contents, b"upper\n");
    assert_eq!(dir.next().unwrap().unwrap().name, b"a");
}

#[test]
fn file_finished_by_its_last_byte_async() {
    use reader::r#async::{Entry, Node};
    block_on(async {
        let nar = golden("nested");
        let mut input = &nar[..];
        let Node::Directory(mut dir) = reader::r#async::open(&mut input).await.unwrap() else {
            panic!("root is not a directory");
        };
        let Some(Entry {
            node: Node::File { mut reader, .. },
            ..
        }) = dir.next().await.unwrap()
        else {
            panic!("first entry is not a file");
        };
        let mut contents = [0; 6];
        reader.read_exact(&mut contents).await.unwrap();
        assert_eq!(&contents, b"upper\n");
        assert_eq!(dir.next().await.unwrap().unwrap().name, b"a");
    });
}

/// Past its end a directory keeps returning `None` and a file 0 bytes,
/// without touching the archive.
#[test]
fn ends_are_sticky() {
    let nar = golden("empty-dir");
    let mut input = &nar[..];
    let reader::Node::Directory(mut dir) = reader::open(&mut input).unwrap() else {
        panic!("root is not a directory");
    };
    assert!(dir.next().unwrap().is_none());
    assert!(dir.next().unwrap().is_none());

    let nar = golden("eight-bytes");
    let mut input = &nar[..];
    let reader::Node::File { mut reader, .. } = reader::open(&mut input).unwrap() else {
        panic!("root is not a file");
    };
    assert_eq!(reader.len(), 8);
    reader.read_to_end(&mut Vec::new()).unwrap();
    assert_eq!(reader.read(&mut [0; 4]).unwrap(), 0);
}
