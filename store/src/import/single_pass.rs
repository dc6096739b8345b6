//! Ingesting a host tree into the castore and computing its NAR size and
//! sha256 in one read of every file.
//!
//! A blocking thread walks the tree in NAR order (entries sorted by name
//! bytes, directories before their contents) and reads each file once. What
//! it reads goes, shared rather than copied, two ways: in batches to upload
//! tasks that store the files as blobs (blake3), and as [NarPart]s to a
//! thread of its own that hashes the tree's NAR (see [super::nar_hasher]);
//! so reading, sha256 and blake3 each run on a core's share. The upload
//! tasks turn the batches into [IngestionEntry]s in walk order, with each
//! directory's entry made after its children, which is what
//! [ingest_entries] takes.
//!
//! Small files are read whole and stored with one
//! [BlobService::put_many] per batch, which for a local store is one
//! lookup of the whole batch: a tree imported again writes nothing. Large
//! ones are streamed in pieces through bounded channels (see
//! [batch::upload_pieces], which only hashes a file stored already), so
//! memory stays bounded by the batches and pieces in flight.
//!
//! Like the castore importer, this accepts only directories, regular files
//! (with the owner's execute bit) and symlinks, which are never followed.

use std::ffi::OsString;
use std::fs::{File, FileType};
use std::future::Future;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;

use bytes::Bytes;
use futures::StreamExt;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinError;
use tokio_stream::wrappers::ReceiverStream;
use tvix_castore::blobservice::BlobService;
use tvix_castore::directoryservice::DirectoryService;
use tvix_castore::import::batch::{
    self, BATCH_BYTES, BATCH_ENTRIES, BatchError, CONCURRENT_BATCHES, LargeFile, Loaded,
    PIECE_SIZE, WHOLE_FILE_LIMIT,
};
use tvix_castore::import::fs::{file_type_name, is_executable};
use tvix_castore::import::{IngestionEntry, IngestionError, ingest_entries};
use tvix_castore::{B3Digest, Node, PathError, SymlinkTarget, SymlinkTargetError};

use super::nar_hasher::{Contents, NarPart, hash_nar};
use super::{ImportProgress, PathFilter};
use crate::nar::{MAX_DEPTH, NarSummary};

/// Pieces of a large file read ahead of its upload.
const PIECES_IN_FLIGHT: usize = 2;
/// Room left on the stack below which the walk moves to a new segment, and
/// the size of each new segment (trees can be [MAX_DEPTH] deep).
pub(super) const RED_ZONE: usize = 64 * 1024;
pub(super) const SEGMENT: usize = 1024 * 1024;

/// Why a tree could not be walked, read or uploaded.
#[derive(Debug, Error)]
pub enum WalkError {
    #[error("walking the tree: {path:?}: {source}")]
    Stat { path: PathBuf, source: io::Error },
    #[error("walking the tree: listing the directory {path:?}: {source}")]
    ReadDir { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("{path:?} is a {kind}, which the castore cannot store")]
    UnsupportedFileType { path: PathBuf, kind: &'static str },
    #[error("reading the symlink {path:?}: {source}")]
    ReadLink { path: PathBuf, source: io::Error },
    #[error("symlink {path:?} has an invalid target: {source}")]
    SymlinkTarget {
        path: PathBuf,
        source: SymlinkTargetError,
    },
    #[error("directory {0:?} is nested deeper than {MAX_DEPTH} levels")]
    TooDeep(PathBuf),
    /// Reading a file failed, or it changed size while it was read.
    #[error("reading {path:?}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("uploading {path:?}: {source}")]
    Upload { path: PathBuf, source: io::Error },
    /// The uploads stopped (one of them failed), so the walk did too.
    #[error("the upload stopped")]
    UploadStopped,
    /// The NAR hash stopped, which it does only on a malformed walk.
    #[error("the NAR hash stopped")]
    HashStopped,
    #[error("hashing the NAR: {0}")]
    NarHash(io::Error),
    #[error("an import task stopped: {0}")]
    Task(#[from] JoinError),
}

/// Imports the tree at `path` into the castore, telling `progress` about
/// every uploaded file; returns its root node and the size and sha256 of
/// its NAR.
pub(super) async fn ingest_hashing_nar<BS, DS>(
    blob_service: BS,
    directory_service: &DS,
    path: &Path,
    filter: Option<PathFilter>,
    progress: &dyn ImportProgress,
) -> Result<(Node, NarSummary), IngestionError<WalkError>>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
{
    let (sender, receiver) = mpsc::channel(CONCURRENT_BATCHES);
    let (nar_sender, nar_receiver) = std::sync::mpsc::sync_channel(NAR_BATCHES_IN_FLIGHT);
    let hasher = tokio::task::spawn_blocking(move || hash_nar(nar_receiver));
    let root = path.to_owned();
    let walker = tokio::task::spawn_blocking(move || walk(&root, filter, sender, nar_sender));
    let uploads = ReceiverStream::new(receiver).map(move |batch: Vec<Walked>| {
        let blob_service = blob_service.clone();
        async move { batch::upload_batch(&blob_service, batch.into_iter().map(Ok)).await }
    });
    let entries = batch::in_order(uploads).inspect(|entry| {
        if let Ok(IngestionEntry::Regular { size, .. }) = entry {
            progress.file_uploaded(*size);
        }
    });
    // The walk ends the entries (by dropping its sender) before the
    // ingestion can finish, and stops when the ingestion fails (its batches
    // are dropped); so both are awaited, and the walk's own error, if it
    // had one, is the cause. The hash fails only if the walk did.
    let ingested = ingest_entries(directory_service, entries).await;
    let walked = walker.await;
    let hashed = hasher.await;
    match (walked, ingested) {
        (Err(e), _) => Err(IngestionError::Producer(WalkError::Task(e))),
        (Ok(Err(WalkError::UploadStopped)), Err(e)) | (Ok(Ok(())), Err(e)) => Err(e),
        (Ok(Err(e)), _) => Err(IngestionError::Producer(e)),
        (Ok(Ok(())), Ok(node)) => match hashed {
            Ok(Ok(nar)) => Ok((node, nar)),
            Ok(Err(e)) => Err(IngestionError::Producer(WalkError::NarHash(e))),
            Err(e) => Err(IngestionError::Producer(WalkError::Task(e))),
        },
    }
}

/// Batches of [NarPart]s on their way to the NAR hash.
const NAR_BATCHES_IN_FLIGHT: usize = 4;

/// A walked entry, with the contents of a file read or being read.
type Walked = Loaded<Pieces>;

/// A large file, whose pieces arrive as the walk reads it.
struct Pieces {
    pieces: mpsc::Receiver<Bytes>,
    /// Where to read it again, should it have to be stored after hashing.
    host_path: PathBuf,
}

/// Walks the tree at `root` (the entries `filter` keeps), sending its
/// entries in batches to `batches` and its NAR parts to `nar`.
fn walk(
    root: &Path,
    filter: Option<PathFilter>,
    batches: mpsc::Sender<Vec<Walked>>,
    nar: SyncSender<Vec<NarPart>>,
) -> Result<(), WalkError> {
    let mut walker = Walker {
        filter,
        batches,
        batch: Vec::new(),
        batch_bytes: 0,
        nar,
        parts: Vec::new(),
    };
    walker.node(root, tvix_castore::PathBuf::new(), 0, None)?;
    walker.send_batch()
}

/// The walk's batches being filled.
struct Walker {
    /// Which entries below the root are kept; all if `None`.
    filter: Option<PathFilter>,
    batches: mpsc::Sender<Vec<Walked>>,
    batch: Vec<Walked>,
    batch_bytes: u64,
    nar: SyncSender<Vec<NarPart>>,
    /// The NAR of the entries in `batch` (and of the directories open).
    parts: Vec<NarPart>,
}

impl Walker {
    /// Walks the node at `host_path` (castore `path`, `depth` directories
    /// below the root), adding its entries to the batches and its NAR to
    /// the parts. Its `file_type` is what its directory's listing said
    /// (unless it is the root): a directory or symlink then costs no stat,
    /// and a file is asked for its size only once open, without looking up
    /// its path again.
    fn node(
        &mut self,
        host_path: &Path,
        path: tvix_castore::PathBuf,
        depth: usize,
        file_type: Option<FileType>,
    ) -> Result<(), WalkError> {
        let stat_error = |source| WalkError::Stat {
            path: host_path.to_owned(),
            source,
        };
        let file_type = match file_type {
            Some(file_type) => file_type,
            None => std::fs::symlink_metadata(host_path)
                .map_err(stat_error)?
                .file_type(),
        };
        let read_error = |source| WalkError::Read {
            path: host_path.to_owned(),
            source,
        };
        if file_type.is_dir() {
            if depth >= MAX_DEPTH {
                return Err(WalkError::TooDeep(host_path.to_owned()));
            }
            let list_error = |source| WalkError::ReadDir {
                path: host_path.to_owned(),
                source,
            };
            let mut children = std::fs::read_dir(host_path)
                .and_then(|entries| {
                    entries
                        .map(|entry| {
                            let entry = entry?;
                            Ok((entry.file_name(), entry.file_type()?))
                        })
                        .collect::<io::Result<Vec<(OsString, FileType)>>>()
                })
                .map_err(list_error)?;
            children
                .sort_unstable_by(|(a, _), (b, _)| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
            self.parts.push(NarPart::Directory);
            for (name, child_type) in children {
                let child_host_path = host_path.join(&name);
                if self
                    .filter
                    .as_ref()
                    .is_some_and(|keep| !keep(&child_host_path))
                {
                    continue;
                }
                let child_path = path.try_join(name.as_encoded_bytes())?;
                self.parts
                    .push(NarPart::Entry(name.as_encoded_bytes().to_vec()));
                stacker::maybe_grow(RED_ZONE, SEGMENT, || {
                    self.node(&child_host_path, child_path, depth + 1, Some(child_type))
                })?;
            }
            self.parts.push(NarPart::End);
            self.push(Loaded::Done(IngestionEntry::Dir { path }), 0)
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(host_path).map_err(|source| WalkError::ReadLink {
                path: host_path.to_owned(),
                source,
            })?;
            let target = target.as_os_str().as_encoded_bytes();
            let castore_target =
                SymlinkTarget::try_from(target).map_err(|source| WalkError::SymlinkTarget {
                    path: host_path.to_owned(),
                    source,
                })?;
            self.parts.push(NarPart::Symlink(target.to_vec()));
            self.push(
                Loaded::Done(IngestionEntry::Symlink {
                    path,
                    target: castore_target,
                }),
                0,
            )
        } else if file_type.is_file() {
            // Never following a symlink, nor waiting on a fifo, should
            // the entry have been replaced since it was listed.
            let mut file = File::options()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(host_path)
                .map_err(read_error)?;
            let metadata = file.metadata().map_err(stat_error)?;
            if !metadata.is_file() {
                return Err(WalkError::UnsupportedFileType {
                    path: host_path.to_owned(),
                    kind: file_type_name(metadata.file_type()),
                });
            }
            let executable = is_executable(&metadata);
            if metadata.len() <= WHOLE_FILE_LIMIT {
                // The size the file had when opened counts, as in Nix:
                // bytes it grew by since are not read. What is read
                // counts, should it have shrunk. Read through `take`, as
                // `File::read_to_end` would ask the file's size and
                // position again, and a file that fills its buffer needs
                // no second read to find its end.
                let expected = metadata.len();
                let mut contents = Vec::with_capacity(expected as usize);
                (&mut file)
                    .take(expected)
                    .read_to_end(&mut contents)
                    .map_err(read_error)?;
                let contents = Bytes::from(contents);
                let size = contents.len() as u64;
                self.parts.push(NarPart::File {
                    executable,
                    size,
                    contents: Contents::Whole(contents.clone()),
                });
                self.push(
                    Loaded::Whole {
                        path,
                        host_path: host_path.to_owned(),
                        executable,
                        contents,
                    },
                    size,
                )
            } else {
                let (sender, pieces) = mpsc::channel(PIECES_IN_FLIGHT);
                let (nar_sender, nar_pieces) = std::sync::mpsc::sync_channel(PIECES_IN_FLIGHT);
                self.parts.push(NarPart::File {
                    executable,
                    size: metadata.len(),
                    contents: Contents::Pieces(nar_pieces),
                });
                self.push(
                    Loaded::Large {
                        path,
                        host_path: host_path.to_owned(),
                        executable,
                        source: Pieces {
                            pieces,
                            host_path: host_path.to_owned(),
                        },
                    },
                    metadata.len(),
                )?;
                // Its upload and hash must be able to start before the
                // pieces come.
                self.send_batch()?;
                // A file that grew or shrank since it was looked at is an
                // error here, and its short or long blob is never used.
                let read = send_pieces(&file, &sender, &nar_sender).map_err(read_error)?;
                if read != metadata.len() {
                    return Err(read_error(io::Error::other(format!(
                        "it changed size while it was read ({} bytes, then {read})",
                        metadata.len()
                    ))));
                }
                Ok(())
            }
        } else {
            Err(WalkError::UnsupportedFileType {
                path: host_path.to_owned(),
                kind: file_type_name(file_type),
            })
        }
    }

    /// Adds `walked`, with `bytes` of file contents, to the batch, sending
    /// the batch when it is full.
    fn push(&mut self, walked: Walked, bytes: u64) -> Result<(), WalkError> {
        self.batch.push(walked);
        self.batch_bytes += bytes;
        if self.batch.len() >= BATCH_ENTRIES || self.batch_bytes >= BATCH_BYTES {
            self.send_batch()?;
        }
        Ok(())
    }

    /// Sends the batch and the NAR parts, if there are any.
    fn send_batch(&mut self) -> Result<(), WalkError> {
        self.batch_bytes = 0;
        if !self.parts.is_empty() {
            self.nar
                .send(std::mem::take(&mut self.parts))
                .map_err(|_| WalkError::HashStopped)?;
        }
        if self.batch.is_empty() {
            return Ok(());
        }
        self.batches
            .blocking_send(std::mem::take(&mut self.batch))
            .map_err(|_| WalkError::UploadStopped)
    }
}

/// Reads `file` to its end in pieces of [PIECE_SIZE], handing each to its
/// upload and to the NAR hash; returns the number of bytes read.
fn send_pieces(
    mut file: &File,
    upload: &mpsc::Sender<Bytes>,
    nar: &SyncSender<Bytes>,
) -> io::Result<u64> {
    let mut read = 0;
    loop {
        let mut piece = Vec::with_capacity(PIECE_SIZE as usize);
        (&mut file).take(PIECE_SIZE).read_to_end(&mut piece)?;
        if piece.is_empty() {
            return Ok(read);
        }
        read += piece.len() as u64;
        let piece = Bytes::from(piece);
        let stopped = || io::Error::from(io::ErrorKind::BrokenPipe);
        nar.send(piece.clone()).map_err(|_| stopped())?;
        upload.blocking_send(piece).map_err(|_| stopped())?;
    }
}

impl LargeFile for Pieces {
    /// Stores the pieces as they arrive; a file stored already is only
    /// hashed (see [batch::upload_pieces]).
    fn upload<BS: BlobService>(
        self,
        blob_service: &BS,
    ) -> impl Future<Output = io::Result<(B3Digest, u64)>> + Send {
        let Pieces { pieces, host_path } = self;
        batch::upload_pieces(blob_service, ReceiverStream::new(pieces), host_path)
    }
}

impl BatchError for WalkError {
    fn upload(path: PathBuf, source: io::Error) -> Self {
        WalkError::Upload { path, source }
    }

    fn task(error: JoinError) -> Self {
        WalkError::Task(error)
    }
}
