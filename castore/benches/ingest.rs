//! The castore issue's import benchmark, in one run: ingest a file tree into
//! `memory://` and into fresh `objectstore+file://` and `pack://` stores, and set the
//! throughput beside hashing the same bytes with blake3 on one core and
//! beside `nix-store --add` of the same tree.
//!
//! Run with `cargo bench -p tvix-castore --bench ingest`. Settings, from the
//! environment:
//! - `TVIX_BENCH_INGEST_TREE`: the tree to import; default the Rust sysroot
//!   (`rustc --print sysroot`: ~1.2 GiB in ~52k files, many small ones, some
//!   large), the "Rust toolchain directory" the issue asks for.
//! - `TVIX_BENCH_INGEST_RUNS`: runs per measurement, the best one counts
//!   (default 3).
//! - `TVIX_BENCH_INGEST_ONLY`: a comma-separated subset of `blake3`,
//!   `memory`, `objectstore`, `pack`, `copy` and `nix`, the measurements to make
//!   (default all); handy under a profiler.
//!
//! Every measurement reads the tree from the page cache: an untimed pass
//! reads it all first. What is timed:
//! - `blake3, 1 core`: read every file and hash it, on one thread.
//! - `memory://`: `ingest_path` with `memory://` blobs.
//! - `objectstore+file://`: `ingest_path` into a fresh store directory per
//!   run (so every chunk is really written).
//! - `pack://`: the same into a fresh pack store, synced at the end.
//! - `objectstore+file://, again`, `pack://, again`: importing the tree a
//!   second time into the last of those stores, which must write nothing
//!   new.
//! - `cp -a`: copying the tree into a fresh directory, which creates one
//!   file per file and writes every byte, as `objectstore+file://` must (one
//!   object per blob or chunk) but without hashing anything: the floor for
//!   that layout on this machine.
//! - `nix-store --add`: `NIX_REMOTE=local?root=<fresh dir>` per run; skipped
//!   with a message when `nix-store` is not on PATH.
//!
//! Stores are removed only at the end, and `sync` runs before every timed
//! run, so no run pays for the writes or removals of the one before.
//!
//! Directories go to an in-memory directory service in every import; they
//! are a tiny fraction of the work.
//!
//! Run by `cargo test` (without `--bench`), it imports this crate's own
//! source tree once, as a smoke test of the benchmark code.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tvix_castore::Node;
use tvix_castore::blobservice::{BlobService, from_addr};
use tvix_castore::directoryservice::MemoryDirectoryService;
use tvix_castore::import::fs::ingest_path;

const TREE_ENV: &str = "TVIX_BENCH_INGEST_TREE";
const RUNS_ENV: &str = "TVIX_BENCH_INGEST_RUNS";
const ONLY_ENV: &str = "TVIX_BENCH_INGEST_ONLY";
const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test` does not.
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let (tree, runs) = if benchmarking {
        (bench_tree(), runs())
    } else {
        (PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"), 1)
    };
    let only = std::env::var(ONLY_ENV).ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|only| only.split(',').any(|w| w == name))
    };
    let files = regular_files(&tree);
    let bytes = hash_files_single_core(&files);
    println!(
        "ingest bench: {} ({} files, {:.1} MiB), best of {runs}",
        tree.display(),
        files.len(),
        bytes as f64 / MIB,
    );
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let mut results = Vec::new();
    // The stores written, removed only at the end: removing a tree of this
    // size makes the file system busy (discards, journal) for a while, which
    // must not land in the next run's time.
    let mut scratch = Vec::new();
    let mut root_node = None;

    let blake3 = wanted("blake3").then(|| {
        eprintln!("blake3, 1 core");
        let time = best_of(runs, || {
            let start = Instant::now();
            std::hint::black_box(hash_files_single_core(&files));
            start.elapsed()
        });
        results.push(("blake3, 1 core", time));
        time
    });

    let memory = wanted("memory").then(|| {
        eprintln!("memory://");
        let time = best_of(runs, || {
            let start = Instant::now();
            let node = runtime.block_on(ingest(&tree, "memory://"));
            let elapsed = start.elapsed();
            check_same_root(&mut root_node, node);
            elapsed
        });
        results.push(("memory://", time));
        time
    });

    let mut stores = Stores {
        runtime: &runtime,
        tree: &tree,
        runs,
        results: &mut results,
        scratch: &mut scratch,
        root_node: &mut root_node,
    };
    let objectstore = wanted("objectstore").then(|| stores.bench("objectstore+file://"));
    let pack = wanted("pack").then(|| stores.bench("pack://"));

    let copy = wanted("copy").then(|| {
        eprintln!("cp -a");
        let time = best_of(runs, || {
            let target = TempDir::new().expect("copy target");
            let start = Instant::now();
            let status = Command::new("cp")
                .arg("-a")
                .arg(&tree)
                .arg(target.path().join("copy"))
                .status()
                .expect("run cp");
            let elapsed = start.elapsed();
            assert!(status.success(), "cp -a failed");
            scratch.push(target);
            elapsed
        });
        results.push(("cp -a (no hashing)", time));
        time
    });

    let nix = if wanted("nix") {
        nix_store_add(&tree, runs, &mut scratch)
    } else {
        None
    };
    if let Some(nix) = nix {
        results.push(("nix-store --add", nix));
    }

    println!();
    println!("{:<28} {:>9} {:>10}", "", "seconds", "MiB/s");
    for (name, time) in &results {
        println!(
            "{name:<28} {:>9.3} {:>10.1}",
            time.as_secs_f64(),
            bytes as f64 / MIB / time.as_secs_f64()
        );
    }
    eprintln!("removing {} stores", scratch.len());
    drop(scratch);

    println!();
    if let (Some(blake3), Some(memory)) = (blake3, memory) {
        println!(
            "memory:// vs blake3 on 1 core:          {:.2}x its speed (target >= 0.5x)",
            ratio(blake3, memory)
        );
    }
    if let (Some(nix), Some(objectstore)) = (nix, objectstore) {
        println!(
            "objectstore+file:// vs nix-store --add: {:.2}x its speed (target >= 5x)",
            ratio(nix, objectstore)
        );
    }
    if let (Some(nix), Some(pack)) = (nix, pack) {
        println!(
            "pack:// vs nix-store --add:             {:.2}x its speed (target >= 4x)",
            ratio(nix, pack)
        );
    }
    if let (Some(nix), Some(copy)) = (nix, copy) {
        println!(
            "cp -a vs nix-store --add:               {:.2}x its speed (the floor for one file per object)",
            ratio(nix, copy)
        );
    }
}

/// What the persistent stores' measurements share.
struct Stores<'a> {
    runtime: &'a tokio::runtime::Runtime,
    tree: &'a Path,
    runs: usize,
    results: &'a mut Vec<(&'static str, Duration)>,
    scratch: &'a mut Vec<TempDir>,
    root_node: &'a mut Option<Node>,
}

impl Stores<'_> {
    /// Ingests into fresh stores at `scheme` (a directory URL prefix), then
    /// once more into the last, which must write nothing new. Returns the
    /// best time of the fresh ones.
    fn bench(&mut self, scheme: &'static str) -> Duration {
        eprintln!("{scheme}");
        let time = best_of(self.runs, || {
            let store = TempDir::new().expect("store dir");
            let url = format!("{scheme}{}", store.path().display());
            let start = Instant::now();
            let node = self.runtime.block_on(ingest(self.tree, &url));
            let elapsed = start.elapsed();
            check_same_root(self.root_node, node);
            self.scratch.push(store);
            elapsed
        });
        self.results.push((scheme, time));

        let store = self.scratch.last().expect("at least one run");
        // A pack store's index database may grow for redb's own
        // bookkeeping on every open; what counts is the packs.
        let written = if scheme == "pack://" {
            store.path().join("packs")
        } else {
            store.path().to_owned()
        };
        let before = dir_usage(&written);
        let url = format!("{scheme}{}", store.path().display());
        settle();
        let start = Instant::now();
        let node = self.runtime.block_on(ingest(self.tree, &url));
        let again = start.elapsed();
        check_same_root(self.root_node, node);
        let after = dir_usage(&written);
        assert_eq!(before, after, "a second import wrote something");
        println!(
            "{scheme} holds {} files, {:.1} MiB; a second import added nothing",
            before.0,
            before.1 as f64 / MIB
        );
        self.results.push((
            if scheme == "pack://" {
                "pack://, again"
            } else {
                "objectstore+file://, again"
            },
            again,
        ));
        time
    }
}

/// The tree to import: `$TVIX_BENCH_INGEST_TREE`, or the Rust sysroot.
fn bench_tree() -> PathBuf {
    if let Some(path) = std::env::var_os(TREE_ENV) {
        return PathBuf::from(path);
    }
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("run `rustc --print sysroot` (or set TVIX_BENCH_INGEST_TREE)");
    assert!(output.status.success(), "rustc --print sysroot failed");
    let sysroot = String::from_utf8(output.stdout).expect("sysroot is UTF-8");
    PathBuf::from(sysroot.trim_end())
}

fn runs() -> usize {
    match std::env::var(RUNS_ENV) {
        Ok(runs) => runs
            .parse()
            .ok()
            .filter(|&runs| runs > 0)
            .unwrap_or_else(|| panic!("{RUNS_ENV} must be a positive number, got {runs:?}")),
        Err(_) => 3,
    }
}

/// How much faster `fast` is than `slow`, by time.
fn ratio(slow: Duration, fast: Duration) -> f64 {
    slow.as_secs_f64() / fast.as_secs_f64()
}

/// Writes back dirty pages, so the next run does not pay for the writes of
/// the one before. Without `sync` on PATH the runs are just noisier.
fn settle() {
    let _ = Command::new("sync").status();
}

/// The best time of `runs` runs, each after [settle] and printed (to
/// stderr) as progress.
fn best_of(runs: usize, mut run: impl FnMut() -> Duration) -> Duration {
    (0..runs)
        .map(|_| {
            settle();
            let time = run();
            eprintln!("  run: {:.3} s", time.as_secs_f64());
            time
        })
        .min()
        .expect("at least one run")
}

/// Ingests `tree`, with everything made durable (as a PathInfo would need).
async fn ingest(tree: &Path, blob_url: &str) -> Node {
    let blob_service = from_addr(blob_url).await.expect("blob service");
    let node = ingest_path(blob_service.clone(), &MemoryDirectoryService::new(), tree)
        .await
        .expect("ingest");
    blob_service.sync().await.expect("sync");
    node
}

/// Every import of the same tree must give the same root.
fn check_same_root(first: &mut Option<Node>, node: Node) {
    let first = first.get_or_insert_with(|| node.clone());
    assert_eq!(*first, node, "imports of the same tree disagree");
}

fn regular_files(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|entry| entry.expect("walk tree"))
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.into_path())
        .collect()
}

/// Reads and hashes every file on this thread, like `b3sum --num-threads 1`;
/// returns the number of bytes hashed.
fn hash_files_single_core(files: &[PathBuf]) -> u64 {
    let mut contents = Vec::new();
    let mut total = 0;
    for path in files {
        contents.clear();
        std::fs::File::open(path)
            .and_then(|mut file| file.read_to_end(&mut contents))
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        std::hint::black_box(blake3::hash(&contents));
        total += contents.len() as u64;
    }
    total
}

/// The number of files below `dir` and their total size.
fn dir_usage(dir: &Path) -> (usize, u64) {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.expect("walk store"))
        .filter(|entry| entry.file_type().is_file())
        .fold((0, 0), |(count, size), entry| {
            (count + 1, size + entry.metadata().expect("stat").len())
        })
}

/// The best time of `nix-store --add tree` into a fresh local store, or
/// `None` (with a message) when it cannot be run.
fn nix_store_add(tree: &Path, runs: usize, scratch: &mut Vec<TempDir>) -> Option<Duration> {
    if Command::new("nix-store").arg("--version").output().is_err() {
        println!("nix-store is not on PATH: skipping the nix-store --add comparison");
        return None;
    }
    eprintln!("nix-store --add");
    Some(best_of(runs, || {
        let root = TempDir::new().expect("nix root");
        let start = Instant::now();
        let output = Command::new("nix-store")
            .arg("--add")
            .arg(tree)
            .env(
                "NIX_REMOTE",
                format!("local?root={}", root.path().display()),
            )
            .output()
            .expect("run nix-store --add");
        let elapsed = start.elapsed();
        assert!(
            output.status.success(),
            "nix-store --add failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        scratch.push(root);
        elapsed
    }))
}
