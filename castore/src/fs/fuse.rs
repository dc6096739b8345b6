//! Serving a [CastoreFs] (or any `fuse-backend-rs` file system) on
//! `/dev/fuse`: mounting, the worker threads, and unmounting so that no
//! stale mount is left behind. The workers stop by themselves when the
//! mount goes away from outside (`umount`), which [FuseDaemon::ended]
//! reports.
//!
//! Mounting is done with mount(2), which needs root (or CAP_SYS_ADMIN);
//! without it `fuse-backend-rs` falls back to `fusermount3`.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fuse_backend_rs::api::filesystem::FileSystem;
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::transport::{FuseChannel, FuseSession};
use thiserror::Error;
use tokio::sync::watch;

/// The device FUSE mounts are served through.
pub const FUSE_DEVICE: &str = "/dev/fuse";

/// How long [FuseDaemon::unmount] waits for requests already being served
/// (a read stuck on a remote service) before leaving their threads behind.
const WORKER_EXIT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum MountError {
    #[error(
        "{FUSE_DEVICE} is missing: load the fuse kernel module, or pass the device into the container"
    )]
    NoFuseDevice,
    #[error("mountpoint {0:?} does not exist or is not a directory")]
    NotADirectory(PathBuf),
    #[error("mountpoint {0:?} is busy: something is already mounted there")]
    Busy(PathBuf),
    #[error("at least one thread is needed to serve the mount")]
    NoThreads,
    #[error("mounting on {path:?}: {message}")]
    Mount { path: PathBuf, message: String },
    #[error("unmounting {path:?}: {message}")]
    Unmount { path: PathBuf, message: String },
    #[error("starting a FUSE worker thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// A mounted file system and the threads serving it. Dropping it unmounts.
pub struct FuseDaemon {
    session: Option<FuseSession>,
    mountpoint: PathBuf,
    workers: Vec<JoinHandle<()>>,
    /// How many workers are still serving; each counts itself out on its
    /// way out, so unmounting can wait for them with a deadline and
    /// [FuseDaemon::ended] can tell when the mount went away.
    serving: watch::Receiver<usize>,
}

impl FuseDaemon {
    /// Mounts `fs` (a [super::CastoreFs], or an `Arc` of one to keep a hand
    /// on it) read-only on `mountpoint`, served by `threads` threads. With
    /// `allow_other`, users other than the one mounting may use it.
    pub fn mount<F: FileSystem<Inode = u64, Handle = u64> + Send + Sync + 'static>(
        fs: F,
        mountpoint: &Path,
        threads: usize,
        allow_other: bool,
    ) -> Result<Self, MountError> {
        if threads == 0 {
            return Err(MountError::NoThreads);
        }
        let canonical = Self::check_mountpoint(mountpoint)?;
        let mount_error = |message: String| MountError::Mount {
            path: canonical.clone(),
            message,
        };
        let mut session = FuseSession::new(&canonical, "tvix-castore", "tvix", true)
            .map_err(|e| mount_error(e.to_string()))?;
        session.set_allow_other(allow_other);
        session.mount().map_err(|e| mount_error(e.to_string()))?;

        let server = Arc::new(Server::new(fs));
        let (serving_sender, serving) = watch::channel(threads);
        let serving_sender = Arc::new(serving_sender);
        let mut daemon = Self {
            session: Some(session),
            mountpoint: canonical.clone(),
            workers: Vec::with_capacity(threads),
            serving,
        };
        for index in 0..threads {
            let channel = daemon
                .session
                .as_ref()
                .map(FuseSession::new_channel)
                .transpose()
                .map_err(|e| mount_error(e.to_string()))?
                .ok_or_else(|| mount_error("session already closed".into()))?;
            let server = server.clone();
            let serving_sender = serving_sender.clone();
            let worker = std::thread::Builder::new()
                .name(format!("fuse-{index}"))
                .spawn(move || {
                    serve(&server, channel);
                    serving_sender.send_modify(|serving| *serving -= 1);
                })
                .map_err(MountError::Thread)?;
            daemon.workers.push(worker);
        }
        Ok(daemon)
    }

    /// Checks what [FuseDaemon::mount] checks before mounting (the FUSE
    /// device is there, the mountpoint is a directory nothing is mounted
    /// on), so a front end can refuse before it opens its services; returns
    /// the canonical mountpoint.
    pub fn check_mountpoint(mountpoint: &Path) -> Result<PathBuf, MountError> {
        if !Path::new(FUSE_DEVICE).exists() {
            return Err(MountError::NoFuseDevice);
        }
        let canonical = mountpoint
            .canonicalize()
            .ok()
            .filter(|path| path.is_dir())
            .ok_or_else(|| MountError::NotADirectory(mountpoint.to_owned()))?;
        if is_mount_point(&canonical) {
            return Err(MountError::Busy(canonical));
        }
        Ok(canonical)
    }

    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Resolves when no worker serves the mount any more: it was unmounted
    /// from outside (or its connection aborted), so there is nothing left
    /// to serve; [FuseDaemon::unmount] then only cleans up.
    pub fn ended(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut serving = self.serving.clone();
        async move {
            // An error means every sender is gone: no worker is left either.
            let _ = serving.wait_for(|serving| *serving == 0).await;
        }
    }

    /// Detaches the mount (lazily, so a process still reading cannot keep
    /// it), stops the workers and waits for them, at most
    /// [WORKER_EXIT_TIMEOUT] for those busy with a request.
    pub fn unmount(mut self) -> Result<(), MountError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), MountError> {
        let Some(mut session) = self.session.take() else {
            return Ok(());
        };
        let unmount_error = |message: String| MountError::Unmount {
            path: self.mountpoint.clone(),
            message,
        };
        // Already unmounted from outside is fine: that is checked first.
        let unmounted = session.umount().map_err(|e| unmount_error(e.to_string()));
        session.wake().map_err(|e| unmount_error(e.to_string()))?;
        let deadline = Instant::now() + WORKER_EXIT_TIMEOUT;
        let remaining = loop {
            let remaining = *self.serving.borrow();
            if remaining == 0 || Instant::now() >= deadline {
                break remaining;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if remaining > 0 {
            tracing::warn!(
                remaining,
                "FUSE workers still busy after unmounting; leaving them"
            );
        } else {
            for worker in self.workers.drain(..) {
                let _ = worker.join();
            }
        }
        unmounted
    }
}

impl Drop for FuseDaemon {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "unmounting");
        }
    }
}

/// One worker: answers requests until the mount goes away or is woken.
fn serve<F: FileSystem<Inode = u64, Handle = u64> + Sync>(
    server: &Server<F>,
    mut channel: FuseChannel,
) {
    loop {
        match channel.get_request() {
            Ok(Some((reader, writer))) => {
                if let Err(e) = server.handle_message(reader, writer.into(), None, None) {
                    // The kernel side closes while requests are answered
                    // during unmount; nothing is left to answer then.
                    tracing::debug!(error = %e, "answering a FUSE request");
                }
            }
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "reading a FUSE request");
                return;
            }
        }
    }
}

/// Whether `path` (canonical) is already a mount point, by
/// `/proc/self/mountinfo` (whose fifth field is the mount point, with space,
/// tab, newline and backslash escaped in octal).
pub fn is_mount_point(path: &Path) -> bool {
    let Ok(mountinfo) = fs::read(Path::new("/proc/self/mountinfo")) else {
        return false;
    };
    let wanted = path.as_os_str().as_bytes();
    mountinfo
        .split(|b| *b == b'\n')
        .filter_map(|line| line.split(|b| *b == b' ').nth(4))
        .any(|field| unescape_mountinfo(field) == wanted)
}

fn unescape_mountinfo(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut rest = field;
    while let Some((&byte, tail)) = rest.split_first() {
        let octal = tail
            .get(..3)
            .filter(|digits| byte == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match octal {
            Some(digits) => {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                rest = &tail[3..];
            }
            None => {
                out.push(byte);
                rest = tail;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain(b"/mnt/a", b"/mnt/a")]
    #[case::space(b"/mnt/a\\040b", b"/mnt/a b")]
    #[case::backslash(b"/mnt/a\\134b", b"/mnt/a\\b")]
    #[case::not_octal(b"/mnt/a\\9", b"/mnt/a\\9")]
    fn mountinfo_unescaping(#[case] field: &[u8], #[case] expected: &[u8]) {
        assert_eq!(expected, unescape_mountinfo(field).as_slice());
    }

    #[test]
    fn root_is_a_mount_point_and_a_fresh_directory_is_not() {
        assert!(is_mount_point(Path::new("/")));
        let dir = tempfile::tempdir().expect("tempdir");
        let dir = dir.path().canonicalize().expect("canonicalize");
        assert!(!is_mount_point(&dir));
    }
}
