//! Rendering a castore node as a NAR.
//!
//! The tree is walked depth first with entries in castore order, which is
//! NAR order (bytewise by name); file contents are streamed from their
//! blobs' readers through a bounded buffer, directories fetched one at a
//! time. The output is what `nix-store --dump` writes for the same tree.

use std::io;

use async_trait::async_trait;
use bstr::{BStr, BString, ByteSlice};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use nix_compat::nar::writer::{self as nar_writer, r#async as nar};
use tokio::io::{AsyncWrite, BufReader};
use tvix_castore::blobservice::{BlobReader, BlobService};
use tvix_castore::directoryservice::{self, DirectoryService};
use tvix_castore::{B3Digest, Node};

use super::hashing::HashingSink;
use super::stack::GrowStack;
use super::{CalculateNarError, NarCalculationService, NarSummary};

/// Largest buffer between a blob reader and the NAR.
const BLOB_BUFFER: usize = 1024 * 1024;
/// How many of a directory's file blobs are being opened at once (more
/// only adds contention in a local store's blocking thread pool).
const BLOBS_OPENED_AHEAD: usize = 16;

/// The deepest directory nesting rendered or ingested: as deep as a tree
/// Nix can restore to disk gets (a path is at most 4096 bytes, so at most
/// 2048 levels), and a bound on what a hostile tree or NAR can make us
/// allocate (see [super::stack]).
pub const MAX_DEPTH: usize = 2048;

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
        source: directoryservice::Error,
    },
    #[error("directory {0:?} is nested deeper than {MAX_DEPTH} levels")]
    TooDeep(BString),
    /// Reading a blob or writing the NAR failed.
    #[error("rendering {path:?}: {source}")]
    Io { path: BString, source: io::Error },
}

/// Writes the NAR of `root` to `writer`, reading file contents from
/// `blob_service` and directories from `directory_service`.
///
/// Nothing is buffered beyond a blob read buffer: wrap an unbuffered writer
/// (a file, a socket) in a [tokio::io::BufWriter] and flush it afterwards.
pub async fn write_nar<W, BS, DS>(
    writer: &mut W,
    root: &Node,
    blob_service: &BS,
    directory_service: &DS,
) -> Result<(), RenderError>
where
    W: AsyncWrite + Unpin + Send + ?Sized,
    BS: BlobService + ?Sized,
    DS: DirectoryService + ?Sized,
{
    let services = Services {
        blob_service,
        directory_service,
    };
    let nar_root = nar::open(writer).await.map_err(|source| RenderError::Io {
        path: BString::default(),
        source,
    })?;
    services
        .write_node(nar_root, root, BString::default(), 0)
        .await
}

/// The size and sha256 of the NAR of `root`, rendered without keeping it.
pub async fn calculate_nar<BS, DS>(
    root: &Node,
    blob_service: &BS,
    directory_service: &DS,
) -> Result<NarSummary, RenderError>
where
    BS: BlobService + ?Sized,
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
    BS: BlobService,
    DS: DirectoryService,
{
    async fn calculate_nar(&self, root: &Node) -> Result<NarSummary, CalculateNarError> {
        Ok(calculate_nar(root, &self.blob_service, &self.directory_service).await?)
    }
}

/// The services a rendering reads from.
struct Services<'a, BS: ?Sized, DS: ?Sized> {
    blob_service: &'a BS,
    directory_service: &'a DS,
}

impl<'a, BS, DS> Services<'a, BS, DS>
where
    BS: BlobService + ?Sized,
    DS: DirectoryService + ?Sized,
{
    /// Writes `node`, found at `path` and `depth` directories below the
    /// root, as `nar_node`. Boxed, as it recurses into directories.
    fn write_node<'n, W>(
        &'n self,
        nar_node: nar::Node<'n, W>,
        node: &'n Node,
        path: BString,
        depth: usize,
    ) -> BoxFuture<'n, Result<(), RenderError>>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
        'a: 'n,
    {
        async move {
            match node {
                Node::Symlink { target } => nar_node
                    .symlink(target.as_bytes())
                    .await
                    .map_err(|source| RenderError::Io { path, source }),
                Node::File { digest, .. } => {
                    let opened = self.blob_service.open_read(digest).await;
                    self.write_file(nar_node, node, opened, path).await
                }
                Node::Directory { digest, .. } => {
                    if depth >= MAX_DEPTH {
                        return Err(RenderError::TooDeep(path));
                    }
                    let directory = match self.directory_service.get(digest).await {
                        Ok(Some(directory)) => directory,
                        Ok(None) => {
                            return Err(RenderError::DirectoryNotFound {
                                path,
                                digest: *digest,
                            });
                        }
                        Err(source) => {
                            return Err(RenderError::GetDirectory {
                                path,
                                digest: *digest,
                                source,
                            });
                        }
                    };
                    let mut nar_directory =
                        nar_node
                            .directory()
                            .await
                            .map_err(|source| RenderError::Io {
                                path: path.clone(),
                                source,
                            })?;
                    // The files' blobs are opened a few ahead, in order: opening
                    // is a round trip (a thread hop for local stores), and
                    // directories of many small files would wait on each.
                    let file_digests: Vec<B3Digest> = directory
                        .nodes()
                        .filter_map(|(_, child)| match child {
                            Node::File { digest, .. } => Some(*digest),
                            Node::Directory { .. } | Node::Symlink { .. } => None,
                        })
                        .collect();
                    let blob_service = self.blob_service;
                    let mut blobs = futures::stream::iter(file_digests)
                        .map(move |digest| async move { blob_service.open_read(&digest).await })
                        .buffered(BLOBS_OPENED_AHEAD);
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
                        match child {
                            Node::File { .. } => {
                                // One blob is opened per file, so it is there.
                                let opened = blobs.next().await.unwrap_or(Ok(None));
                                self.write_file(nar_child, child, opened, child_path)
                                    .await?;
                            }
                            Node::Directory { .. } | Node::Symlink { .. } => {
                                GrowStack(self.write_node(nar_child, child, child_path, depth + 1))
                                    .await?;
                            }
                        }
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
        &self,
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
        let capacity =
            usize::try_from(*size).map_or(BLOB_BUFFER, |size| size.clamp(1, BLOB_BUFFER));
        let mut blob = BufReader::with_capacity(capacity, blob);
        nar_node
            .file(*executable, *size, &mut blob)
            .await
            .map_err(|source| file_error(path, *digest, *size, source))
    }
}

/// The path of entry `name` of the directory at `parent`.
fn child_path(parent: &BStr, name: &[u8]) -> BString {
    if parent.is_empty() {
        BString::from(name)
    } else {
        BString::from([parent.as_bytes(), b"/", name].concat())
    }
}

/// Tells a blob whose contents do not match the size the tree records from
/// other I/O errors.
fn file_error(path: BString, digest: B3Digest, size: u64, error: io::Error) -> RenderError {
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
