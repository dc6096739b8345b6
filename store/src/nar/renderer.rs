//! Rendering a castore node as a NAR.
//!
//! The directories of the tree are fetched first, in one `get_recursive`
//! stream (one round trip for a remote directory service); they are small
//! beside the file contents, which are never held whole. Then the tree is
//! walked depth first with entries in castore order, which is NAR order
//! (bytewise by name). The NAR comes out as a stream of chunks
//! ([render_nar]), made in the background in one of two ways:
//! - from a blob service that reads on the calling thread (the local pack
//!   store, [BlobService::bulk_reader]), on two blocking threads (see
//!   [super::local]);
//! - from any other, by a task that streams file contents from the blobs'
//!   readers through a bounded buffer. Knowing every file in advance, it
//!   opens the blobs of the next few files, across directory boundaries,
//!   while writing the current one.
//!
//! The output is what `nix-store --dump` writes for the same tree.

use std::io;

use async_trait::async_trait;
use bstr::{BStr, BString, ByteSlice};
use std::collections::HashMap;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use nix_compat::nar::writer::{self as nar_writer, r#async as nar};
use tokio::io::{AsyncWrite, AsyncWriteExt, BufReader};
use tvix_castore::blobservice::{BlobReader, BlobService};
use tvix_castore::directoryservice::{self, DirectoryService};
use tvix_castore::{B3Digest, Directory, Node};

use super::chunks::{ChunkWriter, NarChunks};
use super::hashing::HashingSink;
use super::stack::GrowStack;
use super::{CalculateNarError, NarCalculationService, NarSummary};

/// Largest buffer between a blob reader and the NAR.
const BLOB_BUFFER: usize = 1024 * 1024;
/// The blobs of consecutive files are opened together, in a task of their
/// own, so that a local store reads and checks them on another core while
/// the NAR is written; one task per file would cost more in thread wake-ups
/// than a small file's read. A batch ends at this many bytes of files...
const BATCH_BYTES: u64 = 1024 * 1024;
/// ... or at this many files.
const BATCH_FILES: usize = 64;
/// Batches being opened ahead of the file being written.
const BATCHES_AHEAD: usize = 4;

/// The deepest directory nesting rendered or ingested: as deep as a tree
/// Nix can restore to disk gets (a path is at most 4096 bytes, so at most
/// 2048 levels), and a bound on what a hostile tree or NAR can make us
/// allocate (see [super::stack]).
pub const MAX_DEPTH: usize = 2048;

/// The most entries (files, symlinks and directories, counted at every
/// place a shared directory appears) a rendered tree may expand to. A few
/// dozen tiny directories that each list the one below twice stand for
/// 2^62 entries; the walk that lists the files to open would never end.
/// Four million is beyond the largest store paths (a full TeX Live has
/// about 200 000 files) and bounds the file list to about 160 MB.
pub const MAX_ENTRIES: u64 = 1 << 22;

/// Why a node could not be rendered. Paths are relative to the root node
/// (`""` is the root itself).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("blob {digest} of file {path:?} is not in the blob service")]
    BlobNotFound { path: BString, digest: B3Digest },
    #[error("blob {digest} of file {path:?} does not have the size {size} the tree says: {source}")]
    BlobSizeMismatch {
        path: BString,
        digest: B3Digest,
        size: u64,
        source: nar_writer::Error,
    },
    #[error("opening blob {digest} of file {path:?}: {source}")]
    OpenBlob {
        path: BString,
        digest: B3Digest,
        source: io::Error,
    },
    #[error("directory {digest} at {path:?} is not in the directory service")]
    DirectoryNotFound { path: BString, digest: B3Digest },
    #[error("fetching directory {digest} at {path:?}: {source}")]
    GetDirectory {
        path: BString,
        digest: B3Digest,
        /// Boxed: it is large, and rare.
        source: Box<directoryservice::Error>,
    },
    #[error("directory {0:?} is nested deeper than {MAX_DEPTH} levels")]
    TooDeep(BString),
    /// Counted on the distinct directories before anything is walked, so
    /// this is quick however large the expansion.
    #[error("the tree expands to {entries} entries, more than the {MAX_ENTRIES} rendered")]
    TooManyEntries { entries: u64 },
    #[error("listing the files to render: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// Reading a blob or writing the NAR failed.
    #[error("rendering {path:?}: {source}")]
    Io { path: BString, source: io::Error },
}

/// Writes the NAR of `root` to `writer`, reading file contents from
/// `blob_service` and directories from `directory_service`.
///
/// The NAR arrives in chunks of 64 KiB or more (see [render_nar]), so
/// `writer` needs no buffer of its own.
pub async fn write_nar<W, BS, DS>(
    writer: &mut W,
    root: &Node,
    blob_service: &BS,
    directory_service: &DS,
) -> Result<(), RenderError>
where
    W: AsyncWrite + Unpin + Send + ?Sized,
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
{
    let mut chunks = render_nar(root, blob_service, directory_service).await?;
    while let Some(chunk) = chunks.next().await {
        writer
            .write_all(&chunk?)
            .await
            .map_err(|source| RenderError::Io {
                path: BString::default(),
                source,
            })?;
    }
    Ok(())
}

/// Renders the NAR of `root` in the background, as a stream of chunks.
/// What can be checked before the first byte (every directory is there,
/// the tree is not too deep or too large) is checked before this returns;
/// a later error (a blob missing or corrupt) ends the stream. Dropping the
/// stream stops the rendering.
pub async fn render_nar<BS, DS>(
    root: &Node,
    blob_service: &BS,
    directory_service: &DS,
) -> Result<NarChunks, RenderError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
{
    let directories = fetch_directories(root, directory_service).await?;
    let entries = expanded_entries(root, &directories);
    if entries > MAX_ENTRIES {
        return Err(RenderError::TooManyEntries { entries });
    }
    // Up to [MAX_ENTRIES] steps of synchronous work: off the async workers.
    let (directories, files) = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || {
            files_in_nar_order(&root, &directories).map(|files| (directories, files))
        })
        .await??
    };
    let (sender, chunks) = super::chunks::channel();
    let root = root.clone();
    if let Some(reader) = blob_service.bulk_reader() {
        let files = files.into_iter().map(|(digest, _)| digest).collect();
        super::local::spawn(root, directories, files, reader, sender);
        return Ok(chunks);
    }
    let blobs = open_ahead(blob_service, files);
    tokio::spawn(async move {
        let mut blobs = blobs;
        let mut writer = ChunkWriter::new(sender);
        let rendered = async {
            let nar_root = nar::open(&mut writer)
                .await
                .map_err(|source| RenderError::Io {
                    path: BString::default(),
                    source,
                })?;
            write_node(
                &directories,
                &mut blobs,
                nar_root,
                &root,
                BString::default(),
            )
            .await?;
            writer.flush().await.map_err(|source| RenderError::Io {
                path: BString::default(),
                source,
            })
        }
        .await;
        if let Err(error) = rendered {
            writer.fail(error).await;
        }
    });
    Ok(chunks)
}

/// The size and sha256 of the NAR of `root`, rendered without keeping it.
pub async fn calculate_nar<BS, DS>(
    root: &Node,
    blob_service: &BS,
    directory_service: &DS,
) -> Result<NarSummary, RenderError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
{
    let mut sink = HashingSink::default();
    write_nar(&mut sink, root, blob_service, directory_service).await?;
    Ok(sink.finish())
}

/// A [NarCalculationService] that renders NARs from a blob and a directory
/// service.
#[derive(Clone)]
pub struct SimpleRenderer<BS, DS> {
    blob_service: BS,
    directory_service: DS,
}

impl<BS, DS> SimpleRenderer<BS, DS> {
    pub fn new(blob_service: BS, directory_service: DS) -> Self {
        Self {
            blob_service,
            directory_service,
        }
    }
}

#[async_trait]
impl<BS, DS> NarCalculationService for SimpleRenderer<BS, DS>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService,
{
    async fn calculate_nar(&self, root: &Node) -> Result<NarSummary, CalculateNarError> {
        Ok(calculate_nar(root, &self.blob_service, &self.directory_service).await?)
    }
}

/// Every directory below `root` (none if it is not a directory), by digest.
async fn fetch_directories<DS>(
    root: &Node,
    directory_service: &DS,
) -> Result<HashMap<B3Digest, Directory>, RenderError>
where
    DS: DirectoryService + ?Sized,
{
    let Node::Directory { digest, .. } = root else {
        return Ok(HashMap::new());
    };
    let mut directories = HashMap::new();
    let mut stream = directory_service.get_recursive(digest);
    while let Some(directory) = stream.next().await {
        match directory {
            Ok(directory) => {
                directories.insert(directory.digest(), directory);
            }
            // Reported with its path by the walk over what was fetched.
            Err(directoryservice::Error::DirectoryNotFound(_)) => break,
            Err(source) => {
                return Err(RenderError::GetDirectory {
                    path: BString::default(),
                    digest: *digest,
                    source: Box::new(source),
                });
            }
        }
    }
    Ok(directories)
}

/// How many entries the tree of `root` has, counting a directory's entries
/// at every place it appears (saturating), the root itself included.
/// Each distinct directory is counted once and its count remembered, so
/// this takes time in the number of entries of `directories`, not in the
/// expansion. Missing directories count as empty (the walk reports them).
fn expanded_entries(root: &Node, directories: &HashMap<B3Digest, Directory>) -> u64 {
    let Node::Directory { digest, .. } = root else {
        return 1;
    };
    let mut counted: HashMap<B3Digest, u64> = HashMap::new();
    // A directory is visited twice: first to push its child directories,
    // then, once they are counted, to sum them up. Digests are of the
    // contents, so no directory is below itself and this ends.
    let mut stack = vec![(*digest, false)];
    while let Some((digest, children_counted)) = stack.pop() {
        if counted.contains_key(&digest) {
            continue;
        }
        let Some(directory) = directories.get(&digest) else {
            counted.insert(digest, 0);
            continue;
        };
        if children_counted {
            let entries = directory.nodes().fold(0u64, |sum, (_, node)| {
                let below = match node {
                    Node::Directory { digest, .. } => counted.get(digest).copied().unwrap_or(0),
                    Node::File { .. } | Node::Symlink { .. } => 0,
                };
                sum.saturating_add(1).saturating_add(below)
            });
            counted.insert(digest, entries);
        } else {
            stack.push((digest, true));
            stack.extend(
                directory
                    .directories()
                    .filter(|(_, child, _)| !counted.contains_key(*child))
                    .map(|(_, child, _)| (*child, false)),
            );
        }
    }
    counted.get(digest).copied().unwrap_or(0).saturating_add(1)
}

/// The blob digests and sizes of the files below `root`, in the order the
/// NAR has them. Fails, before anything is written, on a directory missing
/// from `directories` or nested too deep.
fn files_in_nar_order(
    root: &Node,
    directories: &HashMap<B3Digest, Directory>,
) -> Result<Vec<(B3Digest, u64)>, RenderError> {
    let mut files = Vec::new();
    // Depth first, each directory's entries pushed in reverse so that they
    // come off the stack in order.
    let mut stack = vec![(root, BString::default(), 0)];
    while let Some((node, path, depth)) = stack.pop() {
        match node {
            Node::File { digest, size, .. } => files.push((*digest, *size)),
            Node::Symlink { .. } => {}
            Node::Directory { digest, .. } => {
                if depth >= MAX_DEPTH {
                    return Err(RenderError::TooDeep(path));
                }
                let directory = lookup(directories, digest, path.as_bstr())?;
                for (name, child) in directory.nodes().collect::<Vec<_>>().into_iter().rev() {
                    // Only a directory's path can end up in an error here.
                    let child_path = match child {
                        Node::Directory { .. } => child_path(path.as_bstr(), name.as_bytes()),
                        Node::File { .. } | Node::Symlink { .. } => BString::default(),
                    };
                    stack.push((child, child_path, depth + 1));
                }
            }
        }
    }
    Ok(files)
}

/// Opens the blobs of `files` in batches, [BATCHES_AHEAD] at once.
fn open_ahead<BS>(blob_service: &BS, files: Vec<(B3Digest, u64)>) -> OpenedBlobs<'static>
where
    BS: BlobService + Clone + 'static,
{
    let blob_service = blob_service.clone();
    futures::stream::iter(batches(files))
        .map(move |batch| {
            let blob_service = blob_service.clone();
            tokio::spawn(async move {
                futures::future::join_all(batch.iter().map(|digest| blob_service.open_read(digest)))
                    .await
            })
        })
        .buffered(BATCHES_AHEAD)
        .flat_map(|opened| {
            futures::stream::iter(opened.unwrap_or_else(|e| vec![Err(io::Error::other(e))]))
        })
        .boxed()
}

/// Cuts `files` into batches of consecutive files, each up to [BATCH_FILES]
/// files and [BATCH_BYTES] bytes (a larger file alone).
fn batches(files: Vec<(B3Digest, u64)>) -> Vec<Vec<B3Digest>> {
    let mut batches = Vec::new();
    let mut batch = Vec::new();
    let mut bytes: u64 = 0;
    for (digest, size) in files {
        if !batch.is_empty()
            && (batch.len() >= BATCH_FILES || bytes.saturating_add(size) > BATCH_BYTES)
        {
            batches.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        batch.push(digest);
        bytes = bytes.saturating_add(size);
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

/// The directory `digest`, found at `path`.
pub(super) fn lookup<'d>(
    directories: &'d HashMap<B3Digest, Directory>,
    digest: &B3Digest,
    path: &BStr,
) -> Result<&'d Directory, RenderError> {
    directories
        .get(digest)
        .ok_or_else(|| RenderError::DirectoryNotFound {
            path: path.to_owned(),
            digest: *digest,
        })
}

/// What opening the blob of each file gave, in NAR order.
type OpenedBlobs<'b> = BoxStream<'b, io::Result<Option<Box<dyn BlobReader>>>>;

/// Writes `node`, found at `path`, as `nar_node`, taking the opened blobs of
/// its files from `blobs`. Boxed, as it recurses into directories.
fn write_node<'n, 'b: 'n, W>(
    directories: &'n HashMap<B3Digest, Directory>,
    blobs: &'n mut OpenedBlobs<'b>,
    nar_node: nar::Node<'n, W>,
    node: &'n Node,
    path: BString,
) -> BoxFuture<'n, Result<(), RenderError>>
where
    W: AsyncWrite + Unpin + Send + ?Sized,
{
    async move {
        match node {
            Node::Symlink { target } => nar_node
                .symlink(target.as_bytes())
                .await
                .map_err(|source| RenderError::Io { path, source }),
            Node::File { .. } => {
                // One blob is opened per file, in this order, so it is there.
                let opened = blobs.next().await.unwrap_or(Ok(None));
                write_file(nar_node, node, opened, path).await
            }
            Node::Directory { digest, .. } => {
                let directory = lookup(directories, digest, path.as_bstr())?;
                let mut nar_directory =
                    nar_node
                        .directory()
                        .await
                        .map_err(|source| RenderError::Io {
                            path: path.clone(),
                            source,
                        })?;
                for (name, child) in directory.nodes() {
                    let child_path = child_path(path.as_bstr(), name.as_bytes());
                    let nar_child = match nar_directory.entry(name.as_bytes()).await {
                        Ok(nar_child) => nar_child,
                        Err(source) => {
                            return Err(RenderError::Io {
                                path: child_path,
                                source,
                            });
                        }
                    };
                    GrowStack(write_node(directories, blobs, nar_child, child, child_path)).await?;
                }
                nar_directory
                    .close()
                    .await
                    .map_err(|source| RenderError::Io { path, source })
            }
        }
    }
    .boxed()
}

/// Writes the file `node` as `nar_node`, its contents from `opened`
/// (what opening its blob gave).
async fn write_file<W>(
    nar_node: nar::Node<'_, W>,
    node: &Node,
    opened: io::Result<Option<Box<dyn BlobReader>>>,
    path: BString,
) -> Result<(), RenderError>
where
    W: AsyncWrite + Unpin + Send + ?Sized,
{
    let Node::File {
        digest,
        size,
        executable,
    } = node
    else {
        return Err(RenderError::Io {
            path,
            source: io::Error::other("not a file"),
        });
    };
    let blob = match opened {
        Ok(Some(blob)) => blob,
        Ok(None) => {
            return Err(RenderError::BlobNotFound {
                path,
                digest: *digest,
            });
        }
        Err(source) => {
            return Err(RenderError::OpenBlob {
                path,
                digest: *digest,
                source,
            });
        }
    };
    // Sized to the file, as small files are the many: a large buffer
    // for each would cost more to allocate than the copying.
    let capacity = usize::try_from(*size).map_or(BLOB_BUFFER, |size| size.clamp(1, BLOB_BUFFER));
    let mut blob = BufReader::with_capacity(capacity, blob);
    nar_node
        .file(*executable, *size, &mut blob)
        .await
        .map_err(|source| file_error(path, *digest, *size, source))
}

/// The path of entry `name` of the directory at `parent`.
pub(super) fn child_path(parent: &BStr, name: &[u8]) -> BString {
    if parent.is_empty() {
        BString::from(name)
    } else {
        BString::from([parent.as_bytes(), b"/", name].concat())
    }
}

/// Tells a blob whose contents do not match the size the tree records from
/// other I/O errors.
pub(super) fn file_error(
    path: BString,
    digest: B3Digest,
    size: u64,
    error: io::Error,
) -> RenderError {
    let mismatch = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<nar_writer::Error>())
        .filter(|inner| {
            matches!(
                inner,
                nar_writer::Error::ContentsTooShort { .. }
                    | nar_writer::Error::ContentsTooLong { .. }
            )
        })
        .cloned();
    match mismatch {
        Some(source) => RenderError::BlobSizeMismatch {
            path,
            digest,
            size,
            source,
        },
        None => RenderError::Io {
            path,
            source: error,
        },
    }
}
