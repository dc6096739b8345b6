//! nar-bridge against nginx serving the same binary cache as static files
//! (`nix copy --to file://…`), on this machine, in one run:
//!
//! - NAR download throughput of a ~1.3 GiB closure (the Rust toolchain's
//!   `lib`, large libraries, and `share`, tens of thousands of small
//!   documentation files, plus a text file referring to both), with 1 and
//!   16 concurrent clients each fetching the whole closure, uncompressed
//!   and zstd (nginx: files compressed by `nix copy`; nar-bridge:
//!   compressed on the fly);
//! - how fast a client decompresses that zstd (one thread, as Nix does);
//! - narinfo latency, p50 and p99, under 16 concurrent clients;
//! - the upload (`nix copy --to http://…`) into nar-bridge, beside
//!   `nix copy --to file://…`;
//! - peak memory (VmHWM) of nar-bridge and of the nginx processes.
//!
//! Run with `cargo bench -p nar-bridge --bench serve`; needs `nix` (2.8)
//! and `nginx` (Debian's) on the machine, about 6 GB in $TMPDIR, and a few
//! minutes. `$NAR_BRIDGE_BENCH_TREES` (colon-separated directories)
//! replaces the toolchain directories.
//!
//! Targets (issue 13): uncompressed at least 80 % of nginx's throughput,
//! narinfo p50 under 1 ms, zstd served faster than the client decompresses.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use async_compression::tokio::bufread::ZstdDecoder;
use futures::StreamExt;
use nix_compat::narinfo::NarInfo;
use tvix_store::utils::ServiceAddrs;

const BRIDGE: &str = env!("CARGO_BIN_EXE_nar-bridge");
const NARINFO_REQUESTS_PER_CLIENT: usize = 2000;

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("run with: cargo bench -p nar-bridge --bench serve (needs nix and nginx)");
        return;
    }
    for program in ["nix", "nginx"] {
        if which(program).is_none() {
            println!("{program} is not on PATH (apt-get install nix-bin nginx); not measuring");
            return;
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.exists())
}

fn run(command: &mut Command) -> Vec<u8> {
    let output = command.output().expect("spawning");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn wait_for(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Peak resident memory of a process and its children, in MiB.
fn peak_memory(pid: u32) -> f64 {
    let hwm = |pid: &str| -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let mut total = hwm(&pid.to_string()).unwrap_or(0);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned));
        if parent.as_deref() == Some(&pid.to_string()) {
            total += hwm(&name).unwrap_or(0);
        }
    }
    total as f64 / 1024.0
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_nginx(scratch: &Path, root: &Path) -> Server {
    let port = free_port();
    let prefix = scratch.join("nginx");
    std::fs::create_dir_all(prefix.join("logs")).expect("nginx dir");
    let user = if run(Command::new("id").arg("-u")) == b"0\n" {
        "user root;"
    } else {
        ""
    };
    let config = format!(
        "{user}
worker_processes auto;
daemon off;
error_log {prefix}/logs/error.log;
pid {prefix}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  types {{ }}
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {root};
  }}
}}
",
        prefix = prefix.display(),
        root = root.display(),
    );
    let config_file = prefix.join("nginx.conf");
    std::fs::write(&config_file, config).expect("nginx.conf");
    let child = Command::new(which("nginx").expect("nginx"))
        .arg("-c")
        .arg(&config_file)
        .arg("-p")
        .arg(&prefix)
        .spawn()
        .expect("starting nginx");
    wait_for(port);
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// The upload token of the bridge benchmarked, which its uploader has in
/// its netrc file.
const UPLOAD_TOKEN: &str = "bench-upload-token";

fn start_bridge(store: &Path) -> Server {
    let port = free_port();
    let addrs = ServiceAddrs::local(store).expect("store addresses");
    std::fs::create_dir_all(store.join("blobs")).expect("store dir");
    let token_file = store.join("upload-token");
    std::fs::write(&token_file, UPLOAD_TOKEN).expect("token file");
    let child = Command::new(BRIDGE)
        .args(["--listen-address", &format!("127.0.0.1:{port}")])
        .args(["--blob-service-addr", &addrs.blob_service_addr])
        .args(["--directory-service-addr", &addrs.directory_service_addr])
        .args(["--path-info-service-addr", &addrs.path_info_service_addr])
        .args(["--log-level", "warn", "--allow-upload"])
        .arg("--upload-token-file")
        .arg(&token_file)
        .arg("--upload-dir")
        .arg(store.join("uploads"))
        .spawn()
        .expect("starting nar-bridge");
    wait_for(port);
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// A NAR to fetch: its URL below a cache and its uncompressed size.
#[derive(Clone)]
struct Nar {
    url: String,
    nar_size: u64,
}

/// The NARs of `digests` as a cache's narinfos point to them; for the
/// bridge, `extension` picks the compression.
async fn nars(base: &str, digests: &[String], extension: Option<&str>) -> Vec<Nar> {
    let client = reqwest::Client::new();
    let mut nars = Vec::new();
    for digest in digests {
        let text = client
            .get(format!("{base}/{digest}.narinfo"))
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .expect("narinfo")
            .text()
            .await
            .expect("narinfo body");
        let narinfo = NarInfo::parse(&text).expect("valid narinfo");
        let url = match extension {
            Some(extension) => {
                let (stem, _) = narinfo.url.split_once(".nar").expect("a NAR URL");
                format!("{stem}{extension}")
            }
            None => narinfo.url.to_owned(),
        };
        nars.push(Nar {
            url: format!("{base}/{url}"),
            nar_size: narinfo.nar_size,
        });
    }
    nars
}

/// `clients` clients at once each fetch every NAR; NAR bytes per second.
async fn download(nars: &[Nar], clients: usize) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let nars = nars.to_vec();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut received = 0u64;
                for nar in &nars {
                    let response = client
                        .get(&nar.url)
                        .send()
                        .await
                        .and_then(|response| response.error_for_status())
                        .expect("NAR");
                    let mut body = response.bytes_stream();
                    while let Some(chunk) = body.next().await {
                        received += chunk.expect("NAR chunk").len() as u64;
                    }
                }
                received
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.expect("client") > 0);
    }
    let nar_bytes: u64 = nars.iter().map(|nar| nar.nar_size).sum::<u64>() * clients as u64;
    nar_bytes as f64 / started.elapsed().as_secs_f64()
}

/// p50 and p99 of narinfo GETs by 16 clients at once, in milliseconds.
async fn narinfo_latency(base: &str, digests: &[String]) -> (f64, f64) {
    let tasks: Vec<_> = (0..16)
        .map(|client_index| {
            let urls: Vec<String> = digests
                .iter()
                .map(|digest| format!("{base}/{digest}.narinfo"))
                .collect();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut latencies = Vec::with_capacity(NARINFO_REQUESTS_PER_CLIENT);
                for request in 0..NARINFO_REQUESTS_PER_CLIENT {
                    let url = &urls[(client_index + request) % urls.len()];
                    let started = Instant::now();
                    let body = client
                        .get(url)
                        .send()
                        .await
                        .and_then(|response| response.error_for_status())
                        .expect("narinfo")
                        .bytes()
                        .await
                        .expect("narinfo body");
                    assert!(!body.is_empty());
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client"));
    }
    latencies.sort();
    let at = |quantile: f64| {
        latencies[((latencies.len() as f64 * quantile) as usize).min(latencies.len() - 1)]
            .as_secs_f64()
            * 1000.0
    };
    (at(0.5), at(0.99))
}

/// How fast one thread decompresses the zstd NAR files of `cache`, in NAR
/// bytes per second.
async fn zstd_decompression(cache: &Path, nars: &[Nar]) -> f64 {
    let mut files = Vec::new();
    for nar in nars {
        let file = nar.url.rsplit_once("/nar/").expect("NAR URL").1;
        files.push(std::fs::read(cache.join("nar").join(file)).expect("zstd file"));
    }
    let started = Instant::now();
    let mut total = 0u64;
    for file in &files {
        let mut sink = tokio::io::sink();
        total += tokio::io::copy(&mut ZstdDecoder::new(&file[..]), &mut sink)
            .await
            .expect("decompress");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

async fn bench() {
    let trees: Vec<PathBuf> = match std::env::var_os("NAR_BRIDGE_BENCH_TREES") {
        Some(trees) => std::env::split_paths(&trees).collect(),
        None => {
            let sysroot =
                String::from_utf8(run(Command::new("rustc").args(["--print", "sysroot"])))
                    .expect("UTF-8 sysroot");
            let sysroot = PathBuf::from(sysroot.trim());
            vec![sysroot.join("lib"), sysroot.join("share")]
        }
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let scratch = scratch.path();
    let home = scratch.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let nix = |program: &str| {
        let mut command = Command::new(program);
        command.env("HOME", &home).env("NIX_CONF_DIR", &home).args([
            "--option",
            "experimental-features",
            "nix-command",
        ]);
        command
    };

    // The closure, in a throwaway Nix store.
    let src = scratch.join("src");
    let interpolated: Vec<String> = trees
        .iter()
        .map(|tree| format!("${{{}}}", tree.display()))
        .collect();
    let expression = format!("builtins.toFile \"closure\" \"{}\"", interpolated.join(" "));
    let started = Instant::now();
    let top = String::from_utf8(run(nix("nix-instantiate").arg("--store").arg(&src).args([
        "--read-write-mode",
        "--eval",
        "-E",
        &expression,
    ])))
    .expect("UTF-8");
    let top = top.trim().trim_matches('"').to_owned();
    let closure = String::from_utf8(run(nix("nix-store").arg("--store").arg(&src).args([
        "--query",
        "--requisites",
        &top,
    ])))
    .expect("UTF-8");
    let digests: Vec<String> = closure
        .lines()
        .map(|path| path.trim_start_matches("/nix/store/")[..32].to_owned())
        .collect();
    println!(
        "closure of {} paths added to a Nix store in {:.1?}",
        digests.len(),
        started.elapsed()
    );

    // The static caches nginx serves, and the upload into nar-bridge.
    let caches = scratch.join("caches");
    let mut file_copy = Duration::ZERO;
    for compression in ["none", "zstd"] {
        let started = Instant::now();
        run(nix("nix")
            .args(["copy", "--store"])
            .arg(&src)
            .arg("--to")
            .arg(format!(
                "file://{}?compression={compression}",
                caches.join(compression).display()
            ))
            .arg(&top));
        if compression == "none" {
            file_copy = started.elapsed();
        }
    }
    let bridge = start_bridge(&scratch.join("tvix"));
    let netrc = scratch.join("netrc");
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1 login nix password {UPLOAD_TOKEN}\n"),
    )
    .expect("netrc");
    let started = Instant::now();
    run(nix("nix")
        .arg("--option")
        .arg("netrc-file")
        .arg(&netrc)
        .args(["copy", "--store"])
        .arg(&src)
        .args(["--to", &format!("{}?compression=none", bridge.base), &top]));
    let upload = started.elapsed();
    let upload_memory = peak_memory(bridge.child.id());
    let nar_total: u64 = nars(&bridge.base, &digests, None)
        .await
        .iter()
        .map(|nar| nar.nar_size)
        .sum();
    println!(
        "NARs: {:.0} MiB; nix copy --to file:// (none) {file_copy:.1?}, --to nar-bridge (none) {upload:.1?} ({:.0} MiB/s); nar-bridge peak memory after the upload {upload_memory:.0} MiB",
        mib(nar_total),
        mib(nar_total) / upload.as_secs_f64()
    );
    let nginx = start_nginx(scratch, &caches);

    let nginx_none = nars(&format!("{}/none", nginx.base), &digests, None).await;
    let nginx_zstd = nars(&format!("{}/zstd", nginx.base), &digests, None).await;
    let bridge_none = nars(&bridge.base, &digests, None).await;
    let bridge_zstd = nars(&bridge.base, &digests, Some(".nar.zst")).await;

    println!("\nNAR download, NAR MiB/s (higher is better)");
    println!(
        "{:<28}{:>12}{:>12}{:>10}",
        "", "nginx", "nar-bridge", "ratio"
    );
    for (label, nginx_nars, bridge_nars) in [
        ("uncompressed", &nginx_none, &bridge_none),
        ("zstd", &nginx_zstd, &bridge_zstd),
    ] {
        for clients in [1, 16] {
            let nginx_speed = download(nginx_nars, clients).await;
            let bridge_speed = download(bridge_nars, clients).await;
            println!(
                "{:<28}{:>12.0}{:>12.0}{:>9.0}%",
                format!("{label}, {clients} client(s)"),
                mib(nginx_speed as u64),
                mib(bridge_speed as u64),
                100.0 * bridge_speed / nginx_speed
            );
        }
    }
    let decompression = zstd_decompression(&caches.join("zstd"), &nginx_zstd).await;
    println!(
        "client zstd decompression, one thread: {:.0} NAR MiB/s",
        mib(decompression as u64)
    );

    println!("\nnarinfo latency, 16 clients x {NARINFO_REQUESTS_PER_CLIENT} requests, ms");
    println!("{:<28}{:>12}{:>12}", "", "p50", "p99");
    for (label, base) in [
        ("nginx", format!("{}/none", nginx.base)),
        ("nar-bridge", bridge.base.clone()),
    ] {
        let (p50, p99) = narinfo_latency(&base, &digests).await;
        println!("{label:<28}{p50:>12.3}{p99:>12.3}");
    }

    println!(
        "\npeak memory at the end: nar-bridge {:.0} MiB, nginx (all processes) {:.0} MiB",
        peak_memory(bridge.child.id()),
        peak_memory(nginx.child.id())
    );
}
