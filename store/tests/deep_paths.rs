//! Issue 14 #6, the attack itself: 2048 levels of directories with 255-byte
//! names, under 1 MB as a NAR or as a gRPC directory upload, used to cost
//! about half a gigabyte per call (a full path copy held per level). Now
//! the NAR is refused at the path length limit and the uploaded tree's
//! PathInfo is refused when the server renders it, each within a bounded
//! time and a few MiB of allocations, and the server goes on serving.
//!
//! Memory is measured by a counting allocator; this file holds one test so
//! that nothing else allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix_compat::store_path::StorePath;
use tvix_castore::{Directory, MAX_NAME_LEN, MAX_PATH_LEN, Node, PathComponent};
use tvix_store::PathInfo;
use tvix_store::limits::ServeLimits;
use tvix_store::nar::{IngestNarError, MAX_DEPTH, ingest_nar};
use tvix_store::utils::{ListenAddress, Listener, ServiceAddrs, construct_services, serve};

/// The system allocator, counting the bytes allocated now and at most.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as given.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as given.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `body`; returns what it gave, how long it took and the most bytes
/// allocated at once beyond what was allocated when it started.
async fn measured<T>(body: impl Future<Output = T>) -> (T, Duration, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let result = body.await;
    let elapsed = start.elapsed();
    (
        result,
        elapsed,
        PEAK.load(Ordering::Relaxed).saturating_sub(base),
    )
}

/// Allocation bound for either attack: the quadratic cost was ~0.5 GB.
const MEMORY_BOUND: usize = 32 * 1024 * 1024;
/// Time bound for either attack (debug build, busy CI machine).
const TIME_BOUND: Duration = Duration::from_secs(10);

/// A NAR string: length, bytes, padding to 8.
fn token(s: &[u8]) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(s);
    out.resize(out.len() + (8 - s.len() % 8) % 8, 0);
    out
}

/// The name of every level: as long as a name may be.
fn long_name(level: usize) -> Vec<u8> {
    let mut name = format!("{level:04}").into_bytes();
    name.resize(MAX_NAME_LEN, b'x');
    name
}

/// [MAX_DEPTH] directories, each in the one above under a 255-byte name,
/// the deepest holding an empty file, as a NAR.
fn deep_nar() -> Vec<u8> {
    let mut nar = token(b"nix-archive-1");
    for level in 0..MAX_DEPTH {
        for t in [&b"("[..], b"type", b"directory", b"entry", b"(", b"name"] {
            nar.extend(token(t));
        }
        nar.extend(token(&long_name(level)));
        nar.extend(token(b"node"));
    }
    for t in [&b"("[..], b"type", b"regular", b"contents", b""] {
        nar.extend(token(t));
    }
    nar.extend(token(b")"));
    for _ in 0..MAX_DEPTH {
        nar.extend(token(b")"));
        nar.extend(token(b")"));
    }
    nar
}

/// The same tree as castore directories, deepest first, and its root.
fn deep_directories() -> (Vec<Directory>, Node) {
    let mut directories = Vec::with_capacity(MAX_DEPTH);
    let mut node = Node::File {
        digest: tvix_castore::B3Digest::of(b""),
        size: 0,
        executable: false,
    };
    for level in (0..MAX_DEPTH).rev() {
        let name = PathComponent::try_from(long_name(level).as_slice()).expect("name");
        let directory = Directory::try_from_iter([(name, node)]).expect("directory");
        node = Node::Directory {
            digest: directory.digest(),
            size: directory.size(),
        };
        directories.push(directory);
    }
    (directories, node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_long_names() {
    let local = construct_services(&ServiceAddrs {
        blob_service_addr: "memory://".into(),
        directory_service_addr: "memory://".into(),
        path_info_service_addr: "memory://".into(),
    })
    .await
    .expect("services");

    // The NAR: refused once its path passes MAX_PATH_LEN.
    let nar = deep_nar();
    assert!(nar.len() < 1024 * 1024, "{} bytes", nar.len());
    let (ingested, time, memory) = measured(ingest_nar(
        &*local.blob_service,
        &*local.directory_service,
        nar.as_slice(),
    ))
    .await;
    eprintln!(
        "deep NAR ({} bytes): {time:?}, {} KiB allocated at most",
        nar.len(),
        memory / 1024
    );
    match ingested {
        Err(IngestNarError::PathTooLong { path }) => {
            let len = path.as_bytes().len();
            assert!(len > MAX_PATH_LEN && len <= MAX_PATH_LEN + MAX_NAME_LEN + 1);
        }
        other => panic!("expected PathTooLong, got {other:?}"),
    }
    assert!(time < TIME_BOUND, "{time:?}");
    assert!(memory < MEMORY_BOUND, "{memory} bytes");

    // The same tree uploaded to a daemon as directories (which it accepts:
    // a directory is small whatever its depth), then named by a PathInfo:
    // refused when the daemon renders it to check the NAR hash.
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("daemon.sock");
    let listener = Listener::bind(&ListenAddress::Unix(socket.clone()), 0o600)
        .await
        .expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn({
        let local = local.clone();
        async move {
            serve(listener, &local, &ServeLimits::default(), async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let client_addr = format!("grpc+unix://{}", socket.display());
    let remote = construct_services(&ServiceAddrs {
        blob_service_addr: client_addr.clone(),
        directory_service_addr: client_addr.clone(),
        path_info_service_addr: client_addr,
    })
    .await
    .expect("client");

    let (directories, root) = deep_directories();
    let (uploaded, time, memory) = measured(async {
        let mut putter = remote.directory_service.put_multiple_start();
        for directory in directories {
            putter.put(directory).await?;
        }
        putter.close().await
    })
    .await;
    uploaded.expect("directories upload");
    eprintln!(
        "deep directories: uploaded in {time:?}, {} KiB allocated at most",
        memory / 1024
    );
    assert!(memory < MEMORY_BOUND, "{memory} bytes");

    let path_info = PathInfo {
        store_path: StorePath::from_bytes(b"00000000000000000000000000000000-deep").expect("path"),
        node: root,
        references: vec![],
        nar_size: 0,
        nar_sha256: [0; 32],
        signatures: vec![],
        deriver: None,
        ca: None,
    };
    let (put, time, memory) = measured(remote.path_info_service.put(path_info)).await;
    let error = put.expect_err("refused").to_string();
    eprintln!(
        "deep PathInfo: refused in {time:?}, {} KiB allocated at most: {}…",
        memory / 1024,
        &error[..80]
    );
    assert!(error.contains("path is longer than 4096 bytes"), "{error}");
    assert!(time < TIME_BOUND, "{time:?}");
    assert!(memory < MEMORY_BOUND, "{memory} bytes");

    // Nothing stored, and the daemon still serves.
    let listed = remote
        .path_info_service
        .get([0; 20])
        .await
        .expect("daemon still serves");
    assert_eq!(None, listed);
    let _ = stop.send(());
    server.await.expect("join").expect("serve");
}
