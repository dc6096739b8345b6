//! `tvix-store` on S3 (a real `moto_server`, feature `integration`), with
//! directories and PathInfos in local redb files.
//!
//! An outage mid-import: the S3 server is killed (connections refused) or
//! paused (requests hang) while `tvix-store import` runs. The import must
//! end with an error (exit status 1, one line, no panic) within a bound
//! set by the request timeout, and leave no PathInfo; once the server is
//! back, the same import succeeds and exports the NAR a local store
//! exports.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rstest::rstest;
use tvix_castore::moto::MotoServer;

/// The request timeout the store is given (`timeout=` of the URL).
const S3_TIMEOUT: Duration = Duration::from_secs(10);

/// Files of distinct contents, enough requests for the import to take a
/// few seconds on moto.
fn tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for file in 0..400 {
        let mut contents = Vec::with_capacity(16 * 1024);
        for _ in 0..2 * 1024 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            contents.extend_from_slice(&state.to_le_bytes());
        }
        let parent = if file % 2 == 0 { "sub" } else { "" };
        write(&dir.join(parent).join(format!("f{file}")), &contents, 0o644);
    }
}

/// A composition document: blobs in the bucket, the rest in `dir`.
fn config(dir: &Path, bucket_url: &str) -> Vec<String> {
    let path = dir.join("store.toml");
    let mut file = std::fs::File::create(&path).expect("create config");
    write!(
        file,
        r#"
[blobservices.default]
type = "objectstore"
url = "{bucket_url}"

[directoryservices.default]
type = "redb"
path = "{dir}/directories.redb"

[pathinfoservices.default]
type = "redb"
path = "{dir}/pathinfo.redb"
"#,
        dir = dir.display()
    )
    .expect("write config");
    vec![format!("--config={}", path.display())]
}

/// How the server fails.
#[derive(Debug, Clone, Copy)]
enum Outage {
    /// Killed: connections are refused.
    Kill,
    /// Paused: connections are accepted, requests never answered.
    Pause,
}

#[rstest]
#[case::kill(Outage::Kill)]
#[case::pause(Outage::Pause)]
fn outage_mid_import(#[case] outage: Outage) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree_dir = tmp.path().join("tree");
    tree(&tree_dir);
    let tree_arg = tree_dir.to_str().expect("UTF-8");

    // The reference: the same import into a local store.
    let local = LocalStore::new(&tmp.path().join("local"), "redb");
    let store_path = lines(&tvix_store_ok(&local.args(), &["import", tree_arg]))
        .pop()
        .expect("a store path");
    let expected_nar = tvix_store_ok(&local.args(), &["export-nar", &store_path]);

    let mut moto = MotoServer::start();
    let bucket_url = moto.endpoint().bucket_url("outage");
    let store = config(tmp.path(), &bucket_url);

    let started = Instant::now();
    let mut import = Command::new(BIN)
        .args(&store)
        .args(["import", tree_arg])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tvix-store import");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        import.try_wait().expect("try_wait").is_none(),
        "the import finished before the server was killed; make the tree larger"
    );
    match outage {
        Outage::Kill => moto.kill(),
        Outage::Pause => moto.pause(),
    }
    let killed = Instant::now();

    let deadline = killed + 4 * S3_TIMEOUT;
    let status = loop {
        if let Some(status) = import.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = import.kill();
            panic!("the import hung for {:?} after the outage", 4 * S3_TIMEOUT);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let failed_after = killed.elapsed();
    let output = import.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "{outage:?}: import started {:?} before the outage, failed {failed_after:?} after it: {}",
        killed - started,
        stderr.trim()
    );
    assert_eq!(
        Some(1),
        status.code(),
        "exit status 1, not a panic or a signal"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(output.stdout.is_empty(), "no store path printed");

    let path_info = tvix_store(&store, &["path-info", &store_path]);
    assert!(
        !path_info.status.success(),
        "no PathInfo after a failed import: {}",
        String::from_utf8_lossy(&path_info.stdout)
    );

    // The server comes back, and the same import succeeds. A killed moto
    // comes back empty: the bucket is created again.
    match outage {
        Outage::Kill => {
            moto.restart();
            moto.endpoint().bucket_url("outage");
        }
        Outage::Pause => moto.resume(),
    }
    let imported = lines(&tvix_store_ok(&store, &["import", tree_arg]));
    assert_eq!(vec![store_path.clone()], imported);
    assert_eq!(
        expected_nar,
        tvix_store_ok(&store, &["export-nar", &store_path])
    );
}
