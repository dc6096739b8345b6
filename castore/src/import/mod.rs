//! Importing file trees into the castore.
//!
//! Every source (a host directory in [fs], a tar archive in [archive]) is a
//! producer: it uploads file contents to a blob service and turns its source
//! into a stream of [IngestionEntry]s, children before their parent
//! directory. [ingest_entries], written once for all producers, builds the
//! [Directory] nodes from that stream, uploads them to a directory service as
//! one closure and returns the root [Node].
//!
//! Importing must never commit the directories of a stream that failed or
//! was incomplete. File contents uploaded before a failure stay behind as
//! unreferenced blobs, which are harmless.

use std::collections::HashMap;

use futures::{Stream, StreamExt};

use crate::directoryservice::{DirectoryPutter, DirectoryService};
use crate::{B3Digest, Directory, Node, Path, PathBuf, SymlinkTarget};

pub mod archive;
pub mod batch;
mod error;
pub mod fs;

pub use error::IngestionError;

/// One node of a tree being imported, named by its path below the root
/// (the root itself has [Path::ROOT]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestionEntry {
    /// A file whose contents are already in the blob service.
    Regular {
        path: PathBuf,
        digest: B3Digest,
        size: u64,
        executable: bool,
    },
    Symlink {
        path: PathBuf,
        target: SymlinkTarget,
    },
    /// A directory; every entry below it came earlier in the stream.
    Dir { path: PathBuf },
}

impl IngestionEntry {
    pub fn path(&self) -> &Path {
        match self {
            IngestionEntry::Regular { path, .. }
            | IngestionEntry::Symlink { path, .. }
            | IngestionEntry::Dir { path } => path,
        }
    }
}

/// Builds directories from `entries`, which must list every node of one tree
/// with children before their parent and the root last, and uploads them to
/// `directory_service` as one closure. Returns the root node.
///
/// Errors of the producer are passed through as
/// [IngestionError::Producer]; nothing is committed to the directory service
/// unless the whole stream was consumed successfully.
pub async fn ingest_entries<DS, S, E>(
    directory_service: &DS,
    mut entries: S,
) -> Result<Node, IngestionError<E>>
where
    DS: DirectoryService + ?Sized,
    S: Stream<Item = Result<IngestionEntry, E>> + Send + Unpin,
    E: std::error::Error,
{
    // Directories whose children have started arriving, by path.
    let mut directories: HashMap<PathBuf, Directory> = HashMap::new();
    let mut putter: Option<Box<dyn DirectoryPutter + '_>> = None;

    let root = loop {
        let entry = entries
            .next()
            .await
            .ok_or(IngestionError::MissingRoot)?
            .map_err(IngestionError::Producer)?;
        let (path, node) = match entry {
            IngestionEntry::Regular {
                path,
                digest,
                size,
                executable,
            } => (
                path,
                Node::File {
                    digest,
                    size,
                    executable,
                },
            ),
            IngestionEntry::Symlink { path, target } => (path, Node::Symlink { target }),
            IngestionEntry::Dir { path } => {
                let directory = directories.remove(&path).unwrap_or_default();
                let node = Node::Directory {
                    digest: directory.digest(),
                    size: directory.size(),
                };
                putter
                    .get_or_insert_with(|| directory_service.put_multiple_start())
                    .put(directory)
                    .await
                    .map_err(|source| IngestionError::UploadDirectory {
                        path: path.clone(),
                        source,
                    })?;
                (path, node)
            }
        };
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            break node;
        };
        directories
            .entry(parent.to_owned())
            .or_default()
            .add(name, node)
            .map_err(|source| IngestionError::InvalidEntry {
                path: path.clone(),
                source,
            })?;
    };

    if let Some(entry) = entries.next().await {
        let path = entry.map_err(IngestionError::Producer)?.path().to_owned();
        return Err(IngestionError::EntryAfterRoot(path));
    }
    // Children whose parent directory entry never came (or came too early).
    if let Some(path) = directories.into_keys().min() {
        return Err(IngestionError::MissingDirectory(path));
    }
    // With no directory left over, directories were put only if the root is
    // one, and it is the root of the closure.
    if let (Some(putter), Node::Directory { digest, .. }) = (putter, &root) {
        let stored = putter
            .close()
            .await
            .map_err(IngestionError::FinishDirectories)?;
        if stored != *digest {
            return Err(IngestionError::RootMismatch {
                built: *digest,
                stored,
            });
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests;
