//! Uploading file contents in batches, for the importers that read host
//! files themselves: [super::fs] here, and the store's single-pass import,
//! which hashes the NAR of the tree as it reads it.
//!
//! Their walkers hand over entries in batches. Small files are read whole
//! and stored with one [BlobService::put]; large ones are streamed by the
//! importer's [LargeFile]. Each batch is uploaded in a task of its own, a
//! few at once, and the entries come out in walk order, so the stream can
//! go straight to [super::ingest_entries].

use std::convert::Infallible;
use std::fs::File;
use std::future::Future;
use std::io::{self, Read};
use std::path::PathBuf;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinError;

use super::IngestionEntry;
use crate::B3Digest;
use crate::blobservice::{BlobService, first_chunk};

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
/// the first error. The files read whole are stored together, with one
/// [BlobService::put_many] per run of them between large files.
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
    // Directories, symlinks and whole files not yet uploaded: never a
    // large file.
    let mut run = Vec::new();
    for loaded in batch {
        let large = match loaded {
            Ok(Loaded::Large {
                path,
                host_path,
                executable,
                source,
            }) => Ok((path, host_path, executable, source)),
            Ok(Loaded::Done(entry)) => {
                run.push(Loaded::Done(entry));
                continue;
            }
            Ok(Loaded::Whole {
                path,
                host_path,
                executable,
                contents,
            }) => {
                run.push(Loaded::Whole {
                    path,
                    host_path,
                    executable,
                    contents,
                });
                continue;
            }
            Err(e) => Err(e),
        };
        if !upload_run(blob_service, std::mem::take(&mut run), &mut entries).await {
            return entries;
        }
        let entry = match large {
            Ok((path, host_path, executable, source)) => {
                let uploaded = source.upload(blob_service).await;
                regular(path, host_path, executable, uploaded)
            }
            Err(e) => Err(e),
        };
        let failed = entry.is_err();
        entries.push(entry);
        if failed {
            return entries;
        }
    }
    upload_run(blob_service, run, &mut entries).await;
    entries
}

/// Stores the whole files of `run` with one [BlobService::put_many] and
/// appends its entries to `entries`; false if that failed (the error, for
/// the run's first file, is the last entry then).
async fn upload_run<BS, E>(
    blob_service: &BS,
    run: Vec<Loaded<Infallible>>,
    entries: &mut Vec<Result<IngestionEntry, E>>,
) -> bool
where
    BS: BlobService,
    E: BatchError,
{
    let mut contents = Vec::new();
    for loaded in &run {
        if let Loaded::Whole { contents: c, .. } = loaded {
            contents.push(c.clone());
        }
    }
    let mut digests = match contents.is_empty() {
        true => Ok(Vec::new()),
        false => blob_service.put_many(contents).await,
    }
    .map(Vec::into_iter);
    for loaded in run {
        let entry = match loaded {
            Loaded::Done(entry) => Ok(entry),
            Loaded::Whole {
                path,
                host_path,
                executable,
                contents,
            } => {
                let size = contents.len() as u64;
                let uploaded = match &mut digests {
                    Ok(digests) => digests.next().map(|digest| (digest, size)).ok_or_else(|| {
                        io::Error::other("the blob service returned too few digests")
                    }),
                    Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                };
                regular(path, host_path, executable, uploaded)
            }
            Loaded::Large { source, .. } => match source {},
        };
        let failed = entry.is_err();
        entries.push(entry);
        if failed {
            return false;
        }
    }
    true
}

/// Stores the file at `path` on the host as one blob, reading it in pieces
/// of [PIECE_SIZE] in blocking jobs straight into the buffers the writer
/// takes them from; returns its digest and size.
pub async fn upload_host_file<BS: BlobService + ?Sized>(
    blob_service: &BS,
    path: PathBuf,
) -> io::Result<(B3Digest, u64)> {
    let mut file = tokio::task::spawn_blocking(move || File::open(path))
        .await
        .map_err(io::Error::other)??;
    let mut writer = blob_service.open_write().await;
    let mut size = 0;
    loop {
        let (returned, piece) = tokio::task::spawn_blocking(move || {
            let mut piece = Vec::with_capacity(PIECE_SIZE as usize);
            (&file)
                .take(PIECE_SIZE)
                .read_to_end(&mut piece)
                .map(|_| (file, piece))
        })
        .await
        .map_err(io::Error::other)??;
        if piece.is_empty() {
            break;
        }
        writer.write_all(&piece).await?;
        size += piece.len() as u64;
        file = returned;
    }
    Ok((writer.close().await?, size))
}

/// Stores a large file whose contents arrive in `pieces` (as an importer
/// reads it for something else, such as a NAR hash) as one blob; returns
/// its digest and size.
///
/// A file imported before costs only its blake3 here: if the first chunk
/// of its first piece is stored (see [first_chunk]), the file probably is
/// too, and it is only hashed, with no chunking and no writes. Should the
/// blob still be missing (the file changed after its first chunk), it is
/// read again from `host_path` and stored from there, and must come out
/// the same. Otherwise the pieces are written to a new blob as they come.
pub async fn upload_pieces<BS, P>(
    blob_service: &BS,
    mut pieces: P,
    host_path: PathBuf,
) -> io::Result<(B3Digest, u64)>
where
    BS: BlobService + ?Sized,
    P: Stream<Item = Bytes> + Send + Unpin,
{
    let first = pieces.next().await.unwrap_or_default();
    let mut size = first.len() as u64;
    let probe = first_chunk(&first).map(B3Digest::of);
    let probably_stored = match probe {
        Some(probe) => blob_service.has(&probe).await?,
        None => false,
    };
    if !probably_stored {
        let mut writer = blob_service.open_write().await;
        writer.write_all(&first).await?;
        while let Some(piece) = pieces.next().await {
            writer.write_all(&piece).await?;
            size += piece.len() as u64;
        }
        return Ok((writer.close().await?, size));
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(&first);
    while let Some(piece) = pieces.next().await {
        hasher.update(&piece);
        size += piece.len() as u64;
    }
    let digest = B3Digest::from(hasher.finalize());
    if blob_service.has(&digest).await? {
        return Ok((digest, size));
    }
    let stored = upload_host_file(blob_service, host_path).await?;
    if stored != (digest, size) {
        return Err(io::Error::other(
            "the file changed while it was imported (read twice, it differed)",
        ));
    }
    Ok(stored)
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
