//! Counting and hashing the file a narinfo's `URL` names, as the decoder
//! reads it, for its `FileSize` and `FileHash`.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// The size and sha256 of the bytes read so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileChecked {
    pub(super) size: u64,
    pub(super) sha256: [u8; 32],
}

#[derive(Default)]
struct Tally {
    sha256: Sha256,
    size: u64,
}

/// A reader of the file that tallies what passes through it, and stops one
/// byte after the size the narinfo announces (so a longer file is noticed,
/// and a cache cannot make us read on forever: an endless run of empty
/// gzip members decompresses to nothing).
pub(super) struct FileCheck<R> {
    inner: tokio::io::Take<R>,
    tally: Arc<Mutex<Tally>>,
}

/// The other end of a [FileCheck]: what it has read so far.
pub(super) struct FileTally(Arc<Mutex<Tally>>);

impl<R: AsyncRead> FileCheck<R> {
    /// Wraps `inner`, a file announced as `size` bytes (if known).
    pub(super) fn new(inner: R, size: Option<u64>) -> (Self, FileTally) {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let check = Self {
            inner: inner.take(size.map_or(u64::MAX, |size| size.saturating_add(1))),
            tally: tally.clone(),
        };
        (check, FileTally(tally))
    }
}

impl FileTally {
    pub(super) fn get(&self) -> FileChecked {
        let tally = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        FileChecked {
            size: tally.size,
            sha256: tally.sha256.clone().finalize().into(),
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for FileCheck<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let read = buf.filled().get(before..).unwrap_or_default();
        let mut tally = this
            .tally
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tally.sha256.update(read);
        tally.size += read.len() as u64;
        Poll::Ready(Ok(()))
    }
}
