//! Helpers shared by the `tvix-store` binary tests: running the binary
//! against a store in a temporary directory, building file trees, and
//! finding CppNix for differential checks.

#![allow(dead_code)] // Each test crate uses a different part.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tvix-store");

/// A store in a directory: the three service addresses for one backend
/// (`redb` or `sled`) for directories and PathInfos, blobs in pack files.
pub struct LocalStore {
    pub dir: PathBuf,
    pub backend: &'static str,
}

impl LocalStore {
    pub fn new(dir: &Path, backend: &'static str) -> Self {
        std::fs::create_dir_all(dir).expect("mkdir store");
        Self {
            dir: dir.to_owned(),
            backend,
        }
    }

    pub fn args(&self) -> Vec<String> {
        let dir = self.dir.display();
        let suffix = if self.backend == "redb" { ".redb" } else { "" };
        vec![
            format!("--blob-service-addr=pack://{dir}/pack"),
            format!(
                "--directory-service-addr={}://{dir}/directories{suffix}",
                self.backend
            ),
            format!(
                "--path-info-service-addr={}://{dir}/pathinfo{suffix}",
                self.backend
            ),
        ]
    }
}

/// The same address for all three services: a daemon's, or `memory://`.
pub fn all_services_at(client_addr: &str) -> Vec<String> {
    vec![
        format!("--blob-service-addr={client_addr}"),
        format!("--directory-service-addr={client_addr}"),
        format!("--path-info-service-addr={client_addr}"),
    ]
}

/// Runs the binary with `store_args` then `args`; stdin is closed.
pub fn tvix_store(store_args: &[String], args: &[&str]) -> Output {
    Command::new(BIN)
        .args(store_args)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run tvix-store")
}

/// Like [tvix_store], but the command must succeed; returns stdout.
pub fn tvix_store_ok(store_args: &[String], args: &[&str]) -> Vec<u8> {
    let output = tvix_store(store_args, args);
    assert!(
        output.status.success(),
        "tvix-store {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The lines of a command's stdout.
pub fn lines(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Creates the directory `path` (and its parents) and returns it.
pub fn mkdir(path: PathBuf) -> PathBuf {
    std::fs::create_dir_all(&path).expect("mkdir");
    path
}

pub fn write(path: &Path, contents: &[u8], mode: u32) {
    std::fs::write(path, contents).expect("write file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The trees of nix-compat/testdata/store_path/generate.sh, below `dir`.
pub fn store_path_trees(dir: &Path) {
    write(&dir.join("hello.txt"), b"hello\n", 0o644);
    write(&dir.join("empty"), b"", 0o644);
    write(&dir.join("script.sh"), b"#!/bin/sh\necho hi\n", 0o755);
    std::fs::create_dir_all(dir.join("tree/sub")).expect("mkdir");
    write(&dir.join("tree/a"), b"a", 0o644);
    write(&dir.join("tree/sub/b"), b"b", 0o644);
    symlink("a", dir.join("tree/link")).expect("symlink");
    std::fs::create_dir(dir.join(".dotted")).expect("mkdir");
    write(&dir.join(".dotted/x"), b"x", 0o644);
}

/// The trees of nix-compat/testdata/nar/generate.sh, below `dir`, by the
/// name of their golden NAR.
pub fn nar_trees(dir: &Path) {
    write(&dir.join("regular"), b"Hello, NAR!\n", 0o644);
    write(&dir.join("executable"), b"#!/bin/sh\necho hi\n", 0o755);
    symlink("target/of/link", dir.join("symlink")).expect("symlink");
    write(&dir.join("empty-file"), b"", 0o644);
    std::fs::create_dir(dir.join("empty-dir")).expect("mkdir");
    write(&dir.join("eight-bytes"), b"01234567", 0o644);
    write(&dir.join("sixteen-bytes"), b"0123456789abcdef", 0o644);
    write(&dir.join("nul-bytes"), b"\x00\x01\x00nul\x00", 0o644);
    let nested = dir.join("nested");
    std::fs::create_dir_all(nested.join("a/empty")).expect("mkdir");
    write(&nested.join("B"), b"upper\n", 0o644);
    symlink("../B", nested.join("a/link")).expect("symlink");
    write(&nested.join("a/run"), b"#!/bin/sh\n", 0o755);
    write(&nested.join("a.b"), b"dot\n", 0o644);
    symlink("a.b", nested.join("ab")).expect("symlink");
    write(&nested.join("z"), b"", 0o644);
    write(&nested.join("\u{e9}"), b"accent\n", 0o644);
}

/// The names of the golden NARs [nar_trees] rebuilds.
pub const NAR_TREES: &[&str] = &[
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

/// nix-compat's testdata directory.
pub fn nix_compat_testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../nix-compat/testdata")
}

/// Whether `nix-store` is on PATH; prints why a differential test is
/// skipped when it is not.
pub fn have_nix_store(test: &str) -> bool {
    let found = Command::new("nix-store")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        eprintln!("skipping {test}: nix-store is not on PATH");
    }
    found
}

/// Runs `nix-store` with `args`; it must succeed. Returns stdout.
pub fn nix_store(args: &[&str]) -> Vec<u8> {
    let output = Command::new("nix-store")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run nix-store");
    assert!(
        output.status.success(),
        "nix-store {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// `nix-store OPERATION PATH` (e.g. `--add`, or `--add-fixed sha256`) in a
/// scratch store below `root`, so the machine's store is left alone;
/// returns the printed store path.
pub fn nix_store_add(root: &Path, operation: &[&str], path: &Path) -> String {
    let store = format!("local?root={}", root.display());
    let path = path.to_str().expect("UTF-8 path");
    let mut args = vec!["--store", &store];
    args.extend_from_slice(operation);
    args.push(path);
    let stdout = nix_store(&args);
    String::from_utf8_lossy(&stdout).trim().to_owned()
}

/// A TCP port on loopback that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

/// A running daemon, killed if the test fails before stopping it.
pub struct Daemon {
    child: Child,
}

impl Daemon {
    /// Starts a daemon over `store` on `socket` and waits until it accepts
    /// connections.
    pub fn start(store: &[String], socket: &Path) -> Self {
        let listen = format!("--listen-address=unix://{}", socket.display());
        Self::start_with(store, &[&listen], &[], socket)
    }

    /// Starts `daemon ARGS` over `store` with `env` set, and waits until
    /// `socket` accepts connections.
    pub fn start_with(
        store: &[String],
        args: &[&str],
        env: &[(&str, &Path)],
        socket: &Path,
    ) -> Self {
        Self::spawn(store, args, env, || {
            std::os::unix::net::UnixStream::connect(socket).is_ok()
        })
    }

    /// Starts `daemon --listen-address 127.0.0.1:PORT ARGS` over `store` on
    /// a free port, waits until it accepts connections, and returns it with
    /// the port.
    pub fn start_tcp(store: &[String], args: &[&str]) -> (Self, u16) {
        let port = free_port();
        let listen = format!("--listen-address=127.0.0.1:{port}");
        let mut all_args = vec![listen.as_str()];
        all_args.extend_from_slice(args);
        let daemon = Self::spawn(store, &all_args, &[], || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        (daemon, port)
    }

    fn spawn(
        store: &[String],
        args: &[&str],
        env: &[(&str, &Path)],
        listening: impl Fn() -> bool,
    ) -> Self {
        let mut child = Command::new(BIN)
            .args(store)
            .arg("daemon")
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start daemon");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !listening() {
            if let Some(status) = child.try_wait().expect("wait") {
                panic!("daemon exited with {status} before listening");
            }
            assert!(Instant::now() < deadline, "daemon did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }

    /// Sends the daemon SIGTERM; it must exit successfully within `limit`.
    /// Returns how long it took.
    pub fn terminate_within(mut self, limit: Duration) -> Duration {
        let sent = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "daemon exited with {status}");
                return sent.elapsed();
            }
            assert!(
                sent.elapsed() < limit,
                "daemon still running {limit:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the daemon with SIGTERM; it must exit successfully.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "daemon exited with {status}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
