//! Load and kill (issue 14): 32 clients import and export through one
//! `tvix-store daemon` over a local store (pack blobs, redb directories and
//! PathInfos), half of the exports downloaded through nar-bridge, for a
//! few seconds; the daemon is SIGKILLed in the middle of it and restarted
//! on the same store. Afterwards every path whose import was acknowledged
//! is there, described as acknowledged, and its NAR has the acknowledged
//! size and sha256; every path listed at all renders to the NAR its
//! PathInfo names (nothing half-visible); and the daemon's peak memory
//! stays bounded. The whole run is repeated [RUNS] times in a row.
//!
//! The phases last [PHASE] and until [IMPORTS_PER_PHASE] more imports were
//! acknowledged, so that a slow machine still kills a daemon with work
//! done and in flight.
//!
//! The daemon is this test binary itself, re-run as the ignored test
//! [daemon_process] (the `tvix-store` binary belongs to another package),
//! so it can be killed without killing the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use nar_bridge::{AppState, Config, router};
use nix_compat::narinfo::NarInfo;
use nix_compat::nixbase32;
use sha2::{Digest, Sha256};
use tvix_store::PathInfo;
use tvix_store::import::import_path_as_nar_ca;
use tvix_store::limits::ServeLimits;
use tvix_store::nar::write_nar;
use tvix_store::utils::{
    ListenAddress, Listener, ServiceAddrs, Services, construct_services, serve, shutdown_signal,
};

const RUNS: usize = 3;
const CLIENTS: usize = 32;
/// Least load before the kill, and after the restart...
const PHASE: Duration = Duration::from_secs(3);
/// ... and least imports acknowledged in each...
const IMPORTS_PER_PHASE: usize = 16;
/// ... unless this is reached.
const PHASE_LIMIT: Duration = Duration::from_secs(120);
/// The daemon's peak resident memory must stay below this.
const MEMORY_BOUND_KIB: u64 = 512 * 1024;

const STORE_ENV: &str = "LOAD_KILL_STORE";
const SOCKET_ENV: &str = "LOAD_KILL_SOCKET";

/// The daemon, when this binary is run by [Daemon::start]; otherwise
/// nothing.
#[test]
#[ignore = "the daemon load_and_kill starts and kills"]
fn daemon_process() {
    let (Some(store), Some(socket)) = (std::env::var_os(STORE_ENV), std::env::var_os(SOCKET_ENV))
    else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let addrs = ServiceAddrs::local(Path::new(&store)).expect("store addresses");
        let listener = Listener::bind(&ListenAddress::Unix(PathBuf::from(socket)), 0o600)
            .await
            .expect("listen");
        let services = construct_services(&addrs).await.expect("services");
        let shutdown = shutdown_signal().expect("signals");
        serve(listener, &services, &ServeLimits::default(), shutdown)
            .await
            .expect("serve");
    });
}

/// A daemon process over the store in `store`, on `socket`.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(store: &Path, socket: &Path) -> Self {
        let child = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "daemon_process", "--ignored", "--nocapture"])
            .env(STORE_ENV, store)
            .env(SOCKET_ENV, socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start daemon");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            assert!(Instant::now() < deadline, "daemon did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child }
    }

    /// Peak resident memory so far, in KiB.
    fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("daemon status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("wait");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// [Daemon::start], off the async workers (it waits for the socket).
async fn start_daemon(store: &Path, socket: &Path) -> Daemon {
    let (store, socket) = (store.to_owned(), socket.to_owned());
    tokio::task::spawn_blocking(move || Daemon::start(&store, &socket))
        .await
        .expect("start daemon")
}

/// gRPC client services of the daemon on `socket`.
async fn client(socket: &Path) -> Services {
    let addr = format!("grpc+unix://{}", socket.display());
    construct_services(&ServiceAddrs {
        blob_service_addr: addr.clone(),
        directory_service_addr: addr.clone(),
        path_info_service_addr: addr,
    })
    .await
    .expect("client services")
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    imports: AtomicU64,
    grpc_exports: AtomicU64,
    http_exports: AtomicU64,
    /// Failed calls; expected while the daemon is down.
    errors: AtomicU64,
    /// Exports whose NAR differs from the acknowledged one: never.
    mismatches: AtomicU64,
}

/// Paths whose import was acknowledged, as acknowledged.
type Acknowledged = Arc<Mutex<Vec<PathInfo>>>;

/// xorshift64, for contents and choices.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A small tree unique to `seed`: 1 to 4 files of up to 96 KiB, one in a
/// subdirectory.
fn write_tree(dir: &Path, seed: u64) {
    let mut state = seed | 1;
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    for file in 0..1 + next(&mut state) % 4 {
        let len = (next(&mut state) % (96 * 1024)) as usize;
        let mut contents = seed.to_le_bytes().to_vec();
        while contents.len() < len {
            contents.extend_from_slice(&next(&mut state).to_le_bytes());
        }
        let name = if file == 0 {
            "sub/first".to_owned()
        } else {
            format!("f{file}")
        };
        std::fs::write(dir.join(name), contents).expect("write");
    }
}

/// Whether `nar` is the NAR `path_info` names.
fn matches(nar: &[u8], path_info: &PathInfo) -> bool {
    nar.len() as u64 == path_info.nar_size
        && <[u8; 32]>::from(Sha256::digest(nar)) == path_info.nar_sha256
}

/// The NAR of `path_info` through the daemon's gRPC services.
async fn grpc_export(services: &Services, path_info: &PathInfo) -> Option<Vec<u8>> {
    let mut nar = Vec::new();
    write_nar(
        &mut nar,
        &path_info.node,
        &services.blob_service,
        &*services.directory_service,
    )
    .await
    .ok()?;
    Some(nar)
}

/// The NAR of `path_info` as a Nix client downloads it from the bridge:
/// its narinfo, then the NAR file the narinfo names.
async fn http_export(
    http: &reqwest::Client,
    bridge: &str,
    path_info: &PathInfo,
) -> Option<Vec<u8>> {
    let digest = nixbase32::encode(path_info.store_path.digest());
    let get = |url: String| async move {
        let response = http.get(url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.bytes().await.ok()
    };
    let narinfo = get(format!("{bridge}/{digest}.narinfo")).await?;
    let narinfo = NarInfo::parse(std::str::from_utf8(&narinfo).ok()?).ok()?;
    Some(get(format!("{bridge}/{}", narinfo.url)).await?.to_vec())
}

/// One client: imports a fresh tree, or exports an acknowledged path over
/// gRPC or through the bridge, until `stop` is set.
#[allow(clippy::too_many_arguments)]
async fn run_client(
    id: u64,
    work: PathBuf,
    socket: PathBuf,
    bridge: String,
    stop: Arc<AtomicBool>,
    acknowledged: Acknowledged,
    tally: Arc<Tally>,
    seed: u64,
) {
    let http = reqwest::Client::new();
    let mut services = client(&socket).await;
    let mut state = seed ^ (id << 32) | 1;
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let choice = next(&mut state) % 3;
        let known = {
            let acknowledged = acknowledged.lock().expect("not poisoned");
            let len = acknowledged.len() as u64;
            (len > 0).then(|| acknowledged[(next(&mut state) % len) as usize].clone())
        };
        let ok = match (choice, known) {
            (1, Some(path_info)) => match grpc_export(&services, &path_info).await {
                Some(nar) => {
                    tally.grpc_exports.fetch_add(1, Ordering::Relaxed);
                    if !matches(&nar, &path_info) {
                        tally.mismatches.fetch_add(1, Ordering::Relaxed);
                    }
                    true
                }
                None => false,
            },
            (2, Some(path_info)) => match http_export(&http, &bridge, &path_info).await {
                Some(nar) => {
                    tally.http_exports.fetch_add(1, Ordering::Relaxed);
                    if !matches(&nar, &path_info) {
                        tally.mismatches.fetch_add(1, Ordering::Relaxed);
                    }
                    true
                }
                None => false,
            },
            _ => {
                let tree = work.join(format!("t{id}-{round}"));
                write_tree(&tree, next(&mut state));
                let imported = import_path_as_nar_ca(
                    services.blob_service.clone(),
                    &*services.directory_service,
                    &*services.path_info_service,
                    &tree,
                    None,
                    &(),
                )
                .await;
                let _ = std::fs::remove_dir_all(&tree);
                match imported {
                    Ok(path_info) => {
                        tally.imports.fetch_add(1, Ordering::Relaxed);
                        acknowledged.lock().expect("not poisoned").push(path_info);
                        true
                    }
                    Err(_) => false,
                }
            }
        };
        if !ok {
            tally.errors.fetch_add(1, Ordering::Relaxed);
            // The daemon may be gone: wait a little, then connect anew.
            tokio::time::sleep(Duration::from_millis(50)).await;
            services = client(&socket).await;
        }
    }
}

/// Runs [CLIENTS] clients until `stop` is set.
async fn load(
    work: &Path,
    socket: &Path,
    bridge: &str,
    stop: &Arc<AtomicBool>,
    acknowledged: &Acknowledged,
    tally: &Arc<Tally>,
    seed: u64,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..CLIENTS as u64)
        .map(|id| {
            tokio::spawn(run_client(
                id,
                work.to_owned(),
                socket.to_owned(),
                bridge.to_owned(),
                stop.clone(),
                acknowledged.clone(),
                tally.clone(),
                seed,
            ))
        })
        .collect()
}

/// A bridge in this process over the daemon on `socket`; its address.
async fn start_bridge(socket: &Path) -> String {
    let services = client(socket).await;
    let state = AppState::new(
        services.blob_service,
        services.directory_service,
        services.path_info_service,
        Config {
            priority: 40,
            ..Config::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    format!("http://{address}")
}

/// Waits for [PHASE], and until `acknowledged` holds `count` paths (at
/// most [PHASE_LIMIT]).
async fn phase(acknowledged: &Acknowledged, count: usize) {
    let start = Instant::now();
    tokio::time::sleep(PHASE).await;
    while acknowledged.lock().expect("not poisoned").len() < count && start.elapsed() < PHASE_LIMIT
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One run: load, kill, restart, load, check. Returns the daemons' peaks.
async fn run(run: usize) -> (u64, u64) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let socket = tmp.path().join("daemon.sock");
    let acknowledged = Acknowledged::default();
    let tally = Arc::new(Tally::default());
    let started = Instant::now();

    let daemon = start_daemon(&store, &socket).await;
    let bridge = start_bridge(&socket).await;
    let stop = Arc::new(AtomicBool::new(false));
    let seed = run as u64 + 1;
    let clients = load(&work, &socket, &bridge, &stop, &acknowledged, &tally, seed).await;

    phase(&acknowledged, IMPORTS_PER_PHASE).await;
    let first_peak = daemon.peak_kib();
    let acknowledged_at_kill = acknowledged.lock().expect("not poisoned").len();
    tokio::task::spawn_blocking(move || daemon.kill())
        .await
        .expect("kill");
    let daemon = start_daemon(&store, &socket).await;
    phase(&acknowledged, acknowledged_at_kill + IMPORTS_PER_PHASE).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client");
    }
    let second_peak = daemon.peak_kib();

    // Every acknowledged path is there as acknowledged, and exports to its
    // NAR; through a fresh client and the bridge.
    let services = client(&socket).await;
    let http = reqwest::Client::new();
    let acknowledged = acknowledged.lock().expect("not poisoned").clone();
    for path_info in &acknowledged {
        let stored = services
            .path_info_service
            .get(*path_info.store_path.digest())
            .await
            .expect("get");
        assert_eq!(Some(path_info), stored.as_ref(), "acknowledged, then lost");
        let nar = grpc_export(&services, path_info).await.expect("export");
        assert!(matches(&nar, path_info), "{}", path_info.store_path);
    }
    let nar = http_export(&http, &bridge, &acknowledged[0])
        .await
        .expect("download after the restart");
    assert!(matches(&nar, &acknowledged[0]));

    // Nothing half-visible: whatever is listed renders to its NAR.
    let listed: Vec<PathInfo> = services
        .path_info_service
        .list()
        .map(|path_info| path_info.expect("list"))
        .collect()
        .await;
    for path_info in &listed {
        let summary = services
            .nar_calculation_service
            .calculate_nar(&path_info.node)
            .await
            .expect("listed path renders");
        assert_eq!(
            (path_info.nar_size, path_info.nar_sha256),
            (summary.nar_size, summary.nar_sha256),
            "{}",
            path_info.store_path
        );
    }
    assert_eq!(0, tally.mismatches.load(Ordering::Relaxed));
    assert!(acknowledged_at_kill > 0, "nothing imported before the kill");
    assert!(
        acknowledged.len() > acknowledged_at_kill,
        "nothing imported after the restart"
    );
    eprintln!(
        "run {run}: {:.1} s, {} imports ({acknowledged_at_kill} before the kill), {} gRPC and {} HTTP exports, {} failed calls, {} paths listed, daemon peak {} MiB before the kill, {} MiB after",
        started.elapsed().as_secs_f64(),
        tally.imports.load(Ordering::Relaxed),
        tally.grpc_exports.load(Ordering::Relaxed),
        tally.http_exports.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
        listed.len(),
        first_peak / 1024,
        second_peak / 1024,
    );
    (first_peak, second_peak)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_and_kill() {
    for run_number in 0..RUNS {
        let (first, second) = run(run_number).await;
        assert!(first < MEMORY_BOUND_KIB, "{first} KiB");
        assert!(second < MEMORY_BOUND_KIB, "{second} KiB");
    }
}
