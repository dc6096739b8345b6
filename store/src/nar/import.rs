//! Ingesting a NAR stream into the castore.
//!
//! nix-compat's streaming NAR reader walks the archive; file contents are
//! uploaded to the blob service as they are read, and the nodes become a
//! stream of castore [IngestionEntry]s (children before their directory)
//! fed to castore's [ingest_entries], which builds and uploads the
//! directories. The reader rejects a malformed NAR at the first bad byte;
//! the directories are only committed once the whole NAR was read, and
//! nothing here ever writes a PathInfo.

use std::convert::Infallible;
use std::io;

use futures::FutureExt;
use futures::future::BoxFuture;
use nix_compat::nar::reader::r#async as nar;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tvix_castore::blobservice::BlobService;
use tvix_castore::directoryservice::DirectoryService;
use tvix_castore::import::{IngestionEntry, IngestionError, ingest_entries};
use tvix_castore::{MAX_PATH_LEN, Node, PathBuf, PathError, SymlinkTarget, SymlinkTargetError};

use super::hashing::HashingBufReader;
use super::stack::GrowStack;
use super::{MAX_DEPTH, NarSummary};

/// Buffer between a NAR file's contents and its blob writer.
const COPY_BUFFER: usize = 128 * 1024;
/// Entries produced ahead of the directory builder.
const ENTRY_QUEUE: usize = 64;

/// What ingesting a NAR gives: the castore root node, and the NAR's size
/// and sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestedNar {
    pub node: Node,
    pub nar: NarSummary,
}

/// Why a NAR could not be ingested.
#[derive(Debug, thiserror::Error)]
pub enum IngestNarError {
    /// The NAR is malformed ([io::ErrorKind::InvalidData] wrapping a
    /// [nix_compat::nar::reader::Error]), cut short
    /// ([io::ErrorKind::UnexpectedEof]), or could not be read. `offset` is
    /// how many bytes were read when that was noticed.
    #[error("reading the NAR, at byte {offset}: {source}")]
    Read { offset: u64, source: io::Error },
    #[error("data after the end of the NAR, at byte {0}")]
    TrailingData(u64),
    #[error("invalid NAR entry: {0}")]
    InvalidName(PathError),
    #[error("symlink {path} has an invalid target: {source}")]
    InvalidSymlinkTarget {
        path: PathBuf,
        source: SymlinkTargetError,
    },
    #[error("directory {0} is nested deeper than {MAX_DEPTH} levels")]
    TooDeep(PathBuf),
    /// Nix could neither dump nor restore it, and holding such paths for
    /// every open directory would cost the square of the NAR's size.
    #[error("entry {path}: path is longer than {MAX_PATH_LEN} bytes")]
    PathTooLong { path: PathBuf },
    #[error("uploading the contents of {path}: {source}")]
    UploadBlob { path: PathBuf, source: io::Error },
    #[error("storing the directories: {0}")]
    Directories(Box<IngestionError<Infallible>>),
    /// The caller's check of the whole NAR ([ingest_nar_verified]) failed.
    #[error("{0}")]
    Refused(Box<dyn std::error::Error + Send + Sync>),
}

impl From<IngestionError<Infallible>> for IngestNarError {
    fn from(error: IngestionError<Infallible>) -> Self {
        Self::Directories(Box::new(error))
    }
}

/// Reads a NAR from `reader` to its end, storing its contents in
/// `blob_service` and `directory_service`. Anything after the NAR is an
/// error.
pub async fn ingest_nar<R, BS, DS>(
    blob_service: &BS,
    directory_service: &DS,
    reader: R,
) -> Result<IngestedNar, IngestNarError>
where
    R: AsyncRead + Unpin + Send,
    BS: BlobService + ?Sized,
    DS: DirectoryService + ?Sized,
{
    ingest_nar_verified(blob_service, directory_service, reader, |_| Ok(())).await
}

/// [ingest_nar], with `verify` called on the size and sha256 of the whole
/// NAR once it is read, before its directories are committed: when the NAR
/// must match what someone signed, one that does not leaves no directory
/// behind (only file blobs, unreferenced). Its error ends the ingestion as
/// [IngestNarError::Refused].
pub async fn ingest_nar_verified<R, BS, DS, F>(
    blob_service: &BS,
    directory_service: &DS,
    reader: R,
    verify: F,
) -> Result<IngestedNar, IngestNarError>
where
    R: AsyncRead + Unpin + Send,
    BS: BlobService + ?Sized,
    DS: DirectoryService + ?Sized,
    F: FnOnce(&NarSummary) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let mut reader = HashingBufReader::new(reader);
    let (sender, receiver) = mpsc::channel(ENTRY_QUEUE);
    let mut producer = Producer {
        blob_service,
        sender,
        buffer: vec![0; COPY_BUFFER],
        path: PathBuf::new(),
    };
    let reader_ref = &mut reader;
    // The producer reads and uploads while the consumer builds directories,
    // both in this task; the producer owns the sender, so the entry stream
    // ends when it does.
    let produce = async move {
        let root = nar::open(&mut *reader_ref).await.map_err(Produce::Read)?;
        let root = producer.node(root, 0).await?;
        if !reader_ref
            .fill_buf()
            .await
            .map_err(Produce::Read)?
            .is_empty()
        {
            return Err(IngestNarError::TrailingData(reader_ref.consumed()).into());
        }
        // Without the root, the directory builder commits nothing.
        verify(&reader_ref.summary()).map_err(IngestNarError::Refused)?;
        producer.send(root).await
    };
    let consume = ingest_entries(directory_service, ReceiverStream::new(receiver));
    let (produced, ingested) = tokio::join!(produce, consume);
    let node = match produced {
        Ok(()) => ingested?,
        // The consumer stopped first; its error is the cause. (It cannot
        // have succeeded: it waits for the end of the stream, which comes
        // only once the producer is done sending.)
        Err(Produce::ConsumerGone) => {
            return Err(ingested.err().map_or(
                IngestNarError::Directories(Box::new(IngestionError::MissingRoot)),
                IngestNarError::from,
            ));
        }
        Err(Produce::Read(source)) => {
            return Err(IngestNarError::Read {
                offset: reader.consumed(),
                source,
            });
        }
        Err(Produce::Failed(e)) => return Err(e),
    };
    Ok(IngestedNar {
        node,
        nar: reader.finish(),
    })
}

/// Why the producer stopped.
enum Produce {
    /// Reading the NAR failed; the offset is added by the caller, who gets
    /// the reader back.
    Read(io::Error),
    /// The consumer is gone (it failed).
    ConsumerGone,
    Failed(IngestNarError),
}

impl From<IngestNarError> for Produce {
    fn from(error: IngestNarError) -> Self {
        Self::Failed(error)
    }
}

/// Turns NAR nodes into ingestion entries.
struct Producer<'a, BS: ?Sized> {
    blob_service: &'a BS,
    sender: mpsc::Sender<Result<IngestionEntry, Infallible>>,
    /// Reused for every file's contents.
    buffer: Vec<u8>,
    /// Where the walk is: one path pushed and popped, copied only into the
    /// entries sent, so a deep NAR costs memory in its depth, not in the
    /// sum of its directories' path lengths.
    path: PathBuf,
}

impl<BS: BlobService + ?Sized> Producer<'_, BS> {
    async fn send(&self, entry: IngestionEntry) -> Result<(), Produce> {
        self.sender
            .send(Ok(entry))
            .await
            .map_err(|_| Produce::ConsumerGone)
    }

    /// Reads `node`, found at `self.path`, `depth` directories below the
    /// root, sending the entries below it and returning its own. Boxed, as
    /// it recurses into directories.
    fn node<'n, R>(
        &'n mut self,
        node: nar::Node<'n, R>,
        depth: usize,
    ) -> BoxFuture<'n, Result<IngestionEntry, Produce>>
    where
        R: AsyncBufRead + Unpin + Send + ?Sized,
    {
        match node {
            nar::Node::Symlink { target } => {
                let path = self.path.clone();
                let entry = match SymlinkTarget::try_from(target.as_slice()) {
                    Ok(target) => Ok(IngestionEntry::Symlink { path, target }),
                    Err(source) => {
                        Err(IngestNarError::InvalidSymlinkTarget { path, source }.into())
                    }
                };
                futures::future::ready(entry).boxed()
            }
            nar::Node::File { executable, reader } => self.file(reader, executable).boxed(),
            nar::Node::Directory(directory) => self.directory(directory, depth).boxed(),
        }
    }

    async fn directory<R>(
        &mut self,
        mut directory: nar::DirReader<'_, R>,
        depth: usize,
    ) -> Result<IngestionEntry, Produce>
    where
        R: AsyncBufRead + Unpin + Send + ?Sized,
    {
        if depth >= MAX_DEPTH {
            return Err(IngestNarError::TooDeep(self.path.clone()).into());
        }
        while let Some(entry) = directory.next().await.map_err(Produce::Read)? {
            self.path
                .try_push(entry.name)
                .map_err(IngestNarError::InvalidName)?;
            if self.path.as_bytes().len() > MAX_PATH_LEN {
                let path = self.path.clone();
                return Err(IngestNarError::PathTooLong { path }.into());
            }
            let child = GrowStack(self.node(entry.node, depth + 1)).await?;
            self.path.pop();
            self.send(child).await?;
        }
        Ok(IngestionEntry::Dir {
            path: self.path.clone(),
        })
    }

    async fn file<R>(
        &mut self,
        contents: nar::FileReader<'_, R>,
        executable: bool,
    ) -> Result<IngestionEntry, Produce>
    where
        R: AsyncBufRead + Unpin + Send + ?Sized,
    {
        let size = contents.len();
        let digest = self.upload(contents).await?;
        Ok(IngestionEntry::Regular {
            path: self.path.clone(),
            digest,
            size,
            executable,
        })
    }

    /// Uploads a file's contents as a blob, returning its digest.
    async fn upload<R>(
        &mut self,
        mut contents: nar::FileReader<'_, R>,
    ) -> Result<tvix_castore::B3Digest, Produce>
    where
        R: AsyncBufRead + Unpin + Send + ?Sized,
    {
        let path = &self.path;
        let upload_error = |source| IngestNarError::UploadBlob {
            path: path.clone(),
            source,
        };
        let mut writer = self.blob_service.open_write().await;
        loop {
            let n = contents
                .read(&mut self.buffer)
                .await
                .map_err(Produce::Read)?;
            let Some(read) = self.buffer.get(..n).filter(|read| !read.is_empty()) else {
                break;
            };
            writer.write_all(read).await.map_err(upload_error)?;
        }
        Ok(writer.close().await.map_err(upload_error)?)
    }
}
