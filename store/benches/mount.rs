//! `tvix-store mount` beside the same tree on local disk (warm page cache):
//! sequential read of a file over 100 MB, `find` and `ls -lR` over 50k
//! entries, `nix-store --dump` (CppNix walking and reading everything), and
//! a cold read through a `tvix-store daemon` over gRPC; with, as a ceiling,
//! the same read from a file system that serves zeros from memory through
//! the same FUSE daemon, so what FUSE itself costs on this kernel is known.
//!
//! `cargo bench -p tvix-store --bench mount` (as root, with /dev/fuse).
//! Every figure is the median of `$TVIX_BENCH_ROUNDS` (default 5) runs.
//! "first" is the first access after mounting, with a fresh mount process
//! each round (nothing verified, nothing in the kernel's caches of the
//! mount); "again" the same access right after it. The store is a pack
//! store (the default), whose files are in the page cache, as native's are.
//! Beside each mounted figure: the CPU time (user + system) of the mount
//! process for it. Peak memory is the mount process's largest VmHWM.
//!
//! Targets (issue 11): sequential read at least 25 % of page-cache speed,
//! `find` at most 3x native.

use std::ffi::CStr;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fuse_backend_rs::abi::fuse_abi::{FsOptions, OpenOptions, stat64};
use fuse_backend_rs::api::filesystem::{Context, Entry, FileSystem, ZeroCopyWriter};
use tvix_castore::fs::{FuseDaemon, is_mount_point};

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
        .unwrap_or(5)
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
        "file of {} MiB, tree of {entries} entries; medians of {rounds}; load average {}",
        BIG_FILE_BYTES >> 20,
        load_average()
    );

    let ops: [(&str, Op); 4] = [
        ("sequential read", Op::Read),
        ("find", Op::Run("find", &[])),
        ("ls -lR", Op::Run("ls", &["-lR"])),
        ("nix-store --dump", Op::Run("nix-store", &["--dump"])),
    ];
    let targets = |op: &Op| match op {
        Op::Read => (big.clone(), big_name.as_str()),
        Op::Run(..) => (tree.clone(), tree_name.as_str()),
    };

    // Native, with a warm page cache: one untimed run first.
    let native: Vec<Duration> = ops
        .iter()
        .map(|(_, op)| {
            let (path, _) = targets(op);
            op.run(&path);
            median((0..rounds).map(|_| op.run(&path)).collect())
        })
        .collect();

    let mountpoint = scratch.path().join("mnt");
    let mut peak = 0;
    let mut rows = Vec::new();
    for ((what, op), native) in ops.iter().zip(&native) {
        let (_, name) = targets(op);
        let mut first = Vec::new();
        let mut again = Vec::new();
        for _ in 0..rounds {
            let mount = Mount::start(&store, &mountpoint);
            let path = mountpoint.join(name);
            first.push(mount.timed(|| op.run(&path)));
            again.push(mount.timed(|| op.run(&path)));
            peak = peak.max(mount.stop());
        }
        rows.push((format!("{what}, first"), *native, median_pair(first)));
        rows.push((format!("{what}, again"), *native, median_pair(again)));
    }

    // Through a daemon: the first read of the file after mounting.
    let socket = scratch.path().join("daemon.sock");
    let daemon = Daemon::start(&store, &socket);
    let client = all_services_at(&format!("grpc+unix://{}", socket.display()));
    let mut grpc = Vec::new();
    let mut grpc_peak = 0;
    for _ in 0..rounds {
        let mount = Mount::start(&client, &mountpoint);
        let path = mountpoint.join(&big_name);
        grpc.push(mount.timed(|| Op::Read.run(&path)));
        grpc_peak = grpc_peak.max(mount.stop());
    }
    drop(daemon);
    rows.push((
        "sequential read over gRPC, cold".to_owned(),
        native[0],
        median_pair(grpc),
    ));

    // The FUSE ceiling: zeros from memory, through the same daemon.
    let ceiling_point = scratch.path().join("zero");
    std::fs::create_dir_all(&ceiling_point).expect("mkdir");
    let zero_mount = FuseDaemon::mount(ZeroFs, &ceiling_point, 2, false).expect("mount zeros");
    let zero_path = ceiling_point.join("zero");
    let zero_first = Op::Read.run(&zero_path);
    let zero_again = median((0..rounds).map(|_| Op::Read.run(&zero_path)).collect());
    zero_mount.unmount().expect("unmount zeros");

    let mib = BIG_FILE_BYTES as f64 / (1024.0 * 1024.0);
    let speed = |d: Duration| mib / d.as_secs_f64();
    println!(
        "{:<34} {:>11} {:>11} {:>10} {:>10}",
        "", "native", "mount", "ratio", "mount CPU"
    );
    for (what, native, (mount, cpu)) in &rows {
        if what.starts_with("sequential read") {
            println!(
                "{what:<34} {:>6.0} MiB/s {:>6.0} MiB/s {:>8.1} % {:>8.3} s",
                speed(*native),
                speed(*mount),
                100.0 * native.as_secs_f64() / mount.as_secs_f64(),
                cpu.as_secs_f64()
            );
        } else {
            println!(
                "{what:<34} {:>9.3} s {:>9.3} s {:>8.2}x {:>8.3} s",
                native.as_secs_f64(),
                mount.as_secs_f64(),
                mount.as_secs_f64() / native.as_secs_f64(),
                cpu.as_secs_f64()
            );
        }
    }
    for (what, time) in [
        ("FUSE ceiling (zeros), first", zero_first),
        ("FUSE ceiling (zeros), again", zero_again),
    ] {
        println!(
            "{what:<34} {:>6.0} MiB/s {:>6.0} MiB/s {:>8.1} %",
            speed(native[0]),
            speed(time),
            100.0 * native[0].as_secs_f64() / time.as_secs_f64(),
        );
    }
    println!(
        "peak memory of the mount: {:.1} MiB local, {:.1} MiB over gRPC; load average {}",
        peak as f64 / 1024.0,
        grpc_peak as f64 / 1024.0,
        load_average()
    );
}

/// What is measured on a path, natively or mounted.
enum Op {
    /// Read the file start to end in 1 MiB pieces.
    Read,
    /// Run the program with the arguments and the path, output discarded.
    Run(&'static str, &'static [&'static str]),
}

impl Op {
    fn run(&self, path: &Path) -> Duration {
        let start = Instant::now();
        match self {
            Op::Read => {
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
            }
            Op::Run(program, args) => {
                let status = Command::new(program)
                    .args(*args)
                    .arg(path)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .status()
                    .expect("run");
                assert!(status.success(), "{program} {args:?} {path:?} failed");
            }
        }
        start.elapsed()
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The median by wall time, with its CPU time.
fn median_pair(mut times: Vec<(Duration, Duration)>) -> (Duration, Duration) {
    times.sort();
    times[times.len() / 2]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|avg| avg.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
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

fn store_args(dir: &Path) -> Vec<String> {
    let dir = dir.display();
    vec![
        format!("--blob-service-addr=pack://{dir}/pack"),
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

    /// Runs `f`, returning its wall time and the CPU time the mount process
    /// spent meanwhile.
    fn timed(&self, f: impl FnOnce() -> Duration) -> (Duration, Duration) {
        let before = self.cpu_time();
        let wall = f();
        (wall, self.cpu_time().saturating_sub(before))
    }

    /// User and system time of the mount process so far, from
    /// `/proc/PID/stat` (fields 14 and 15, in clock ticks of 1/100 s).
    fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).expect("proc stat");
        // The command name (field 2) is in parentheses and may hold spaces.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let ticks: u64 = after_name
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|field| field.parse::<u64>().ok())
            .sum();
        Duration::from_millis(ticks * 10)
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

/// One file, `zero`, of [BIG_FILE_BYTES] zeros served from memory: what a
/// FUSE file system can reach on this kernel with nothing to fetch, check
/// or look up. Negotiates what `CastoreFs` does.
struct ZeroFs;

const ZERO_INODE: u64 = 2;
static ZEROS: [u8; 1024 * 1024] = [0; 1024 * 1024];

impl ZeroFs {
    fn attributes(inode: u64) -> stat64 {
        // SAFETY: stat64 is plain integers; all zeros is a valid value.
        let mut st: stat64 = unsafe { std::mem::zeroed() };
        st.st_ino = inode;
        st.st_nlink = 1;
        if inode == ZERO_INODE {
            st.st_mode = libc::S_IFREG | 0o444;
            st.st_size = BIG_FILE_BYTES as i64;
        } else {
            st.st_mode = libc::S_IFDIR | 0o555;
        }
        st
    }
}

const FOREVER: Duration = Duration::from_secs(365 * 24 * 60 * 60);

impl FileSystem for ZeroFs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, _capable: FsOptions) -> io::Result<FsOptions> {
        Ok(FsOptions::ASYNC_READ | FsOptions::MAX_PAGES)
    }

    fn lookup(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        if parent != 1 || name.to_bytes() != b"zero" {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        Ok(Entry {
            inode: ZERO_INODE,
            generation: 0,
            attr: Self::attributes(ZERO_INODE),
            attr_flags: 0,
            attr_timeout: FOREVER,
            entry_timeout: FOREVER,
        })
    }

    fn getattr(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: Option<u64>,
    ) -> io::Result<(stat64, Duration)> {
        Ok((Self::attributes(inode), FOREVER))
    }

    fn open(
        &self,
        _ctx: &Context,
        _inode: u64,
        _flags: u32,
        _fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        Ok((Some(1), OpenOptions::KEEP_CACHE, None))
    }

    fn read(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        _lock_owner: Option<u64>,
        _flags: u32,
    ) -> io::Result<usize> {
        let left = (BIG_FILE_BYTES as u64).saturating_sub(offset);
        let n = (size as usize).min(ZEROS.len()).min(left as usize);
        w.write_all(&ZEROS[..n])?;
        Ok(n)
    }
}
