//! Importing a tree from a tar archive, plain or compressed with gzip, bzip2,
//! xz or zstd (detected from the first bytes).
//!
//! Tar entries come in any order, parents may be missing or come after
//! their children, and later entries replace earlier ones with the same
//! path. So the whole archive is read into a graph first (petgraph), then
//! walked children first to feed [ingest_entries]. Which part of the archive
//! becomes the root is the caller's choice ([ArchiveRoot]); a `./` entry only
//! carries metadata and is skipped.
//!
//! A tar stream can only be read front to back. Small files are read into
//! memory and uploaded concurrently, up to a bounded total of buffered
//! bytes; large files are streamed straight into the blob service.
//!
//! Nothing is extracted to disk. The importer must never accept an absolute
//! path or a `..`, and must never let an archive choose how much memory it
//! takes: buffered file contents, path lengths and the bytes of all paths
//! held in the graph are bounded.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use async_compression::tokio::bufread::{BzDecoder, GzipDecoder, XzDecoder, ZstdDecoder};
use bstr::BString;
use futures::StreamExt;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{DfsPostOrder, EdgeRef};
use thiserror::Error;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_tar::{Archive, EntryType};

use self::extension_limit::{ExtensionLimit, ExtensionTooLong};
use super::{IngestionEntry, IngestionError, ingest_entries};
use crate::blobservice::BlobService;
use crate::directoryservice::DirectoryService;
use crate::{B3Digest, FromHostPathError, Node, Path, PathBuf, SymlinkTarget, SymlinkTargetError};

/// Files up to this size are buffered and uploaded in the background.
const SMALL_FILE_LIMIT: u64 = 1024 * 1024;
/// Most bytes of small files buffered at once.
const MAX_BUFFERED_BYTES: usize = 128 * 1024 * 1024;
/// Longest entry path accepted. Every directory on a path is kept with its
/// full path while the archive is read, so memory grows with the square of
/// the path length: a hostile archive must not choose it freely.
pub use crate::path::MAX_PATH_LEN;
/// Most bytes of entry paths held while the archive is read. Each entry
/// is kept (with its path) until the archive ends, and a compressed
/// archive of many long, similar names is tiny: without a bound, a few
/// megabytes could make the graph take gigabytes. Real source trees hold
/// far less (nixpkgs: about 4 MiB of paths).
pub const MAX_TOTAL_PATH_BYTES: usize = 256 * 1024 * 1024;
/// Most entries (listed or implied directories included) held while the
/// archive is read: each costs a graph node and a map entry beyond its
/// path, so many tiny names are bounded too. Real source trees have far
/// fewer (a Linux kernel about 90 000, nixpkgs about 50 000).
pub const MAX_ENTRIES: usize = 1 << 22;

#[derive(Debug, Error)]
pub enum Error {
    #[error("reading the compression header: {0}")]
    Compression(io::Error),
    #[error("reading the archive: {0}")]
    Entries(io::Error),
    #[error("reading the next archive entry: {0}")]
    NextEntry(io::Error),
    #[error("reading the next archive entry: {0}")]
    ExtensionTooLong(ExtensionTooLong),
    #[error("reading the path of an archive entry: {0}")]
    PathRead(io::Error),
    #[error("archive entry {start:?}…: path is {len} bytes long, more than {MAX_PATH_LEN}")]
    PathTooLong { start: BString, len: usize },
    #[error(
        "archive entry {path}: the paths of the archive add up to more than {MAX_TOTAL_PATH_BYTES} bytes"
    )]
    TooManyPathBytes { path: PathBuf },
    #[error("archive entry {path}: the archive has more than {MAX_ENTRIES} entries")]
    TooManyEntries { path: PathBuf },
    #[error("archive entry {path:?}: invalid path: {source}")]
    InvalidPath {
        path: BString,
        source: FromHostPathError,
    },
    #[error("archive entry {path}: reading its mode: {source}")]
    Mode { path: PathBuf, source: io::Error },
    #[error("archive entry {path}: reading its modification time: {source}")]
    Mtime { path: PathBuf, source: io::Error },
    #[error("archive entry {path}: reading its link target: {source}")]
    LinkName { path: PathBuf, source: io::Error },
    #[error("archive entry {path}: link without a target")]
    MissingLinkName { path: PathBuf },
    #[error("archive entry {path}: invalid symlink target: {source}")]
    SymlinkTarget {
        path: PathBuf,
        source: SymlinkTargetError,
    },
    #[error("archive entry {path}: hard link to {target:?}, which is no earlier regular file")]
    HardLinkTarget { path: PathBuf, target: BString },
    #[error("archive entry {path}: unsupported entry type {entry_type}")]
    UnsupportedEntryType { path: PathBuf, entry_type: String },
    #[error("archive entry {path}: its parent {parent} is not a directory")]
    ParentNotDirectory { path: PathBuf, parent: PathBuf },
    #[error("archive entry {path}: replaces a directory that has entries")]
    ReplacesDirectory { path: PathBuf },
    #[error("archive entry {path}: reading its contents: {source}")]
    Contents { path: PathBuf, source: io::Error },
    #[error("archive entry {path}: uploading its contents: {source}")]
    Upload { path: PathBuf, source: io::Error },
    #[error("the archive has no entries")]
    Empty,
    #[error("the archive has several top-level entries ({first} and {second}), expected one")]
    SeveralTopLevelEntries { first: PathBuf, second: PathBuf },
}

/// The compressions [decompress] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Compression {
    /// Recognises a compressed stream by its magic bytes.
    pub fn detect(head: &[u8]) -> Self {
        const MAGICS: [(&[u8], Compression); 4] = [
            (&[0x1f, 0x8b], Compression::Gzip),
            (b"BZh", Compression::Bzip2),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], Compression::Xz),
            (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
        ];
        MAGICS
            .iter()
            .find(|(magic, _)| head.starts_with(magic))
            .map_or(Compression::None, |(_, compression)| *compression)
    }
}

/// Wraps `reader` in the decompressor its first bytes call for.
pub async fn decompress<'a, R>(mut reader: R) -> io::Result<Box<dyn AsyncRead + Send + Unpin + 'a>>
where
    R: AsyncBufRead + Send + Unpin + 'a,
{
    let compression = Compression::detect(reader.fill_buf().await?);
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => {
            let mut decoder = GzipDecoder::new(reader);
            decoder.multiple_members(true);
            Box::new(decoder)
        }
        Compression::Bzip2 => Box::new(BzDecoder::new(reader)),
        Compression::Xz => Box::new(XzDecoder::new(reader)),
        Compression::Zstd => Box::new(ZstdDecoder::new(reader)),
    })
}

/// Which part of an archive becomes the root of the imported tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveRoot {
    /// Its one top-level entry; none or several are an error.
    SingleEntry,
    /// Its one top-level entry if that is a directory; otherwise (several
    /// entries, a single file, none at all) a directory holding all of
    /// them. This is how Nix 2.26 unpacks a tarball (its
    /// `dereferenceSingletonDirectory`).
    SingleDirectoryOrAll,
}

/// An imported archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestedArchive {
    pub root: Node,
    /// The newest modification time of any entry (seconds since the
    /// epoch), 0 for an archive without entries.
    pub newest_mtime: u64,
}

/// Imports the tree in the (possibly compressed) tar stream `reader`,
/// uploading file contents to `blob_service` and directories to
/// `directory_service`, and returns the root node: the archive's one
/// top-level entry.
pub async fn ingest_archive<BS, DS, R>(
    blob_service: BS,
    directory_service: &DS,
    reader: R,
) -> Result<Node, IngestionError<Error>>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
    R: AsyncRead + Send + Unpin,
{
    ingest_archive_with_root(
        blob_service,
        directory_service,
        reader,
        ArchiveRoot::SingleEntry,
    )
    .await
    .map(|archive| archive.root)
}

/// [ingest_archive] with the root chosen by `root`, telling the newest
/// modification time too.
pub async fn ingest_archive_with_root<BS, DS, R>(
    blob_service: BS,
    directory_service: &DS,
    reader: R,
    root: ArchiveRoot,
) -> Result<IngestedArchive, IngestionError<Error>>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
    R: AsyncRead + Send + Unpin,
{
    let (entries, newest_mtime) = read_archive(blob_service, reader, root)
        .await
        .map_err(IngestionError::Producer)?;
    let root = ingest_entries(directory_service, futures::stream::iter(entries).map(Ok)).await?;
    Ok(IngestedArchive { root, newest_mtime })
}

/// Reads the whole archive, uploading file contents, and returns its entries
/// children first, relative to the root `root` chooses, and the newest
/// modification time.
async fn read_archive<BS, R>(
    blob_service: BS,
    reader: R,
    root: ArchiveRoot,
) -> Result<(Vec<IngestionEntry>, u64), Error>
where
    BS: BlobService + Clone + 'static,
    R: AsyncRead + Send + Unpin,
{
    let reader = decompress(BufReader::new(reader))
        .await
        .map_err(Error::Compression)?;
    let mut archive = Archive::new(ExtensionLimit::new(reader));
    let mut entries = archive.entries().map_err(Error::Entries)?;
    let mut tree = ArchiveTree::new();
    let mut uploads = Uploads::new(blob_service);
    let mut newest_mtime = 0;

    while let Some(entry) = entries.next().await {
        let mut entry = entry.map_err(next_entry_error)?;
        let raw_path = entry.path_bytes().map_err(Error::PathRead)?.into_owned();
        let path = parse_path(&raw_path)?;
        let mtime = entry.header().mtime().map_err(|source| Error::Mtime {
            path: path.clone(),
            source,
        })?;
        newest_mtime = newest_mtime.max(mtime);
        if path.is_root() {
            continue;
        }
        let entry_type = entry.header().entry_type();
        let node = match entry_type {
            EntryType::Directory => ArchiveNode::Dir,
            EntryType::Regular | EntryType::Continuous => {
                let mode = entry.header().mode().map_err(|source| Error::Mode {
                    path: path.clone(),
                    source,
                })?;
                let upload = uploads.start(&path, &mut entry).await?;
                ArchiveNode::File {
                    upload,
                    executable: mode & 0o100 != 0,
                }
            }
            EntryType::Symlink => {
                let target = link_name(&path, &entry)?;
                let target = SymlinkTarget::try_from(target.as_slice()).map_err(|source| {
                    Error::SymlinkTarget {
                        path: path.clone(),
                        source,
                    }
                })?;
                ArchiveNode::Symlink(target)
            }
            EntryType::Link => {
                let target = link_name(&path, &entry)?;
                tree.regular_file(&target)
                    .ok_or_else(|| Error::HardLinkTarget {
                        path: path.clone(),
                        target: target.into(),
                    })?
            }
            other => {
                return Err(Error::UnsupportedEntryType {
                    path,
                    entry_type: format!("{other:?}"),
                });
            }
        };
        tree.insert(path, node)?;
    }

    let files = uploads.finish().await?;
    Ok((tree.into_entries(&files, root)?, newest_mtime))
}

/// Tells an extension record refused by [ExtensionLimit] from other
/// errors of the tar reader.
fn next_entry_error(error: io::Error) -> Error {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ExtensionTooLong>())
    {
        Some(ExtensionTooLong { kind, size }) => {
            Error::ExtensionTooLong(ExtensionTooLong { kind, size: *size })
        }
        None => Error::NextEntry(error),
    }
}

fn parse_path(raw: &[u8]) -> Result<PathBuf, Error> {
    if raw.len() > MAX_PATH_LEN {
        return Err(Error::PathTooLong {
            start: raw.iter().take(64).copied().collect(),
            len: raw.len(),
        });
    }
    PathBuf::from_host_path(std::path::Path::new(OsStr::from_bytes(raw)), false).map_err(|source| {
        Error::InvalidPath {
            path: raw.into(),
            source,
        }
    })
}

fn link_name<R: AsyncRead + Unpin>(
    path: &PathBuf,
    entry: &tokio_tar::Entry<R>,
) -> Result<Vec<u8>, Error> {
    entry
        .link_name_bytes()
        .map_err(|source| Error::LinkName {
            path: path.clone(),
            source,
        })?
        .map(|target| target.into_owned())
        .ok_or_else(|| Error::MissingLinkName { path: path.clone() })
}

/// File contents being uploaded, by upload number.
struct Uploads<BS> {
    blob_service: BS,
    /// Permits are bytes of small files held in memory.
    buffer_budget: Arc<Semaphore>,
    pending: Vec<(PathBuf, Upload)>,
}

enum Upload {
    /// A large file, uploaded while it was read.
    Done(FileContents),
    /// A small file, uploading in the background.
    Running(JoinHandle<io::Result<FileContents>>),
}

/// What [ingest_entries] needs to know about a file's contents.
#[derive(Clone, Copy)]
struct FileContents {
    digest: B3Digest,
    size: u64,
}

impl<BS: BlobService + Clone + 'static> Uploads<BS> {
    fn new(blob_service: BS) -> Self {
        Self {
            blob_service,
            buffer_budget: Arc::new(Semaphore::new(MAX_BUFFERED_BYTES)),
            pending: Vec::new(),
        }
    }

    /// Starts uploading the contents of `entry`, returning the upload number.
    /// Small files are read now and uploaded in the background; large ones
    /// are uploaded before this returns.
    async fn start<R: AsyncRead + Unpin>(
        &mut self,
        path: &PathBuf,
        entry: &mut tokio_tar::Entry<R>,
    ) -> Result<usize, Error> {
        let size = entry.effective_size();
        let read_error = |source| Error::Contents {
            path: path.clone(),
            source,
        };
        let upload_error = |source| Error::Upload {
            path: path.clone(),
            source,
        };
        let upload = if size <= SMALL_FILE_LIMIT {
            // Small, so both fit: size <= SMALL_FILE_LIMIT < u32::MAX.
            let permits = u32::try_from(size).unwrap_or(u32::MAX);
            let permit = self
                .buffer_budget
                .clone()
                .acquire_many_owned(permits)
                .await
                .map_err(|e| upload_error(io::Error::other(e)))?;
            let mut contents = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            entry.read_to_end(&mut contents).await.map_err(read_error)?;
            let blob_service = self.blob_service.clone();
            Upload::Running(tokio::spawn(async move {
                let mut writer = blob_service.open_write().await;
                writer.write_all(&contents).await?;
                let digest = writer.close().await?;
                drop(permit);
                Ok(FileContents {
                    digest,
                    size: contents.len() as u64,
                })
            }))
        } else {
            let mut writer = self.blob_service.open_write().await;
            let size = tokio::io::copy(entry, &mut writer)
                .await
                .map_err(read_error)?;
            let digest = writer.close().await.map_err(upload_error)?;
            Upload::Done(FileContents { digest, size })
        };
        self.pending.push((path.clone(), upload));
        Ok(self.pending.len() - 1)
    }

    /// Waits for every upload, returning the contents by upload number.
    async fn finish(self) -> Result<Vec<FileContents>, Error> {
        let mut files = Vec::with_capacity(self.pending.len());
        for (path, upload) in self.pending {
            files.push(match upload {
                Upload::Done(contents) => contents,
                Upload::Running(handle) => handle
                    .await
                    .map_err(io::Error::other)
                    .and_then(|result| result)
                    .map_err(|source| Error::Upload { path, source })?,
            });
        }
        Ok(files)
    }
}

#[derive(Debug, Clone)]
enum ArchiveNode {
    /// A directory, listed in the archive or implied by entries below it.
    Dir,
    File {
        upload: usize,
        executable: bool,
    },
    Symlink(SymlinkTarget),
}

/// The archive's entries as a graph: an edge from each directory to each
/// entry in it, below a root that stands for the archive itself.
struct ArchiveTree {
    graph: DiGraph<ArchiveNode, ()>,
    /// Each path is held here only (a node's path is found by its index
    /// when the entries are taken out), so a path costs its length once.
    by_path: HashMap<PathBuf, NodeIndex>,
    root: NodeIndex,
    /// The bytes of the paths of all nodes, at most
    /// [MAX_TOTAL_PATH_BYTES].
    path_bytes: usize,
}

impl ArchiveTree {
    fn new() -> Self {
        let mut graph = DiGraph::new();
        let root = graph.add_node(ArchiveNode::Dir);
        Self {
            graph,
            by_path: HashMap::from([(PathBuf::new(), root)]),
            root,
            path_bytes: 0,
        }
    }

    /// Adds a node below `parent`, within the budgets of path bytes and
    /// entries.
    fn add_node(
        &mut self,
        parent: NodeIndex,
        path: PathBuf,
        node: ArchiveNode,
    ) -> Result<NodeIndex, Error> {
        self.path_bytes += path.as_bytes().len();
        if self.path_bytes > MAX_TOTAL_PATH_BYTES {
            return Err(Error::TooManyPathBytes { path });
        }
        // The root is a node too, but no entry.
        if self.graph.node_count() > MAX_ENTRIES {
            return Err(Error::TooManyEntries { path });
        }
        let index = self.graph.add_node(node);
        self.graph.add_edge(parent, index, ());
        self.by_path.insert(path, index);
        Ok(index)
    }

    /// The node of an earlier regular file, for a hard link to it.
    fn regular_file(&self, raw_path: &[u8]) -> Option<ArchiveNode> {
        let path = parse_path(raw_path).ok()?;
        let index = self.by_path.get(&path)?;
        match self.graph.node_weight(*index) {
            Some(node @ ArchiveNode::File { .. }) => Some(node.clone()),
            _ => None,
        }
    }

    /// The directory at `path`, created (with its parents) if missing.
    /// Iterative, so the depth of a path costs no stack.
    fn directory(&mut self, path: &Path, child: &PathBuf) -> Result<NodeIndex, Error> {
        // The missing directories, from `path` up to the nearest one present.
        let mut missing = Vec::new();
        let mut next = Some(path);
        let mut parent = loop {
            // The root is in `by_path`, so the walk stops there at the latest.
            let Some(current) = next else {
                break self.root;
            };
            if let Some(index) = self.by_path.get(current) {
                match self.graph.node_weight(*index) {
                    Some(ArchiveNode::Dir) => break *index,
                    _ => {
                        return Err(Error::ParentNotDirectory {
                            path: child.clone(),
                            parent: current.to_owned(),
                        });
                    }
                }
            }
            missing.push(current);
            next = current.parent();
        };
        for path in missing.into_iter().rev() {
            parent = self.add_node(parent, path.to_owned(), ArchiveNode::Dir)?;
        }
        Ok(parent)
    }

    /// Adds an entry. A later entry with the same path replaces the earlier
    /// one, as when extracting, unless that would drop a directory's entries.
    fn insert(&mut self, path: PathBuf, node: ArchiveNode) -> Result<(), Error> {
        if let Some(index) = self.by_path.get(&path).copied() {
            let has_children = self.graph.edges(index).next().is_some();
            if has_children && !matches!(node, ArchiveNode::Dir) {
                return Err(Error::ReplacesDirectory { path });
            }
            if let Some(weight) = self.graph.node_weight_mut(index) {
                *weight = node;
            }
            return Ok(());
        }
        let parent = match path.parent() {
            Some(parent) => self.directory(parent, &path)?,
            None => self.root,
        };
        self.add_node(parent, path, node)?;
        Ok(())
    }

    /// The entries below the root `root` chooses, children first, with
    /// paths relative to it.
    fn into_entries(
        self,
        files: &[FileContents],
        root: ArchiveRoot,
    ) -> Result<Vec<IngestionEntry>, Error> {
        let top_level: Vec<NodeIndex> = self.graph.edges(self.root).map(|e| e.target()).collect();
        let is_dir =
            |index: &NodeIndex| matches!(self.graph.node_weight(*index), Some(ArchiveNode::Dir));
        // Each node's path, taken out of the map rather than copied.
        let mut paths = vec![PathBuf::new(); self.graph.node_count()];
        for (path, index) in self.by_path {
            if let Some(slot) = paths.get_mut(index.index()) {
                *slot = path;
            }
        }
        // The node that becomes the root, and whether its path is the
        // first component of the paths below it (else they are below the
        // archive itself).
        let (top, below_top) = match (root, top_level.as_slice()) {
            (_, [single]) if root == ArchiveRoot::SingleEntry || is_dir(single) => (*single, true),
            (ArchiveRoot::SingleDirectoryOrAll, _) => (self.root, false),
            (ArchiveRoot::SingleEntry, []) => return Err(Error::Empty),
            (ArchiveRoot::SingleEntry, [..]) => {
                let mut top_paths: Vec<PathBuf> = top_level
                    .iter()
                    .filter_map(|index| paths.get(index.index()))
                    .cloned()
                    .collect();
                top_paths.sort();
                let mut paths = top_paths.into_iter();
                let (first, second) = (paths.next(), paths.next());
                return Err(Error::SeveralTopLevelEntries {
                    first: first.unwrap_or_default(),
                    second: second.unwrap_or_default(),
                });
            }
        };

        let mut entries = Vec::with_capacity(self.graph.node_count());
        let mut dfs = DfsPostOrder::new(&self.graph, top);
        while let Some(index) = dfs.next(&self.graph) {
            // The walk only yields nodes of this graph, which all have a
            // weight: the branch is never taken.
            let (Some(node), Some(path)) =
                (self.graph.node_weight(index), paths.get_mut(index.index()))
            else {
                continue;
            };
            let path = if below_top {
                below_top_level(path)
            } else {
                std::mem::take(path)
            };
            entries.push(match node {
                ArchiveNode::Dir => IngestionEntry::Dir { path },
                ArchiveNode::Symlink(target) => IngestionEntry::Symlink {
                    path,
                    target: target.clone(),
                },
                ArchiveNode::File { upload, executable } => {
                    // Upload numbers are indices into `Uploads::pending`, and
                    // `Uploads::finish` returns one result for each, in
                    // order: the branch is never taken.
                    let Some(contents) = files.get(*upload) else {
                        continue;
                    };
                    IngestionEntry::Regular {
                        path,
                        digest: contents.digest,
                        size: contents.size,
                        executable: *executable,
                    }
                }
            });
        }
        Ok(entries)
    }
}

/// `path` without its first component, the top-level entry's name.
fn below_top_level(path: &Path) -> PathBuf {
    let bytes = path.as_bytes();
    let rest = bytes
        .iter()
        .position(|b| *b == b'/')
        .and_then(|slash| bytes.get(slash + 1..))
        .unwrap_or_default();
    // What follows the first component of a valid path is a valid path, so
    // this never falls back to the root.
    Path::from_bytes(rest)
        .map(ToOwned::to_owned)
        .unwrap_or_default()
}

mod extension_limit;
#[cfg(test)]
mod tests;
