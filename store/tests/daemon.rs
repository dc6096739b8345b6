//! End to end: `tvix-store daemon` on a Unix socket over a redb- or
//! sled-backed store, a second `tvix-store` as its client (`grpc+unix://`),
//! restarts, and a second daemon refused on the same socket; the default
//! socket and its mode; TCP when asked for; SIGTERM with a request in
//! flight.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use rstest::rstest;

#[rstest]
#[case::redb("redb")]
#[case::sled("sled")]
fn import_export_restart(#[case] backend: &'static str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).expect("mkdir");
    store_path_trees(&input);
    nar_trees(&input);
    let store = LocalStore::new(&tmp.path().join("store"), backend).args();
    let socket = tmp.path().join("daemon.sock");
    let client = all_services_at(&format!("grpc+unix://{}", socket.display()));

    let daemon = Daemon::start(&store, &socket);
    let tree = input.join("tree");
    let imported = tvix_store_ok(&client, &["import", tree.to_str().expect("UTF-8")]);
    assert_eq!(
        vec!["/nix/store/58c1wy2i46yx1mjrczsy3737gjhqkspc-tree"],
        lines(&imported)
    );
    let nested = input.join("nested");
    let [nested_path] = lines(&tvix_store_ok(
        &client,
        &["import", nested.to_str().expect("UTF-8")],
    ))
    .try_into()
    .expect("one store path");
    let golden = std::fs::read(nix_compat_testdata().join("nar/nested.nar")).expect("golden");
    let tree_nar = tvix_store_ok(&client, &["export-nar", &lines(&imported)[0]]);

    // Concurrent clients all get the same NAR.
    let exports: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            let nested_path = nested_path.clone();
            std::thread::spawn(move || tvix_store_ok(&client, &["export-nar", &nested_path]))
        })
        .collect();
    for export in exports {
        assert!(
            export.join().expect("thread") == golden,
            "nested NAR differs"
        );
    }
    let info = tvix_store_ok(&client, &["path-info", &nested_path]);

    // A second daemon, even over another store, must not take the socket.
    let second = tvix_store(
        &all_services_at("memory://"),
        &[
            "daemon",
            "--listen-address",
            &format!("unix://{}", socket.display()),
        ],
    );
    assert_eq!(Some(1), second.status.code());
    assert_eq!(
        format!("error: a daemon already listens on {socket:?}\n"),
        String::from_utf8_lossy(&second.stderr)
    );

    daemon.stop();
    assert!(!socket.exists(), "a stopped daemon removes its socket");

    // Everything is found again after a restart.
    let daemon = Daemon::start(&store, &socket);
    assert_eq!(info, tvix_store_ok(&client, &["path-info", &nested_path]));
    assert!(tvix_store_ok(&client, &["export-nar", &nested_path]) == golden);
    assert!(tvix_store_ok(&client, &["export-nar", &lines(&imported)[0]]) == tree_nar);
    daemon.stop();

    // And by a local client once the daemon is gone.
    assert!(tvix_store_ok(&store, &["export-nar", &nested_path]) == golden);
}

/// A socket left behind by a daemon that was killed is taken over.
#[test]
fn stale_socket_is_replaced() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("daemon.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).expect("bind"));
    assert!(socket.exists());
    let store = all_services_at("memory://");
    let daemon = Daemon::start(&store, &socket);
    daemon.stop();
}

/// Without --listen-address the daemon listens on a Unix socket in
/// $XDG_RUNTIME_DIR (no TCP port), whose file mode is the access rule.
#[rstest]
#[case::default(&[], 0o600)]
#[case::group(&["--socket-mode", "0660"], 0o660)]
fn default_unix_socket(#[case] args: &[&str], #[case] mode: u32) {
    use std::os::unix::fs::PermissionsExt;

    let runtime = tempfile::tempdir().expect("tempdir");
    let socket = runtime.path().join("tvix-store/daemon.sock");
    let daemon = Daemon::start_with(
        &all_services_at("memory://"),
        args,
        &[("XDG_RUNTIME_DIR", runtime.path())],
        &socket,
    );
    let metadata = std::fs::metadata(&socket).expect("socket");
    assert_eq!(mode, metadata.permissions().mode() & 0o777);
    let client = all_services_at(&format!("grpc+unix://{}", socket.display()));
    let tmp = tempfile::tempdir().expect("tempdir");
    store_path_trees(tmp.path());
    let hello = tmp.path().join("hello.txt");
    assert_eq!(
        vec!["/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt"],
        lines(&tvix_store_ok(
            &client,
            &["import", hello.to_str().expect("UTF-8")]
        ))
    );
    daemon.stop();
    assert_eq!(
        Vec::<std::path::PathBuf>::new(),
        std::fs::read_dir(runtime.path().join("tvix-store"))
            .expect("socket dir")
            .map(|entry| entry.expect("entry").path())
            .collect::<Vec<_>>(),
        "nothing is left behind"
    );
}

/// A TCP daemon (on a free port), only when asked for, serves clients at
/// grpc+http://.
#[test]
fn tcp() {
    let tmp = tempfile::tempdir().expect("tempdir");
    store_path_trees(tmp.path());
    let (daemon, port) = Daemon::start_tcp(&all_services_at("memory://"), &[]);
    let client = all_services_at(&format!("grpc+http://127.0.0.1:{port}"));
    let hello = tmp.path().join("hello.txt");
    let stdout = tvix_store(&client, &["import", hello.to_str().expect("UTF-8")]);
    daemon.stop();
    assert_eq!(
        vec!["/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt"],
        lines(&stdout.stdout),
        "{}",
        String::from_utf8_lossy(&stdout.stderr)
    );
}

/// While a daemon has the store open, a second process opening it gets a
/// clear error (and changes nothing); through the daemon it works.
#[test]
fn second_process_on_the_store_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).expect("mkdir");
    store_path_trees(&input);
    let store = LocalStore::new(&tmp.path().join("store"), "redb").args();
    let socket = tmp.path().join("daemon.sock");
    let client = all_services_at(&format!("grpc+unix://{}", socket.display()));
    let hello = input.join("hello.txt");
    let hello = hello.to_str().expect("UTF-8");
    let daemon = Daemon::start(&store, &socket);
    // Answered by the daemon, so it has the store open.
    tvix_store_ok(&client, &["import", hello]);

    let output = tvix_store(&store, &["import", hello]);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is in use by another process"), "{stderr}");
    tvix_store_ok(&client, &["import", hello]);
    daemon.stop();
}

/// SIGTERM stops a daemon within a few seconds although a client keeps a
/// request open (a blob Put whose stream never ends): it is cut after
/// [tvix_store::utils::SHUTDOWN_GRACE].
#[test]
fn sigterm_cuts_request_in_flight() {
    use tvix_castore::proto::BlobChunk;
    use tvix_castore::proto::blob_service_client::BlobServiceClient;

    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("daemon.sock");
    let daemon = Daemon::start(&all_services_at("memory://"), &socket);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = format!("grpc+unix://{}", socket.display());
    let (_chunks, put) = runtime.block_on(async {
        let channel =
            tvix_castore::channel::channel_from_url(&url.parse().expect("url")).expect("channel");
        let mut client = BlobServiceClient::new(channel);
        let (chunks, rx) = tokio::sync::mpsc::channel(1);
        chunks
            .send(BlobChunk {
                data: vec![0; 1024].into(),
                ..Default::default()
            })
            .await
            .expect("queued");
        let put = tokio::spawn(async move {
            client
                .put(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
        });
        // Let the request reach the daemon.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!put.is_finished(), "the Put is in flight");
        (chunks, put)
    });
    let took = daemon.terminate_within(Duration::from_secs(10));
    assert!(
        took >= tvix_store::utils::SHUTDOWN_GRACE,
        "the request in flight was given its grace ({took:?})"
    );
    let cut = runtime.block_on(put).expect("task");
    assert!(cut.is_err(), "the Put was cut, not completed: {cut:?}");
}

/// An export of a tree of thousands of small files through a daemon
/// (issue 15: the Rust toolchain's 52k files failed). The client used to
/// drop each blob's Read stream as soon as it had the blob's bytes, before
/// the server's trailers: one RST_STREAM per file, and trailers arriving
/// for streams it had already forgotten made its h2 connection send resets
/// of its own, which h2 counts and, past 1024, answers by closing the
/// connection (GOAWAY ENHANCE_YOUR_CALM). Under load a fifth of the files
/// got there; so besides the export succeeding, the client must send no
/// RST_STREAM at all (h2's log of the frames it writes).
#[test]
fn export_of_many_small_files_resets_no_stream() {
    const DIRS: usize = 60;
    const FILES_PER_DIR: usize = 100;
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = tmp.path().join("tree");
    for d in 0..DIRS {
        let dir = mkdir(tree.join(format!("d{d}")));
        for f in 0..FILES_PER_DIR {
            let contents = format!("file {f} of directory {d}\n").repeat(1 + f % 7);
            write(&dir.join(format!("f{f}")), contents.as_bytes(), 0o644);
        }
    }
    let store = LocalStore::new(&tmp.path().join("store"), "redb").args();
    let [path] = lines(&tvix_store_ok(
        &store,
        &["import", tree.to_str().expect("UTF-8")],
    ))
    .try_into()
    .expect("one store path");
    let local_nar = tvix_store_ok(&store, &["export-nar", &path]);

    let socket = tmp.path().join("daemon.sock");
    let daemon = Daemon::start(&store, &socket);
    let output = Command::new(BIN)
        .args(all_services_at(&format!(
            "grpc+unix://{}",
            socket.display()
        )))
        .args(["export-nar", &path])
        .env("RUST_LOG", "h2::codec::framed_write=debug")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run tvix-store");
    daemon.stop();

    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "export-nar failed: {}",
        log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
    );
    assert!(
        output.stdout == local_nar,
        "the NAR differs from a local export"
    );
    let sent = |frame: &str| log.lines().filter(|line| line.contains(frame)).count();
    // One request per file at least: the log is what is being counted.
    assert!(
        sent("send frame=Headers") >= DIRS * FILES_PER_DIR,
        "h2's frame log not found"
    );
    assert_eq!(0, sent("send frame=Reset"), "the client reset streams");
}
