//! [GrpcPathInfoServiceWrapper]: serves any [PathInfoService] over gRPC.
//!
//! Everything a client sends is validated before it reaches the services:
//! digests, every PathInfo put, and the root node of a NAR calculation.
//! Every problem is a gRPC status, never a panic.
//!
//! Clients are not trusted with what a PathInfo claims (see
//! [GrpcPathInfoServiceWrapper::verify_put]): the daemon has no
//! authentication, so any client could otherwise point a store path at
//! contents it never uploaded, or at someone else's.

use std::sync::Arc;

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use nix_compat::store_path::DIGEST_SIZE;
use tonic::{Request, Response, Status};

use super::{
    CalculateNarResponse, GetPathInfoRequest, ListPathInfoRequest, PathInfo,
    get_path_info_request::ByWhat, path_info_service_server,
};
use crate::nar::{CalculateNarError, NarCalculationService, RenderError};
use crate::pathinfoservice::PathInfoService;

pub struct GrpcPathInfoServiceWrapper {
    path_info_service: Arc<dyn PathInfoService>,
    nar_calculation_service: Arc<dyn NarCalculationService>,
    /// Off only in the conformance suite, which puts PathInfos naming
    /// contents that do not exist to test the client and transport.
    verify_puts: bool,
}

impl GrpcPathInfoServiceWrapper {
    pub fn new(
        path_info_service: Arc<dyn PathInfoService>,
        nar_calculation_service: Arc<dyn NarCalculationService>,
    ) -> Self {
        Self {
            path_info_service,
            nar_calculation_service,
            verify_puts: true,
        }
    }

    /// A server that stores whatever PathInfo it is sent, for tests of the
    /// client against fixtures with made-up contents.
    #[cfg(test)]
    pub(crate) fn trusting_puts(
        path_info_service: Arc<dyn PathInfoService>,
        nar_calculation_service: Arc<dyn NarCalculationService>,
    ) -> Self {
        Self {
            verify_puts: false,
            ..Self::new(path_info_service, nar_calculation_service)
        }
    }

    /// Checks `path_info` against the store before it is put, returning
    /// what is to be stored, or `None` if exactly that is stored already.
    ///
    /// A path already stored keeps its contents: only the same PathInfo
    /// with more signatures replaces it (signatures are added as keys
    /// sign). A new path is accepted only if its root is in the castore
    /// and its NAR size and sha256 are what rendering the root gives;
    /// zero for both asks the server to fill them in.
    async fn verify_put(
        &self,
        mut path_info: crate::PathInfo,
    ) -> Result<Option<crate::PathInfo>, Status> {
        let digest = *path_info.store_path.digest();
        let fill_in = path_info.nar_size == 0 && path_info.nar_sha256 == [0; 32];
        if let Some(stored) = self.path_info_service.get(digest).await? {
            if fill_in {
                path_info.nar_size = stored.nar_size;
                path_info.nar_sha256 = stored.nar_sha256;
            }
            if stored == path_info {
                return Ok(None);
            }
            let adds_signatures = crate::PathInfo {
                signatures: stored.signatures.clone(),
                ..path_info.clone()
            } == stored
                && stored
                    .signatures
                    .iter()
                    .all(|signature| path_info.signatures.contains(signature));
            return if adds_signatures {
                Ok(Some(path_info))
            } else {
                Err(Status::already_exists(format!(
                    "{} is stored with other contents or metadata; only more signatures may be added",
                    path_info.store_path
                )))
            };
        }
        let summary = match self
            .nar_calculation_service
            .calculate_nar(&path_info.node)
            .await
        {
            Ok(summary) => summary,
            Err(
                error @ CalculateNarError::Render(
                    RenderError::BlobNotFound { .. } | RenderError::DirectoryNotFound { .. },
                ),
            ) => {
                return Err(Status::failed_precondition(format!(
                    "the root of {} is not (entirely) in the castore: {error}",
                    path_info.store_path
                )));
            }
            Err(error) => return Err(error.into()),
        };
        if fill_in {
            path_info.nar_size = summary.nar_size;
            path_info.nar_sha256 = summary.nar_sha256;
        } else if (path_info.nar_size, path_info.nar_sha256)
            != (summary.nar_size, summary.nar_sha256)
        {
            return Err(Status::invalid_argument(format!(
                "{}: the root renders to a NAR of {} bytes with sha256 {}, not the {} bytes and {} claimed",
                path_info.store_path,
                summary.nar_size,
                nix_compat::nixbase32::encode(&summary.nar_sha256),
                path_info.nar_size,
                nix_compat::nixbase32::encode(&path_info.nar_sha256),
            )));
        }
        Ok(Some(path_info))
    }
}

/// A NAR that cannot be rendered because part of the tree is missing is the
/// client's problem (it named a tree it never uploaded); the rest is ours.
impl From<CalculateNarError> for Status {
    fn from(error: CalculateNarError) -> Self {
        match error {
            CalculateNarError::Render(
                RenderError::BlobNotFound { .. } | RenderError::DirectoryNotFound { .. },
            ) => Status::not_found(error.to_string()),
            CalculateNarError::Render(
                RenderError::TooDeep { .. }
                | RenderError::PathTooLong(_)
                | RenderError::TooManyEntries { .. },
            ) => Status::invalid_argument(error.to_string()),
            CalculateNarError::Grpc(status) => *status,
            _ => Status::internal(error.to_string()),
        }
    }
}

#[tonic::async_trait]
impl path_info_service_server::PathInfoService for GrpcPathInfoServiceWrapper {
    type ListStream = BoxStream<'static, Result<PathInfo, Status>>;

    async fn get(
        &self,
        request: Request<GetPathInfoRequest>,
    ) -> Result<Response<PathInfo>, Status> {
        let digest = match request.into_inner().by_what {
            Some(ByWhat::ByOutputHash(digest)) => <[u8; DIGEST_SIZE]>::try_from(digest.as_ref())
                .map_err(|_| {
                    Status::invalid_argument(format!(
                        "by_output_hash must be {DIGEST_SIZE} bytes, got {}",
                        digest.len()
                    ))
                })?,
            None => return Err(Status::invalid_argument("by_what must be set")),
        };
        match self.path_info_service.get(digest).await? {
            Some(path_info) => Ok(Response::new(path_info.into())),
            None => Err(Status::not_found(format!(
                "PathInfo {} not found",
                nix_compat::nixbase32::encode(&digest)
            ))),
        }
    }

    async fn put(&self, request: Request<PathInfo>) -> Result<Response<PathInfo>, Status> {
        let path_info = crate::PathInfo::try_from(request.into_inner())
            .map_err(|e| Status::invalid_argument(format!("invalid PathInfo: {e}")))?;
        if !self.verify_puts {
            let stored = self.path_info_service.put(path_info).await?;
            return Ok(Response::new(stored.into()));
        }
        let digest = *path_info.store_path.digest();
        let stored = match self.verify_put(path_info).await? {
            Some(path_info) => self.path_info_service.put(path_info).await?,
            None => self
                .path_info_service
                .get(digest)
                .await?
                .ok_or_else(|| Status::internal("PathInfo vanished while being put"))?,
        };
        Ok(Response::new(stored.into()))
    }

    async fn calculate_nar(
        &self,
        request: Request<tvix_castore::proto::Entry>,
    ) -> Result<Response<CalculateNarResponse>, Status> {
        let (_, root) = request
            .into_inner()
            .try_into_name_and_node()
            .map_err(|e| Status::invalid_argument(format!("invalid root node: {e}")))?;
        let summary = self.nar_calculation_service.calculate_nar(&root).await?;
        Ok(Response::new(CalculateNarResponse {
            nar_size: summary.nar_size,
            nar_sha256: summary.nar_sha256.to_vec().into(),
        }))
    }

    async fn list(
        &self,
        _request: Request<ListPathInfoRequest>,
    ) -> Result<Response<Self::ListStream>, Status> {
        let stream = self
            .path_info_service
            .list()
            .map_ok(PathInfo::from)
            .map_err(Status::from)
            .boxed();
        Ok(Response::new(stream))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use rstest::rstest;
    use tempfile::TempDir;
    use tonic::Code;
    use tvix_castore::channel::GrpcChannel;
    use tvix_castore::proto::{Entry, FileNode, entry};

    use super::super::path_info_service_client::PathInfoServiceClient;
    use super::*;
    use tvix_castore::Node;
    use tvix_castore::blobservice::{BlobService, MemoryBlobService};
    use tvix_castore::directoryservice::MemoryDirectoryService;

    use crate::fixtures::{DUMMY_B3_DIGEST, PATH_INFO_FILE, PATH_INFO_FULL};
    use crate::nar::SimpleRenderer;
    use crate::pathinfoservice::MemoryPathInfoService;
    use crate::pathinfoservice::tests::serve_grpc;

    /// A raw client of a verifying server backed by memory, to send what
    /// our own client never would, with the castore the server checks
    /// against.
    struct Served {
        client: PathInfoServiceClient<GrpcChannel>,
        blobs: MemoryBlobService,
        renderer: Arc<SimpleRenderer<MemoryBlobService, MemoryDirectoryService>>,
        _dir: TempDir,
    }

    async fn raw_client() -> Served {
        let dir = TempDir::new().expect("tempdir");
        let blobs = MemoryBlobService::new();
        let renderer = Arc::new(SimpleRenderer::new(
            blobs.clone(),
            MemoryDirectoryService::new(),
        ));
        let addr = serve_grpc(
            GrpcPathInfoServiceWrapper::new(
                Arc::new(MemoryPathInfoService::new()),
                renderer.clone(),
            ),
            &dir,
        );
        let url = url::Url::parse(&addr).expect("valid URL");
        let client = tvix_castore::with_message_limits!(PathInfoServiceClient::new(
            tvix_castore::channel::channel_from_url(&url).expect("valid address"),
        ));
        Served {
            client,
            blobs,
            renderer,
            _dir: dir,
        }
    }

    impl Served {
        async fn list(&mut self) -> Vec<PathInfo> {
            self.client
                .list(ListPathInfoRequest {})
                .await
                .expect("list")
                .into_inner()
                .try_collect()
                .await
                .expect("list stream")
        }

        /// [PATH_INFO_FILE] with a root that is in the castore, and the
        /// NAR size and hash it renders to.
        async fn truthful(&self) -> crate::PathInfo {
            let contents = Bytes::from_static(b"hello world\n");
            let digest = self.blobs.put(contents.clone()).await.expect("put blob");
            let node = Node::File {
                digest,
                size: contents.len() as u64,
                executable: false,
            };
            let summary = self.renderer.calculate_nar(&node).await.expect("render");
            crate::PathInfo {
                node,
                nar_size: summary.nar_size,
                nar_sha256: summary.nar_sha256,
                ..PATH_INFO_FILE.clone()
            }
        }
    }

    #[rstest]
    #[case::by_what_unset(None, Code::InvalidArgument)]
    #[case::digest_empty(Some(Bytes::new()), Code::InvalidArgument)]
    #[case::digest_short(Some(Bytes::from(vec![0; 19])), Code::InvalidArgument)]
    #[case::digest_long(Some(Bytes::from(vec![0; 32])), Code::InvalidArgument)]
    #[case::not_found(Some(Bytes::from(vec![0; 20])), Code::NotFound)]
    #[tokio::test]
    async fn get_refused(#[case] digest: Option<Bytes>, #[case] code: Code) {
        let mut served = raw_client().await;
        let client = &mut served.client;
        let request = GetPathInfoRequest {
            by_what: digest.map(ByWhat::ByOutputHash),
        };
        let status = client.get(request).await.expect_err("must fail");
        assert_eq!(code, status.code(), "{status}");
    }

    /// An invalid PathInfo is refused with the validation error, and not
    /// stored.
    #[tokio::test]
    async fn put_invalid() {
        let mut served = raw_client().await;
        let mut proto = PathInfo::from(PATH_INFO_FULL.clone());
        proto.references.pop();
        let status = served.client.put(proto).await.expect_err("must fail");
        assert_eq!(Code::InvalidArgument, status.code());
        assert_eq!(
            "invalid PathInfo: 1 references, but 2 reference names",
            status.message()
        );
        assert_eq!(Vec::<PathInfo>::new(), served.list().await);
    }

    /// PathInfos that lie about their contents are refused, and nothing is
    /// stored: a root not in the castore, a NAR size or hash other than
    /// the root renders to.
    #[rstest]
    #[case::root_missing(
        |p: &mut crate::PathInfo| p.node = Node::File { digest: DUMMY_B3_DIGEST, size: 12, executable: false },
        Code::FailedPrecondition,
    )]
    #[case::directory_missing(
        |p: &mut crate::PathInfo| p.node = Node::Directory { digest: DUMMY_B3_DIGEST, size: 1 },
        Code::FailedPrecondition,
    )]
    #[case::wrong_size(|p: &mut crate::PathInfo| p.nar_size += 8, Code::InvalidArgument)]
    #[case::wrong_hash(|p: &mut crate::PathInfo| p.nar_sha256[0] ^= 1, Code::InvalidArgument)]
    #[case::wrong_both(
        |p: &mut crate::PathInfo| { p.nar_size = 144; p.nar_sha256 = [0xab; 32]; },
        Code::InvalidArgument,
    )]
    #[tokio::test]
    async fn put_lying(#[case] lie: fn(&mut crate::PathInfo), #[case] code: Code) {
        let mut served = raw_client().await;
        let mut path_info = served.truthful().await;
        lie(&mut path_info);
        let status = served
            .client
            .put(PathInfo::from(path_info))
            .await
            .expect_err("must fail");
        assert_eq!(code, status.code(), "{status}");
        assert_eq!(Vec::<PathInfo>::new(), served.list().await);
    }

    /// A PathInfo whose NAR size and hash are left zero gets them filled
    /// in; putting the same again changes nothing.
    #[tokio::test]
    async fn put_fills_in_nar() {
        let mut served = raw_client().await;
        let truthful = served.truthful().await;
        let unhashed = crate::PathInfo {
            nar_size: 0,
            nar_sha256: [0; 32],
            ..truthful.clone()
        };
        for _ in 0..2 {
            let stored = served
                .client
                .put(PathInfo::from(unhashed.clone()))
                .await
                .expect("put")
                .into_inner();
            assert_eq!(PathInfo::from(truthful.clone()), stored);
        }
        assert_eq!(vec![PathInfo::from(truthful)], served.list().await);
    }

    /// Once a path is stored, a put can only add signatures: other
    /// contents, other metadata or fewer signatures are refused and the
    /// stored PathInfo stays.
    #[tokio::test]
    async fn put_overwrite() {
        let mut served = raw_client().await;
        let original = served.truthful().await;
        served
            .client
            .put(PathInfo::from(original.clone()))
            .await
            .expect("put");

        // Other contents, truthfully described.
        let digest = served
            .blobs
            .put(Bytes::from_static(b"evil"))
            .await
            .expect("put blob");
        let node = Node::File {
            digest,
            size: 4,
            executable: true,
        };
        let summary = served.renderer.calculate_nar(&node).await.expect("render");
        let signed = crate::PathInfo {
            signatures: PATH_INFO_FULL.signatures.clone(),
            ..original.clone()
        };
        let refused = [
            crate::PathInfo {
                node,
                nar_size: summary.nar_size,
                nar_sha256: summary.nar_sha256,
                ..original.clone()
            },
            crate::PathInfo {
                references: vec![original.store_path.clone()],
                ..original.clone()
            },
            crate::PathInfo {
                deriver: PATH_INFO_FULL.deriver.clone(),
                ..signed.clone()
            },
        ];
        for path_info in refused {
            let status = served
                .client
                .put(PathInfo::from(path_info))
                .await
                .expect_err("must fail");
            assert_eq!(Code::AlreadyExists, status.code(), "{status}");
        }
        assert_eq!(vec![PathInfo::from(original.clone())], served.list().await);

        // More signatures are taken; dropping them again is not.
        served
            .client
            .put(PathInfo::from(signed.clone()))
            .await
            .expect("add signatures");
        let status = served
            .client
            .put(PathInfo::from(original))
            .await
            .expect_err("must fail");
        assert_eq!(Code::AlreadyExists, status.code(), "{status}");
        assert_eq!(vec![PathInfo::from(signed)], served.list().await);
    }

    #[rstest]
    #[case::no_node(Entry { entry: None }, Code::InvalidArgument)]
    #[case::bad_digest(
        Entry { entry: Some(entry::Entry::File(FileNode {
            name: Bytes::from_static(b"root"),
            digest: Bytes::from(vec![0; 31]),
            size: 1,
            executable: false,
        })) },
        Code::InvalidArgument
    )]
    #[case::blob_missing(
        Entry { entry: Some(entry::Entry::File(FileNode {
            name: Bytes::from_static(b"root"),
            digest: DUMMY_B3_DIGEST.into(),
            size: 1,
            executable: false,
        })) },
        Code::NotFound
    )]
    #[tokio::test]
    async fn calculate_nar_refused(#[case] root: Entry, #[case] code: Code) {
        let mut served = raw_client().await;
        let client = &mut served.client;
        let status = client.calculate_nar(root).await.expect_err("must fail");
        assert_eq!(code, status.code(), "{status}");
    }
}
