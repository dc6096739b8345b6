//! [CastoreFs] mounted for real on a temporary directory, over trees from a
//! fixed map of root nodes, checked with plain file system calls.
//!
//! Where `/dev/fuse` is absent each test says so on stderr and passes
//! (counting the skips); under `CI=true` the absence is a failure.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use rstest::rstest;

use super::{CastoreFs, FUSE_DEVICE, FuseDaemon, MountError};
use crate::blobservice::{self, BlobService};
use crate::directoryservice::{DirectoryService, MemoryDirectoryService};
use crate::fixtures::name;
use crate::{Directory, Node, PathComponent};

static SKIPPED: AtomicUsize = AtomicUsize::new(0);

/// Whether FUSE tests can run; if not, says so (failing under `CI=true`).
fn fuse_available(test: &str) -> bool {
    if Path::new(FUSE_DEVICE).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {FUSE_DEVICE} is absent, and CI=true requires the FUSE tests to run"
    );
    let skipped = SKIPPED.fetch_add(1, Ordering::Relaxed) + 1;
    eprintln!("skipped {test}: {FUSE_DEVICE} is absent ({skipped} FUSE tests skipped so far)");
    false
}

/// Trees put into fresh services, mounted on a temporary directory.
struct Mount {
    daemon: Option<FuseDaemon>,
    fs: Arc<CastoreFs>,
    dir: tempfile::TempDir,
    /// Runs the services the mounted file system calls; dropped last.
    _runtime: tokio::runtime::Runtime,
    /// Holds a pack store's files.
    _store: tempfile::TempDir,
}

impl Mount {
    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            daemon.unmount().expect("unmount");
        }
    }
}

/// Builds trees from blobs and directories, then mounts them.
struct Builder {
    runtime: tokio::runtime::Runtime,
    blob_service: Arc<dyn BlobService>,
    directory_service: Arc<dyn DirectoryService>,
    roots: BTreeMap<PathComponent, Node>,
    store: tempfile::TempDir,
}

/// The blob services files are read from: through the service's reader
/// (an in-memory object store) or from the local files of a pack store.
#[derive(Debug, Clone, Copy)]
enum Blobs {
    ObjectStore,
    Pack,
}

impl Builder {
    /// Blobs in an in-memory object store; large ones are chunked.
    fn new() -> Self {
        Self::with(Blobs::ObjectStore)
    }

    fn with(blobs: Blobs) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let store = tempfile::tempdir().expect("tempdir");
        let addr = match blobs {
            Blobs::ObjectStore => "objectstore+memory://".to_owned(),
            Blobs::Pack => format!("pack://{}", store.path().display()),
        };
        let blob_service = runtime
            .block_on(blobservice::from_addr(&addr))
            .expect("blob service");
        Self {
            runtime,
            blob_service,
            directory_service: Arc::new(MemoryDirectoryService::new()),
            roots: BTreeMap::new(),
            store,
        }
    }

    fn file(&self, contents: &[u8], executable: bool) -> Node {
        let digest = self
            .runtime
            .block_on(self.blob_service.put(Bytes::copy_from_slice(contents)))
            .expect("put blob");
        Node::File {
            digest,
            size: contents.len() as u64,
            executable,
        }
    }

    /// Stores `directories`, leaves first; returns the node of the last.
    fn directories(&self, directories: Vec<Directory>) -> Node {
        let last = directories.last().expect("a directory").clone();
        self.runtime.block_on(async {
            let mut putter = self.directory_service.put_multiple_start();
            for directory in directories {
                putter.put(directory).await.expect("put directory");
            }
            putter.close().await.expect("close putter");
        });
        Node::Directory {
            digest: last.digest(),
            size: last.size(),
        }
    }

    fn root(&mut self, root_name: &str, node: Node) {
        self.roots.insert(name(root_name), node);
    }

    fn mount(self, list_root: bool) -> Mount {
        // A pack store's blobs are read from its files once committed.
        self.runtime
            .block_on(self.blob_service.sync())
            .expect("sync");
        let fs = Arc::new(CastoreFs::new(
            self.blob_service,
            self.directory_service,
            Arc::new(self.roots),
            list_root,
            self.runtime.handle().clone(),
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let daemon = FuseDaemon::mount(fs.clone(), dir.path(), 4, false).expect("mount");
        Mount {
            daemon: Some(daemon),
            fs,
            dir,
            _runtime: self.runtime,
            _store: self.store,
        }
    }
}

fn directory(entries: Vec<(&str, Node)>) -> Directory {
    Directory::try_from_iter(entries.into_iter().map(|(n, node)| (name(n), node)))
        .expect("valid directory")
}

fn symlink(target: &str) -> Node {
    Node::Symlink {
        target: target.try_into().expect("valid target"),
    }
}

/// Deterministic bytes that do not repeat, so every chunk differs.
fn contents(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// A small tree of every kind of node, with twin subdirectories.
fn small_tree(builder: &mut Builder) {
    let hello = builder.file(b"hello\n", false);
    let script = builder.file(b"#!/bin/sh\n", true);
    let empty = Directory::new();
    let twins = directory(vec![
        ("a", builder.directories(vec![empty.clone()])),
        ("b", builder.directories(vec![empty.clone()])),
        ("same1", hello.clone()),
        ("same2", hello.clone()),
    ]);
    let tree = directory(vec![
        ("hello.txt", hello.clone()),
        ("run", script),
        ("link", symlink("hello.txt")),
        (
            "twins",
            Node::Directory {
                digest: twins.digest(),
                size: twins.size(),
            },
        ),
    ]);
    let node = builder.directories(vec![empty, twins, tree]);
    builder.root("tree", node);
    builder.root("flat", hello);
    builder.root("dangling", symlink("/nix/store/nowhere"));
}

#[rstest]
#[case::object_store(Blobs::ObjectStore)]
#[case::pack(Blobs::Pack)]
fn tree_reads_back_with_modes_and_mtime(#[case] blobs: Blobs) {
    if !fuse_available("tree_reads_back_with_modes_and_mtime") {
        return;
    }
    let mut builder = Builder::with(blobs);
    small_tree(&mut builder);
    let mount = builder.mount(true);

    assert_eq!(vec!["dangling", "flat", "tree"], names(mount.dir.path()));
    assert_eq!(
        vec!["hello.txt", "link", "run", "twins"],
        names(&mount.path("tree"))
    );
    assert_eq!(
        vec!["a", "b", "same1", "same2"],
        names(&mount.path("tree/twins"))
    );
    assert_eq!(
        b"hello\n",
        fs::read(mount.path("tree/hello.txt")).unwrap().as_slice()
    );
    assert_eq!(b"hello\n", fs::read(mount.path("flat")).unwrap().as_slice());
    assert_eq!(
        b"#!/bin/sh\n",
        fs::read(mount.path("tree/run")).unwrap().as_slice()
    );
    assert_eq!(
        b"hello\n",
        fs::read(mount.path("tree/link")).unwrap().as_slice()
    );
    assert_eq!(
        Path::new("hello.txt"),
        fs::read_link(mount.path("tree/link")).unwrap()
    );
    assert_eq!(
        Path::new("/nix/store/nowhere"),
        fs::read_link(mount.path("dangling")).unwrap()
    );

    for (path, mode, size) in [
        ("tree", 0o040555, 8),
        ("tree/hello.txt", 0o100444, 6),
        ("tree/run", 0o100555, 10),
        ("tree/link", 0o120777, 9),
        ("tree/twins/a", 0o040555, 0),
        ("tree/twins/b", 0o040555, 0),
        ("flat", 0o100444, 6),
    ] {
        let metadata = fs::symlink_metadata(mount.path(path)).unwrap();
        assert_eq!(
            (mode, size, 1),
            (metadata.mode(), metadata.size(), metadata.mtime()),
            "{path}"
        );
    }
    // Identical files are one inode; identical directories are not, nor
    // entries of the top directory, which are one inode per name.
    let inode = |path| fs::metadata(mount.path(path)).unwrap().ino();
    assert_eq!(inode("tree/twins/same1"), inode("tree/twins/same2"));
    assert_eq!(inode("tree/hello.txt"), inode("tree/twins/same1"));
    assert_ne!(inode("tree/hello.txt"), inode("flat"));
    assert_ne!(inode("tree/twins/a"), inode("tree/twins/b"));
    drop(mount);
}

#[test]
fn unlisted_root_still_looks_up_names() {
    if !fuse_available("unlisted_root_still_looks_up_names") {
        return;
    }
    let mut builder = Builder::new();
    small_tree(&mut builder);
    let mount = builder.mount(false);
    assert!(names(mount.dir.path()).is_empty());
    assert_eq!(b"hello\n", fs::read(mount.path("flat")).unwrap().as_slice());
    assert_eq!(
        vec!["hello.txt", "link", "run", "twins"],
        names(&mount.path("tree"))
    );
}

#[test]
fn missing_names_writes_and_xattrs() {
    if !fuse_available("missing_names_writes_and_xattrs") {
        return;
    }
    let mut builder = Builder::new();
    small_tree(&mut builder);
    let mount = builder.mount(true);

    for missing in ["nothing", "tree/nothing", "tree/twins/a/nothing"] {
        let error = fs::metadata(mount.path(missing)).unwrap_err();
        assert_eq!(ErrorKind::NotFound, error.kind(), "{missing}");
    }
    assert_eq!(
        Some(libc::ENOTDIR),
        fs::metadata(mount.path("tree/hello.txt/x"))
            .unwrap_err()
            .raw_os_error()
    );

    let erofs = Some(libc::EROFS);
    let write = |result: std::io::Result<()>| result.unwrap_err().raw_os_error();
    assert_eq!(erofs, write(fs::write(mount.path("new"), b"x")));
    assert_eq!(erofs, write(fs::write(mount.path("tree/hello.txt"), b"x")));
    assert_eq!(erofs, write(fs::create_dir(mount.path("tree/new"))));
    assert_eq!(erofs, write(fs::remove_file(mount.path("tree/hello.txt"))));
    assert_eq!(erofs, write(fs::remove_dir(mount.path("tree/twins/a"))));
    assert_eq!(
        erofs,
        write(fs::rename(mount.path("tree/run"), mount.path("tree/run2")))
    );
    assert_eq!(
        erofs,
        write(std::os::unix::fs::symlink("x", mount.path("tree/l2")))
    );
    assert_eq!(
        erofs,
        write(fs::set_permissions(
            mount.path("tree/run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o777)
        ))
    );
    let opened = fs::OpenOptions::new()
        .append(true)
        .open(mount.path("tree/hello.txt"));
    assert_eq!(erofs, opened.err().and_then(|e| e.raw_os_error()));

    let path = CString::new(mount.path("tree/hello.txt").as_os_str().as_bytes()).unwrap();
    let attr = CString::new("user.test").unwrap();
    let mut buffer = [0u8; 64];
    // SAFETY: both strings are NUL-terminated and the buffer is as long as
    // its stated size.
    let result = unsafe {
        libc::getxattr(
            path.as_ptr(),
            attr.as_ptr(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    assert_eq!(-1, result);
    assert_eq!(
        Some(libc::EOPNOTSUPP),
        std::io::Error::last_os_error().raw_os_error()
    );

    // SAFETY: statvfs is plain data, filled in by the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let mount_path = CString::new(mount.dir.path().as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path and a valid pointer to the struct.
    assert_eq!(0, unsafe { libc::statvfs(mount_path.as_ptr(), &mut st) });
    assert_eq!(crate::MAX_NAME_LEN as u64, st.f_namemax);
    assert_ne!(0, st.f_flag & libc::ST_RDONLY);
}

#[test]
fn directory_of_100k_entries_lists_each_once() {
    if !fuse_available("directory_of_100k_entries_lists_each_once") {
        return;
    }
    let mut builder = Builder::new();
    let file = builder.file(b"x", false);
    let expected: Vec<String> = (0..100_000).map(|i| format!("entry-{i:06}")).collect();
    let big = Directory::try_from_iter(expected.iter().map(|n| (name(n), file.clone())))
        .expect("directory");
    let node = builder.directories(vec![big]);
    builder.root("big", node);
    let mount = builder.mount(true);
    // Twice: the second listing may come from the kernel's cache.
    assert_eq!(expected, names(&mount.path("big")));
    assert_eq!(expected, names(&mount.path("big")));
    assert_eq!(
        b"x",
        fs::read(mount.path("big/entry-099999")).unwrap().as_slice()
    );
}

#[rstest]
#[case::object_store(Blobs::ObjectStore)]
#[case::pack(Blobs::Pack)]
fn seeking_and_concurrent_reads_of_chunked_blobs(#[case] blobs: Blobs) {
    if !fuse_available("seeking_and_concurrent_reads_of_chunked_blobs") {
        return;
    }
    let mut builder = Builder::with(blobs);
    let big = contents(9 * 1024 * 1024 + 17);
    let other = contents(3 * 1024 * 1024 + 5)
        .into_iter()
        .map(|b| b ^ 0x5a)
        .collect::<Vec<_>>();
    let (big_node, other_node) = (builder.file(&big, false), builder.file(&other, true));
    let chunks = builder
        .runtime
        .block_on(builder.blob_service.chunks(match &big_node {
            Node::File { digest, .. } => digest,
            _ => unreachable!("a file node"),
        }))
        .expect("chunks")
        .expect("blob exists");
    assert!(chunks.len() > 4, "only {} chunks", chunks.len());
    builder.root("big", big_node);
    builder.root("other", other_node);
    let mount = builder.mount(true);

    let file = fs::File::open(mount.path("big")).unwrap();
    let mut offsets: Vec<u64> = (0..40)
        .map(|i| (i * 7_919_777) % big.len() as u64)
        .collect();
    offsets.extend([big.len() as u64 - 3, 0, 4 * 1024 * 1024]);
    for offset in offsets {
        let mut buffer = vec![0u8; 100_000];
        let n = file.read_at(&mut buffer, offset).unwrap();
        let start = offset as usize;
        let end = (start + 100_000).min(big.len());
        assert_eq!(&big[start..end], &buffer[..n], "at {offset}");
    }
    let mut buffer = [0u8; 8];
    assert_eq!(0, file.read_at(&mut buffer, big.len() as u64 + 10).unwrap());

    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..6)
            .map(|i| {
                let (path, expected) = if i % 2 == 0 {
                    (mount.path("big"), &big)
                } else {
                    (mount.path("other"), &other)
                };
                scope.spawn(move || {
                    let mut data = Vec::new();
                    fs::File::open(path)
                        .unwrap()
                        .read_to_end(&mut data)
                        .unwrap();
                    assert!(data == *expected, "reader {i} read other bytes");
                })
            })
            .collect();
        for reader in readers {
            reader.join().expect("reader");
        }
    });
}

#[test]
fn mounting_twice_on_one_place_is_refused() {
    if !fuse_available("mounting_twice_on_one_place_is_refused") {
        return;
    }
    let mut builder = Builder::new();
    small_tree(&mut builder);
    let mount = builder.mount(true);
    let second = Builder::new();
    let fs = CastoreFs::new(
        second.blob_service.clone(),
        second.directory_service.clone(),
        Arc::new(BTreeMap::new()),
        true,
        second.runtime.handle().clone(),
    );
    let error = FuseDaemon::mount(fs, mount.dir.path(), 1, false)
        .err()
        .expect("second mount refused");
    assert!(matches!(error, MountError::Busy(_)), "{error}");

    let path = mount.dir.path().canonicalize().unwrap();
    drop(mount);
    assert!(!super::is_mount_point(&path), "still mounted after unmount");
}

/// A byte flipped in a pack file: the chunk holding it is refused (EIO)
/// however it is read, the other chunks of the file still read.
#[test]
fn corrupt_chunk_in_a_pack_is_an_io_error() {
    if !fuse_available("corrupt_chunk_in_a_pack_is_an_io_error") {
        return;
    }
    let mut builder = Builder::with(Blobs::Pack);
    let big = contents(4 * 1024 * 1024);
    let node = builder.file(&big, false);
    builder.root("big", node.clone());
    builder
        .runtime
        .block_on(builder.blob_service.sync())
        .expect("sync");
    // Chunks are appended as they are cut, not in file order: find where
    // a chunk in the middle of the file lies in the (only) pack.
    let Node::File { digest, .. } = &node else {
        unreachable!("a file node")
    };
    let chunks = builder
        .blob_service
        .locate(digest)
        .expect("locate")
        .expect("in the pack");
    assert!(chunks.len() > 2, "only {} chunks", chunks.len());
    let middle = chunks.len() / 2;
    let corrupt_at: u64 = chunks[..middle].iter().map(|chunk| chunk.len).sum();
    let pack = builder.store.path().join("packs/00000000.pack");
    let file = fs::OpenOptions::new().write(true).open(&pack).unwrap();
    file.write_all_at(&[big[corrupt_at as usize] ^ 1], chunks[middle].offset)
        .unwrap();
    drop(file);
    let mount = builder.mount(true);

    let file = fs::File::open(mount.path("big")).unwrap();
    let mut buffer = vec![0u8; 4096];
    for _ in 0..2 {
        let error = file.read_at(&mut buffer, corrupt_at).unwrap_err();
        assert_eq!(Some(libc::EIO), error.raw_os_error());
    }
    let n = file.read_at(&mut buffer, 0).unwrap();
    assert_eq!(&big[..n], &buffer[..n]);
    let error = fs::read(mount.path("big")).unwrap_err();
    assert_eq!(Some(libc::EIO), error.raw_os_error());
}

/// The kernel forgets inodes when it drops their dentries; the table lets
/// them go too.
#[test]
fn forgotten_inodes_leave_the_table() {
    if !fuse_available("forgotten_inodes_leave_the_table") {
        return;
    }
    let mut builder = Builder::new();
    let names: Vec<String> = (0..2000).map(|i| format!("f{i:04}")).collect();
    let entries = names
        .iter()
        .enumerate()
        .map(|(i, n)| (name(n), builder.file(n.as_bytes(), i % 2 == 0)))
        .collect::<Vec<_>>();
    let node = builder.directories(vec![Directory::try_from_iter(entries).expect("directory")]);
    builder.root("dir", node);
    let mount = builder.mount(true);
    for n in &names {
        let path = mount.path(&format!("dir/{n}"));
        assert_eq!(n.as_bytes(), fs::read(path).unwrap().as_slice());
    }
    let held = mount.fs.inode_count();
    assert!(held > 2000, "only {held} inodes after reading 2000 files");

    // Drops every unused dentry and inode of the system (not page cache).
    if let Err(e) = fs::write("/proc/sys/vm/drop_caches", "2") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true runs as root, yet dropping dentries failed: {e}"
        );
        eprintln!("skipped the rest of forgotten_inodes_leave_the_table: {e}");
        return;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while mount.fs.inode_count() > 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {held} inodes still held after the kernel dropped them",
            mount.fs.inode_count()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Names are looked up afresh.
    assert_eq!(
        b"f0007",
        fs::read(mount.path("dir/f0007")).unwrap().as_slice()
    );
}

/// `umount` from outside ends the workers, which [FuseDaemon::ended]
/// reports; unmounting afterwards only cleans up.
#[test]
fn unmounting_from_outside_ends_the_daemon() {
    if !fuse_available("unmounting_from_outside_ends_the_daemon") {
        return;
    }
    let mut builder = Builder::new();
    small_tree(&mut builder);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut mount = builder.mount(true);
    let daemon = mount.daemon.take().expect("mounted");
    let ended = daemon.ended();
    let status = std::process::Command::new("umount")
        .arg(mount.dir.path())
        .status()
        .expect("run umount");
    assert!(status.success(), "umount failed");
    runtime
        .block_on(async { tokio::time::timeout(std::time::Duration::from_secs(10), ended).await })
        .expect("workers end after umount");
    daemon.unmount().expect("cleaning up after umount");
    assert!(!super::is_mount_point(
        &mount.dir.path().canonicalize().unwrap()
    ));
}
