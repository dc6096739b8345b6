//! [Verifier]: checks runs of blobs against their digests on helper
//! threads, so that a bulk reader can look up and map the next runs while
//! the last ones are hashed.
//!
//! Reading blobs from a warm page cache costs little beside hashing them,
//! so a bulk read that hashes on its own thread is bound by blake3 on one
//! core. Here a run is cut into parts of about [PART_BYTES] that are dealt
//! to [HELPERS] threads in turn; the reader waits for a run's check
//! only when it hands the run's pieces out, a few runs later. The helpers
//! belong to the store and start with its first large run, so a small
//! read, or a process that never reads much, starts no thread.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use bytes::Bytes;

use super::super::chunked_reader::verify_digest;
use crate::B3Digest;

/// Threads that hash.
const HELPERS: usize = 2;
/// Runs smaller than this are checked on the caller's thread: handing them
/// over costs about as much as hashing them.
const INLINE_MAX: usize = 64 * 1024;
/// A run is cut into parts of about this many bytes, so that every helper
/// gets a share of a large one.
const PART_BYTES: usize = 1024 * 1024;

/// Blobs to check, and where to send the outcome.
struct Job {
    blobs: Vec<(B3Digest, Bytes)>,
    done: mpsc::SyncSender<io::Result<()>>,
}

/// Helper threads for checking digests, each with its own queue (a shared
/// one would make them wait on its lock); they end when this is dropped.
pub(super) struct Verifier {
    helpers: Vec<mpsc::Sender<Job>>,
    /// The helper the next part goes to: parts are dealt out in turn.
    next: AtomicUsize,
}

/// The outcome of [Verifier::submit], to be waited for.
pub(super) enum Pending {
    Done(io::Result<()>),
    Parts(Vec<mpsc::Receiver<io::Result<()>>>),
}

impl Verifier {
    pub(super) fn spawn() -> io::Result<Self> {
        let mut helpers = Vec::with_capacity(HELPERS);
        for _ in 0..HELPERS {
            let (jobs, receiver) = mpsc::channel::<Job>();
            thread::Builder::new()
                .name("pack-verify".into())
                .spawn(move || {
                    // Ends when the verifier is gone.
                    for job in receiver {
                        // The reader may have stopped waiting.
                        let _ = job.done.send(check_all(&job.blobs));
                    }
                })?;
            helpers.push(jobs);
        }
        Ok(Self {
            helpers,
            next: AtomicUsize::new(0),
        })
    }

    /// Starts checking every `(digest, bytes)` of `blobs`, `total` bytes.
    fn submit(&self, blobs: Vec<(B3Digest, Bytes)>, total: usize) -> Pending {
        let mut parts = Vec::new();
        let mut part = Vec::new();
        let mut part_bytes = 0;
        let mut rest = total;
        for (digest, data) in blobs {
            part_bytes += data.len();
            rest -= data.len();
            part.push((digest, data));
            // The last part takes a small rest rather than leave it alone.
            if part_bytes >= PART_BYTES && rest >= PART_BYTES / 2 {
                parts.push(std::mem::take(&mut part));
                part_bytes = 0;
            }
        }
        if !part.is_empty() {
            parts.push(part);
        }
        let mut receivers = Vec::with_capacity(parts.len());
        for blobs in parts {
            let (done, receiver) = mpsc::sync_channel(1);
            let helper = self.next.fetch_add(1, Ordering::Relaxed) % self.helpers.len();
            if let Err(mpsc::SendError(job)) = self.helpers[helper].send(Job { blobs, done }) {
                // That helper is gone (it panicked): check this part here,
                // and go on with the others, which must be checked too.
                let _ = job.done.send(check_all(&job.blobs));
            }
            receivers.push(receiver);
        }
        Pending::Parts(receivers)
    }
}

impl Pending {
    /// Waits for the check; the error names a blob that does not match.
    pub(super) fn wait(self) -> io::Result<()> {
        match self {
            Pending::Done(result) => result,
            Pending::Parts(receivers) => receivers.into_iter().try_for_each(|receiver| {
                receiver
                    .recv()
                    .map_err(|_| io::Error::other("the digest checking thread stopped"))?
            }),
        }
    }
}

/// Starts checking every `(digest, bytes)` of `blobs`: on this thread if
/// they are few bytes, else on the helpers of `verifier`, which start here
/// the first time (and if they cannot, on this thread).
pub(super) fn check(
    verifier: &OnceLock<Option<Verifier>>,
    blobs: Vec<(B3Digest, Bytes)>,
) -> Pending {
    let total: usize = blobs.iter().map(|(_, data)| data.len()).sum();
    if total < INLINE_MAX {
        return Pending::Done(check_all(&blobs));
    }
    let verifier = verifier.get_or_init(|| {
        Verifier::spawn()
            .inspect_err(|e| tracing::warn!(error = %e, "starting the digest checking threads"))
            .ok()
    });
    match verifier {
        Some(verifier) => verifier.submit(blobs, total),
        None => Pending::Done(check_all(&blobs)),
    }
}

fn check_all(blobs: &[(B3Digest, Bytes)]) -> io::Result<()> {
    blobs
        .iter()
        .try_for_each(|(digest, data)| verify_digest(digest, data))
}
