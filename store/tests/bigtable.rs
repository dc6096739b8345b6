//! Stores sharing Bigtable (the `bttest` emulator, started here), run as
//! real processes (feature `integration`):
//! - two daemons on different TCP ports over the same Bigtable tables and
//!   the same S3 bucket (a real `moto_server`), the second composed by
//!   `--config` with local caches in front (pack before S3, redb before
//!   Bigtable): a path imported through one is exported identically
//!   through the other, and a nar-bridge in front of the second serves it
//!   to `nix copy --from` (when Nix is on PATH);
//! - an outage (the emulator stopped, or killed and restarted empty) during
//!   an import: the import fails with an error within the timeout, no
//!   PathInfo is written, and once the emulator is back the same import
//!   succeeds.
//!
//! Without an emulator each test says so and passes; under `CI=true` that
//! is a failure.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rstest::rstest;
use sha2::Digest;
use tvix_castore::bigtable::emulator::{Emulator, create_table, table_url};
use tvix_castore::moto::MotoServer;

/// The request deadline the stores here are given.
const TIMEOUT_SECS: u64 = 2;

/// Starts an emulator, or None (a skip) if there is none.
fn emulator(test: &str) -> Option<Emulator> {
    match Emulator::start() {
        Ok(emulator) => Some(emulator),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: no Bigtable emulator, and CI=true requires it: {e}"
            );
            eprintln!("skipped {test}: no Bigtable emulator ({e})");
            None
        }
    }
}

/// Creates the directory and PathInfo tables in the emulator at `addr`.
fn create_tables(addr: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for table in ["directories", "pathinfos"] {
        runtime
            .block_on(create_table(addr, table))
            .expect("create table");
    }
}

/// Service flags for a store with blobs in `blobs` and directories and
/// PathInfos in the emulator's tables.
fn shared_store(blobs: &str) -> Vec<String> {
    vec![
        format!("--blob-service-addr={blobs}"),
        format!(
            "--directory-service-addr={}&timeout={TIMEOUT_SECS}",
            table_url("directories")
        ),
        format!(
            "--path-info-service-addr={}&timeout={TIMEOUT_SECS}",
            table_url("pathinfos")
        ),
    ]
}

/// Runs tvix-store with `BIGTABLE_EMULATOR_HOST` set to `emulator`.
fn tvix_store_at(emulator: &str, store: &[String], args: &[&str]) -> Output {
    Command::new(BIN)
        .env("BIGTABLE_EMULATOR_HOST", emulator)
        .args(store)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run tvix-store")
}

fn ok(output: Output, what: &str) -> Vec<u8> {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A server process listening on a TCP port, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(mut command: Command, addr: String) -> Self {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "{addr}: not listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, addr }
    }

    /// `tvix-store daemon` over `store` on a free port.
    fn daemon(emulator: &str, store: &[String]) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut command = Command::new(BIN);
        command
            .env("BIGTABLE_EMULATOR_HOST", emulator)
            .args(store)
            .args(["daemon", "--listen-address", &addr]);
        Self::start(command, addr)
    }

    /// Client flags for all three services of this daemon.
    fn client(&self) -> Vec<String> {
        all_services_at(&format!("grpc+http://{}", self.addr))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_daemons_share_bigtable() {
    let Some(emulator) = emulator("two_daemons_share_bigtable") else {
        return;
    };
    create_tables(&emulator.addr);
    let tmp = tempfile::tempdir().expect("tempdir");
    nar_trees(tmp.path());
    let moto = MotoServer::start();
    let bucket = moto.endpoint().bucket_url("shared");
    let store = shared_store(&format!("objectstore+{bucket}"));
    let first = Server::daemon(&emulator.addr, &store);
    let config = tmp.path().join("cached.toml");
    std::fs::write(&config, cached_config(&bucket, tmp.path())).expect("write config");
    let second = Server::daemon(&emulator.addr, &[format!("--config={}", config.display())]);

    let nested = tmp.path().join("nested");
    let imported = ok(
        tvix_store(
            &first.client(),
            &["import", nested.to_str().expect("UTF-8")],
        ),
        "import through the first daemon",
    );
    let [store_path] = lines(&imported).try_into().expect("one store path");

    let golden = std::fs::read(nix_compat_testdata().join("nar/nested.nar")).expect("golden");
    let exported = ok(
        tvix_store(&second.client(), &["export-nar", &store_path]),
        "export through the second daemon",
    );
    assert!(exported == golden, "the second daemon's NAR differs");
    assert_eq!(
        ok(
            tvix_store(&first.client(), &["path-info", &store_path]),
            "path-info"
        ),
        ok(
            tvix_store(&second.client(), &["path-info", &store_path]),
            "path-info"
        )
    );

    // A second import of the same tree through the other daemon finds
    // everything there and changes nothing.
    assert_eq!(
        imported,
        ok(
            tvix_store(
                &second.client(),
                &["import", nested.to_str().expect("UTF-8")]
            ),
            "import through the second daemon"
        )
    );

    nix_copy_from_bridge(&second, &store_path, &golden, tmp.path());
}

/// The store of [shared_store] over the S3 `bucket` (an `s3://` URL) as a
/// composition, with local caches (in `dir`) in front: a pack store
/// before S3, redb before each Bigtable table.
fn cached_config(bucket: &str, dir: &Path) -> String {
    let directories = table_url("directories");
    let pathinfos = table_url("pathinfos");
    let dir = dir.display();
    format!(
        r#"
[blobservices.s3]
type = "objectstore"
url = "{bucket}"

[blobservices.local]
type = "pack"
path = "{dir}/pack"

[blobservices.default]
type = "combined"
near = "local"
far = "s3"

[directoryservices.bigtable]
type = "bigtable"
url = "{directories}&timeout={TIMEOUT_SECS}"

[directoryservices.local]
type = "redb"
path = "{dir}/directories-cache.redb"

[directoryservices.default]
type = "cache"
near = "local"
far = "bigtable"

[pathinfoservices.bigtable]
type = "bigtable"
url = "{pathinfos}&timeout={TIMEOUT_SECS}"

[pathinfoservices.local]
type = "redb"
path = "{dir}/pathinfo-cache.redb"

[pathinfoservices.default]
type = "cache"
near = "local"
far = "bigtable"
"#
    )
}

/// A nar-bridge in front of `daemon` serves `store_path` to `nix copy
/// --from`, which then holds exactly `nar`. Skipped without Nix or without
/// the nar-bridge binary (built beside tvix-store by `cargo test
/// --workspace`), except under `CI=true`.
fn nix_copy_from_bridge(daemon: &Server, store_path: &str, nar: &[u8], tmp: &Path) {
    let nix_found = Command::new("nix")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    let bridge_bin = Path::new(BIN).with_file_name("nar-bridge");
    if !nix_found || !bridge_bin.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "nix on PATH: {nix_found}, {} exists: {}; CI=true requires both",
            bridge_bin.display(),
            bridge_bin.exists()
        );
        eprintln!(
            "skipped the nix copy --from check: nix on PATH: {nix_found}, {} exists: {}",
            bridge_bin.display(),
            bridge_bin.exists()
        );
        return;
    }
    let addr = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(bridge_bin);
    command
        .args(["--listen-address", &addr, "--log-level", "warn"])
        .args(daemon.client());
    let bridge = Server::start(command, addr);

    let home = mkdir(tmp.join("home"));
    let destination = tmp.join("destination");
    let nix = |program: &str| {
        let mut command = Command::new(program);
        command
            .env("HOME", &home)
            .env("NIX_CONF_DIR", &home)
            .env_remove("NIX_REMOTE")
            .env_remove("XDG_CACHE_HOME")
            .args(["--option", "experimental-features", "nix-command"]);
        command
    };
    ok(
        nix("nix")
            .args(["copy", "--no-check-sigs", "--store"])
            .arg(&destination)
            .args(["--from", &format!("http://{}", bridge.addr), store_path])
            .output()
            .expect("run nix"),
        "nix copy --from the nar-bridge",
    );
    let dumped = ok(
        nix("nix-store")
            .arg("--dump")
            .arg(destination.join(store_path.trim_start_matches('/')))
            .output()
            .expect("run nix-store"),
        "nix-store --dump",
    );
    assert!(dumped == nar, "the path nix copied differs");
}

/// How the emulator goes away during an import.
#[derive(Clone, Copy, Debug)]
enum Outage {
    /// SIGSTOP: requests hang until the deadline; SIGCONT brings it back
    /// with its data.
    Stopped,
    /// Killed, then restarted on the same port, empty (tables recreated).
    Killed,
}

/// A tree whose import writes its blobs first (locally) and then many
/// directories, so the outage hits it after its first phase.
fn wide_tree(dir: &Path) {
    for i in 0..300 {
        let sub = mkdir(dir.join(format!("d{i:03}")));
        write(&sub.join("f"), format!("file {i}\n").as_bytes(), 0o644);
    }
}

#[rstest]
#[case::stopped(Outage::Stopped)]
#[case::killed(Outage::Killed)]
fn outage_during_import(#[case] outage: Outage) {
    let test = format!("outage_during_import({outage:?})");
    let Some(mut emulator) = emulator(&test) else {
        return;
    };
    create_tables(&emulator.addr);
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = tmp.path().join("wide");
    wide_tree(&tree);
    let tree = tree.to_str().expect("UTF-8");
    let expected = ok(
        tvix_store(&all_services_at("memory://"), &["import", tree]),
        "import into memory",
    );
    let [store_path] = lines(&expected).try_into().expect("one store path");
    let store = shared_store(&format!(
        "pack://{}",
        mkdir(tmp.path().join("pack")).display()
    ));

    let pid = emulator.pid();
    match outage {
        Outage::Stopped => signal("-STOP", pid),
        Outage::Killed => emulator.kill(),
    }
    let started = Instant::now();
    let failed = tvix_store_at(&emulator.addr, &store, &["import", tree]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(Some(1), failed.status.code(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("Bigtable"), "{stderr}");
    assert!(
        took < Duration::from_secs(3 * TIMEOUT_SECS + 5),
        "the failed import took {took:?}"
    );

    match outage {
        Outage::Stopped => signal("-CONT", pid),
        Outage::Killed => {
            emulator = Emulator::start_on(emulator.port()).expect("restart the emulator");
            create_tables(&emulator.addr);
        }
    }
    let info = tvix_store_at(&emulator.addr, &store, &["path-info", &store_path]);
    assert!(
        !info.status.success(),
        "a PathInfo was written by the failed import: {}",
        String::from_utf8_lossy(&info.stdout)
    );

    assert_eq!(
        expected,
        ok(
            tvix_store_at(&emulator.addr, &store, &["import", tree]),
            "import after the outage"
        )
    );
    // The whole tree reads back: its NAR has the hash the PathInfo records.
    let exported = ok(
        tvix_store_at(&emulator.addr, &store, &["export-nar", &store_path]),
        "export after the outage",
    );
    let info = ok(
        tvix_store_at(&emulator.addr, &store, &["path-info", &store_path]),
        "path-info after the outage",
    );
    let nar_hash = format!(
        "NarHash: sha256:{}",
        nix_compat::nixbase32::encode(&sha2::Sha256::digest(&exported))
    );
    assert!(
        lines(&info).contains(&nar_hash),
        "{nar_hash} not in\n{}",
        String::from_utf8_lossy(&info)
    );
}

fn signal(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}
