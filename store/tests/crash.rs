//! `kill -9` of `tvix-store import` in the middle of a large import leaves
//! a store in which every listed PathInfo is complete (its tree renders to
//! a NAR with exactly the recorded size and hash, and `export-nar` writes
//! that NAR) and every blob the pack index names reads back and verifies.
//! The store stays usable: the import then completes.
//!
//! Each kill must land while the import runs: the process is still running
//! when it is killed, dies by the signal, and the imported path is not yet
//! listed. The kill times are fractions of a complete import's time, so the
//! test holds on fast and slow machines alike.

mod common;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tvix_castore::blobservice::{BlobService, PackBlobService};
use tvix_store::nar::calculate_nar;
use tvix_store::utils::{ServiceAddrs, construct_services};

/// The signal `kill -9` sends.
const SIGKILL: i32 = 9;

/// Size of the generated tree.
const TREE_FILES: u64 = 32;
const FILE_SIZE: u64 = 8 * 1024 * 1024;

/// A tree of [TREE_FILES] files of distinct pseudo-random contents (so
/// chunking finds nothing to share) plus some small files.
fn large_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("small")).expect("mkdir");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for file in 0..TREE_FILES {
        let mut writer = std::io::BufWriter::new(
            std::fs::File::create(dir.join(format!("big-{file:02}"))).expect("create"),
        );
        for _ in 0..FILE_SIZE / 8 {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            writer.write_all(&state.to_le_bytes()).expect("write");
        }
        writer.flush().expect("flush");
    }
    for file in 0..200 {
        write(
            &dir.join(format!("small/{file}")),
            file.to_string().as_bytes(),
            0o644,
        );
    }
}

/// Reads back every blob the pack index names (the store checks each
/// against its digest); returns how many there are.
async fn check_indexed_blobs(store: &LocalStore) -> usize {
    let blobs = PackBlobService::open(store.dir.join("pack")).expect("open pack store");
    let digests = blobs.indexed_blobs().expect("list blobs");
    for digest in &digests {
        let mut reader = blobs
            .open_read(digest)
            .await
            .expect("open_read")
            .unwrap_or_else(|| panic!("indexed blob {digest} is missing"));
        reader
            .read_to_end(&mut Vec::new())
            .await
            .unwrap_or_else(|e| panic!("indexed blob {digest} reads back wrong: {e}"));
    }
    digests.len()
}

/// Checks every PathInfo the store lists and every blob it indexes; returns
/// how many PathInfos and blobs there are.
fn check_store(store: &LocalStore) -> (usize, usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (path_infos, blobs) = runtime.block_on(async {
        let addrs = ServiceAddrs::local(&store.dir).expect("addrs");
        let services = construct_services(&addrs).await.expect("open store");
        let path_infos: Vec<_> = services
            .path_info_service
            .list()
            .map(|path_info| path_info.expect("list"))
            .collect()
            .await;
        for path_info in &path_infos {
            let nar = calculate_nar(
                &path_info.node,
                &services.blob_service,
                &*services.directory_service,
            )
            .await
            .unwrap_or_else(|e| panic!("{} is incomplete: {e}", path_info.store_path));
            assert_eq!(path_info.nar_size, nar.nar_size, "{}", path_info.store_path);
            assert_eq!(
                path_info.nar_sha256, nar.nar_sha256,
                "{}",
                path_info.store_path
            );
        }
        (path_infos, check_indexed_blobs(store).await)
    });
    // The store is closed again (redb allows one process at a time).
    drop(runtime);
    for path_info in &path_infos {
        let nar = tvix_store_ok(
            &store.args(),
            &["export-nar", &path_info.store_path.to_absolute_path()],
        );
        assert_eq!(path_info.nar_size, nar.len() as u64);
        assert_eq!(path_info.nar_sha256, <[u8; 32]>::from(Sha256::digest(&nar)));
    }
    (path_infos.len(), blobs)
}

/// Starts importing `path`, kills it with SIGKILL after `delay`, and
/// returns whether the kill landed while the import was running.
fn kill_import_after(store: &LocalStore, path: &Path, delay: Duration) -> bool {
    let mut child = Command::new(BIN)
        .args(store.args())
        .arg("import")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start import");
    std::thread::sleep(delay);
    let running = child.try_wait().expect("poll import").is_none();
    // SIGKILL: nothing of the process gets to clean up.
    child.kill().expect("kill -9");
    let status = child.wait().expect("wait");
    running && status.signal() == Some(SIGKILL)
}

/// A store holding one completed import, so something is listed.
fn store_with_one_path(dir: &Path, input: &Path) -> LocalStore {
    let store = LocalStore::new(dir, "redb");
    let hello = input.join("small-paths/hello.txt");
    tvix_store_ok(&store.args(), &["import", hello.to_str().expect("UTF-8")]);
    store
}

#[test]
fn kill_during_import_leaves_complete_path_infos() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in");
    store_path_trees(&mkdir(input.join("small-paths")));
    large_tree(&mkdir(input.join("large")));
    let large = input.join("large");

    // How long a whole import takes here, in a store of its own.
    let scratch = LocalStore::new(&tmp.path().join("scratch"), "redb");
    let start = Instant::now();
    tvix_store_ok(&scratch.args(), &["import", large.to_str().expect("UTF-8")]);
    let import_time = start.elapsed();

    let mut stores = 0;
    let mut store = store_with_one_path(&tmp.path().join("store-0"), &input);
    assert_eq!((1, 1), check_store(&store));
    let mut most_blobs = 0;
    for fraction in [0.1, 0.3, 0.5, 0.7, 0.9] {
        let mut delay = import_time.mul_f64(fraction);
        let mut attempts = 0;
        loop {
            let landed = kill_import_after(&store, &large, delay);
            let (listed, blobs) = check_store(&store);
            if landed && listed == 1 {
                most_blobs = most_blobs.max(blobs);
                break;
            }
            // Too late: the import finished first. Again, earlier, in a
            // fresh store.
            attempts += 1;
            assert!(attempts < 5, "no kill landed during the import");
            delay /= 2;
            stores += 1;
            store = store_with_one_path(&tmp.path().join(format!("store-{stores}")), &input);
        }
    }
    eprintln!("import took {import_time:?}; up to {most_blobs} blobs indexed at a kill");
    assert!(most_blobs > 1, "no kill landed after a commit of blobs");

    // The store still works: the import completes.
    let stdout = tvix_store_ok(&store.args(), &["import", large.to_str().expect("UTF-8")]);
    assert_eq!(1, lines(&stdout).len());
    assert_eq!(2, check_store(&store).0);
}
