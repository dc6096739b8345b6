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
use tvix_castore::{B3Digest, Directory, MAX_PATH_LEN, Node};

use super::chunks::{ChunkWriter, NarChunks, Output};
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

/// What one render may cost, as flags of the servers that render for
/// clients (`tvix-store daemon`, `nar-bridge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct RenderLimits {
    /// Deepest directory nesting a rendered NAR may have (at most the
    /// default, which is as deep as Nix can restore).
    #[arg(
        long = "max-depth",
        default_value_t = MAX_DEPTH,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_DEPTH as u64)
    )]
    pub max_depth: usize,
    /// Most entries a rendered NAR may have, counting a directory's entries
    /// at every place it appears; a larger one is refused before anything
    /// is written (a few tiny directories can stand for 2^62 entries).
    #[arg(long = "max-nar-entries", default_value_t = MAX_ENTRIES)]
    pub max_entries: u64,
}

impl Default for RenderLimits {
    fn default() -> Self {
        Self {
            max_depth: MAX_DEPTH,
            max_entries: MAX_ENTRIES,
        }
    }
}

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
    #[error("directory {path:?} is nested deeper than {limit} levels")]
    TooDeep { path: BString, limit: usize },
    /// Nix could not restore it, and NAR ingestion refuses it.
    #[error("entry {0:?}: path is longer than {MAX_PATH_LEN} bytes")]
    PathTooLong(BString),
    /// Counted on the distinct directories before anything is walked, so
    /// this is quick however large the expansion.
    #[error("the tree expands to {entries} entries, more than the {limit} rendered")]
    TooManyEntries { entries: u64, limit: u64 },
    #[error("listing the files to render: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// Reading a blob or writing the NAR failed.
    #[error("rendering {path:?}: {source}")]
    Io { path: BString, source: io::Error },
}

/// Writes the NAR of `root` to `writer`, reading file contents from
/// `blob_service` and directories from `directory_service`, within the
/// default [RenderLimits].
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
    let limits = RenderLimits::default();
    write_nar_within(writer, root, blob_service, directory_service, limits).await
}

/// [write_nar] within `limits`.
pub async fn write_nar_within<W, BS, DS>(
    writer: &mut W,
    root: &Node,
    blob_service: &BS,
    directory_service: &DS,
    limits: RenderLimits,
) -> Result<(), RenderError>
where
    W: AsyncWrite + Unpin + Send + ?Sized,
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
{
    let mut chunks = render_nar_within(root, blob_service, directory_service, limits).await?;
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

/// Renders the NAR of `root` in the background, as a stream of chunks,
/// within the default [RenderLimits]. What can be checked before the first
/// byte (every directory is there, the tree is not too deep or too large)
/// is checked before this returns; a later error (a blob missing or
/// corrupt) ends the stream. Dropping the stream stops the rendering.
pub async fn render_nar<BS, DS>(
    root: &Node,
    blob_service: &BS,
    directory_service: &DS,
) -> Result<NarChunks, RenderError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
{
    let limits = RenderLimits::default();
    render_nar_within(root, blob_service, directory_service, limits).await
}

/// [render_nar] within `limits`.
pub async fn render_nar_within<BS, DS>(
    root: &Node,
    blob_service: &BS,
    directory_service: &DS,
    limits: RenderLimits,
) -> Result<NarChunks, RenderError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
{
    let (directories, files) = prepare(root, directory_service, limits).await?;
    Ok(render_prepared(root, blob_service, directories, files))
}

/// The directories below `root` and its files in NAR order (digest and
/// size), checked against `limits`: what rendering needs before the first
/// byte.
pub(super) async fn prepare<DS>(
    root: &Node,
    directory_service: &DS,
    limits: RenderLimits,
) -> Result<(HashMap<B3Digest, Directory>, Vec<(B3Digest, u64)>), RenderError>
where
    DS: DirectoryService + ?Sized,
{
    let directories = fetch_directories(root, directory_service).await?;
    let entries = expanded_entries(root, &directories);
    if entries > limits.max_entries {
        return Err(RenderError::TooManyEntries {
            entries,
            limit: limits.max_entries,
        });
    }
    // Up to `max_entries` steps of synchronous work: off the async workers.
    let root = root.clone();
    tokio::task::spawn_blocking(move || {
        files_in_nar_order(&root, &directories, limits.max_depth).map(|files| (directories, files))
    })
    .await?
}

/// Starts rendering what [prepare] found into a stream of chunks.
pub(super) fn render_prepared<BS>(
    root: &Node,
    blob_service: &BS,
    directories: HashMap<B3Digest, Directory>,
    files: Vec<(B3Digest, u64)>,
) -> NarChunks
where
    BS: BlobService + Clone + 'static,
{
    let (sender, chunks) = super::chunks::channel();
    let root = root.clone();
    if let Some(reader) = blob_service.bulk_reader() {
        let files = files.into_iter().map(|(digest, _)| digest).collect();
        // The stream ends with any error.
        drop(super::local::spawn(
            root,
            directories,
            files,
            reader,
            Output::Chunks(sender),
        ));
        return chunks;
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
            let mut path = BString::default();
            write_node(&directories, &mut blobs, nar_root, &root, &mut path).await?;
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
    chunks
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
    calculate_nar_within(
        root,
        blob_service,
        directory_service,
        RenderLimits::default(),
    )
    .await
}

/// [calculate_nar] within `limits`.
pub async fn calculate_nar_within<BS, DS>(
    root: &Node,
    blob_service: &BS,
    directory_service: &DS,
    limits: RenderLimits,
) -> Result<NarSummary, RenderError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
{
    let mut sink = HashingSink::default();
    write_nar_within(&mut sink, root, blob_service, directory_service, limits).await?;
    Ok(sink.finish())
}

/// A [NarCalculationService] that renders NARs from a blob and a directory
/// service.
#[derive(Clone)]
pub struct SimpleRenderer<BS, DS> {
    blob_service: BS,
    directory_service: DS,
    limits: RenderLimits,
}

impl<BS, DS> SimpleRenderer<BS, DS> {
    pub fn new(blob_service: BS, directory_service: DS) -> Self {
        Self {
            blob_service,
            directory_service,
            limits: RenderLimits::default(),
        }
    }

    /// Renders within `limits` instead of the defaults.
    pub fn with_limits(self, limits: RenderLimits) -> Self {
        Self { limits, ..self }
    }
}

#[async_trait]
impl<BS, DS> NarCalculationService for SimpleRenderer<BS, DS>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService,
{
    async fn calculate_nar(&self, root: &Node) -> Result<NarSummary, CalculateNarError> {
        let (blobs, directories) = (&self.blob_service, &self.directory_service);
        Ok(calculate_nar_within(root, blobs, directories, self.limits).await?)
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
/// from `directories`, nested too deep, or a path too long.
///
/// The walk holds one path (where it is) and, per level, where that path's
/// prefix ends, so its memory is in the depth and [MAX_PATH_LEN], not in
/// the sum of the paths of the entries waiting on the stack.
fn files_in_nar_order(
    root: &Node,
    directories: &HashMap<B3Digest, Directory>,
    max_depth: usize,
) -> Result<Vec<(B3Digest, u64)>, RenderError> {
    let mut files = Vec::new();
    let mut path = BString::default();
    // `ends[d]`: the length of `path` at depth `d`.
    let mut ends = vec![0];
    // Depth first, each directory's entries pushed in reverse so that they
    // come off the stack in order.
    let mut stack: Vec<(&Node, usize, &[u8])> = vec![(root, 0, b"")];
    while let Some((node, depth, name)) = stack.pop() {
        if depth > 0 {
            path.truncate(ends[depth - 1]);
            ends.truncate(depth);
            push_name(&mut path, name);
            ends.push(path.len());
            if path.len() > MAX_PATH_LEN {
                return Err(RenderError::PathTooLong(path));
            }
        }
        match node {
            Node::File { digest, size, .. } => files.push((*digest, *size)),
            Node::Symlink { .. } => {}
            Node::Directory { digest, .. } => {
                if depth >= max_depth {
                    return Err(RenderError::TooDeep {
                        path,
                        limit: max_depth,
                    });
                }
                let directory = lookup(directories, digest, path.as_bstr())?;
                let children = directory.nodes().collect::<Vec<_>>();
                for (name, child) in children.into_iter().rev() {
                    stack.push((child, depth + 1, name.as_bytes()));
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
/// its files from `blobs`. Boxed, as it recurses into directories. `path`
/// is pushed to and popped, one buffer for the whole walk, and copied only
/// into an error.
fn write_node<'n, 'b: 'n, W>(
    directories: &'n HashMap<B3Digest, Directory>,
    blobs: &'n mut OpenedBlobs<'b>,
    nar_node: nar::Node<'n, W>,
    node: &'n Node,
    path: &'n mut BString,
) -> BoxFuture<'n, Result<(), RenderError>>
where
    W: AsyncWrite + Unpin + Send + ?Sized,
{
    async move {
        match node {
            Node::Symlink { target } => {
                nar_node
                    .symlink(target.as_bytes())
                    .await
                    .map_err(|source| RenderError::Io {
                        path: path.clone(),
                        source,
                    })
            }
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
                    let end = path.len();
                    push_name(path, name.as_bytes());
                    let nar_child = match nar_directory.entry(name.as_bytes()).await {
                        Ok(nar_child) => nar_child,
                        Err(source) => {
                            return Err(RenderError::Io {
                                path: path.clone(),
                                source,
                            });
                        }
                    };
                    GrowStack(write_node(directories, blobs, nar_child, child, &mut *path)).await?;
                    path.truncate(end);
                }
                nar_directory
                    .close()
                    .await
                    .map_err(|source| RenderError::Io {
                        path: path.clone(),
                        source,
                    })
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
    path: &BString,
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
            path: path.clone(),
            source: io::Error::other("not a file"),
        });
    };
    let blob = match opened {
        Ok(Some(blob)) => blob,
        Ok(None) => {
            return Err(RenderError::BlobNotFound {
                path: path.clone(),
                digest: *digest,
            });
        }
        Err(source) => {
            return Err(RenderError::OpenBlob {
                path: path.clone(),
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
        .map_err(|source| file_error(path.clone(), *digest, *size, source))
}

/// Appends entry `name` to the directory path `path`.
pub(super) fn push_name(path: &mut BString, name: &[u8]) {
    if !path.is_empty() {
        path.push(b'/');
    }
    path.extend_from_slice(name);
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
