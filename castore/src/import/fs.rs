//! Importing a tree from the host filesystem.
//!
//! The tree is walked children first, file contents are uploaded with a
//! bounded number of uploads in flight, and the resulting entries are fed
//! to [ingest_entries] in walk order. Only what the castore can represent is
//! accepted: directories, regular files (with their executable bit) and
//! symlinks (targets kept as bytes, never followed). Anything else is an
//! error naming the path. The importer must never follow a symlink, so it
//! never reads outside the tree it was given.

use std::fs::{FileType, Metadata};
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use thiserror::Error;
use tokio::io::{AsyncWriteExt, BufReader};
use walkdir::WalkDir;

use super::{IngestionEntry, IngestionError, ingest_entries};
use crate::blobservice::BlobService;
use crate::directoryservice::DirectoryService;
use crate::{B3Digest, FromHostPathError, Node, SymlinkTarget, SymlinkTargetError};

/// File uploads in flight at once: enough to keep both hashing and I/O busy,
/// few enough to bound memory (each holds at most one small file or one
/// read buffer).
const CONCURRENT_UPLOADS: usize = 32;
/// Files up to this size are read in one go; larger ones are streamed
/// through a buffer of this size.
const WHOLE_FILE_LIMIT: u64 = 1024 * 1024;

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
/// the root last, with file contents uploaded to `blob_service`.
pub fn walk_path<BS>(
    blob_service: BS,
    root: &Path,
) -> impl Stream<Item = Result<IngestionEntry, Error>> + Send + Unpin + 'static
where
    BS: BlobService + Clone + 'static,
{
    let root = root.to_owned();
    let walker = WalkDir::new(&root)
        .follow_links(false)
        .follow_root_links(false)
        .contents_first(true);
    futures::stream::iter(walker)
        .map(
            move |entry| -> BoxFuture<'static, Result<IngestionEntry, Error>> {
                match entry {
                    Ok(entry) => process_entry(blob_service.clone(), &root, entry),
                    Err(e) => futures::future::ready(Err(Error::Walk(e))).boxed(),
                }
            },
        )
        .buffered(CONCURRENT_UPLOADS)
}

/// What a walked entry is, before any file contents are read.
enum Classified {
    Done(IngestionEntry),
    File {
        path: crate::PathBuf,
        metadata: Metadata,
    },
}

fn classify(root: &Path, entry: &walkdir::DirEntry) -> Result<Classified, Error> {
    let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
    let path = crate::PathBuf::from_host_path(relative, false)?;
    let file_type = entry.file_type();
    if file_type.is_dir() {
        Ok(Classified::Done(IngestionEntry::Dir { path }))
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
        Ok(Classified::Done(IngestionEntry::Symlink { path, target }))
    } else if file_type.is_file() {
        let metadata = entry.metadata()?;
        Ok(Classified::File { path, metadata })
    } else {
        Err(Error::UnsupportedFileType {
            path: entry.path().to_owned(),
            kind: file_type_name(file_type),
        })
    }
}

/// Turns one walked entry into an ingestion entry, starting the upload of a
/// file's contents in its own task so uploads use every core.
fn process_entry<BS>(
    blob_service: BS,
    root: &Path,
    entry: walkdir::DirEntry,
) -> BoxFuture<'static, Result<IngestionEntry, Error>>
where
    BS: BlobService + 'static,
{
    let (path, metadata) = match classify(root, &entry) {
        Err(e) => return futures::future::ready(Err(e)).boxed(),
        Ok(Classified::Done(entry)) => return futures::future::ready(Ok(entry)).boxed(),
        Ok(Classified::File { path, metadata }) => (path, metadata),
    };
    let host_path = entry.into_path();
    let executable = is_executable(&metadata);
    let upload = tokio::spawn(upload_file(blob_service, host_path.clone(), metadata.len()));
    async move {
        let (digest, size) = upload
            .await
            .map_err(io::Error::other)
            .and_then(|result| result)
            .map_err(|source| Error::Upload {
                path: host_path,
                source,
            })?;
        Ok(IngestionEntry::Regular {
            path,
            digest,
            size,
            executable,
        })
    }
    .boxed()
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

/// Uploads a file's contents, returning their digest and size. The size is
/// what was read, which is what the digest covers even if the file changed
/// since it was listed.
async fn upload_file<BS: BlobService>(
    blob_service: BS,
    path: PathBuf,
    listed_size: u64,
) -> io::Result<(B3Digest, u64)> {
    let mut writer = blob_service.open_write().await;
    let size = if listed_size <= WHOLE_FILE_LIMIT {
        let contents = tokio::fs::read(&path).await?;
        writer.write_all(&contents).await?;
        contents.len() as u64
    } else {
        let file = tokio::fs::File::open(&path).await?;
        let mut reader = BufReader::with_capacity(WHOLE_FILE_LIMIT as usize, file);
        tokio::io::copy_buf(&mut reader, &mut writer).await?
    };
    let digest = writer.close().await?;
    Ok((digest, size))
}
