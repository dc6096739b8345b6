//! The conformance suite every [BlobService] backend must pass.
//!
//! [blob_services] lists every backend once, the gRPC client against our own
//! in-process server included; each test below is written once and applied
//! to all of them. A new backend passes the whole suite by adding one case.

use std::io::SeekFrom;
use std::sync::Arc;

use rstest::rstest;
use rstest_reuse::{self, apply, template};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::Server;

use super::chunking::CHUNK_MAX;
use super::{
    BlobReader, BlobService, ChunkMeta, CombinedBlobService, MemoryBlobService, from_addr,
};
use crate::B3Digest;
use crate::fixtures::blob_contents;
use crate::proto::GrpcBlobServiceWrapper;
use crate::proto::blob_service_server::BlobServiceServer;

/// A blob larger than the chunking threshold, with an odd size.
const BIG: usize = 3 * CHUNK_MAX + 12345;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    Memory,
    ObjectStoreMemory,
    ObjectStoreFile,
    Pack,
    GrpcMemory,
    GrpcObjectStore,
    CombinedMemoryObjectStore,
    /// A fresh bucket on a real S3 server (moto).
    #[cfg(feature = "integration")]
    S3,
}

/// A service under test, with whatever must outlive it.
pub(crate) struct TestBlobService {
    pub service: Arc<dyn BlobService>,
    _dir: Option<TempDir>,
}

impl std::ops::Deref for TestBlobService {
    type Target = Arc<dyn BlobService>;

    fn deref(&self) -> &Self::Target {
        &self.service
    }
}

/// Serves `service` over gRPC on a Unix socket in a fresh directory, for as
/// long as the test's runtime runs. Returns the directory (remove it only
/// after the test) and the `grpc+unix://` URL.
pub(crate) fn serve_grpc(service: Arc<dyn BlobService>) -> (TempDir, String) {
    let dir = TempDir::new().expect("temp dir");
    let socket = dir.path().join("blobs.sock");
    let listener = UnixListener::bind(&socket).expect("bind socket");
    tokio::spawn(
        Server::builder()
            .add_service(crate::with_message_limits!(BlobServiceServer::new(
                GrpcBlobServiceWrapper::new(service),
            )))
            .serve_with_incoming(UnixListenerStream::new(listener)),
    );
    (dir, format!("grpc+unix://{}", socket.display()))
}

/// A client, built by [from_addr], of `service` served over gRPC.
async fn grpc_client_of(service: Arc<dyn BlobService>) -> TestBlobService {
    let (dir, url) = serve_grpc(service);
    TestBlobService {
        service: from_addr(&url).await.expect("gRPC client"),
        _dir: Some(dir),
    }
}

impl Backend {
    pub(crate) async fn open(self) -> TestBlobService {
        let plain = |service| TestBlobService {
            service,
            _dir: None,
        };
        match self {
            Backend::Memory => plain(from_addr("memory://").await.expect("memory")),
            Backend::ObjectStoreMemory => plain(
                from_addr("objectstore+memory://")
                    .await
                    .expect("object store"),
            ),
            Backend::ObjectStoreFile => {
                let dir = TempDir::new().expect("temp dir");
                let url = format!("objectstore+file://{}", dir.path().display());
                TestBlobService {
                    service: from_addr(&url).await.expect("object store"),
                    _dir: Some(dir),
                }
            }
            Backend::Pack => {
                let dir = TempDir::new().expect("temp dir");
                let url = format!("pack://{}", dir.path().display());
                TestBlobService {
                    service: from_addr(&url).await.expect("pack store"),
                    _dir: Some(dir),
                }
            }
            Backend::GrpcMemory => grpc_client_of(Arc::new(MemoryBlobService::new())).await,
            Backend::GrpcObjectStore => {
                grpc_client_of(
                    from_addr("objectstore+memory://")
                        .await
                        .expect("object store"),
                )
                .await
            }
            Backend::CombinedMemoryObjectStore => plain(Arc::new(CombinedBlobService::new(
                MemoryBlobService::new(),
                from_addr("objectstore+memory://")
                    .await
                    .expect("object store"),
            ))),
            #[cfg(feature = "integration")]
            Backend::S3 => {
                let url = crate::moto::shared().fresh_bucket_url();
                plain(
                    from_addr(&format!("objectstore+{url}"))
                        .await
                        .expect("S3 object store"),
                )
            }
        }
    }
}

#[template]
#[rstest]
#[case::memory(Backend::Memory)]
#[case::objectstore_memory(Backend::ObjectStoreMemory)]
#[case::objectstore_file(Backend::ObjectStoreFile)]
#[case::pack(Backend::Pack)]
#[case::grpc_memory(Backend::GrpcMemory)]
#[case::grpc_objectstore(Backend::GrpcObjectStore)]
#[case::combined_memory_objectstore(Backend::CombinedMemoryObjectStore)]
#[cfg_attr(feature = "integration", case::s3(Backend::S3))]
fn blob_services(#[case] backend: Backend) {}

pub(crate) async fn put(service: &dyn BlobService, contents: &[u8]) -> B3Digest {
    let mut writer = service.open_write().await;
    writer.write_all(contents).await.expect("write");
    writer.close().await.expect("close")
}

/// A reader of a blob that must exist.
pub(crate) async fn open(service: &dyn BlobService, digest: &B3Digest) -> Box<dyn BlobReader> {
    service
        .open_read(digest)
        .await
        .expect("open_read")
        .expect("blob exists")
}

pub(crate) async fn read_all(service: &dyn BlobService, digest: &B3Digest) -> Vec<u8> {
    let mut contents = Vec::new();
    open(service, digest)
        .await
        .read_to_end(&mut contents)
        .await
        .expect("read");
    contents
}

/// The chunks of a blob that must exist.
pub(crate) async fn chunks_of(service: &dyn BlobService, digest: &B3Digest) -> Vec<ChunkMeta> {
    service
        .chunks(digest)
        .await
        .expect("chunks")
        .expect("blob exists")
}

#[apply(blob_services)]
#[tokio::test]
async fn put_then_read(
    #[case] backend: Backend,
    #[values(0, 1, 1000, CHUNK_MAX, CHUNK_MAX + 1, BIG)] size: usize,
) {
    let service = backend.open().await;
    let contents = blob_contents("put_then_read", size);

    let digest = put(service.as_ref(), &contents).await;

    assert_eq!(B3Digest::of(&contents), digest);
    assert!(service.has(&digest).await.expect("has"));
    assert_eq!(contents, read_all(service.as_ref(), &digest).await);
}

/// [BlobService::put] stores exactly what a writer would: the same digest,
/// contents and chunks.
#[apply(blob_services)]
#[tokio::test]
async fn put_whole_matches_a_writer(
    #[case] backend: Backend,
    #[values(0, 1000, CHUNK_MAX, CHUNK_MAX + 1, BIG)] size: usize,
) {
    let written = backend.open().await;
    let service = backend.open().await;
    let contents = blob_contents("put_whole_matches_a_writer", size);
    let digest = put(written.as_ref(), &contents).await;

    let put_digest = service
        .put(bytes::Bytes::from(contents.clone()))
        .await
        .expect("put");

    assert_eq!(digest, put_digest);
    // Chunks before contents: reading fills a combinator's local service.
    assert_eq!(
        chunks_of(written.as_ref(), &digest).await,
        chunks_of(service.as_ref(), &digest).await
    );
    assert_eq!(contents, read_all(service.as_ref(), &digest).await);
}

/// [BlobService::put_many] stores each blob as [BlobService::put] would,
/// and returns their digests in order, duplicates and a blob stored
/// already included.
#[apply(blob_services)]
#[tokio::test]
async fn put_many_matches_put(#[case] backend: Backend) {
    let service = backend.open().await;
    let blobs: Vec<Vec<u8>> = [0, 1000, CHUNK_MAX, CHUNK_MAX + 1, BIG, 1000]
        .into_iter()
        .enumerate()
        .map(|(i, size)| blob_contents(&format!("put_many {}", i % 5), size))
        .collect();
    let stored_before = put(service.as_ref(), &blobs[1]).await;

    let digests = service
        .put_many(blobs.iter().cloned().map(bytes::Bytes::from).collect())
        .await
        .expect("put_many");

    let expected: Vec<B3Digest> = blobs.iter().map(|blob| B3Digest::of(blob)).collect();
    assert_eq!(expected, digests);
    assert_eq!(stored_before, digests[1]);
    for (blob, digest) in blobs.iter().zip(&digests) {
        assert_eq!(*blob, read_all(service.as_ref(), digest).await);
    }
}

#[apply(blob_services)]
#[tokio::test]
async fn missing_blob(#[case] backend: Backend) {
    let service = backend.open().await;
    let digest = B3Digest::of(b"never written");

    assert!(!service.has(&digest).await.expect("has"));
    assert!(
        service
            .open_read(&digest)
            .await
            .expect("open_read")
            .is_none()
    );
    assert_eq!(None, service.chunks(&digest).await.expect("chunks"));
}

/// Every chunk is a blob of its own, and the chunks add up to the blob.
#[apply(blob_services)]
#[tokio::test]
async fn chunks_make_up_the_blob(#[case] backend: Backend, #[values(0, 1000, BIG)] size: usize) {
    let service = backend.open().await;
    let contents = blob_contents("chunks_make_up_the_blob", size);
    let digest = put(service.as_ref(), &contents).await;

    let chunks = chunks_of(service.as_ref(), &digest).await;

    assert_eq!(
        size as u64,
        chunks.iter().map(|chunk| chunk.size).sum::<u64>()
    );
    let mut joined = Vec::new();
    for chunk in chunks {
        joined.extend(read_all(service.as_ref(), &chunk.digest).await);
    }
    assert_eq!(contents, joined);
}

#[apply(blob_services)]
#[tokio::test]
async fn seek_and_read(#[case] backend: Backend) {
    let service = backend.open().await;
    let contents = blob_contents("seek_and_read", BIG);
    let digest = put(service.as_ref(), &contents).await;
    let mut reader = open(service.as_ref(), &digest).await;

    // Forward and backward, across chunk boundaries, up to the very end.
    for offset in [
        CHUNK_MAX + 17,
        0,
        BIG - 1,
        1,
        2 * CHUNK_MAX - 5,
        CHUNK_MAX,
        BIG - 3000,
    ] {
        let position = reader
            .seek(SeekFrom::Start(offset as u64))
            .await
            .expect("seek");
        assert_eq!(offset as u64, position);
        let mut buf = vec![0; 4000.min(BIG - offset)];
        reader.read_exact(&mut buf).await.expect("read");
        assert_eq!(contents[offset..offset + buf.len()], buf[..], "at {offset}");
    }

    let position = reader.seek(SeekFrom::End(-10)).await.expect("seek");
    assert_eq!(BIG as u64 - 10, position);
    let position = reader.seek(SeekFrom::Current(-100)).await.expect("seek");
    assert_eq!(BIG as u64 - 110, position);
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).await.expect("read");
    assert_eq!(contents[BIG - 110..], rest[..]);

    reader
        .seek(SeekFrom::Start(BIG as u64 + 5))
        .await
        .expect("seek");
    assert_eq!(0, reader.read(&mut [0; 10]).await.expect("read past end"));
}

#[apply(blob_services)]
#[tokio::test]
async fn seek_before_start_fails(#[case] backend: Backend) {
    let service = backend.open().await;
    let digest = put(service.as_ref(), b"hello").await;
    let mut reader = open(service.as_ref(), &digest).await;

    let error = reader
        .seek(SeekFrom::End(-6))
        .await
        .expect_err("seek before start");
    assert_eq!(std::io::ErrorKind::InvalidInput, error.kind());
}

#[apply(blob_services)]
#[tokio::test]
async fn dropped_writer_leaves_no_blob(#[case] backend: Backend, #[values(1000, BIG)] size: usize) {
    let service = backend.open().await;
    let contents = blob_contents("dropped_writer_leaves_no_blob", size);
    let mut writer = service.open_write().await;
    writer.write_all(&contents).await.expect("write");
    writer.flush().await.expect("flush");
    drop(writer);
    // Give a remote end time to see the aborted upload.
    tokio::task::yield_now().await;

    assert!(!service.has(&B3Digest::of(&contents)).await.expect("has"));
}

#[apply(blob_services)]
#[tokio::test]
async fn close_is_idempotent_and_final(#[case] backend: Backend) {
    let service = backend.open().await;
    let mut writer = service.open_write().await;
    writer.write_all(b"hello").await.expect("write");

    let digest = writer.close().await.expect("close");

    assert_eq!(B3Digest::of(b"hello"), digest);
    assert_eq!(digest, writer.close().await.expect("second close"));
    let error = writer
        .write_all(b"more")
        .await
        .expect_err("write after close");
    assert_eq!(std::io::ErrorKind::BrokenPipe, error.kind());
}

#[apply(blob_services)]
#[tokio::test]
async fn same_blob_twice(#[case] backend: Backend) {
    let service = backend.open().await;
    let contents = blob_contents("same_blob_twice", BIG);

    let first = put(service.as_ref(), &contents).await;
    let second = put(service.as_ref(), &contents).await;

    assert_eq!(first, second);
    assert_eq!(contents, read_all(service.as_ref(), &first).await);
}
