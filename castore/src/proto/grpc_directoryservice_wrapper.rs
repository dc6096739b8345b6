//! [GrpcDirectoryServiceWrapper]: serves any [DirectoryService] over gRPC.
//!
//! Everything a client sends is validated before it reaches the service:
//! digests, each directory, and the closure as a whole (leaves first, sizes
//! matching, one root). Every problem is a gRPC status; a Put is only
//! committed once the client ended its stream cleanly and the closure is
//! complete. Messages above [super::MAX_MESSAGE_BYTES] are refused by tonic
//! itself; a Put's directories are held until its closure
//! is complete, so their total is bounded too ([DEFAULT_MAX_DIRECTORY_PUT_BYTES]).

use std::sync::Arc;

use futures::{StreamExt, stream::BoxStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::directoryservice::{ClosureValidator, DirectoryService};
use crate::proto::{self, get_directory_request::ByWhat};
use crate::{B3Digest, Directory};

/// How many directories of a recursive get are buffered ahead of the client.
const GET_QUEUE: usize = 64;

/// How much one Put may make the server hold, by default: far beyond the
/// closures of real store paths (a Linux source tree's directories encode
/// to a few MiB), and a bound on what an endless stream of directories can
/// cost. Counted as in [put_cost].
pub const DEFAULT_MAX_DIRECTORY_PUT_BYTES: u64 = 256 * 1024 * 1024;

/// Most entries a directory of a Put may have, by default: ten times the
/// 100 000-entry directories real trees have been seen to hold, far fewer
/// than a [proto::MAX_MESSAGE_BYTES] message could carry (a million
/// entries of short names).
pub const DEFAULT_MAX_DIRECTORY_ENTRIES: usize = 1_000_000;

/// What holding a directory until its Put is committed costs, roughly: its
/// encoding plus the bookkeeping per directory and per entry (a directory
/// without entries encodes to nothing, but is not free to keep).
fn put_cost(proto: &proto::Directory) -> u64 {
    use prost::Message;
    let entries = proto.directories.len() + proto.files.len() + proto.symlinks.len();
    (proto.encoded_len() as u64).saturating_add(64 * (1 + entries as u64))
}

/// The tonic service to register with a server, around the directory
/// service that actually stores the directories.
pub struct GrpcDirectoryServiceWrapper {
    directory_service: Arc<dyn DirectoryService>,
    /// See [DEFAULT_MAX_DIRECTORY_PUT_BYTES].
    max_put_bytes: u64,
    /// See [DEFAULT_MAX_DIRECTORY_ENTRIES].
    max_entries: usize,
}

impl GrpcDirectoryServiceWrapper {
    pub fn new(directory_service: Arc<dyn DirectoryService>) -> Self {
        Self {
            directory_service,
            max_put_bytes: DEFAULT_MAX_DIRECTORY_PUT_BYTES,
            max_entries: DEFAULT_MAX_DIRECTORY_ENTRIES,
        }
    }

    /// Refuses Puts of a directory with more than `max_entries` entries.
    pub fn with_max_entries(self, max_entries: usize) -> Self {
        Self {
            max_entries,
            ..self
        }
    }

    /// Refuses Puts whose directories cost more than `max_put_bytes` to
    /// hold (see [DEFAULT_MAX_DIRECTORY_PUT_BYTES]).
    pub fn with_max_put_bytes(self, max_put_bytes: u64) -> Self {
        Self {
            max_put_bytes,
            ..self
        }
    }
}

#[tonic::async_trait]
impl proto::directory_service_server::DirectoryService for GrpcDirectoryServiceWrapper {
    type GetStream = BoxStream<'static, Result<proto::Directory, Status>>;

    async fn get(
        &self,
        request: Request<proto::GetDirectoryRequest>,
    ) -> Result<Response<Self::GetStream>, Status> {
        let request = request.into_inner();
        let digest = match request.by_what {
            Some(ByWhat::Digest(digest)) => B3Digest::try_from(digest)
                .map_err(|e| Status::invalid_argument(format!("invalid digest: {e}")))?,
            None => return Err(Status::invalid_argument("by_what must be set")),
        };
        let not_found = || Status::not_found(format!("directory {digest} not found"));

        if !request.recursive {
            let directory = self
                .directory_service
                .get(&digest)
                .await?
                .ok_or_else(not_found)?;
            let item = Ok(proto::Directory::from(directory));
            return Ok(Response::new(futures::stream::once(async { item }).boxed()));
        }

        // The traversal borrows the service, so it runs in a task owning a
        // handle to it, feeding a bounded queue.
        let (sender, mut receiver) = mpsc::channel(GET_QUEUE);
        let directory_service = self.directory_service.clone();
        tokio::spawn(async move {
            let mut directories = directory_service.get_recursive(&digest);
            while let Some(directory) = directories.next().await {
                let failed = directory.is_err();
                if sender.send(directory).await.is_err() || failed {
                    // The client went away, or the error was the last item.
                    break;
                }
            }
        });
        // Wait for the root, so a missing one is a NOT_FOUND response rather
        // than an error in the middle of the stream.
        let root = receiver.recv().await.ok_or_else(not_found)??;
        let rest = ReceiverStream::new(receiver)
            .map(|directory| directory.map(proto::Directory::from).map_err(Status::from));
        Ok(Response::new(
            futures::stream::once(async { Ok(proto::Directory::from(root)) })
                .chain(rest)
                .boxed(),
        ))
    }

    async fn put(
        &self,
        request: Request<Streaming<proto::Directory>>,
    ) -> Result<Response<proto::PutDirectoryResponse>, Status> {
        let mut stream = request.into_inner();
        let mut validator = ClosureValidator::new();
        // Dropped without close() on every error path, which stores nothing.
        let mut putter = self.directory_service.put_multiple_start();

        // An error of the stream itself (the client cancelled, a message was
        // too large or malformed) ends the call before anything is committed.
        let mut held: u64 = 0;
        while let Some(proto) = stream.message().await? {
            let entries = proto.directories.len() + proto.files.len() + proto.symlinks.len();
            if entries > self.max_entries {
                return Err(Status::invalid_argument(format!(
                    "a directory of {entries} entries exceeds the server's limit of {}",
                    self.max_entries
                )));
            }
            held = held.saturating_add(put_cost(&proto));
            if held > self.max_put_bytes {
                return Err(Status::resource_exhausted(format!(
                    "the directories of this put exceed the server's limit of {} bytes",
                    self.max_put_bytes
                )));
            }
            let directory = Directory::try_from(proto)
                .map_err(|e| Status::invalid_argument(format!("invalid directory: {e}")))?;
            let accepted = validator
                .add(&directory)
                .map_err(|e| Status::invalid_argument(format!("invalid closure: {e}")))?;
            if accepted.is_new {
                putter.put(directory).await?;
            }
        }
        let root = validator
            .finalize()
            .map_err(|e| Status::invalid_argument(format!("invalid closure: {e}")))?;
        let stored_root = putter.close().await?;
        if stored_root != root {
            return Err(Status::internal(format!(
                "the service stored root {stored_root}, but the closure has root {root}"
            )));
        }
        Ok(Response::new(proto::PutDirectoryResponse {
            root_digest: root.into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::channel::GrpcChannel;
    use bytes::Bytes;
    use rstest::rstest;
    use tempfile::TempDir;
    use tonic::Code;

    use super::*;
    use crate::directoryservice::MemoryDirectoryService;
    use crate::directoryservice::tests::serve_grpc;
    use crate::fixtures::{
        DIRECTORY_COMPLICATED, DIRECTORY_EMPTY, DIRECTORY_WITH_KEEP, DUMMY_DIGEST,
    };
    use crate::proto::directory_service_client::DirectoryServiceClient;

    /// A raw client of a server backed by `backing`, so tests can send what
    /// no well-behaved client would.
    struct RawClient {
        client: DirectoryServiceClient<GrpcChannel>,
        backing: Arc<MemoryDirectoryService>,
        _dir: TempDir,
    }

    fn raw_client() -> RawClient {
        raw_client_with(DEFAULT_MAX_DIRECTORY_PUT_BYTES)
    }

    fn raw_client_with(max_put_bytes: u64) -> RawClient {
        let dir = TempDir::new().expect("temp dir");
        let backing = Arc::new(MemoryDirectoryService::new());
        let server =
            GrpcDirectoryServiceWrapper::new(backing.clone()).with_max_put_bytes(max_put_bytes);
        let url = serve_grpc(server, &dir);
        let channel =
            crate::channel::channel_from_url(&url.parse().expect("url")).expect("channel");
        RawClient {
            // Sends whatever a test makes it send, as a hostile client would.
            client: DirectoryServiceClient::new(channel)
                .max_encoding_message_size(usize::MAX)
                .max_decoding_message_size(proto::MAX_MESSAGE_BYTES),
            backing,
            _dir: dir,
        }
    }

    fn get_request(digest: Bytes, recursive: bool) -> proto::GetDirectoryRequest {
        proto::GetDirectoryRequest {
            by_what: Some(ByWhat::Digest(digest)),
            recursive,
        }
    }

    /// The status of a get, whether it comes as the response or as the
    /// first stream item.
    async fn get_status(client: &mut RawClient, request: proto::GetDirectoryRequest) -> Status {
        match client.client.get(request).await {
            Err(status) => status,
            Ok(response) => response
                .into_inner()
                .message()
                .await
                .expect_err("must fail"),
        }
    }

    #[rstest]
    #[case::short_digest(get_request(Bytes::from_static(&[1; 31]), false), Code::InvalidArgument)]
    #[case::short_digest_recursive(get_request(Bytes::new(), true), Code::InvalidArgument)]
    #[case::no_digest(proto::GetDirectoryRequest { by_what: None, recursive: false }, Code::InvalidArgument)]
    #[case::missing(get_request(DUMMY_DIGEST.into(), false), Code::NotFound)]
    #[case::missing_recursive(get_request(DUMMY_DIGEST.into(), true), Code::NotFound)]
    #[tokio::test]
    async fn get_refused(#[case] request: proto::GetDirectoryRequest, #[case] code: Code) {
        let mut client = raw_client();
        assert_eq!(code, get_status(&mut client, request).await.code());
    }

    fn unsorted() -> proto::Directory {
        let mut directory = proto::Directory::from(&*DIRECTORY_COMPLICATED);
        directory.symlinks.push(proto::SymlinkNode {
            name: Bytes::from_static(b"a"),
            target: Bytes::from_static(b"x"),
        });
        directory
    }

    fn with_size(size: u64) -> proto::Directory {
        let mut directory = proto::Directory::from(&*DIRECTORY_COMPLICATED);
        directory.directories[0].size = size;
        directory
    }

    fn with_digest(digest: Bytes) -> proto::Directory {
        let mut directory = proto::Directory::from(&*DIRECTORY_COMPLICATED);
        directory.directories[0].digest = digest;
        directory
    }

    /// A directory too big for one message ([proto::MAX_MESSAGE_BYTES]).
    fn oversized() -> proto::Directory {
        proto::Directory {
            symlinks: vec![proto::SymlinkNode {
                name: Bytes::from_static(b"big"),
                target: Bytes::from(vec![b'x'; proto::MAX_MESSAGE_BYTES]),
            }],
            ..Default::default()
        }
    }

    /// Everything a client can get wrong in a Put, each refused with a
    /// status, with nothing stored.
    #[rstest]
    #[case::empty_stream(vec![], Code::InvalidArgument)]
    #[case::parent_first(vec![DIRECTORY_COMPLICATED.clone().into()], Code::InvalidArgument)]
    #[case::parent_without_child(vec![DIRECTORY_EMPTY.clone().into(), DIRECTORY_COMPLICATED.clone().into()], Code::InvalidArgument)]
    #[case::size_lie(vec![DIRECTORY_WITH_KEEP.clone().into(), with_size(5)], Code::InvalidArgument)]
    #[case::size_zero(vec![DIRECTORY_WITH_KEEP.clone().into(), with_size(0)], Code::InvalidArgument)]
    #[case::wrong_digest(vec![DIRECTORY_WITH_KEEP.clone().into(), with_digest(DUMMY_DIGEST.into())], Code::InvalidArgument)]
    #[case::short_digest(vec![DIRECTORY_WITH_KEEP.clone().into(), with_digest(Bytes::from_static(&[0; 5]))], Code::InvalidArgument)]
    #[case::unsorted(vec![DIRECTORY_WITH_KEEP.clone().into(), unsorted()], Code::InvalidArgument)]
    #[case::two_roots(vec![DIRECTORY_EMPTY.clone().into(), DIRECTORY_WITH_KEEP.clone().into()], Code::InvalidArgument)]
    #[case::oversized(vec![DIRECTORY_EMPTY.clone().into(), oversized()], Code::OutOfRange)]
    #[tokio::test]
    async fn put_refused(#[case] directories: Vec<proto::Directory>, #[case] code: Code) {
        let mut client = raw_client();
        let status = client
            .client
            .put(futures::stream::iter(directories))
            .await
            .expect_err("must be refused");
        assert_eq!(code, status.code(), "{status}");
        for stored in [&*DIRECTORY_EMPTY, &*DIRECTORY_WITH_KEEP] {
            assert_eq!(
                None,
                client.backing.get(&stored.digest()).await.expect("get"),
                "nothing of a refused closure is stored"
            );
        }
    }

    #[tokio::test]
    async fn put_then_get_recursive() {
        let mut client = raw_client();
        let response = client
            .client
            .put(futures::stream::iter([
                DIRECTORY_WITH_KEEP.clone().into(),
                DIRECTORY_COMPLICATED.clone().into(),
            ]))
            .await
            .expect("valid closure")
            .into_inner();
        assert_eq!(
            Bytes::from(DIRECTORY_COMPLICATED.digest()),
            response.root_digest
        );

        let mut stream = client
            .client
            .get(get_request(DIRECTORY_COMPLICATED.digest().into(), true))
            .await
            .expect("get")
            .into_inner();
        let mut received = Vec::new();
        while let Some(directory) = stream.message().await.expect("message") {
            received.push(directory);
        }
        assert_eq!(
            vec![
                proto::Directory::from(&*DIRECTORY_COMPLICATED),
                proto::Directory::from(&*DIRECTORY_WITH_KEEP),
            ],
            received
        );
    }

    /// An endless stream of distinct directories is cut off once it
    /// exceeds the put limit, with nothing stored, and the server still
    /// takes a put afterwards.
    #[tokio::test]
    async fn put_endless() {
        const LIMIT: u64 = 1024 * 1024;
        let mut client = raw_client_with(LIMIT);
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        let directory = |i: u64| proto::Directory {
            symlinks: vec![proto::SymlinkNode {
                name: Bytes::from_static(b"s"),
                target: Bytes::from(i.to_string()),
            }],
            ..Default::default()
        };
        let endless = futures::stream::iter(0u64..).map(move |i| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            directory(i)
        });
        let started = std::time::Instant::now();
        let status = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            client.client.put(endless),
        )
        .await
        .expect("cut off within 20 s")
        .expect_err("must fail");
        assert_eq!(Code::ResourceExhausted, status.code(), "{status}");
        // Each directory costs well over 100 bytes, so the server stopped
        // reading after about LIMIT / 100 of them (plus what was in flight).
        let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
        assert!(sent < LIMIT / 16, "{sent} directories sent");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        let first = Directory::try_from(directory(0)).expect("valid directory");
        assert_eq!(
            None,
            client.backing.get(&first.digest()).await.expect("get")
        );

        let response = client
            .client
            .put(futures::stream::iter([DIRECTORY_WITH_KEEP.clone().into()]))
            .await
            .expect("the server still takes puts");
        assert_eq!(
            Bytes::from(DIRECTORY_WITH_KEEP.digest()),
            response.into_inner().root_digest
        );
    }
}
