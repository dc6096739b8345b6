//! Throughput of importing a file tree, beside the speed of just hashing its
//! bytes with blake3 on one core.
//!
//! The tree is `$TVIX_BENCH_INGEST_TREE` if set (the castore issue measures a
//! Rust toolchain directory: ~1.4 GiB, ~50k files), otherwise a generated
//! tree of mixed file sizes. Run with
//! `cargo bench -p tvix-castore --bench ingest`; to compare with Nix, time
//! `NIX_REMOTE="local?root=$(mktemp -d)" nix-store --add "$TREE"` on the same
//! tree.
//!
//! Benchmarks:
//! - `blake3_single_core`: read every file and hash it, one file at a time.
//! - `memory`: `ingest_path` into `memory://` blobs.
//! - `objectstore_file`: `ingest_path` into a fresh `objectstore+file://`
//!   store each iteration (so every chunk is really written).
//!
//! Directories go to an in-memory directory service in both imports; they are
//! a tiny fraction of the work.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tempfile::TempDir;
use tvix_castore::blobservice::from_addr;
use tvix_castore::directoryservice::MemoryDirectoryService;
use tvix_castore::import::fs::ingest_path;

const TREE_ENV: &str = "TVIX_BENCH_INGEST_TREE";

/// The tree to import, and the temporary directory holding it if generated.
fn tree() -> (PathBuf, Option<TempDir>) {
    if let Some(path) = std::env::var_os(TREE_ENV) {
        return (PathBuf::from(path), None);
    }
    let dir = TempDir::new().expect("temp dir");
    let root = dir.path().join("tree");
    generate_tree(&root);
    (root, Some(dir))
}

/// About 190 MiB in ~10k files: many small files spread over nested
/// directories, some medium ones, a few large ones, like a toolchain.
fn generate_tree(root: &Path) {
    let mut xof = blake3::Hasher::new().update(b"ingest bench").finalize_xof();
    let mut write = |path: PathBuf, size: usize| {
        let mut contents = vec![0; size];
        xof.fill(&mut contents);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write");
    };
    for i in 0..10_000usize {
        // Sizes from 1 byte to 16 KiB, most of them small.
        let size = 1 << (i % 15);
        write(
            root.join(format!("small/{}/{}/file-{i}", i % 17, i % 5)),
            size + i % 7,
        );
    }
    for i in 0..100usize {
        write(root.join(format!("medium/file-{i}")), 64 * 1024 + i * 9_000);
    }
    for i in 0..6usize {
        write(root.join(format!("large/file-{i}")), 16 * 1024 * 1024 + i);
    }
}

fn regular_files(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|entry| entry.expect("walk tree"))
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.into_path())
        .collect()
}

fn hash_files_single_core(files: &[PathBuf]) -> u64 {
    let mut buf = vec![0; 1024 * 1024];
    let mut total = 0;
    for path in files {
        let mut file = std::fs::File::open(path).expect("open");
        let mut hasher = blake3::Hasher::new();
        loop {
            let n = file.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        std::hint::black_box(hasher.finalize());
    }
    total
}

fn ingest(c: &mut Criterion) {
    let (root, _generated) = tree();
    let files = regular_files(&root);
    let bytes = hash_files_single_core(&files);
    eprintln!(
        "ingest bench: {} ({} files, {:.1} MiB)",
        root.display(),
        files.len(),
        bytes as f64 / (1024.0 * 1024.0)
    );
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");

    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    group.bench_function("blake3_single_core", |b| {
        b.iter(|| hash_files_single_core(&files))
    });

    group.bench_function("memory", |b| {
        b.to_async(&runtime).iter(|| async {
            let blob_service = from_addr("memory://").await.expect("memory://");
            ingest_path(blob_service, &MemoryDirectoryService::new(), &root)
                .await
                .expect("ingest")
        })
    });

    group.bench_function("objectstore_file", |b| {
        b.to_async(&runtime).iter_batched(
            || TempDir::new().expect("store dir"),
            |store| {
                let root = &root;
                async move {
                    let url = format!("objectstore+file://{}", store.path().display());
                    let blob_service = from_addr(&url).await.expect("objectstore+file://");
                    let node = ingest_path(blob_service, &MemoryDirectoryService::new(), root)
                        .await
                        .expect("ingest");
                    // Criterion drops outputs after timing, so removing
                    // the store is not measured.
                    (node, store)
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
