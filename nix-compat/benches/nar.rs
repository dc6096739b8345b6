//! NAR throughput beside CppNix, on the same tree in the same run.
//!
//!     NAR_BENCH_PATH=/some/tree cargo bench -p nix-compat --bench nar
//!
//! Measures, best of `NAR_BENCH_RUNS` (default 3) after one warm-up pass
//! that fills the page cache:
//! - NAR writing + sha256 (what `nix-hash --type sha256 PATH` does),
//! - NAR writing alone (what `nix-store --dump PATH > /dev/null` does),
//! - NAR reading: parsing the NAR and reading every file's contents,
//!
//! and prints the ratios against the CppNix commands when they are on PATH,
//! plus the in-memory sha256 speed (this crate's sha2, and `openssl speed`)
//! as the ceiling for hashing. The default tree is the Rust toolchain's
//! sysroot (about 1.4 GiB in 50k files).

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix_compat::nar::reader::{self, Node};
use sha2::Digest;

#[path = "../examples/common/dump_path.rs"]
mod dump_path;
use dump_path::{HashingSink, dump_path};

const MIB: f64 = (1 << 20) as f64;

/// File contents travel in buffers freed on another thread than the one
/// that filled them; mimalloc reuses that memory instead of returning it to
/// the kernel and faulting fresh pages in for every file, as glibc does for
/// buffers above its mmap threshold.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tree = match std::env::var_os("NAR_BENCH_PATH") {
        Some(p) => PathBuf::from(p),
        None => sysroot()?,
    };
    let runs: usize = std::env::var("NAR_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);

    // Warm-up: fills the page cache and gives the reference hash.
    let mut sink = HashingSink::default();
    dump_path(&tree, &mut sink)?;
    let (nar_sha256, nar_size) = sink.finish();
    let nar_sha256 = data_encoding::HEXLOWER.encode(&nar_sha256);
    println!(
        "input: {} (NAR: {:.1} MiB)",
        tree.display(),
        nar_size as f64 / MIB
    );
    let mb = nar_size as f64 / MIB;

    let sha2_speed = sha256_in_memory_speed();
    println!("sha256 in memory (sha2 crate): {sha2_speed:.0} MiB/s");
    if let Some(openssl) = openssl_sha256_speed() {
        println!("sha256 in memory (openssl speed -evp sha256, 16 KiB blocks): {openssl:.0} MiB/s");
    }
    println!();
    println!(
        "{:<34} {:>9} {:>11}   vs CppNix",
        "task", "best", "throughput"
    );

    let write_hash = best_of(runs, || {
        let mut sink = HashingSink::default();
        dump_path(&tree, &mut sink)?;
        sink.finish();
        Ok(())
    })?;
    let nix_hash = cppnix(
        runs,
        "nix-hash",
        &["--type", "sha256"],
        &tree,
        Some(&nar_sha256),
    )?;
    report(
        "NAR write + sha256",
        write_hash,
        mb,
        nix_hash.map(|t| ("nix-hash --type sha256", t)),
    );

    let write_only = best_of(runs, || dump_path(&tree, &mut io::sink()))?;
    let nix_dump = cppnix(runs, "nix-store", &["--dump"], &tree, None)?;
    report(
        "NAR write (to /dev/null)",
        write_only,
        mb,
        nix_dump.map(|t| ("nix-store --dump", t)),
    );

    let nar_file = tempfile::NamedTempFile::new()?;
    {
        let mut out = io::BufWriter::with_capacity(1 << 20, nar_file.as_file());
        dump_path(&tree, &mut out)?;
        out.flush()?;
    }
    let read = best_of(runs, || {
        let mut input = BufReader::with_capacity(1 << 20, File::open(nar_file.path())?);
        let mut buf = vec![0u8; 1 << 17];
        read_node(reader::open(&mut input)?, &mut buf)
    })?;
    report("NAR read (every byte, from file)", read, mb, None);
    Ok(())
}

/// Walks a node, reading every file to the end.
fn read_node<R: io::BufRead>(node: Node<'_, R>, buf: &mut [u8]) -> io::Result<()> {
    match node {
        Node::Symlink { .. } => Ok(()),
        Node::File { mut reader, .. } => {
            while reader.read(buf)? != 0 {}
            Ok(())
        }
        Node::Directory(mut dir) => {
            while let Some(entry) = dir.next()? {
                read_node(entry.node, buf)?;
            }
            Ok(())
        }
    }
}

fn sysroot() -> io::Result<PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn best_of(runs: usize, mut f: impl FnMut() -> io::Result<()>) -> io::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        f()?;
        best = best.min(start.elapsed());
    }
    Ok(best)
}

/// Times a CppNix command on `tree` (stdout discarded), or `None` when it is
/// not installed. With `expect`, checks that it printed that output.
fn cppnix(
    runs: usize,
    program: &str,
    args: &[&str],
    tree: &Path,
    expect: Option<&str>,
) -> io::Result<Option<Duration>> {
    if Command::new(program).arg("--version").output().is_err() {
        println!("({program} not on PATH: skipping its comparison)");
        return Ok(None);
    }
    if let Some(expect) = expect {
        let out = Command::new(program).args(args).arg(tree).output()?;
        let printed = String::from_utf8_lossy(&out.stdout);
        if printed.trim() != expect {
            return Err(io::Error::other(format!(
                "{program} printed {printed:?}, we computed {expect:?}"
            )));
        }
    }
    best_of(runs, || {
        let status = Command::new(program)
            .args(args)
            .arg(tree)
            .stdout(Stdio::null())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("{program} failed: {status}")))
        }
    })
    .map(Some)
}

fn report(task: &str, ours: Duration, mib: f64, theirs: Option<(&str, Duration)>) {
    let ratio = theirs.map_or(String::new(), |(what, t)| {
        format!(
            "{:.2}x faster than {what} ({:.2} s)",
            t.as_secs_f64() / ours.as_secs_f64(),
            t.as_secs_f64()
        )
    });
    println!(
        "{task:<34} {:>7.2} s {:>6.0} MiB/s   {ratio}",
        ours.as_secs_f64(),
        mib / ours.as_secs_f64()
    );
}

fn sha256_in_memory_speed() -> f64 {
    let data = vec![0x5au8; 256 << 20];
    let start = Instant::now();
    let digest = sha2::Sha256::digest(&data);
    std::hint::black_box(digest);
    256.0 / start.elapsed().as_secs_f64()
}

/// Parses `openssl speed -evp sha256 -bytes 16384`'s last line.
fn openssl_sha256_speed() -> Option<f64> {
    let out = Command::new("openssl")
        .args([
            "speed", "-evp", "sha256", "-bytes", "16384", "-seconds", "2",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kbytes: f64 = text
        .lines()
        .rev()
        .find(|l| l.starts_with("sha256") || l.starts_with("SHA256"))?
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(kbytes * 1000.0 / MIB)
}
