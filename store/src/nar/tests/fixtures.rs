//! Trees to render and ingest: the trees behind nix-compat's golden NARs
//! (`nix-compat/testdata/nar/`, made by `generate.sh` there with CppNix),
//! described as data and uploaded to castore services.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use tvix_castore::blobservice::BlobService;
use tvix_castore::directoryservice::DirectoryService;
use tvix_castore::{Directory, Node, PathComponent, SymlinkTarget};

/// A file tree, as test data.
pub(super) enum Tree {
    File { contents: Vec<u8>, executable: bool },
    Symlink(&'static [u8]),
    Directory(Vec<(&'static [u8], Tree)>),
}

fn file(contents: &[u8]) -> Tree {
    Tree::File {
        contents: contents.to_vec(),
        executable: false,
    }
}

fn executable(contents: &[u8]) -> Tree {
    Tree::File {
        contents: contents.to_vec(),
        executable: true,
    }
}

/// The tree of nix-compat's golden NAR `name`; see its `generate.sh`.
pub(super) fn fixture(name: &str) -> Tree {
    match name {
        "regular" => file(b"Hello, NAR!\n"),
        "executable" => executable(b"#!/bin/sh\necho hi\n"),
        "symlink" => Tree::Symlink(b"target/of/link"),
        "empty-file" => file(b""),
        "empty-dir" => Tree::Directory(vec![]),
        "eight-bytes" => file(b"01234567"),
        "sixteen-bytes" => file(b"0123456789abcdef"),
        "nul-bytes" => file(b"\0\x01\0nul\0"),
        "nested" => Tree::Directory(vec![
            (b"B", file(b"upper\n")),
            (
                b"a",
                Tree::Directory(vec![
                    (b"empty", Tree::Directory(vec![])),
                    (b"link", Tree::Symlink(b"../B")),
                    (b"run", executable(b"#!/bin/sh\n")),
                ]),
            ),
            (b"a.b", file(b"dot\n")),
            (b"ab", Tree::Symlink(b"a.b")),
            (b"z", file(b"")),
            ("é".as_bytes(), file(b"accent\n")),
        ]),
        _ => panic!("no fixture named {name}"),
    }
}

/// Uploads `depth` directories nested in each other, each holding the
/// next as `a` (the innermost is empty), and returns the outermost's node.
/// Built in a loop: a recursive upload would need as deep a stack as the
/// code under test.
pub(super) async fn upload_deep(depth: usize, directory_service: &dyn DirectoryService) -> Node {
    let mut putter = directory_service.put_multiple_start();
    let mut directory = Directory::new();
    for _ in 1..depth {
        let node = directory_node(&directory);
        putter.put(directory).await.expect("put directory");
        directory = Directory::try_from_iter([(PathComponent::try_from("a").expect("name"), node)])
            .expect("valid directory");
    }
    let root = directory_node(&directory);
    putter.put(directory).await.expect("put directory");
    putter.close().await.expect("close putter");
    root
}

fn directory_node(directory: &Directory) -> Node {
    Node::Directory {
        digest: directory.digest(),
        size: directory.size(),
    }
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../nix-compat/testdata/nar")
}

/// The NAR CppNix made of a fixture.
pub(super) fn golden(name: &str) -> Vec<u8> {
    let path = testdata().join(format!("{name}.nar"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `nix-hash --type sha256` (hex) of each fixture, by name.
pub(super) fn nix_sha256(name: &str) -> [u8; 32] {
    let path = testdata().join("hashes.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let hashes: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            Some((fields.next()?, fields.next()?))
        })
        .collect();
    let hex = hashes.get(name).expect("fixture listed in hashes.txt");
    data_encoding::HEXLOWER
        .decode(hex.as_bytes())
        .expect("hex")
        .try_into()
        .expect("32 bytes")
}

/// Uploads `tree` (blobs, then its directories leaves first in one
/// closure) and returns its root node.
pub(super) async fn upload(
    tree: &Tree,
    blob_service: &dyn BlobService,
    directory_service: &dyn DirectoryService,
) -> Node {
    let mut directories = Vec::new();
    let root = collect(tree, blob_service, &mut directories).await;
    if !directories.is_empty() {
        let mut putter = directory_service.put_multiple_start();
        for directory in directories {
            putter.put(directory).await.expect("put directory");
        }
        putter.close().await.expect("close putter");
    }
    root
}

/// Uploads the blobs of `tree` and appends its directories, leaves first.
async fn collect(
    tree: &Tree,
    blob_service: &dyn BlobService,
    directories: &mut Vec<Directory>,
) -> Node {
    match tree {
        Tree::File {
            contents,
            executable,
        } => {
            let mut writer = blob_service.open_write().await;
            writer.write_all(contents).await.expect("write blob");
            Node::File {
                digest: writer.close().await.expect("close blob"),
                size: contents.len() as u64,
                executable: *executable,
            }
        }
        Tree::Symlink(target) => Node::Symlink {
            target: SymlinkTarget::try_from(*target).expect("valid target"),
        },
        Tree::Directory(entries) => {
            let mut directory = Directory::new();
            for (name, child) in entries {
                let node = Box::pin(collect(child, blob_service, directories)).await;
                directory
                    .add(PathComponent::try_from(*name).expect("valid name"), node)
                    .expect("valid entry");
            }
            let node = directory_node(&directory);
            directories.push(directory);
            node
        }
    }
}
