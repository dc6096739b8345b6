//! [GrpcPathInfoServiceWrapper]: serves any [PathInfoService] over gRPC.
//!
//! Everything a client sends is validated before it reaches the services:
//! digests, every PathInfo put, and the root node of a NAR calculation.
//! Every problem is a gRPC status, never a panic.

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
}

impl GrpcPathInfoServiceWrapper {
    pub fn new(
        path_info_service: Arc<dyn PathInfoService>,
        nar_calculation_service: Arc<dyn NarCalculationService>,
    ) -> Self {
        Self {
            path_info_service,
            nar_calculation_service,
        }
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
            CalculateNarError::Render(RenderError::TooDeep(_)) => {
                Status::invalid_argument(error.to_string())
            }
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
        let stored = self.path_info_service.put(path_info).await?;
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
    use tonic::transport::Channel;
    use tvix_castore::proto::{Entry, FileNode, entry};

    use super::super::path_info_service_client::PathInfoServiceClient;
    use super::*;
    use crate::fixtures::{DUMMY_B3_DIGEST, PATH_INFO_FULL};
    use crate::pathinfoservice::MemoryPathInfoService;
    use crate::pathinfoservice::tests::{empty_renderer, serve_grpc};

    /// A raw client of a server backed by memory, to send what our own
    /// client never would.
    async fn raw_client(dir: &TempDir) -> PathInfoServiceClient<Channel> {
        let addr = serve_grpc(
            Arc::new(MemoryPathInfoService::new()),
            empty_renderer(),
            dir,
        );
        let url = url::Url::parse(&addr).expect("valid URL");
        PathInfoServiceClient::new(
            tvix_castore::channel::channel_from_url(&url).expect("valid address"),
        )
    }

    #[rstest]
    #[case::by_what_unset(None, Code::InvalidArgument)]
    #[case::digest_empty(Some(Bytes::new()), Code::InvalidArgument)]
    #[case::digest_short(Some(Bytes::from(vec![0; 19])), Code::InvalidArgument)]
    #[case::digest_long(Some(Bytes::from(vec![0; 32])), Code::InvalidArgument)]
    #[case::not_found(Some(Bytes::from(vec![0; 20])), Code::NotFound)]
    #[tokio::test]
    async fn get_refused(#[case] digest: Option<Bytes>, #[case] code: Code) {
        let dir = TempDir::new().expect("tempdir");
        let mut client = raw_client(&dir).await;
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
        let dir = TempDir::new().expect("tempdir");
        let mut client = raw_client(&dir).await;
        let mut proto = PathInfo::from(PATH_INFO_FULL.clone());
        proto.references.pop();
        let status = client.put(proto).await.expect_err("must fail");
        assert_eq!(Code::InvalidArgument, status.code());
        assert_eq!(
            "invalid PathInfo: 1 references, but 2 reference names",
            status.message()
        );
        let listed: Vec<PathInfo> = client
            .list(ListPathInfoRequest {})
            .await
            .expect("list")
            .into_inner()
            .try_collect()
            .await
            .expect("list stream");
        assert_eq!(Vec::<PathInfo>::new(), listed);
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
        let dir = TempDir::new().expect("tempdir");
        let mut client = raw_client(&dir).await;
        let status = client.calculate_nar(root).await.expect_err("must fail");
        assert_eq!(code, status.code(), "{status}");
    }
}
