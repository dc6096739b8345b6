//! Importing a tree from the host filesystem.
//!
//! A blocking thread walks the tree children first and hands the entries
//! over in batches; each batch is uploaded in a task of its own, a bounded
//! number at once, and the resulting entries are fed to [ingest_entries] in
//! walk order. Batching is what makes trees of many small files fast: one
//! blocking read job and one task per batch rather than per file, and a
//! small file is read with one allocation and stored from that buffer
//! ([BlobService::put]) without another copy. Large files are streamed in
//! big pieces, so memory stays bounded by the batches in flight.
//!
//! Only what the castore can represent is accepted: directories, regular
//! files (with their executable bit) and symlinks (targets kept as bytes,
//! never followed). Anything else is an error naming the path. The importer
//! must never follow a symlink, so it never reads outside the tree it was
//! given.

use std::fs::{File, FileType, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use thiserror::Error;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinError;
use tokio_stream::wrappers::ReceiverStream;
use walkdir::WalkDir;

use super::{IngestionEntry, IngestionError, ingest_entries};
use crate::blobservice::BlobService;
use crate::directoryservice::DirectoryService;
use crate::{B3Digest, FromHostPathError, Node, SymlinkTarget, SymlinkTargetError};

/// Batches uploaded at once, each in its own task: enough to keep both
/// reading and hashing busy on every core and to hide a backend's latency.
const CONCURRENT_BATCHES: usize = 8;
/// A batch is handed over once its files add up to this many bytes, which
/// bounds the memory of the whole files read for it...
const BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// ... or once it holds this many entries.
const BATCH_ENTRIES: usize = 256;
/// Files up to this size are read whole and stored with one
/// [BlobService::put]; larger ones are streamed.
const WHOLE_FILE_LIMIT: u64 = 1024 * 1024;
/// The pieces large files are streamed in.
const PIECE_SIZE: u64 = 4 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum Error {
    #[error("walking the tree: {0}")]
    Walk(#[from] walkdir::Error),
    #[error("{0}")]
    Path(#[from] FromHostPathError),
    #[error("{path:?} is a {kind}, which the castore cannot store")]
    UnsupportedFileType { path: PathBuf, kind: &'static str },
    #[error("reading the symlink {path:?}: {source}")]
    ReadLink { path: PathBuf, source: io::Error },
    #[error("symlink {path:?} has an invalid target: {source}")]
    SymlinkTarget {
        path: PathBuf,
        source: SymlinkTargetError,
    },
    #[error("uploading {path:?}: {source}")]
    Upload { path: PathBuf, source: io::Error },
    /// A walking, reading or uploading task panicked or was cancelled (the
    /// runtime shut down).
    #[error("an import task stopped: {0}")]
    Task(#[from] JoinError),
}

/// Imports the file, symlink or directory tree at `path`, uploading file
/// contents to `blob_service` and directories to `directory_service`, and
/// returns the root node.
pub async fn ingest_path<BS, DS>(
    blob_service: BS,
    directory_service: &DS,
    path: impl AsRef<Path>,
) -> Result<Node, IngestionError<Error>>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
{
    let entries = walk_path(blob_service, path.as_ref());
    ingest_entries(directory_service, entries).await
}

/// The entries of the tree at `root`, children before their directory and
/// the root last, with file contents uploaded to `blob_service`. The walk
/// starts when the stream is first polled, which must be inside a tokio
/// runtime; it stops at the first error, or when the stream is dropped.
pub fn walk_path<BS>(
    blob_service: BS,
    root: &Path,
) -> impl Stream<Item = Result<IngestionEntry, Error>> + Send + Unpin + 'static
where
    BS: BlobService + Clone + 'static,
{
    let root = root.to_owned();
    futures::stream::once(async move {
        let (sender, receiver) = mpsc::channel(CONCURRENT_BATCHES);
        let walker = tokio::task::spawn_blocking(move || walk_batches(&root, &sender));
        // The walker reports its errors in its batches; its handle only
        // matters if it panicked, which ends the batches early and is
        // reported after them.
        let walker_failure = futures::stream::once(walker).filter_map(|joined| async move {
            joined.err().map(|e| vec![Err::<Walked, _>(Error::Task(e))])
        });
        ReceiverStream::new(receiver).chain(walker_failure)
    })
    .flatten()
    .map(move |batch| tokio::spawn(upload_batch(blob_service.clone(), batch)))
    .buffered(CONCURRENT_BATCHES)
    .flat_map(|uploaded| {
        futures::stream::iter(uploaded.unwrap_or_else(|e| vec![Err(Error::Task(e))]))
    })
    .boxed()
}

/// A walked entry, classified, before any file contents are read.
enum Walked {
    Done(IngestionEntry),
    File {
        path: crate::PathBuf,
        host_path: PathBuf,
        size: u64,
        executable: bool,
    },
}

/// A walked entry with the contents of a small file read.
enum Loaded {
    Done(IngestionEntry),
    Whole {
        path: crate::PathBuf,
        host_path: PathBuf,
        executable: bool,
        contents: Bytes,
    },
    Large {
        path: crate::PathBuf,
        host_path: PathBuf,
        executable: bool,
    },
}

type Batch = Vec<Result<Walked, Error>>;

/// Walks the tree at `root` and sends its entries in batches, until the
/// first error (which ends its batch) or until nobody listens any more.
fn walk_batches(root: &Path, batches: &mpsc::Sender<Batch>) {
    let walker = WalkDir::new(root)
        .follow_links(false)
        .follow_root_links(false)
        .contents_first(true);
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    for entry in walker {
        let walked = entry
            .map_err(Error::Walk)
            .and_then(|entry| classify(root, entry));
        if let Ok(Walked::File { size, .. }) = &walked {
            batch_bytes += size;
        }
        let failed = walked.is_err();
        batch.push(walked);
        if failed || batch.len() >= BATCH_ENTRIES || batch_bytes >= BATCH_BYTES {
            if failed || batches.blocking_send(std::mem::take(&mut batch)).is_err() {
                break;
            }
            batch_bytes = 0;
        }
    }
    if !batch.is_empty() {
        // A closed channel means the import was dropped; nothing to tell.
        let _ = batches.blocking_send(batch);
    }
}

fn classify(root: &Path, entry: walkdir::DirEntry) -> Result<Walked, Error> {
    let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
    let path = crate::PathBuf::from_host_path(relative, false)?;
    let file_type = entry.file_type();
    if file_type.is_dir() {
        Ok(Walked::Done(IngestionEntry::Dir { path }))
    } else if file_type.is_symlink() {
        let target = std::fs::read_link(entry.path()).map_err(|source| Error::ReadLink {
            path: entry.path().to_owned(),
            source,
        })?;
        let target =
            SymlinkTarget::try_from(target.as_os_str().as_encoded_bytes()).map_err(|source| {
                Error::SymlinkTarget {
                    path: entry.path().to_owned(),
                    source,
                }
            })?;
        Ok(Walked::Done(IngestionEntry::Symlink { path, target }))
    } else if file_type.is_file() {
        let metadata = entry.metadata()?;
        Ok(Walked::File {
            path,
            host_path: entry.into_path(),
            size: metadata.len(),
            executable: is_executable(&metadata),
        })
    } else {
        Err(Error::UnsupportedFileType {
            path: entry.path().to_owned(),
            kind: file_type_name(file_type),
        })
    }
}

/// Uploads the files of a batch and returns its entries, in order, up to
/// the first error. The small files are read first, in one blocking job.
async fn upload_batch<BS: BlobService>(
    blob_service: BS,
    batch: Batch,
) -> Vec<Result<IngestionEntry, Error>> {
    let loaded = match tokio::task::spawn_blocking(|| load_batch(batch)).await {
        Ok(loaded) => loaded,
        Err(e) => return vec![Err(Error::Task(e))],
    };
    let mut entries = Vec::with_capacity(loaded.len());
    for item in loaded {
        let entry = match item {
            Err(e) => Err(e),
            Ok(Loaded::Done(entry)) => Ok(entry),
            Ok(Loaded::Whole {
                path,
                host_path,
                executable,
                contents,
            }) => {
                let size = contents.len() as u64;
                match blob_service.put(contents).await {
                    Ok(digest) => Ok(IngestionEntry::Regular {
                        path,
                        digest,
                        size,
                        executable,
                    }),
                    Err(source) => Err(Error::Upload {
                        path: host_path,
                        source,
                    }),
                }
            }
            Ok(Loaded::Large {
                path,
                host_path,
                executable,
            }) => match upload_streamed(&blob_service, &host_path).await {
                Ok((digest, size)) => Ok(IngestionEntry::Regular {
                    path,
                    digest,
                    size,
                    executable,
                }),
                Err(source) => Err(Error::Upload {
                    path: host_path,
                    source,
                }),
            },
        };
        let failed = entry.is_err();
        entries.push(entry);
        if failed {
            break;
        }
    }
    entries
}

/// Reads the small files of a batch whole, each into a buffer of its listed
/// size (the size read is what counts, should the file have changed).
fn load_batch(batch: Batch) -> Vec<Result<Loaded, Error>> {
    batch
        .into_iter()
        .map(|walked| match walked? {
            Walked::Done(entry) => Ok(Loaded::Done(entry)),
            Walked::File {
                path,
                host_path,
                size,
                executable,
            } if size <= WHOLE_FILE_LIMIT => {
                let mut contents = Vec::with_capacity(size as usize);
                match File::open(&host_path).and_then(|mut file| file.read_to_end(&mut contents)) {
                    Ok(_) => Ok(Loaded::Whole {
                        path,
                        host_path,
                        executable,
                        contents: contents.into(),
                    }),
                    Err(source) => Err(Error::Upload {
                        path: host_path,
                        source,
                    }),
                }
            }
            Walked::File {
                path,
                host_path,
                executable,
                ..
            } => Ok(Loaded::Large {
                path,
                host_path,
                executable,
            }),
        })
        .collect()
}

/// Streams a large file into a blob writer, returning the digest and the
/// size read. Each piece is read in a blocking job straight into the buffer
/// the writer takes it from.
async fn upload_streamed<BS: BlobService>(
    blob_service: &BS,
    path: &Path,
) -> io::Result<(B3Digest, u64)> {
    let open_path = path.to_owned();
    let mut file = tokio::task::spawn_blocking(move || File::open(open_path))
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

/// Nix, and so the castore, only knows "executable or not": the owner's
/// execute bit decides.
fn is_executable(metadata: &Metadata) -> bool {
    metadata.permissions().mode() & 0o100 != 0
}

fn file_type_name(file_type: FileType) -> &'static str {
    if file_type.is_socket() {
        "socket"
    } else if file_type.is_fifo() {
        "fifo"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_char_device() {
        "character device"
    } else {
        "file of unknown type"
    }
}
