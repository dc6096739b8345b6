//! A real S3 server for the integration tests (feature `integration`):
//! `moto_server` from PyPI (`pip install 'moto[server]'`), started on a
//! free local port. A missing `moto_server` fails the test that needs it;
//! it is never a silent skip.
//!
//! moto accepts any credentials; the `AWS_*` variables the S3 backend
//! reads are set to dummy values unless the environment has them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a starting server may take to accept connections.
const STARTUP: Duration = Duration::from_secs(60);

/// Where a `moto_server` listens.
#[derive(Debug, Clone, Copy)]
pub struct MotoEndpoint {
    port: u16,
}

impl MotoEndpoint {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An `s3://` URL (for `objectstore+`) of a new, empty bucket.
    pub fn fresh_bucket_url(&self) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        self.bucket_url(&format!(
            "tvix-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// Creates the bucket `bucket` (empty) and returns its `s3://` URL, with
    /// a request timeout of 10 s.
    pub fn bucket_url(&self, bucket: &str) -> String {
        self.create_bucket(bucket);
        format!(
            "s3://{bucket}/store?endpoint={}&region=us-east-1&timeout=10",
            self.url()
        )
    }

    fn create_bucket(&self, bucket: &str) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        write!(
            stream,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .expect("send CreateBucket");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "creating bucket {bucket}: {response}"
        );
    }
}

/// A running `moto_server`, killed when dropped (or when the thread that
/// started it ends).
pub struct MotoServer {
    endpoint: MotoEndpoint,
    child: Option<Child>,
}

impl MotoServer {
    /// Starts a server on a free port and waits until it accepts
    /// connections.
    pub fn start() -> Self {
        set_dummy_credentials();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free local port")
            .port();
        let mut server = Self {
            endpoint: MotoEndpoint { port },
            child: None,
        };
        server.restart();
        server
    }

    pub fn endpoint(&self) -> MotoEndpoint {
        self.endpoint
    }

    /// Kills the server: every request fails until [MotoServer::restart].
    /// Its data is gone with it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server without closing its connections (SIGSTOP): requests
    /// hang rather than fail, until [MotoServer::resume].
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        let child = self.child.as_ref().expect("the server runs");
        let pid = libc::pid_t::try_from(child.id()).expect("a pid");
        // SAFETY: a plain kill(2) of our own child, which has not been
        // waited for, so the pid is still ours.
        assert_eq!(0, unsafe { libc::kill(pid, signal) }, "signal moto_server");
    }

    /// Starts the server again on the same port (a fresh, empty one).
    pub fn restart(&mut self) {
        self.kill();
        let mut command = Command::new("moto_server");
        command
            .args(["-H", "127.0.0.1", "-p", &self.endpoint.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to
        // kill the child when the thread that started it ends, so no
        // server outlives a test run.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("the S3 integration tests need moto_server (pip install 'moto[server]'): {e}")
        });
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP;
        while TcpStream::connect(("127.0.0.1", self.endpoint.port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One server shared by every test of the process, started by the first
/// that asks, on a thread that lives as long as the process (the parent
/// death signal is per thread).
pub fn shared() -> MotoEndpoint {
    static ENDPOINT: OnceLock<MotoEndpoint> = OnceLock::new();
    *ENDPOINT.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let server = MotoServer::start();
            sender.send(server.endpoint()).expect("the test waits");
            // Owns the server until the process ends.
            loop {
                std::thread::park();
            }
        });
        receiver.recv().expect("moto_server started")
    })
}

/// Dummy credentials for moto, unless the environment has some.
fn set_dummy_credentials() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (name, value) in [
            ("AWS_ACCESS_KEY_ID", "tvix-test"),
            ("AWS_SECRET_ACCESS_KEY", "tvix-test"),
        ] {
            if std::env::var_os(name).is_none() {
                // SAFETY: set once, before the first S3 client reads them;
                // nothing else in the tests reads these variables.
                unsafe { std::env::set_var(name, value) };
            }
        }
    });
}
