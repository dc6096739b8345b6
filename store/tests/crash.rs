//! `kill -9` of `tvix-store import` in the middle of a large import leaves
//! a store in which every listed PathInfo is complete: its tree renders to
//! a NAR with exactly the recorded size and hash, and `export-nar` writes
//! that NAR. The store stays usable: the import then completes.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tvix_store::nar::calculate_nar;
use tvix_store::utils::{ServiceAddrs, construct_services};

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

/// Checks every PathInfo the store lists; returns how many there are.
fn check_listed_path_infos(store: &LocalStore) -> usize {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let path_infos = runtime.block_on(async {
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
        path_infos
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
    path_infos.len()
}

#[test]
fn kill_during_import_leaves_complete_path_infos() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in");
    store_path_trees(&mkdir(input.join("small-paths")));
    large_tree(&mkdir(input.join("large")));
    let store = LocalStore::new(&tmp.path().join("store"), "redb");

    // A completed import, so there is something listed.
    let hello = input.join("small-paths/hello.txt");
    tvix_store_ok(&store.args(), &["import", hello.to_str().expect("UTF-8")]);
    assert_eq!(1, check_listed_path_infos(&store));

    let large = input.join("large");
    for delay in [100, 400, 1000, 2500] {
        let mut child = Command::new(BIN)
            .args(store.args())
            .arg("import")
            .arg(&large)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start import");
        std::thread::sleep(Duration::from_millis(delay));
        // SIGKILL: nothing of the process gets to clean up.
        child.kill().expect("kill -9");
        child.wait().expect("wait");
        let listed = check_listed_path_infos(&store);
        assert!((1..=2).contains(&listed), "{listed} PathInfos listed");
    }

    // The store still works: the import completes.
    let stdout = tvix_store_ok(&store.args(), &["import", large.to_str().expect("UTF-8")]);
    assert_eq!(1, lines(&stdout).len());
    assert_eq!(2, check_listed_path_infos(&store));
}
