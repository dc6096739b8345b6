//! The entries of `blobservices`.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::{CastoreComposition, CompositionError, Reference, ServiceConfig};
use crate::blobservice::{
    BlobService, CombinedBlobService, FromAddrError, GrpcBlobService, MemoryBlobService,
    ObjectStoreLocation, open_pack,
};
use crate::channel::channel_from_url;
use crate::proto::blob_service_client::BlobServiceClient;

pub(super) const TABLE: &str = "blobservices";

/// One entry of `blobservices`, by its `type`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum BlobServiceConfig {
    /// In memory, gone when the process ends (`memory://`).
    Memory,
    /// An object store: `url` is `memory://`, `file:///path` or
    /// `s3://bucket/prefix?…` (`objectstore+<url>`).
    #[serde(rename = "objectstore")]
    ObjectStore { url: String },
    /// Pack files in a local directory (`pack:///path`).
    Pack { path: PathBuf },
    /// A remote blob service: `url` is `grpc+unix:///socket` or
    /// `grpc+http://host:port`.
    Grpc { url: String },
    /// `near` (local, fast) in front of `far` (shared): reads fill `near`,
    /// writes go to `far` ([CombinedBlobService]).
    Combined { near: String, far: String },
}

impl ServiceConfig for BlobServiceConfig {
    fn references(&self) -> Vec<Reference<'_>> {
        match self {
            Self::Combined { near, far } => vec![
                Reference {
                    key: "near",
                    table: TABLE,
                    name: near,
                },
                Reference {
                    key: "far",
                    table: TABLE,
                    name: far,
                },
            ],
            Self::Memory | Self::ObjectStore { .. } | Self::Pack { .. } | Self::Grpc { .. } => {
                Vec::new()
            }
        }
    }
}

impl BlobServiceConfig {
    /// Builds the entry at `path`, with the entries it names from
    /// `composition`.
    pub(super) async fn build(
        &self,
        path: &str,
        composition: &CastoreComposition,
    ) -> Result<Arc<dyn BlobService>, CompositionError> {
        match self {
            Self::Combined { near, far } => Ok(Arc::new(CombinedBlobService::new(
                composition.blob_service(near).await?,
                composition.blob_service(far).await?,
            ))),
            leaf => leaf
                .open()
                .await
                .map_err(|e| CompositionError::build(path, e)),
        }
    }

    /// Opens a backend that names no other entry, as a URL describes.
    pub(crate) async fn open(&self) -> Result<Arc<dyn BlobService>, FromAddrError> {
        Ok(match self {
            Self::Memory => Arc::new(MemoryBlobService::new()),
            Self::ObjectStore { url } => Arc::new(ObjectStoreLocation::parse(url)?.open()?),
            Self::Pack { path } => Arc::new(open_pack(path.clone()).await?),
            Self::Grpc { url } => {
                let url =
                    url::Url::parse(url).map_err(|e| FromAddrError::InvalidUrl(url.clone(), e))?;
                Arc::new(GrpcBlobService::from_client(crate::with_message_limits!(
                    BlobServiceClient::new(channel_from_url(&url)?)
                )))
            }
            Self::Combined { .. } => return Err(FromAddrError::NeedsComposition("combined")),
        })
    }
}
