//! [GrpcPathInfoService]: a client of a remote `tvix.store.v1.PathInfoService`.
//!
//! Every PathInfo received is validated, and must be the one asked for (or
//! the one sent, for a put).

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use nix_compat::store_path::DIGEST_SIZE;
use tonic::Code;
use tvix_castore::Node;
use tvix_castore::channel::GrpcChannel;
use tvix_castore::proto::Entry;

use super::{Error, PathInfoService};
use crate::PathInfo;
use crate::nar::{CalculateNarError, NarCalculationService, NarSummary};
use crate::proto::{self, get_path_info_request, path_info_service_client::PathInfoServiceClient};

/// Talks to a remote path info service over a [GrpcChannel]
/// (`grpc+unix:///socket`, `grpc+http://host:port`). It also computes NAR
/// hashes remotely, where the trees are.
#[derive(Clone)]
pub struct GrpcPathInfoService {
    client: PathInfoServiceClient<GrpcChannel>,
}

impl GrpcPathInfoService {
    pub fn from_client(client: PathInfoServiceClient<GrpcChannel>) -> Self {
        Self { client }
    }
}

/// Validates a PathInfo received in answer to a request about the store
/// path with digest `expected`.
fn received(expected: [u8; DIGEST_SIZE], proto: proto::PathInfo) -> Result<PathInfo, Error> {
    let path_info = PathInfo::try_from(proto).map_err(|source| Error::InvalidPathInfo {
        digest: expected,
        source,
    })?;
    if *path_info.store_path.digest() != expected {
        return Err(Error::WrongPathInfo {
            requested: expected,
            got: path_info.store_path,
        });
    }
    Ok(path_info)
}

#[async_trait]
impl PathInfoService for GrpcPathInfoService {
    async fn get(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error> {
        let request = proto::GetPathInfoRequest {
            by_what: Some(get_path_info_request::ByWhat::ByOutputHash(
                Bytes::copy_from_slice(&digest),
            )),
        };
        match self.client.clone().get(request).await {
            Ok(response) => received(digest, response.into_inner()).map(Some),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status.into()),
        }
    }

    async fn put(&self, path_info: PathInfo) -> Result<PathInfo, Error> {
        let digest = *path_info.store_path.digest();
        let response = self
            .client
            .clone()
            .put(proto::PathInfo::from(path_info))
            .await?;
        received(digest, response.into_inner())
    }

    fn list(&self) -> BoxStream<'static, Result<PathInfo, Error>> {
        let mut client = self.client.clone();
        futures::stream::once(async move {
            client
                .list(proto::ListPathInfoRequest {})
                .await
                .map(|response| response.into_inner())
        })
        .map_ok(|stream| stream.map_err(Error::from))
        .map_err(Error::from)
        .try_flatten()
        .and_then(
            |proto| async move { PathInfo::try_from(proto).map_err(Error::InvalidListedPathInfo) },
        )
        .boxed()
    }

    fn nar_calculation_service(&self) -> Option<Box<dyn NarCalculationService>> {
        Some(Box::new(self.clone()))
    }
}

#[async_trait]
impl NarCalculationService for GrpcPathInfoService {
    async fn calculate_nar(&self, root: &Node) -> Result<NarSummary, CalculateNarError> {
        // The name of the root entry is ignored by the server.
        let entry = Entry::from_raw_name_and_node(Bytes::from_static(b"root"), root.clone());
        let response = self.client.clone().calculate_nar(entry).await?.into_inner();
        let nar_sha256 = <[u8; 32]>::try_from(response.nar_sha256.as_ref())
            .map_err(|_| CalculateNarError::InvalidNarSha256Len(response.nar_sha256.len()))?;
        Ok(NarSummary {
            nar_size: response.nar_size,
            nar_sha256,
        })
    }
}
