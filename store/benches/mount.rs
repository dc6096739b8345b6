//! `tvix-store mount` beside the same tree on local disk (warm page cache):
//! sequential read of a file over 100 MB, `find` and `ls -lR` over 50k
//! entries, `nix-store --dump` (CppNix walking and reading everything), and
//! a cold read through a `tvix-store daemon` over gRPC.
//!
//! `cargo bench -p tvix-store --bench mount` (as root, with /dev/fuse).
//! Each measurement is the best of `$TVIX_BENCH_ROUNDS` (default 3) runs;
//! "first" is the first access after mounting, before the kernel caches
//! anything of the mount, "again" the best of the later ones. Peak memory
//! is the mount process's VmHWM.
//!
//! Targets (issue 11): sequential read at least 25 % of page-cache speed,
//! `find` at most 3x native.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tvix_castore::fs::is_mount_point;

const BIN: &str = env!("CARGO_BIN_EXE_tvix-store");
const BIG_FILE_BYTES: usize = 128 * 1024 * 1024;
const TREE_DIRS: usize = 500;
const TREE_FILES_PER_DIR: usize = 100;

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("run with: cargo bench -p tvix-store --bench mount (as root, with /dev/fuse)");
        return;
    }
    let rounds: usize = std::env::var("TVIX_BENCH_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(3)
        .max(1);
    let scratch = tempfile::tempdir().expect("tempdir");
    let input = scratch.path().join("in");
    let big = input.join("big");
    let tree = input.join("tree");
    make_inputs(&big, &tree);
    let store = store_args(&scratch.path().join("store"));
    let big_name = import(&store, &big);
    let tree_name = import(&store, &tree);
    let entries = walkdir::WalkDir::new(&tree).into_iter().count();
    println!(
        "file of {} MiB, tree of {entries} entries; best of {rounds}",
        BIG_FILE_BYTES >> 20
    );

    // Native, with a warm page cache: one untimed run first.
    let native = Measured::of(rounds + 1, |_| {
        (
            read_file(&big),
            run_quiet("find", &[&tree]),
            run_quiet("ls", &[Path::new("-lR"), &tree]),
            run_quiet("nix-store", &[Path::new("--dump"), &tree]),
        )
    });

    let mountpoint = scratch.path().join("mnt");
    let mount = Mount::start(&store, &mountpoint);
    let (mounted_big, mounted_tree) = (mountpoint.join(&big_name), mountpoint.join(&tree_name));
    let fuse = Measured::of(rounds + 1, |_| {
        (
            read_file(&mounted_big),
            run_quiet("find", &[&mounted_tree]),
            run_quiet("ls", &[Path::new("-lR"), &mounted_tree]),
            run_quiet("nix-store", &[Path::new("--dump"), &mounted_tree]),
        )
    });
    let peak = mount.stop();

    // Through a daemon: the first read of the file after mounting.
    let socket = scratch.path().join("daemon.sock");
    let daemon = Daemon::start(&store, &socket);
    let client = all_services_at(&format!("grpc+unix://{}", socket.display()));
    let mount = Mount::start(&client, &mountpoint);
    let grpc_cold = read_file(&mounted_big);
    let grpc_peak = mount.stop();
    drop(daemon);

    let mib = BIG_FILE_BYTES as f64 / (1024.0 * 1024.0);
    let speed = |d: Duration| mib / d.as_secs_f64();
    println!(
        "{:<34} {:>10} {:>10} {:>10}",
        "", "native", "mount", "ratio"
    );
    let row = |what: &str, native: Duration, mount: Duration, throughput: bool| {
        if throughput {
            println!(
                "{what:<34} {:>7.0} MiB/s {:>7.0} MiB/s {:>8.1} %",
                speed(native),
                speed(mount),
                100.0 * native.as_secs_f64() / mount.as_secs_f64()
            );
        } else {
            println!(
                "{what:<34} {:>8.3} s {:>8.3} s {:>8.2}x",
                native.as_secs_f64(),
                mount.as_secs_f64(),
                mount.as_secs_f64() / native.as_secs_f64()
            );
        }
    };
    row("sequential read, first", native.again.0, fuse.first.0, true);
    row("sequential read, again", native.again.0, fuse.again.0, true);
    row("find, first", native.again.1, fuse.first.1, false);
    row("find, again", native.again.1, fuse.again.1, false);
    row("ls -lR, first", native.again.2, fuse.first.2, false);
    row("ls -lR, again", native.again.2, fuse.again.2, false);
    row(
        "nix-store --dump tree, first",
        native.again.3,
        fuse.first.3,
        false,
    );
    row(
        "nix-store --dump tree, again",
        native.again.3,
        fuse.again.3,
        false,
    );
    row(
        "sequential read over gRPC, cold",
        native.again.0,
        grpc_cold,
        true,
    );
    println!(
        "peak memory of the mount: {:.1} MiB local, {:.1} MiB over gRPC",
        peak as f64 / 1024.0,
        grpc_peak as f64 / 1024.0
    );
}

/// The first run's times and the best of the others.
struct Measured {
    first: (Duration, Duration, Duration, Duration),
    again: (Duration, Duration, Duration, Duration),
}

impl Measured {
    fn of(
        runs: usize,
        mut f: impl FnMut(usize) -> (Duration, Duration, Duration, Duration),
    ) -> Self {
        let first = f(0);
        let mut again = f(1);
        for run in 2..runs {
            let next = f(run);
            again = (
                again.0.min(next.0),
                again.1.min(next.1),
                again.2.min(next.2),
                again.3.min(next.3),
            );
        }
        Self { first, again }
    }
}

/// A 128 MiB file of bytes that do not repeat, and a tree of 500
/// directories of 100 small files.
fn make_inputs(big: &Path, tree: &Path) {
    std::fs::create_dir_all(tree).expect("mkdir");
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let data: Vec<u8> = (0..BIG_FILE_BYTES / 8)
        .flat_map(|_| next().to_le_bytes())
        .collect();
    std::fs::write(big, data).expect("write big");
    for dir in 0..TREE_DIRS {
        let dir_path = tree.join(format!("d{dir:03}"));
        std::fs::create_dir(&dir_path).expect("mkdir");
        for file in 0..TREE_FILES_PER_DIR {
            let contents = format!("{dir} {file} {}\n", next());
            std::fs::write(dir_path.join(format!("f{file:03}")), contents).expect("write");
        }
    }
}

/// Reads a file start to end in 1 MiB pieces.
fn read_file(path: &Path) -> Duration {
    let start = Instant::now();
    let mut file = std::fs::File::open(path).expect("open");
    let mut buffer = vec![0; 1024 * 1024];
    let mut total = 0;
    loop {
        let n = file.read(&mut buffer).expect("read");
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(BIG_FILE_BYTES, total, "read all of {path:?}");
    start.elapsed()
}

/// Runs a command with its output to /dev/null; it must succeed.
fn run_quiet(program: &str, args: &[&Path]) -> Duration {
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("run");
    assert!(status.success(), "{program} {args:?} failed");
    start.elapsed()
}

fn store_args(dir: &Path) -> Vec<String> {
    let dir = dir.display();
    std::fs::create_dir_all(format!("{dir}/blobs")).expect("mkdir");
    vec![
        format!("--blob-service-addr=objectstore+file://{dir}/blobs"),
        format!("--directory-service-addr=redb://{dir}/directories.redb"),
        format!("--path-info-service-addr=redb://{dir}/pathinfo.redb"),
    ]
}

fn all_services_at(addr: &str) -> Vec<String> {
    ["blob", "directory", "path-info"]
        .iter()
        .map(|service| format!("--{service}-service-addr={addr}"))
        .collect()
}

/// Imports `path`, returning the store path's basename.
fn import(store: &[String], path: &Path) -> String {
    let output = Command::new(BIN)
        .args(store)
        .arg("import")
        .arg(path)
        .output()
        .expect("import");
    assert!(output.status.success(), "import {path:?} failed");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    stdout
        .trim()
        .strip_prefix("/nix/store/")
        .expect("a store path")
        .to_owned()
}

struct Mount {
    child: Child,
}

impl Mount {
    fn start(store: &[String], mountpoint: &Path) -> Self {
        std::fs::create_dir_all(mountpoint).expect("mkdir");
        let mountpoint: PathBuf = mountpoint.canonicalize().expect("canonicalize");
        let child = Command::new(BIN)
            .args(store)
            .arg("mount")
            .arg(&mountpoint)
            .spawn()
            .expect("mount");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !is_mount_point(&mountpoint) {
            assert!(Instant::now() < deadline, "not mounted");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child }
    }

    /// Stops the mount; returns its peak resident memory in KiB.
    fn stop(mut self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("proc status");
        let peak = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(self.child.wait().expect("wait").success(), "mount failed");
        peak
    }
}

struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(store: &[String], socket: &Path) -> Self {
        let child = Command::new(BIN)
            .args(store)
            .args(["daemon", "--listen-address"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(Stdio::null())
            .spawn()
            .expect("daemon");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            assert!(Instant::now() < deadline, "daemon not listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
