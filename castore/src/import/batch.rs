//! Uploading file contents in batches, for the importers that read host
//! files themselves: [super::fs] here, and the store's single-pass import,
//! which hashes the NAR of the tree as it reads it.
//!
//! Their walkers hand over entries in batches. Small files are read whole
//! and stored with one [BlobService::put]; large ones are streamed by the
//! importer's [LargeFile]. Each batch is uploaded in a task of its own, a
//! few at once, and the entries come out in walk order, so the stream can
//! go straight to [super::ingest_entries].

use std::future::Future;
use std::io;
use std::path::PathBuf;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::task::JoinError;

use super::IngestionEntry;
use crate::B3Digest;
use crate::blobservice::BlobService;

/// Batches uploaded at once, each in its own task: enough to keep both
/// reading and hashing busy on every core and to hide a backend's latency.
pub const CONCURRENT_BATCHES: usize = 8;
/// A batch is handed over once its files add up to this many bytes, which
/// bounds the memory of the whole files read for it...
pub const BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// ... or once it holds this many entries.
pub const BATCH_ENTRIES: usize = 256;
/// Files up to this size are read whole and stored with one
/// [BlobService::put]; larger ones are streamed.
pub const WHOLE_FILE_LIMIT: u64 = 1024 * 1024;
/// The pieces large files are streamed in.
pub const PIECE_SIZE: u64 = 4 * 1024 * 1024;

/// An entry of a batch, ready to upload.
pub enum Loaded<L> {
    /// A directory or symlink: nothing to upload.
    Done(IngestionEntry),
    /// A file read whole.
    Whole {
        path: crate::PathBuf,
        host_path: PathBuf,
        executable: bool,
        contents: Bytes,
    },
    /// A large file, streamed from `source`.
    Large {
        path: crate::PathBuf,
        host_path: PathBuf,
        executable: bool,
        source: L,
    },
}

/// Where an importer streams a large file from.
pub trait LargeFile: Send + 'static {
    /// Writes the file's contents to a new blob; returns its digest and the
    /// number of bytes written.
    fn upload<BS: BlobService>(
        self,
        blob_service: &BS,
    ) -> impl Future<Output = io::Result<(B3Digest, u64)>> + Send;
}

/// The errors of an importer, as far as uploading goes.
pub trait BatchError: Send + 'static {
    /// Uploading the file at `path` on the host failed.
    fn upload(path: PathBuf, source: io::Error) -> Self;
    /// A batch's task panicked or was cancelled.
    fn task(error: JoinError) -> Self;
}

/// Uploads the files of a batch and returns its entries, in order, up to
/// the first error.
pub async fn upload_batch<BS, L, E>(
    blob_service: &BS,
    batch: impl IntoIterator<Item = Result<Loaded<L>, E>>,
) -> Vec<Result<IngestionEntry, E>>
where
    BS: BlobService,
    L: LargeFile,
    E: BatchError,
{
    let mut entries = Vec::new();
    for loaded in batch {
        let entry = match loaded {
            Err(e) => Err(e),
            Ok(Loaded::Done(entry)) => Ok(entry),
            Ok(Loaded::Whole {
                path,
                host_path,
                executable,
                contents,
            }) => {
                let size = contents.len() as u64;
                let uploaded = blob_service
                    .put(contents)
                    .await
                    .map(|digest| (digest, size));
                regular(path, host_path, executable, uploaded)
            }
            Ok(Loaded::Large {
                path,
                host_path,
                executable,
                source,
            }) => {
                let uploaded = source.upload(blob_service).await;
                regular(path, host_path, executable, uploaded)
            }
        };
        let failed = entry.is_err();
        entries.push(entry);
        if failed {
            break;
        }
    }
    entries
}

/// The entry of a regular file, once its contents are uploaded.
fn regular<E: BatchError>(
    path: crate::PathBuf,
    host_path: PathBuf,
    executable: bool,
    uploaded: io::Result<(B3Digest, u64)>,
) -> Result<IngestionEntry, E> {
    match uploaded {
        Ok((digest, size)) => Ok(IngestionEntry::Regular {
            path,
            digest,
            size,
            executable,
        }),
        Err(source) => Err(E::upload(host_path, source)),
    }
}

/// Runs the batch uploads, each in a task of its own and
/// [CONCURRENT_BATCHES] at once, and yields their entries in order.
pub fn in_order<U, E>(uploads: U) -> impl Stream<Item = Result<IngestionEntry, E>> + Send
where
    U: Stream + Send,
    U::Item: Future<Output = Vec<Result<IngestionEntry, E>>> + Send + 'static,
    E: BatchError,
{
    uploads
        .map(tokio::spawn)
        .buffered(CONCURRENT_BATCHES)
        .flat_map(|uploaded| {
            futures::stream::iter(uploaded.unwrap_or_else(|e| vec![Err(E::task(e))]))
        })
}
