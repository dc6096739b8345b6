//! The NAR reader and writer as other crates use them: through trait
//! objects, on a multi-threaded runtime, with errors inspected by type.

use std::io::{self, BufRead, Read, Write};

use nix_compat::nar::{reader, writer};

/// Writes a directory holding one executable file and a symlink.
fn write_small_tree(out: &mut dyn Write) -> io::Result<()> {
    let mut dir = writer::open(out)?.directory()?;
    dir.entry(b"bin")?.file(true, 3, &mut &b"#!\n"[..])?;
    dir.entry(b"link")?.symlink(b"bin")?;
    dir.close()
}

#[test]
fn sync_through_trait_objects() {
    let mut nar = Vec::new();
    write_small_tree(&mut nar).unwrap();

    let mut input: &[u8] = &nar;
    let input: &mut dyn BufRead = &mut input;
    let reader::Node::Directory(mut dir) = reader::open(input).unwrap() else {
        panic!("root is not a directory");
    };
    let mut seen = Vec::new();
    while let Some(entry) = dir.next().unwrap() {
        let name = String::from_utf8(entry.name.to_vec()).unwrap();
        match entry.node {
            reader::Node::File {
                executable,
                mut reader,
            } => {
                let mut contents = String::new();
                reader.read_to_string(&mut contents).unwrap();
                seen.push(format!("{name}: file {executable} {contents:?}"));
            }
            reader::Node::Symlink { target } => {
                seen.push(format!("{name}: -> {}", String::from_utf8(target).unwrap()));
            }
            reader::Node::Directory(_) => panic!("unexpected directory {name}"),
        }
    }
    assert_eq!(seen, ["bin: file true \"#!\\n\"", "link: -> bin"]);
}

#[test]
fn errors_carry_their_cause() {
    let mut nar = Vec::new();
    let mut dir = writer::open(&mut nar).unwrap().directory().unwrap();
    let err = dir.entry(b"..").map(drop).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(
        err.get_ref()
            .and_then(|e| e.downcast_ref::<writer::Error>()),
        Some(&writer::Error::Name(
            nix_compat::nar::rules::NameError::DotDot
        ))
    );

    let err = reader::open(&mut &b"\x0d\0\0\0\0\0\0\0nix-archive-2"[..]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}

#[cfg(feature = "async")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_futures_are_send() {
    use tokio::io::AsyncReadExt;

    let mut nar = Vec::new();
    write_small_tree(&mut nar).unwrap();
    let copy = tokio::spawn(async move {
        let mut out = Vec::new();
        let mut input = &nar[..];
        let reader::r#async::Node::Directory(mut from) =
            reader::r#async::open(&mut input).await.unwrap()
        else {
            panic!("root is not a directory");
        };
        let mut to = writer::r#async::open(&mut out)
            .await
            .unwrap()
            .directory()
            .await
            .unwrap();
        while let Some(entry) = from.next().await.unwrap() {
            let node = to.entry(entry.name).await.unwrap();
            match entry.node {
                reader::r#async::Node::File {
                    executable,
                    mut reader,
                } => {
                    let mut contents = Vec::new();
                    reader.read_to_end(&mut contents).await.unwrap();
                    let len = contents.len() as u64;
                    node.file(executable, len, &mut &contents[..])
                        .await
                        .unwrap();
                }
                reader::r#async::Node::Symlink { target } => node.symlink(&target).await.unwrap(),
                reader::r#async::Node::Directory(_) => panic!("unexpected directory"),
            }
        }
        to.close().await.unwrap();
        (nar, out)
    });
    let (nar, out) = copy.await.unwrap();
    assert_eq!(out, nar);
}
