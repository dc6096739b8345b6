//! Tests of [ingest_entries] and of the filesystem importer, plus the
//! acceptance tests shared by both producers.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use rstest::rstest;
use tempfile::TempDir;

use super::archive::ingest_archive;
use super::fs::{self, ingest_path};
use super::{IngestionEntry, IngestionError, ingest_entries};
use crate::blobservice::{self, BlobService, MemoryBlobService};
use crate::directoryservice::{DirectoryService, MemoryDirectoryService};
use crate::fixtures::{
    DIRECTORY_COMPLICATED, DIRECTORY_WITH_KEEP, EMPTY_BLOB_DIGEST, blob_contents, directory_node,
    file, name,
};
use crate::{B3Digest, Directory, Node, PathBuf};

fn path(s: &str) -> PathBuf {
    s.parse().expect("valid path")
}

fn regular(p: &str, digest: B3Digest, size: u64) -> IngestionEntry {
    IngestionEntry::Regular {
        path: path(p),
        digest,
        size,
        executable: false,
    }
}

fn dir(p: &str) -> IngestionEntry {
    IngestionEntry::Dir { path: path(p) }
}

fn symlink(p: &str, target: &str) -> IngestionEntry {
    IngestionEntry::Symlink {
        path: path(p),
        target: target.try_into().expect("valid target"),
    }
}

async fn ingest(
    directory_service: &MemoryDirectoryService,
    entries: Vec<IngestionEntry>,
) -> Result<Node, IngestionError<std::io::Error>> {
    ingest_entries(
        directory_service,
        futures::stream::iter(entries.into_iter().map(Ok)),
    )
    .await
}

#[tokio::test]
async fn ingest_entries_builds_directories() {
    let directory_service = MemoryDirectoryService::new();
    let entries = vec![
        regular("keep/.keep", *EMPTY_BLOB_DIGEST, 0),
        dir("keep"),
        regular(".keep", *EMPTY_BLOB_DIGEST, 0),
        symlink("aa", "/nix/store/somewhereelse"),
        dir(""),
    ];

    let root = ingest(&directory_service, entries).await.expect("ingest");

    assert_eq!(directory_node(&DIRECTORY_COMPLICATED), root);
    for directory in [&*DIRECTORY_COMPLICATED, &*DIRECTORY_WITH_KEEP] {
        assert_eq!(
            Some(directory),
            directory_service
                .get(&directory.digest())
                .await
                .expect("get")
                .as_ref()
        );
    }
}

#[rstest]
#[case::file(regular("", *EMPTY_BLOB_DIGEST, 0), file(*EMPTY_BLOB_DIGEST, 0))]
#[case::symlink(symlink("", "target"), crate::fixtures::symlink("target"))]
#[tokio::test]
async fn ingest_entries_single_node(#[case] entry: IngestionEntry, #[case] expected: Node) {
    let directory_service = MemoryDirectoryService::new();

    assert_eq!(
        expected,
        ingest(&directory_service, vec![entry])
            .await
            .expect("ingest")
    );
}

#[rstest]
#[case::empty(vec![], "entry stream ended before the root entry")]
#[case::no_root(vec![regular("a", *EMPTY_BLOB_DIGEST, 0)], "entry stream ended before the root entry")]
#[case::entry_after_root(
    vec![dir(""), regular("a", *EMPTY_BLOB_DIGEST, 0)],
    "entry a came after the root entry"
)]
#[case::missing_parent_entry(
    vec![regular("a/b", *EMPTY_BLOB_DIGEST, 0), dir("")],
    "entries below a are not followed by a directory entry for it"
)]
#[case::parent_before_child(
    vec![dir("a"), regular("a/b", *EMPTY_BLOB_DIGEST, 0), dir("")],
    "entries below a are not followed by a directory entry for it"
)]
#[case::duplicate_name(
    vec![regular("a", *EMPTY_BLOB_DIGEST, 0), symlink("a", "x"), dir("")],
    "cannot add entry a to its parent directory: duplicate entry name a"
)]
#[tokio::test]
async fn ingest_entries_rejects(#[case] entries: Vec<IngestionEntry>, #[case] message: &str) {
    let directory_service = MemoryDirectoryService::new();

    let error = ingest(&directory_service, entries)
        .await
        .expect_err("must be rejected");

    assert_eq!(message, error.to_string());
}

#[tokio::test]
async fn ingest_entries_passes_producer_errors_through() {
    let directory_service = MemoryDirectoryService::new();
    let entries = futures::stream::iter([
        Ok(regular("a", *EMPTY_BLOB_DIGEST, 0)),
        Err(std::io::Error::other("disk on fire")),
    ]);

    let error = ingest_entries(&directory_service, entries)
        .await
        .expect_err("must fail");

    assert!(matches!(error, IngestionError::Producer(_)));
    assert_eq!("disk on fire", error.to_string());
}

/// A tree with one of everything the castore stores: nested and empty
/// directories, an executable, an empty file, a file big enough to be
/// chunked, and symlinks (dangling, absolute, to a directory).
pub(crate) fn make_tree(parent: &std::path::Path) -> std::path::PathBuf {
    let root = parent.join("tree");
    std::fs::create_dir_all(root.join("a/b/c")).expect("mkdir");
    std::fs::create_dir_all(root.join("empty")).expect("mkdir");
    std::fs::write(root.join("a/b/c/deep"), b"deep down").expect("write");
    std::fs::write(root.join("a/empty-file"), b"").expect("write");
    std::fs::write(
        root.join("a/big"),
        blob_contents("big", 3 * 1024 * 1024 + 1),
    )
    .expect("write");
    std::fs::write(root.join("run.sh"), b"#!/bin/sh\necho hi\n").expect("write");
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    std::os::unix::fs::symlink("../nowhere", root.join("dangling")).expect("symlink");
    std::os::unix::fs::symlink("/etc/passwd", root.join("absolute")).expect("symlink");
    std::os::unix::fs::symlink("a/b", root.join("to-dir")).expect("symlink");
    root
}

/// The root node of [make_tree], built by hand.
fn expected_tree_root() -> Node {
    let c = Directory::try_from_iter([(name("deep"), file(B3Digest::of(b"deep down"), 9))])
        .expect("valid");
    let b = Directory::try_from_iter([(name("c"), directory_node(&c))]).expect("valid");
    let big = blob_contents("big", 3 * 1024 * 1024 + 1);
    let a = Directory::try_from_iter([
        (name("b"), directory_node(&b)),
        (name("empty-file"), file(*EMPTY_BLOB_DIGEST, 0)),
        (name("big"), file(B3Digest::of(&big), big.len() as u64)),
    ])
    .expect("valid");
    let script = b"#!/bin/sh\necho hi\n";
    let root = Directory::try_from_iter([
        (name("a"), directory_node(&a)),
        (name("empty"), directory_node(&Directory::new())),
        (
            name("run.sh"),
            Node::File {
                digest: B3Digest::of(script),
                size: script.len() as u64,
                executable: true,
            },
        ),
        (name("dangling"), crate::fixtures::symlink("../nowhere")),
        (name("absolute"), crate::fixtures::symlink("/etc/passwd")),
        (name("to-dir"), crate::fixtures::symlink("a/b")),
    ])
    .expect("valid");
    directory_node(&root)
}

#[tokio::test]
async fn ingest_path_tree() {
    let dir = TempDir::new().expect("temp dir");
    let tree = make_tree(dir.path());
    let blob_service = Arc::new(MemoryBlobService::new());
    let directory_service = MemoryDirectoryService::new();

    let root = ingest_path(blob_service.clone(), &directory_service, &tree)
        .await
        .expect("ingest");

    assert_eq!(expected_tree_root(), root);
    let script = B3Digest::of(b"#!/bin/sh\necho hi\n");
    assert!(blob_service.has(&script).await.expect("has"));
}

#[rstest]
#[case::file("run.sh", Node::File { digest: B3Digest::of(b"#!/bin/sh\necho hi\n"), size: 18, executable: true })]
#[case::symlink("to-dir", crate::fixtures::symlink("a/b"))]
#[tokio::test]
async fn ingest_path_single_node(#[case] below_tree: &str, #[case] expected: Node) {
    let dir = TempDir::new().expect("temp dir");
    let tree = make_tree(dir.path());

    let root = ingest_path(
        Arc::new(MemoryBlobService::new()),
        &MemoryDirectoryService::new(),
        tree.join(below_tree),
    )
    .await
    .expect("ingest");

    assert_eq!(expected, root);
}

/// Sockets and fifos have no castore counterpart: the error names the
/// path and the kind of file.
#[rstest]
#[case::socket("socket")]
#[case::fifo("fifo")]
#[tokio::test]
async fn ingest_path_rejects_special_files(#[case] kind: &str) {
    let dir = TempDir::new().expect("temp dir");
    let tree = make_tree(dir.path());
    let special = tree.join("a/b/special");
    let _listener = match kind {
        "socket" => Some(std::os::unix::net::UnixListener::bind(&special).expect("bind")),
        _ => {
            let status = std::process::Command::new("mkfifo")
                .arg(&special)
                .status()
                .expect("run mkfifo");
            assert!(status.success());
            None
        }
    };

    let error = ingest_path(
        Arc::new(MemoryBlobService::new()),
        &MemoryDirectoryService::new(),
        &tree,
    )
    .await
    .expect_err("must be rejected");

    assert!(matches!(
        &error,
        IngestionError::Producer(fs::Error::UnsupportedFileType { path, kind: found })
            if *path == special && *found == kind
    ));
    assert_eq!(
        format!("{special:?} is a {kind}, which the castore cannot store"),
        error.to_string()
    );
}

#[tokio::test]
async fn ingest_path_missing() {
    let dir = TempDir::new().expect("temp dir");

    let error = ingest_path(
        Arc::new(MemoryBlobService::new()),
        &MemoryDirectoryService::new(),
        dir.path().join("nope"),
    )
    .await
    .expect_err("must fail");

    assert!(matches!(
        error,
        IngestionError::Producer(fs::Error::Walk(_))
    ));
}

/// Writes `tree` as a tar archive with `tree`'s name as the top-level entry.
async fn tar_of(tree: &std::path::Path) -> Vec<u8> {
    let mut builder = tokio_tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder
        .append_dir_all("tree", tree)
        .await
        .expect("append tree");
    builder.into_inner().await.expect("finish tar")
}

/// Acceptance: a directory and a tarball of it import to the same root.
#[tokio::test]
async fn directory_and_tarball_give_the_same_root() {
    let dir = TempDir::new().expect("temp dir");
    let tree = make_tree(dir.path());
    let tarball = tar_of(&tree).await;

    let from_path = ingest_path(
        Arc::new(MemoryBlobService::new()),
        &MemoryDirectoryService::new(),
        &tree,
    )
    .await
    .expect("ingest path");
    let from_archive = ingest_archive(
        Arc::new(MemoryBlobService::new()),
        &MemoryDirectoryService::new(),
        tarball.as_slice(),
    )
    .await
    .expect("ingest archive");

    assert_eq!(expected_tree_root(), from_path);
    assert_eq!(from_path, from_archive);
}

/// Every file below `dir` with its size and modification time.
fn snapshot(dir: &std::path::Path) -> BTreeMap<std::path::PathBuf, (u64, std::time::SystemTime)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.expect("walk store"))
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let metadata = entry.metadata().expect("stat");
            (
                entry.path().to_owned(),
                (metadata.len(), metadata.modified().expect("mtime")),
            )
        })
        .collect()
}

/// Acceptance: importing the same tree twice into an object store writes
/// nothing the second time.
#[tokio::test]
async fn importing_twice_writes_nothing_new() {
    let dir = TempDir::new().expect("temp dir");
    let tree = make_tree(dir.path());
    let store = dir.path().join("store");
    let blob_service = blobservice::from_addr(&format!("objectstore+file://{}", store.display()))
        .await
        .expect("object store");
    let directory_service = MemoryDirectoryService::new();

    let first = ingest_path(blob_service.clone(), &directory_service, &tree)
        .await
        .expect("first import");
    let before = snapshot(&store);
    let second = ingest_path(blob_service, &directory_service, &tree)
        .await
        .expect("second import");

    assert_eq!(first, second);
    assert!(!before.is_empty());
    assert_eq!(before, snapshot(&store));
}

/// Acceptance: two 100 MiB files differing in one byte share at least 90 %
/// of their chunks.
#[tokio::test(flavor = "multi_thread")]
async fn near_identical_files_share_chunks() {
    const SIZE: usize = 100 * 1024 * 1024;
    let dir = TempDir::new().expect("temp dir");
    let mut contents = blob_contents("near_identical", SIZE);
    std::fs::write(dir.path().join("one"), &contents).expect("write");
    contents[SIZE / 2] ^= 0xff;
    std::fs::write(dir.path().join("two"), &contents).expect("write");
    drop(contents);
    let blob_service = blobservice::from_addr("objectstore+memory://")
        .await
        .expect("object store");
    let directory_service = MemoryDirectoryService::new();

    let mut chunk_sets = Vec::new();
    for name in ["one", "two"] {
        let node = ingest_path(
            blob_service.clone(),
            &directory_service,
            dir.path().join(name),
        )
        .await
        .expect("ingest");
        let Node::File { digest, .. } = node else {
            panic!("{name} must be a file, got {node:?}");
        };
        let chunks = blob_service
            .chunks(&digest)
            .await
            .expect("chunks")
            .expect("blob exists");
        chunk_sets.push(
            chunks
                .iter()
                .map(|chunk| chunk.digest)
                .collect::<HashSet<_>>(),
        );
    }

    let shared = chunk_sets[0].intersection(&chunk_sets[1]).count();
    let total = chunk_sets[0].len();
    assert!(total > 100, "only {total} chunks");
    assert!(
        shared * 10 >= total * 9,
        "only {shared} of {total} chunks shared"
    );
}
