//! The daemon's limit flags are honoured: a client's import that goes
//! beyond one is refused with the limit named, and the same import passes
//! with the defaults; every flag is in `--help`.

mod common;

use std::path::Path;

use common::*;
use rstest::rstest;

/// `dir` with `files` files of `size` bytes, `depth` directories down.
fn tree(dir: &Path, depth: usize, files: usize, size: usize) -> std::path::PathBuf {
    let mut leaf = dir.join("tree");
    for level in 0..depth {
        leaf = leaf.join(format!("d{level}"));
    }
    std::fs::create_dir_all(&leaf).expect("mkdir");
    for file in 0..files {
        write(&leaf.join(format!("f{file}")), &vec![b'x'; size], 0o644);
    }
    dir.join("tree")
}

#[rstest]
#[case::defaults(&[], 0, 3, 1, None)]
#[case::directory_entries(&["--max-directory-entries=2"], 0, 3, 1, Some("a directory of 3 entries exceeds the server's limit of 2"))]
#[case::nar_entries(&["--max-nar-entries=3"], 0, 3, 1, Some("the tree expands to 4 entries, more than the 3 rendered"))]
#[case::depth(&["--max-depth=2"], 2, 1, 1, Some("is nested deeper than 2 levels"))]
#[case::request_bytes(&["--max-request-bytes=1000"], 0, 1, 4000, Some("message length too large"))]
#[case::one_request_at_a_time(&["--max-concurrent-requests=1"], 3, 3, 1, None)]
fn limit_flag_honoured(
    #[case] flags: &[&str],
    #[case] depth: usize,
    #[case] files: usize,
    #[case] size: usize,
    #[case] refusal: Option<&str>,
) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tree(tmp.path(), depth, files, size);
    let store = all_services_at("memory://");
    let socket = tmp.path().join("daemon.sock");
    let listen = format!("--listen-address=unix://{}", socket.display());
    let mut args = vec![listen.as_str()];
    args.extend_from_slice(flags);
    let daemon = Daemon::start_with(&store, &args, &[], &socket);
    let client = all_services_at(&format!("grpc+unix://{}", socket.display()));
    let output = tvix_store(&client, &["import", input.to_str().expect("UTF-8")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    match refusal {
        None => assert!(output.status.success(), "{stderr}"),
        Some(message) => {
            assert!(!output.status.success());
            assert!(stderr.contains(message), "{stderr}");
        }
    }
    daemon.stop();
}

#[test]
fn limits_in_help() {
    let help = tvix_store_ok(&[], &["daemon", "--help"]);
    let help = String::from_utf8_lossy(&help);
    for flag in [
        "--max-request-bytes",
        "--max-concurrent-requests",
        "--max-directory-entries",
        "--max-directory-put-bytes",
        "--max-depth",
        "--max-nar-entries",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
