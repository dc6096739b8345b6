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
use std::future::Future;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt};
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinError;
use tokio_stream::wrappers::ReceiverStream;
use walkdir::WalkDir;

use super::batch::{
    self, BATCH_BYTES, BATCH_ENTRIES, BatchError, CONCURRENT_BATCHES, LargeFile, Loaded,
    WHOLE_FILE_LIMIT,
};
use super::{IngestionEntry, IngestionError, ingest_entries};
use crate::blobservice::BlobService;
use crate::directoryservice::DirectoryService;
use crate::{B3Digest, FromHostPathError, Node, SymlinkTarget, SymlinkTargetError};

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
    let uploads = futures::stream::once(async move {
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
    .map(move |batch| upload_batch(blob_service.clone(), batch));
    batch::in_order(uploads).boxed()
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
    match tokio::task::spawn_blocking(|| load_batch(batch)).await {
        Ok(loaded) => batch::upload_batch(&blob_service, loaded).await,
        Err(e) => vec![Err(Error::Task(e))],
    }
}

/// Reads the small files of a batch whole, each into a buffer of its listed
/// size (the size read is what counts, should the file have changed).
fn load_batch(batch: Batch) -> Vec<Result<Loaded<HostFile>, Error>> {
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
                source: HostFile(host_path.clone()),
                host_path,
                executable,
            }),
        })
        .collect()
}

/// A large file on the host, streamed into a blob writer: each piece is
/// read in a blocking job straight into the buffer the writer takes it
/// from.
struct HostFile(PathBuf);

impl LargeFile for HostFile {
    fn upload<BS: BlobService>(
        self,
        blob_service: &BS,
    ) -> impl Future<Output = io::Result<(B3Digest, u64)>> + Send {
        batch::upload_host_file(blob_service, self.0)
    }
}

impl BatchError for Error {
    fn upload(path: PathBuf, source: io::Error) -> Self {
        Error::Upload { path, source }
    }

    fn task(error: JoinError) -> Self {
        Error::Task(error)
    }
}

/// Nix, and so the castore, only knows "executable or not": the owner's
/// execute bit decides.
pub fn is_executable(metadata: &Metadata) -> bool {
    metadata.permissions().mode() & 0o100 != 0
}

/// What to call a file of a type the castore cannot store, in errors.
pub fn file_type_name(file_type: FileType) -> &'static str {
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
