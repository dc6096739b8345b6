//! Ingesting a host tree into the castore and computing its NAR size and
//! sha256 in one read of every file.
//!
//! A blocking thread walks the tree in NAR order (entries sorted by name
//! bytes, directories before their contents) and writes its NAR into a
//! hashing sink, reading each file once: the bytes read go both into the
//! NAR hash and, handed over in batches, to upload tasks that store them as
//! blobs (blake3) on the other cores. The upload tasks turn the batches into
//! [IngestionEntry]s in walk order, with each directory's entry made after
//! its children, which is what [ingest_entries] takes.
//!
//! Small files are read whole and stored with one [BlobService::put]; large
//! ones are streamed in pieces through a bounded channel, so memory stays
//! bounded by the batches and pieces in flight.
//!
//! Like the castore importer, this accepts only directories, regular files
//! (with the owner's execute bit) and symlinks, which are never followed.

use std::ffi::OsString;
use std::fs::File;
use std::future::Future;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use nix_compat::nar::writer as nar;
use thiserror::Error;
use tokio::io::AsyncWriteExt;
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

use super::{ImportProgress, PathFilter};
use crate::nar::{HashingSink, MAX_DEPTH, NarSummary};

/// Pieces of a large file read ahead of its upload.
const PIECES_IN_FLIGHT: usize = 2;
/// Room left on the stack below which the walk moves to a new segment, and
/// the size of each new segment (trees can be [MAX_DEPTH] deep).
const RED_ZONE: usize = 64 * 1024;
const SEGMENT: usize = 1024 * 1024;

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
    let root = path.to_owned();
    let walker = tokio::task::spawn_blocking(move || walk(&root, filter, sender));
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
    // had one, is the cause.
    let ingested = ingest_entries(directory_service, entries).await;
    match (walker.await, ingested) {
        (Err(e), _) => Err(IngestionError::Producer(WalkError::Task(e))),
        (Ok(Err(WalkError::UploadStopped)), Err(e)) | (Ok(Ok(_)), Err(e)) => Err(e),
        (Ok(Err(e)), _) => Err(IngestionError::Producer(e)),
        (Ok(Ok(nar)), Ok(node)) => Ok((node, nar)),
    }
}

/// A walked entry, with the contents of a file read or being read.
type Walked = Loaded<Pieces>;

/// A large file, whose pieces arrive as the walk reads it.
struct Pieces(mpsc::Receiver<Bytes>);

/// Walks the tree at `root` (the entries `filter` keeps), sending its
/// entries in batches to `batches`, and returns its NAR size and sha256.
fn walk(
    root: &Path,
    filter: Option<PathFilter>,
    batches: mpsc::Sender<Vec<Walked>>,
) -> Result<NarSummary, WalkError> {
    let mut sink = HashingSink::default();
    let mut walker = Walker {
        filter,
        batches,
        batch: Vec::new(),
        batch_bytes: 0,
    };
    let nar_root = nar::open(&mut sink).map_err(|source| WalkError::Read {
        path: root.to_owned(),
        source,
    })?;
    walker.node(nar_root, root, tvix_castore::PathBuf::new(), 0)?;
    walker.send_batch()?;
    Ok(sink.finish())
}

/// The walk's batch being filled.
struct Walker {
    /// Which entries below the root are kept; all if `None`.
    filter: Option<PathFilter>,
    batches: mpsc::Sender<Vec<Walked>>,
    batch: Vec<Walked>,
    batch_bytes: u64,
}

impl Walker {
    /// Writes the node at `host_path` (castore `path`, `depth` directories
    /// below the root) as `nar_node` and adds its entries to the batches.
    fn node(
        &mut self,
        nar_node: nar::Node<'_, HashingSink>,
        host_path: &Path,
        path: tvix_castore::PathBuf,
        depth: usize,
    ) -> Result<(), WalkError> {
        let metadata = std::fs::symlink_metadata(host_path).map_err(|source| WalkError::Stat {
            path: host_path.to_owned(),
            source,
        })?;
        let file_type = metadata.file_type();
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
            let mut names = std::fs::read_dir(host_path)
                .and_then(|entries| {
                    entries
                        .map(|entry| entry.map(|entry| entry.file_name()))
                        .collect::<io::Result<Vec<OsString>>>()
                })
                .map_err(list_error)?;
            names.sort_unstable_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
            let mut nar_directory = nar_node.directory().map_err(read_error)?;
            for name in names {
                let child_host_path = host_path.join(&name);
                if self
                    .filter
                    .as_ref()
                    .is_some_and(|keep| !keep(&child_host_path))
                {
                    continue;
                }
                let child_path = path.try_join(name.as_encoded_bytes())?;
                let nar_child = nar_directory
                    .entry(name.as_encoded_bytes())
                    .map_err(|source| WalkError::Read {
                        path: child_host_path.clone(),
                        source,
                    })?;
                stacker::maybe_grow(RED_ZONE, SEGMENT, || {
                    self.node(nar_child, &child_host_path, child_path, depth + 1)
                })?;
            }
            nar_directory.close().map_err(read_error)?;
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
            nar_node.symlink(target).map_err(read_error)?;
            self.push(
                Loaded::Done(IngestionEntry::Symlink {
                    path,
                    target: castore_target,
                }),
                0,
            )
        } else if file_type.is_file() {
            let executable = is_executable(&metadata);
            let mut file = File::open(host_path).map_err(read_error)?;
            if metadata.len() <= WHOLE_FILE_LIMIT {
                // What is read counts, should the file have changed since.
                // Read through `take`, as `File::read_to_end` would ask the
                // file's size and position again (two system calls, a
                // quarter of a small file's cost); only a file that grew
                // since is read on to its end.
                let expected = metadata.len();
                let mut contents = Vec::with_capacity(expected as usize + 1);
                (&mut file)
                    .take(expected + 1)
                    .read_to_end(&mut contents)
                    .and_then(|read| {
                        if read as u64 > expected {
                            file.read_to_end(&mut contents)
                        } else {
                            Ok(read)
                        }
                    })
                    .map_err(read_error)?;
                let size = contents.len() as u64;
                nar_node
                    .file(executable, size, &mut contents.as_slice())
                    .map_err(read_error)?;
                self.push(
                    Loaded::Whole {
                        path,
                        host_path: host_path.to_owned(),
                        executable,
                        contents: contents.into(),
                    },
                    size,
                )
            } else {
                let (sender, pieces) = mpsc::channel(PIECES_IN_FLIGHT);
                self.push(
                    Loaded::Large {
                        path,
                        host_path: host_path.to_owned(),
                        executable,
                        source: Pieces(pieces),
                    },
                    metadata.len(),
                )?;
                // Its upload must be able to start before the pieces come.
                self.send_batch()?;
                let mut reader = PieceReader {
                    file,
                    piece: Bytes::new(),
                    pos: 0,
                    pieces: sender,
                };
                // A file that grew or shrank since it was looked at is an
                // error here, and its short or long blob is never used.
                nar_node
                    .file(executable, metadata.len(), &mut reader)
                    .map_err(|source| match source.kind() {
                        io::ErrorKind::BrokenPipe => WalkError::UploadStopped,
                        _ => WalkError::Read {
                            path: host_path.to_owned(),
                            source,
                        },
                    })
            }
        } else {
            Err(WalkError::UnsupportedFileType {
                path: host_path.to_owned(),
                kind: file_type_name(metadata.file_type()),
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

    /// Sends the batch, if it has anything.
    fn send_batch(&mut self) -> Result<(), WalkError> {
        self.batch_bytes = 0;
        if self.batch.is_empty() {
            return Ok(());
        }
        self.batches
            .blocking_send(std::mem::take(&mut self.batch))
            .map_err(|_| WalkError::UploadStopped)
    }
}

/// Reads a large file in pieces for the NAR writer, handing each piece to
/// the file's upload as it is read.
struct PieceReader {
    file: File,
    piece: Bytes,
    /// How much of `piece` the NAR writer consumed.
    pos: usize,
    pieces: mpsc::Sender<Bytes>,
}

impl Read for PieceReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        if let (Some(to), Some(from)) = (out.get_mut(..n), available.get(..n)) {
            to.copy_from_slice(from);
        }
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for PieceReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.piece.len() {
            let mut piece = Vec::with_capacity(PIECE_SIZE as usize);
            (&self.file).take(PIECE_SIZE).read_to_end(&mut piece)?;
            let piece = Bytes::from(piece);
            if !piece.is_empty() {
                self.pieces
                    .blocking_send(piece.clone())
                    .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
            }
            self.piece = piece;
            self.pos = 0;
        }
        Ok(self.piece.get(self.pos..).unwrap_or_default())
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.piece.len());
    }
}

impl LargeFile for Pieces {
    /// Writes the pieces to a new blob as they arrive.
    fn upload<BS: BlobService>(
        self,
        blob_service: &BS,
    ) -> impl Future<Output = io::Result<(B3Digest, u64)>> + Send {
        let Pieces(mut pieces) = self;
        async move {
            let mut writer = blob_service.open_write().await;
            let mut size = 0;
            while let Some(piece) = pieces.recv().await {
                writer.write_all(&piece).await?;
                size += piece.len() as u64;
            }
            Ok((writer.close().await?, size))
        }
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
