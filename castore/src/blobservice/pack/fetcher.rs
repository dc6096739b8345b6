//! [Fetcher]: checks parts of pack files against the digests of the blobs
//! in them (reading them first if they are not mapped) on helper threads,
//! so that a bulk reader can look up the next runs meanwhile.
//!
//! Reading blobs from a warm page cache costs little beside hashing them,
//! so a bulk read that hashes on its own thread is bound by blake3 on one
//! core. Here a run of neighbouring blobs is cut into parts of about
//! [PART_BYTES], dealt to [HELPERS] threads in turn; a helper faults in
//! the pages of a mapped part (see [super::mapped]) as it hashes them, or
//! reads an unmapped one with one positioned read. The reader waits for a
//! part only when it hands the part's pieces out, a few runs later. The
//! helpers belong to the store and start with its first large part, so a
//! small read, or a process that never reads much, starts no thread.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::thread;

use bytes::Bytes;

use super::super::chunked_reader::verify_digest;
use super::{index, read_at};
use crate::B3Digest;

/// Threads that hash.
const HELPERS: usize = 2;
/// Parts smaller than this are checked on the caller's thread: handing
/// them over costs about as much as hashing them.
const INLINE_MAX: usize = 64 * 1024;
/// A run is cut into parts of at most this many bytes (at blob
/// boundaries; a larger blob is a part of its own), so that every helper
/// gets a share of a large run and a hand-over is still rare.
pub(super) const PART_BYTES: u64 = 512 * 1024;

/// A blob (or chunk) in a part: where it lies in the part, and whether it
/// still needs checking.
#[derive(Clone, Copy)]
pub(super) struct PartBlob {
    pub digest: B3Digest,
    pub offset: usize,
    pub len: usize,
    pub check: bool,
}

/// The bytes of a part.
pub(super) enum PartBytes {
    /// Mapped, or read already.
    Ready(Bytes),
    /// `len` bytes at `start` of pack `pack` (open as `file`), to be read.
    Unread {
        file: Arc<File>,
        pack: u32,
        start: u64,
        len: usize,
    },
}

/// Bytes holding `blobs` in order.
pub(super) struct Part {
    pub bytes: PartBytes,
    pub blobs: Vec<PartBlob>,
}

/// A part fetched: its bytes, and how far they are good. `blobs[..good]`
/// passed their check; if `good` is short of all of them, `error` says why
/// blob `good` (or, with no bytes, the whole part) could not be had.
pub(super) struct Fetched {
    pub data: Bytes,
    pub good: usize,
    pub error: Option<io::Error>,
}

struct Job {
    part: Part,
    done: mpsc::SyncSender<Fetched>,
}

/// Helper threads, each with its own queue (a shared one would make them
/// wait on its lock); they end when this is dropped.
pub(super) struct Fetcher {
    helpers: Vec<mpsc::Sender<Job>>,
    /// The helper the next part goes to: parts are dealt out in turn.
    next: AtomicUsize,
}

/// The outcome of [fetch], to be waited for.
pub(super) enum Pending {
    Done(Fetched),
    Waiting(mpsc::Receiver<Fetched>),
}

impl Fetcher {
    fn spawn() -> io::Result<Self> {
        let mut helpers = Vec::with_capacity(HELPERS);
        for _ in 0..HELPERS {
            let (jobs, receiver) = mpsc::channel::<Job>();
            thread::Builder::new()
                .name("pack-fetch".into())
                .spawn(move || {
                    // Ends when the fetcher is gone.
                    for job in receiver {
                        // The reader may have stopped waiting.
                        let _ = job.done.send(fetch_here(job.part));
                    }
                })?;
            helpers.push(jobs);
        }
        Ok(Self {
            helpers,
            next: AtomicUsize::new(0),
        })
    }

    fn submit(&self, part: Part) -> Pending {
        let (done, receiver) = mpsc::sync_channel(1);
        let helper = self.next.fetch_add(1, Ordering::Relaxed) % self.helpers.len();
        match self.helpers[helper].send(Job { part, done }) {
            Ok(()) => Pending::Waiting(receiver),
            // That helper is gone (it panicked): fetch this part here.
            Err(mpsc::SendError(job)) => Pending::Done(fetch_here(job.part)),
        }
    }
}

impl Pending {
    pub(super) fn wait(self) -> Fetched {
        match self {
            Pending::Done(fetched) => fetched,
            Pending::Waiting(receiver) => receiver.recv().unwrap_or_else(|_| Fetched {
                data: Bytes::new(),
                good: 0,
                error: Some(io::Error::other("the pack reading thread stopped")),
            }),
        }
    }
}

/// Starts fetching and checking `part`: on this thread if it is small,
/// else on the helpers of `fetcher`, which start here the first time (and
/// if they cannot, on this thread).
pub(super) fn fetch(fetcher: &OnceLock<Option<Fetcher>>, part: Part) -> Pending {
    let len = match &part.bytes {
        PartBytes::Ready(data) => data.len(),
        PartBytes::Unread { len, .. } => *len,
    };
    if len < INLINE_MAX {
        return Pending::Done(fetch_here(part));
    }
    let fetcher = fetcher.get_or_init(|| {
        Fetcher::spawn()
            .inspect_err(|e| tracing::warn!(error = %e, "starting the pack reading threads"))
            .ok()
    });
    match fetcher {
        Some(fetcher) => fetcher.submit(part),
        None => Pending::Done(fetch_here(part)),
    }
}

fn fetch_here(part: Part) -> Fetched {
    let data = match part.bytes {
        PartBytes::Ready(data) => data,
        PartBytes::Unread {
            file,
            pack,
            start,
            len,
        } => match read_at(&file, pack, start, len) {
            Ok(data) => data,
            Err(error) => {
                return Fetched {
                    data: Bytes::new(),
                    good: 0,
                    error: Some(error),
                };
            }
        },
    };
    let (good, error) = check_blobs(&data, &part.blobs);
    Fetched { data, good, error }
}

/// How many of `blobs` in `data` are good, and what is wrong with the next.
fn check_blobs(data: &[u8], blobs: &[PartBlob]) -> (usize, Option<io::Error>) {
    for (i, blob) in blobs.iter().enumerate() {
        let Some(bytes) = data.get(blob.offset..blob.offset + blob.len) else {
            let error = index::corrupt(format!(
                "blob {} lies outside the {} bytes read",
                blob.digest,
                data.len()
            ));
            return (i, Some(error));
        };
        if blob.check
            && let Err(e) = verify_digest(&blob.digest, bytes)
        {
            return (i, Some(e));
        }
    }
    (blobs.len(), None)
}
