//! `tvix-store import` and `export-nar` of a large tree, beside `nix-store
//! --add` (into a scratch store) and `nix-store --dump` of the same tree.
//!
//! `cargo bench -p tvix-store --bench import_export`. The tree is
//! `$TVIX_BENCH_TREE`, else the Rust sysroot (`rustc --print sysroot`,
//! about 1 GiB). Each command runs once per round (`$TVIX_BENCH_ROUNDS`,
//! default 1), into fresh stores; the best time counts. Without `nix-store`
//! on PATH only tvix is measured.
//!
//! Targets (issue 4): import at least 5x faster than `nix-store --add`,
//! export at least as fast as `nix-store --dump`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tvix-store");

fn main() {
    let tree = std::env::var_os("TVIX_BENCH_TREE")
        .map(PathBuf::from)
        .unwrap_or_else(rust_sysroot);
    let rounds: usize = std::env::var("TVIX_BENCH_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(1);
    let tree_str = tree.to_str().expect("UTF-8 tree path");
    let bytes = tree_size(&tree);
    println!(
        "tree {} ({:.1} MiB), best of {rounds}",
        tree.display(),
        mib(bytes)
    );
    let have_nix = Command::new("nix-store")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());

    let mut results = Results::default();
    for round in 0..rounds {
        let scratch = tempfile::tempdir().expect("tempdir");
        let store = store_args(scratch.path());
        let store: Vec<&str> = store.iter().map(String::as_str).collect();
        let (import, stdout) = time(|| run(BIN, &store, &["import", tree_str]));
        let store_path = String::from_utf8(stdout).expect("UTF-8");
        let store_path = store_path.trim();
        results.tvix_import = best(results.tvix_import, import);
        let (export, _) = time(|| run(BIN, &store, &["export-nar", store_path]));
        results.tvix_export = best(results.tvix_export, export);

        if have_nix {
            let nix_root = format!("local?root={}", scratch.path().join("nix").display());
            let (add, stdout) =
                time(|| run("nix-store", &["--store", &nix_root], &["--add", tree_str]));
            let nix_path = String::from_utf8(stdout).expect("UTF-8");
            assert_eq!(store_path, nix_path.trim(), "store paths differ");
            results.nix_add = best(results.nix_add, add);
            let (dump, _) = time(|| run("nix-store", &[], &["--dump", tree_str]));
            results.nix_dump = best(results.nix_dump, dump);
        }
        eprintln!("round {} done", round + 1);
    }

    let line = |what: &str, duration: Option<Duration>| {
        if let Some(duration) = duration {
            println!(
                "{what:<22} {:>8.2} s {:>8.1} MiB/s",
                duration.as_secs_f64(),
                mib(bytes) / duration.as_secs_f64()
            );
        }
    };
    line("tvix-store import", results.tvix_import);
    line("nix-store --add", results.nix_add);
    line("tvix-store export-nar", results.tvix_export);
    line("nix-store --dump", results.nix_dump);
    let ratio = |what: &str, theirs: Option<Duration>, ours: Option<Duration>| {
        if let (Some(theirs), Some(ours)) = (theirs, ours) {
            println!(
                "{what}: tvix is {:.2}x as fast",
                theirs.as_secs_f64() / ours.as_secs_f64()
            );
        }
    };
    ratio(
        "import vs nix-store --add",
        results.nix_add,
        results.tvix_import,
    );
    ratio(
        "export vs nix-store --dump",
        results.nix_dump,
        results.tvix_export,
    );
}

#[derive(Default)]
struct Results {
    tvix_import: Option<Duration>,
    tvix_export: Option<Duration>,
    nix_add: Option<Duration>,
    nix_dump: Option<Duration>,
}

fn best(known: Option<Duration>, new: Duration) -> Option<Duration> {
    Some(known.map_or(new, |known| known.min(new)))
}

fn rust_sysroot() -> PathBuf {
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc --print sysroot");
    PathBuf::from(String::from_utf8(output.stdout).expect("UTF-8").trim())
}

/// A tvix store in `dir`: blobs as files, redb for the rest.
fn store_args(dir: &Path) -> Vec<String> {
    let dir = dir.display();
    vec![
        format!("--blob-service-addr=objectstore+file://{dir}/blobs"),
        format!("--directory-service-addr=redb://{dir}/directories.redb"),
        format!("--path-info-service-addr=redb://{dir}/pathinfo.redb"),
    ]
}

/// Runs a command to completion; it must succeed. Returns stdout, except
/// for a NAR, which is only counted.
fn run(program: &str, before: &[&str], args: &[&str]) -> Vec<u8> {
    let is_nar = args
        .first()
        .is_some_and(|arg| *arg == "export-nar" || *arg == "--dump");
    let mut command = Command::new(program);
    command.args(before).args(args).stdin(Stdio::null());
    if is_nar {
        // Written to /dev/null: both sides pay for the write syscalls only.
        command.stdout(Stdio::null());
    }
    let output = command.output().expect("run");
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let result = f();
    (start.elapsed(), result)
}

fn tree_size(tree: &Path) -> u64 {
    walkdir::WalkDir::new(tree)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| entry.metadata().ok())
        .map(|metadata| metadata.len())
        .sum()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
