//! `tvix-store import`, a second import into the same store, and
//! `export-nar`, beside `nix-store --add` (into a fresh local root),
//! `nix-hash` and `nix-store --dump` of the same trees, in one run.
//!
//! `cargo bench -p tvix-store --bench import_export`. Trees: the Rust
//! toolchain (`$TVIX_BENCH_TREE`, else `rustc --print sysroot`) and a
//! generated tree of `$TVIX_BENCH_SMALL_FILES` (default 100 000; 0 skips
//! it) small files. Every command is a separate process doing the whole
//! work (tvix: blobs, directories and the PathInfo, synced to disk), with
//! `sync` before each; one warm-up round, then the median of
//! `$TVIX_BENCH_ROUNDS` (default 5) rounds, each into fresh stores. Peak
//! memory (max RSS) comes from GNU time (`/usr/bin/time`) when present.
//! Without `nix-store` on PATH only tvix is measured.
//!
//! Targets (issue 12): import at least 4x faster than `nix-store --add`,
//! export-nar at least 1.5x faster than `nix-store --dump`, the second
//! import faster than `nix-hash`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tvix-store");
const GNU_TIME: &str = "/usr/bin/time";

fn main() {
    let rounds = env_number("TVIX_BENCH_ROUNDS", 5).max(1);
    let small_files = env_number("TVIX_BENCH_SMALL_FILES", 100_000);
    let have_nix = succeeds(Command::new("nix-store").arg("--version"));
    let have_time = Path::new(GNU_TIME).exists();
    let generated = tempfile::tempdir().expect("tempdir");
    let mut trees = vec![(
        "Rust toolchain",
        std::env::var_os("TVIX_BENCH_TREE")
            .map(PathBuf::from)
            .unwrap_or_else(rust_sysroot),
    )];
    if small_files > 0 {
        let tree = generated.path().join("small-files");
        small_files_tree(&tree, small_files);
        trees.push(("small files", tree));
    }
    for (name, tree) in trees {
        bench_tree(name, &tree, rounds, have_nix, have_time);
    }
}

/// One tree: every command, a warm-up and `rounds` measured rounds.
fn bench_tree(name: &str, tree: &Path, rounds: usize, have_nix: bool, have_time: bool) {
    let (bytes, files) = tree_size(tree);
    println!(
        "\n{name}: {} ({:.1} MiB in {files} files), median of {rounds} after a warm-up",
        tree.display(),
        mib(bytes)
    );
    let tree = tree.to_str().expect("UTF-8 tree path");
    let mut samples: Vec<(&str, Vec<Sample>)> = Vec::new();
    let mut record = |what: &'static str, sample: Sample, warm_up: bool| {
        if warm_up {
            return;
        }
        match samples.iter_mut().find(|(name, _)| *name == what) {
            Some((_, list)) => list.push(sample),
            None => samples.push((what, vec![sample])),
        }
    };
    for round in 0..=rounds {
        let warm_up = round == 0;
        let scratch = tempfile::tempdir().expect("tempdir");
        let store = store_args(scratch.path());
        let store: Vec<&str> = store.iter().map(String::as_str).collect();
        let (import, stdout) = measure(have_time, BIN, &store, &["import", tree]);
        let store_path = String::from_utf8(stdout).expect("UTF-8").trim().to_owned();
        record("tvix-store import", import, warm_up);
        let (again, _) = measure(have_time, BIN, &store, &["import", tree]);
        record("tvix-store import (again)", again, warm_up);
        let (export, _) = measure(have_time, BIN, &store, &["export-nar", &store_path]);
        record("tvix-store export-nar", export, warm_up);
        if have_nix {
            let nix_root = format!("local?root={}", scratch.path().join("nix").display());
            let (add, stdout) = measure(
                have_time,
                "nix-store",
                &["--store", &nix_root],
                &["--add", tree],
            );
            let nix_path = String::from_utf8(stdout).expect("UTF-8");
            assert_eq!(store_path, nix_path.trim(), "store paths differ");
            record("nix-store --add", add, warm_up);
            let (hash, _) = measure(have_time, "nix-hash", &["--type", "sha256"], &[tree]);
            record("nix-hash", hash, warm_up);
            let (dump, _) = measure(have_time, "nix-store", &[], &["--dump", tree]);
            record("nix-store --dump", dump, warm_up);
        }
        eprintln!("{name}: round {round} of {rounds} done");
    }

    let median = |what: &str| {
        samples
            .iter()
            .find(|(name, _)| *name == what)
            .map(|(_, list)| Sample::median(list))
    };
    for (what, list) in &samples {
        let sample = Sample::median(list);
        let memory = sample
            .max_rss_kib
            .map(|kib| format!("{:>8.1} MiB peak", kib as f64 / 1024.0))
            .unwrap_or_default();
        println!(
            "  {what:<26} {:>7.2} s {:>8.1} MiB/s {memory}",
            sample.time.as_secs_f64(),
            mib(bytes) / sample.time.as_secs_f64(),
        );
    }
    for (ours, theirs, target) in [
        ("tvix-store import", "nix-store --add", 4.0),
        ("tvix-store export-nar", "nix-store --dump", 1.5),
        ("tvix-store import (again)", "nix-hash", 1.0),
    ] {
        if let (Some(tvix), Some(nix)) = (median(ours), median(theirs)) {
            println!(
                "  {ours} vs {theirs}: {:.2}x as fast (target {target}x)",
                nix.time.as_secs_f64() / tvix.time.as_secs_f64()
            );
        }
    }
}

/// One run of a command: its wall time and, with GNU time, its peak RSS.
#[derive(Clone, Copy)]
struct Sample {
    time: Duration,
    max_rss_kib: Option<u64>,
}

impl Sample {
    /// The median time, and the largest peak memory of all runs.
    fn median(samples: &[Sample]) -> Sample {
        let mut times: Vec<Duration> = samples.iter().map(|sample| sample.time).collect();
        times.sort();
        Sample {
            time: times[times.len() / 2],
            max_rss_kib: samples.iter().filter_map(|sample| sample.max_rss_kib).max(),
        }
    }
}

/// Syncs the file systems, then runs a command to completion (it must
/// succeed) and returns its sample and stdout; a NAR goes to /dev/null,
/// so both sides pay for the write syscalls only.
fn measure(have_time: bool, program: &str, before: &[&str], args: &[&str]) -> (Sample, Vec<u8>) {
    assert!(succeeds(&mut Command::new("sync")), "sync failed");
    let rss_file = tempfile::NamedTempFile::new().expect("temp file");
    let mut command = if have_time {
        let mut command = Command::new(GNU_TIME);
        command
            .args(["-f", "%M", "-o"])
            .arg(rss_file.path())
            .arg(program);
        command
    } else {
        Command::new(program)
    };
    command.args(before).args(args).stdin(Stdio::null());
    let is_nar = args
        .first()
        .is_some_and(|arg| *arg == "export-nar" || *arg == "--dump");
    if is_nar {
        command.stdout(Stdio::null());
    }
    let start = Instant::now();
    let output = command.output().expect("run");
    let time = start.elapsed();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let max_rss_kib = std::fs::read_to_string(rss_file.path())
        .ok()
        .and_then(|text| text.trim().lines().last()?.parse().ok());
    (Sample { time, max_rss_kib }, output.stdout)
}

fn succeeds(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn rust_sysroot() -> PathBuf {
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc --print sysroot");
    PathBuf::from(String::from_utf8(output.stdout).expect("UTF-8").trim())
}

/// `count` files of 0 to 4 KiB of pseudo-random bytes (no two alike), 100
/// to a directory.
fn small_files_tree(root: &Path, count: usize) {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for file in 0..count {
        let dir = root.join(format!("d{:04}", file / 100));
        if file % 100 == 0 {
            std::fs::create_dir_all(&dir).expect("mkdir");
        }
        let size = (next() % 4097) as usize;
        let mut contents = Vec::with_capacity(size + 8);
        while contents.len() < size {
            contents.extend_from_slice(&next().to_le_bytes());
        }
        contents.truncate(size);
        std::fs::File::create(dir.join(format!("f{file}")))
            .and_then(|mut f| f.write_all(&contents))
            .expect("write file");
    }
}

/// A tvix store in `dir`: the default layout (pack files, redb).
fn store_args(dir: &Path) -> Vec<String> {
    let dir = dir.display();
    vec![
        format!("--blob-service-addr=pack://{dir}/pack"),
        format!("--directory-service-addr=redb://{dir}/directories.redb"),
        format!("--path-info-service-addr=redb://{dir}/pathinfo.redb"),
    ]
}

/// The bytes and the number of the regular files of a tree.
fn tree_size(tree: &Path) -> (u64, usize) {
    let sizes: Vec<u64> = walkdir::WalkDir::new(tree)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| entry.metadata().ok())
        .map(|metadata| metadata.len())
        .collect();
    (sizes.iter().sum(), sizes.len())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
