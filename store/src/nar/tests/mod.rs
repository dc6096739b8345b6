//! Rendering and ingesting NARs against CppNix's golden NARs, malformed
//! and hostile NARs, and broken castore trees.

mod fixtures;

use std::io;
use std::sync::Arc;

use bstr::BString;
use rstest::rstest;
use sha2::{Digest, Sha256};
use tvix_castore::blobservice::{self, BlobService, MemoryBlobService, PackBlobService};
use tvix_castore::directoryservice::{DirectoryService, MemoryDirectoryService};
use tvix_castore::{B3Digest, Directory, Node, PathComponent};

use self::fixtures::{Tree, fixture, golden, nix_sha256, upload, upload_deep};
use super::{
    IngestNarError, IngestedNar, MAX_DEPTH, NarSummary, RenderError, calculate_nar, ingest_nar,
    write_nar, write_nar_blocking,
};

/// A blocking writer whose bytes can be looked at after it is gone.
#[derive(Clone, Default)]
struct SharedVec(Arc<std::sync::Mutex<Vec<u8>>>);

impl io::Write for SharedVec {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Services {
    blobs: Arc<dyn BlobService>,
    directories: Arc<dyn DirectoryService>,
    /// Where a pack store lives, for as long as it does.
    _dir: Option<tempfile::TempDir>,
}

fn memory() -> Services {
    Services {
        blobs: Arc::new(MemoryBlobService::new()),
        directories: Arc::new(MemoryDirectoryService::new()),
        _dir: None,
    }
}

/// The blob services rendering is tested on: one read through blob
/// readers by a task, one read in bulk on blocking threads.
#[derive(Debug, Clone, Copy)]
enum Blobs {
    Memory,
    Pack,
}

fn services(blobs: Blobs) -> Services {
    match blobs {
        Blobs::Memory => memory(),
        Blobs::Pack => {
            let dir = tempfile::tempdir().expect("tempdir");
            Services {
                blobs: Arc::new(PackBlobService::open(dir.path()).expect("pack store")),
                directories: Arc::new(MemoryDirectoryService::new()),
                _dir: Some(dir),
            }
        }
    }
}

impl Services {
    async fn upload(&self, tree: &Tree) -> Node {
        upload(tree, &*self.blobs, &*self.directories).await
    }

    /// Renders `root` both to an async writer and to a blocking one
    /// (`export-nar`'s way), which must give the same bytes or error.
    async fn render(&self, root: &Node) -> Result<Vec<u8>, RenderError> {
        let mut nar = Vec::new();
        let rendered = write_nar(&mut nar, root, &self.blobs, &*self.directories).await;
        let shared = SharedVec::default();
        let blocking =
            write_nar_blocking(shared.clone(), root, &self.blobs, &*self.directories).await;
        match (&rendered, blocking) {
            (Ok(()), Ok(())) => assert!(nar == *shared.0.lock().expect("lock"), "blocking NAR"),
            (Err(error), Err(blocking)) => assert_eq!(error.to_string(), blocking.to_string()),
            (rendered, blocking) => panic!("{rendered:?} but blocking {blocking:?}"),
        }
        rendered.map(|()| nar)
    }

    async fn ingest(&self, nar: &[u8]) -> Result<IngestedNar, IngestNarError> {
        ingest_nar(&*self.blobs, &*self.directories, nar).await
    }
}

fn summary(nar: &[u8]) -> NarSummary {
    NarSummary {
        nar_size: nar.len() as u64,
        nar_sha256: Sha256::digest(nar).into(),
    }
}

/// The same tokens a NAR is made of, for hand-built NARs.
fn token(s: &[u8]) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(s);
    out.resize(out.len() + (8 - s.len() % 8) % 8, 0);
    out
}

fn tokens(ts: &[&[u8]]) -> Vec<u8> {
    ts.iter().flat_map(|t| token(t)).collect()
}

/// The NAR of `depth` directories nested in each other, each holding the
/// next as `a` (the tree of [upload_deep]), built by hand.
fn deep_nar(depth: usize) -> Vec<u8> {
    let mut nar = token(b"nix-archive-1");
    for _ in 1..depth {
        nar.extend(tokens(&[
            b"(",
            b"type",
            b"directory",
            b"entry",
            b"(",
            b"name",
            b"a",
            b"node",
        ]));
    }
    nar.extend(tokens(&[b"(", b"type", b"directory", b")"]));
    for _ in 1..depth {
        nar.extend(tokens(&[b")", b")"]));
    }
    nar
}

const FIXTURES: [&str; 9] = [
    "regular",
    "executable",
    "symlink",
    "empty-file",
    "empty-dir",
    "eight-bytes",
    "sixteen-bytes",
    "nul-bytes",
    "nested",
];

/// Every fixture tree renders to CppNix's NAR byte for byte, and its
/// calculated size and hash are those of that NAR (the hash as `nix-hash`
/// printed it).
#[rstest]
#[tokio::test]
async fn render_golden(#[values(Blobs::Memory, Blobs::Pack)] blobs: Blobs) {
    for name in FIXTURES {
        let services = services(blobs);
        let root = services.upload(&fixture(name)).await;
        let expected = golden(name);
        assert_eq!(
            expected,
            services.render(&root).await.expect(name),
            "{name}"
        );
        assert_eq!(
            NarSummary {
                nar_size: expected.len() as u64,
                nar_sha256: nix_sha256(name),
            },
            calculate_nar(&root, &services.blobs, &*services.directories)
                .await
                .expect(name),
            "{name}"
        );
    }
}

/// Every golden NAR ingests to the fixture tree, with its size and hash,
/// and renders back to itself.
#[tokio::test]
async fn ingest_golden() {
    for name in FIXTURES {
        let expected_root = memory().upload(&fixture(name)).await;
        let services = memory();
        let nar = golden(name);
        let ingested = services.ingest(&nar).await.expect(name);
        assert_eq!(
            IngestedNar {
                node: expected_root,
                nar: NarSummary {
                    nar_size: nar.len() as u64,
                    nar_sha256: nix_sha256(name),
                },
            },
            ingested,
            "{name}"
        );
        assert_eq!(nar, services.render(&ingested.node).await.expect(name));
    }
}

/// A file larger than any buffer, in a blob service that splits blobs into
/// chunks, goes through both directions unchanged.
#[rstest]
#[tokio::test]
async fn large_file_chunked_blobs(#[values("objectstore+memory://", "pack")] chunking: &str
) {
    let contents: Vec<u8> = (0..5 * 1024 * 1024 + 3)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let tree = Tree::Directory(vec![(
        b"big",
        Tree::File {
            contents,
            executable: true,
        },
    )]);
    let reference = memory();
    let nar = reference
        .render(&reference.upload(&tree).await)
        .await
        .expect("render");

    let services = match chunking {
        "pack" => services(Blobs::Pack),
        addr => Services {
            blobs: blobservice::from_addr(addr).await.expect("object store"),
            directories: Arc::new(MemoryDirectoryService::new()),
            _dir: None,
        },
    };
    let ingested = services.ingest(&nar).await.expect("ingest");
    assert_eq!(summary(&nar), ingested.nar);
    assert_eq!(nar, services.render(&ingested.node).await.expect("render"));
}

/// Directories nested [MAX_DEPTH] deep render and ingest; one more level
/// is refused in both directions (before the stack could run out).
#[rstest]
#[tokio::test]
async fn depth_limit(#[values(Blobs::Memory, Blobs::Pack)] blobs: Blobs) {
    let services = services(blobs);
    let deepest = upload_deep(MAX_DEPTH, &*services.directories).await;
    let nar = services.render(&deepest).await.expect("render");
    assert_eq!(deep_nar(MAX_DEPTH), nar);
    assert_eq!(deepest, services.ingest(&nar).await.expect("ingest").node);

    let too_deep = upload_deep(MAX_DEPTH + 1, &*services.directories).await;
    let too_deep_path = BString::from(vec!["a"; MAX_DEPTH].join("/"));
    assert!(matches!(services.render(&too_deep).await,
            Err(RenderError::TooDeep { path, .. }) if path == too_deep_path),);
    let error = memory()
        .ingest(&deep_nar(MAX_DEPTH + 1))
        .await
        .expect_err("too deep");
    assert!(
        matches!(&error, IngestNarError::TooDeep(path)
            if path.as_bytes() == too_deep_path.as_slice()),
        "{error}"
    );
}

/// 62 tiny directories, each listing the one below twice, stand for 2^63
/// entries: refused before anything is walked or written, at once.
#[tokio::test]
async fn shared_subtree_expansion() {
    let services = memory();
    let mut putter = services.directories.put_multiple_start();
    let mut below = Directory::new();
    for _ in 0..62 {
        let node = Node::Directory {
            digest: below.digest(),
            size: below.size(),
        };
        putter.put(below).await.expect("put directory");
        below = Directory::try_from_iter(
            ["a", "b"].map(|name| (PathComponent::try_from(name).expect("name"), node.clone())),
        )
        .expect("valid directory");
    }
    let root = Node::Directory {
        digest: below.digest(),
        size: below.size(),
    };
    putter.put(below).await.expect("put directory");
    putter.close().await.expect("close putter");

    let started = std::time::Instant::now();
    let error = tokio::time::timeout(std::time::Duration::from_secs(5), services.render(&root))
        .await
        .expect("refused within 5 s")
        .expect_err("too many entries");
    assert!(
        matches!(error, RenderError::TooManyEntries { entries, .. } if entries == (1 << 63) - 1),
        "{error}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let error = calculate_nar(&root, &services.blobs, &*services.directories)
        .await
        .expect_err("too many entries");
    assert!(
        matches!(error, RenderError::TooManyEntries { .. }),
        "{error}"
    );
}

/// A NAR cut short anywhere is refused, and its directories are not
/// stored.
#[tokio::test]
async fn truncated() {
    let nar = golden("nested");
    let root = memory().upload(&fixture("nested")).await;
    let Node::Directory { digest, .. } = root else {
        panic!("nested is a directory");
    };
    for len in 0..nar.len() {
        let services = memory();
        let error = services.ingest(&nar[..len]).await.expect_err("cut short");
        assert!(
            matches!(&error, IngestNarError::Read { offset, source }
                if *offset <= len as u64 && source.kind() == io::ErrorKind::UnexpectedEof),
            "cut at {len}: {error}"
        );
        assert_eq!(None, services.directories.get(&digest).await.expect("get"));
    }
}

/// Bytes after the NAR are refused, at the offset where the NAR ended.
#[tokio::test]
async fn trailing_data() {
    let mut nar = golden("nested");
    let len = nar.len() as u64;
    nar.push(0);
    let error = memory().ingest(&nar).await.expect_err("trailing byte");
    assert!(
        matches!(error, IngestNarError::TrailingData(offset) if offset == len),
        "{error}"
    );
}

/// Malformed NARs are refused as soon as the reader has read the bytes
/// that make them so, naming the cause and the offset where the reader
/// stopped (it reads token runs such as the header, `"nix-archive-1" "("
/// "type"`, in one go).
#[rstest]
#[case::bad_magic(
    tokens(&[b"nix-archive-2", b"(", b"type", b"regular", b"contents", b""]),
    r#"reading the NAR, at byte 56: malformed NAR: expected the header "nix-archive-1" "(" "type""#
)]
#[case::unknown_type(
    tokens(&[b"nix-archive-1", b"(", b"type", b"fifo", b")"]),
    r#"reading the NAR, at byte 80: malformed NAR: expected a node type: "regular" (optionally "executable" ""), "contents"; "symlink" "target"; or "directory""#
)]
#[case::unsorted_entries(
    tokens(&[
        b"nix-archive-1", b"(", b"type", b"directory",
        b"entry", b"(", b"name", b"b", b"node", b"(", b"type", b"symlink", b"target", b"x", b")", b")",
        b"entry", b"(", b"name", b"a", b"node", b"(", b"type", b"symlink", b"target", b"x", b")", b")",
        b")", b")",
    ]),
    r#"reading the NAR, at byte 336: malformed NAR: entry name "a" does not sort after the previous entry "b""#
)]
#[case::name_with_slash(
    tokens(&[
        b"nix-archive-1", b"(", b"type", b"directory",
        b"entry", b"(", b"name", b"a/b", b"node", b"(", b"type", b"regular", b"contents", b"", b")", b")",
        b")",
    ]),
    r#"reading the NAR, at byte 144: malformed NAR: entry name "a/b" contains '/'"#
)]
#[case::nonzero_padding(
    {
        let mut nar = tokens(&[b"nix-archive-1", b"(", b"type", b"regular", b"contents", b"abc", b")"]);
        // The first padding byte after "abc"; padding and ")" are read
        // together.
        nar[99] = 1;
        nar
    },
    "reading the NAR, at byte 120: malformed NAR: non-zero padding after the file contents"
)]
#[tokio::test]
async fn malformed(#[case] nar: Vec<u8>, #[case] expected: &str) {
    let error = memory().ingest(&nar).await.expect_err("malformed");
    assert!(
        matches!(&error, IngestNarError::Read { source, .. } if source.kind() == io::ErrorKind::InvalidData),
        "{error}"
    );
    assert_eq!(expected, error.to_string());
}

/// Trees whose data is missing or inconsistent fail to render, naming the
/// path at fault.
#[rstest]
#[tokio::test]
async fn render_broken_trees(#[values(Blobs::Memory, Blobs::Pack)] blobs: Blobs) {
    let services = services(blobs);
    let missing_blob = B3Digest::of(b"never uploaded");
    let file = |digest, size| Node::File {
        digest,
        size,
        executable: false,
    };
    let stored = Node::Symlink {
        target: "target".try_into().expect("valid target"),
    };
    let directory = |entries: Vec<(&str, Node)>| {
        Directory::try_from_iter(
            entries
                .into_iter()
                .map(|(name, node)| (PathComponent::try_from(name).expect("name"), node)),
        )
        .expect("valid directory")
    };

    // A blob the blob service does not have.
    let root = directory(vec![("x", file(missing_blob, 3)), ("y", stored)]);
    let root_node = Node::Directory {
        digest: root.digest(),
        size: root.size(),
    };
    services.directories.put(root).await.expect("put");
    let error = services.render(&root_node).await.expect_err("missing blob");
    assert!(
        matches!(&error, RenderError::BlobNotFound { path, digest }
            if path == "x" && *digest == missing_blob),
        "{error}"
    );

    // A blob shorter and longer than the tree says.
    let Node::File { digest, .. } = services.upload(&fixture("regular")).await else {
        panic!("regular is a file");
    };
    for size in [11, 13] {
        let error = services
            .render(&file(digest, size))
            .await
            .expect_err("size mismatch");
        assert!(
            matches!(&error, RenderError::BlobSizeMismatch { path, size: s, .. }
                if path.is_empty() && *s == size),
            "{error}"
        );
    }

    // A directory the directory service does not have.
    let missing_directory = directory(vec![("f", file(digest, 12))]);
    let error = services
        .render(&Node::Directory {
            digest: missing_directory.digest(),
            size: 1,
        })
        .await
        .expect_err("missing directory");
    assert!(
        matches!(&error, RenderError::DirectoryNotFound { path, digest }
            if path.is_empty() && *digest == missing_directory.digest()),
        "{error}"
    );
}

/// Trees imported from the host with castore's importer render to what
/// `nix-store --dump` writes for them. Skipped without Nix.
#[tokio::test]
async fn differential_nix_store_dump() {
    if std::process::Command::new("nix-store")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipping: nix-store is not on PATH");
        return;
    }
    let roots = [
        concat!(env!("CARGO_MANIFEST_DIR"), "/../nix-compat/testdata"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
    ];
    for root in roots {
        let services = memory();
        let node = tvix_castore::import::fs::ingest_path(
            services.blobs.clone(),
            &*services.directories,
            root,
        )
        .await
        .expect("import");
        let dumped = std::process::Command::new("nix-store")
            .args(["--dump", root])
            .output()
            .expect("nix-store --dump");
        assert!(dumped.status.success(), "nix-store --dump {root} failed");
        assert_eq!(
            dumped.stdout,
            services.render(&node).await.expect("render"),
            "{root}"
        );
    }
}
