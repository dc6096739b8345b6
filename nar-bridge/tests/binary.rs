//! The `nar-bridge` binary as started by a user, on a local store in a
//! temporary directory: the upload token, uploads surviving a restart
//! between a NAR and its narinfo, SIGTERM while a NAR is being sent to a
//! client that stopped reading, and the download stall timeout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix_compat::nixbase32;
use sha2::{Digest, Sha256};
use tvix_store::utils::ServiceAddrs;

const TOKEN: &str = "s3cret-upload-token";

/// A running bridge, killed if a test fails before stopping it.
struct Bridge {
    child: Child,
    address: String,
}

impl Bridge {
    /// Starts the bridge on the local store in `dir`, uploads allowed with
    /// [TOKEN], and waits until it listens.
    fn start(dir: &Path, extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let addrs = ServiceAddrs::local(&dir.join("store")).expect("addresses");
        std::fs::create_dir_all(dir.join("store")).expect("store dir");
        std::fs::write(dir.join("token"), format!("{TOKEN}\n")).expect("token");
        let mut child = Command::new(env!("CARGO_BIN_EXE_nar-bridge"))
            .args(["--listen-address", &address])
            .args(["--blob-service-addr", &addrs.blob_service_addr])
            .args(["--directory-service-addr", &addrs.directory_service_addr])
            .args(["--path-info-service-addr", &addrs.path_info_service_addr])
            .args(["--log-level", "warn", "--allow-upload"])
            .arg("--upload-token-file")
            .arg(dir.join("token"))
            .arg("--upload-dir")
            .arg(dir.join("uploads"))
            .args(extra)
            .spawn()
            .expect("start nar-bridge");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&address).is_err() {
            assert!(child.try_wait().expect("wait").is_none(), "bridge exited");
            assert!(Instant::now() < deadline, "bridge did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, address }
    }

    /// Sends `method path` with `body` and the `authorization` header;
    /// returns the status and the body.
    fn request(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        if let Some(value) = authorization {
            head += &format!("Authorization: {value}\r\n");
        }
        head += "\r\n";
        stream.write_all(head.as_bytes()).expect("send head");
        stream.write_all(body).expect("send body");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("response");
        let split = response
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .expect("a complete head");
        let status = String::from_utf8_lossy(&response[9..12])
            .parse()
            .expect("a status");
        (status, response[split + 4..].to_vec())
    }

    /// Sends SIGTERM; returns how long the bridge took to exit, which it
    /// must do successfully within `limit`.
    fn terminate_within(mut self, limit: Duration) -> Duration {
        let sent = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "bridge exited with {status}");
                return sent.elapsed();
            }
            assert!(
                sent.elapsed() < limit,
                "bridge still running {limit:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A store path of one regular file, its NAR, and the narinfo uploading it.
struct TestPath {
    nar: Vec<u8>,
    narinfo: String,
    nar_url: String,
    narinfo_url: String,
}

impl TestPath {
    fn new(size: usize) -> Self {
        let contents: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let mut nar = Vec::new();
        nix_compat::nar::writer::open(&mut nar)
            .expect("NAR")
            .file(false, contents.len() as u64, &mut &contents[..])
            .expect("NAR file");
        let nar_hash = nixbase32::encode(&Sha256::digest(&nar));
        let digest = "a".repeat(32);
        let nar_url = format!("nar/{nar_hash}.nar");
        let narinfo = format!(
            "StorePath: /nix/store/{digest}-big\nURL: {nar_url}\nCompression: none\nNarHash: sha256:{nar_hash}\nNarSize: {}\nReferences: \n",
            nar.len()
        );
        Self {
            nar,
            narinfo,
            nar_url: format!("/{nar_url}"),
            narinfo_url: format!("/{digest}.narinfo"),
        }
    }
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// PUTs need the token; a NAR uploaded before a restart still takes its
/// narinfo after it, and the path is then served.
#[test]
fn token_and_upload_across_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = TestPath::new(100_000);
    let bridge = Bridge::start(tmp.path(), &[]);
    for authorization in [None, Some("Bearer guess"), Some("Basic bml4Omd1ZXNz")] {
        let (status, _) = bridge.request("PUT", &path.nar_url, authorization, &path.nar);
        assert_eq!(401, status, "{authorization:?}");
    }
    let (status, body) = bridge.request("PUT", &path.nar_url, Some(&bearer()), &path.nar);
    assert_eq!(200, status, "{}", String::from_utf8_lossy(&body));
    bridge.terminate_within(Duration::from_secs(10));

    let bridge = Bridge::start(tmp.path(), &[]);
    let (status, body) = bridge.request(
        "PUT",
        &path.narinfo_url,
        Some(&bearer()),
        path.narinfo.as_bytes(),
    );
    assert_eq!(200, status, "{}", String::from_utf8_lossy(&body));
    let (status, nar) = bridge.request("GET", &path.nar_url, None, b"");
    assert_eq!(200, status);
    assert!(nar == path.nar, "the NAR served differs");
    assert_eq!(
        0,
        std::fs::read_dir(tmp.path().join("uploads"))
            .expect("uploads dir")
            .count(),
        "the upload's record is gone once its narinfo was taken"
    );
    bridge.terminate_within(Duration::from_secs(10));
}

/// Starts a GET of `path`'s NAR, reads its first bytes, and stops reading.
fn stalled_download(bridge: &Bridge, path: &TestPath) -> TcpStream {
    let mut stream = TcpStream::connect(&bridge.address).expect("connect");
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        path.nar_url, bridge.address
    )
    .expect("send");
    let mut first = [0; 4096];
    stream.read_exact(&mut first).expect("the first bytes");
    stream
}

/// A NAR much larger than what the sockets and the bridge buffer.
fn uploaded_big_path(bridge: &Bridge) -> TestPath {
    let path = TestPath::new(48 << 20);
    for (url, body) in [
        (&path.nar_url, path.nar.as_slice()),
        (&path.narinfo_url, path.narinfo.as_bytes()),
    ] {
        let (status, text) = bridge.request("PUT", url, Some(&bearer()), body);
        assert_eq!(200, status, "{}", String::from_utf8_lossy(&text));
    }
    path
}

/// SIGTERM stops the bridge within 5 s although a NAR is still being sent
/// to a client that stopped reading.
#[test]
fn sigterm_during_download() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bridge = Bridge::start(tmp.path(), &[]);
    let path = uploaded_big_path(&bridge);
    let _stalled = stalled_download(&bridge, &path);
    std::thread::sleep(Duration::from_millis(500));
    let took = bridge.terminate_within(Duration::from_secs(5));
    eprintln!("stopped {took:?} after SIGTERM with a download in flight");
}

/// A client that stops reading is dropped after the stall timeout: what it
/// reads afterwards ends short of the NAR.
#[test]
fn stalled_client_is_dropped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bridge = Bridge::start(tmp.path(), &["--download-stall-timeout", "1"]);
    let path = uploaded_big_path(&bridge);
    let mut stalled = stalled_download(&bridge, &path);
    std::thread::sleep(Duration::from_secs(4));
    // Kept alive, a connection that was not dropped would never end.
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    let mut rest = Vec::new();
    let _ = stalled.read_to_end(&mut rest);
    assert!(
        rest.len() + 4096 < path.nar.len(),
        "the stalled client still got the whole NAR"
    );
    // The bridge still serves others.
    let (status, _) = bridge.request("GET", &path.narinfo_url, None, b"");
    assert_eq!(200, status);
    bridge.terminate_within(Duration::from_secs(10));
}
