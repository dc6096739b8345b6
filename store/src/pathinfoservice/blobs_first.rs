//! [BlobsFirstPathInfoService]: stores a PathInfo only after the blobs it
//! may name are durable.
//!
//! A blob service may make blobs durable later than their writer's close
//! (the pack store commits in batches). A PathInfo stored before its blobs
//! are durable would, after a crash, name blobs that are gone; so every put
//! first syncs the blob service ([BlobService::sync]). Directories need no
//! such step with the redb directory service, the default: it writes each
//! closure durably in one transaction before returning its digest.

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use nix_compat::store_path::DIGEST_SIZE;
use tvix_castore::blobservice::BlobService;

use super::{Error, PathInfoService};
use crate::PathInfo;
use crate::nar::NarCalculationService;

/// `inner`, with puts made after syncing `blob_service`.
pub struct BlobsFirstPathInfoService {
    blob_service: Arc<dyn BlobService>,
    inner: Arc<dyn PathInfoService>,
}

impl BlobsFirstPathInfoService {
    pub fn new(blob_service: Arc<dyn BlobService>, inner: Arc<dyn PathInfoService>) -> Self {
        Self {
            blob_service,
            inner,
        }
    }
}

#[async_trait]
impl PathInfoService for BlobsFirstPathInfoService {
    async fn get(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error> {
        self.inner.get(digest).await
    }

    async fn put(&self, path_info: PathInfo) -> Result<PathInfo, Error> {
        self.blob_service.sync().await.map_err(Error::SyncBlobs)?;
        self.inner.put(path_info).await
    }

    fn list(&self) -> BoxStream<'static, Result<PathInfo, Error>> {
        self.inner.list()
    }

    fn nar_calculation_service(&self) -> Option<Box<dyn NarCalculationService>> {
        self.inner.nar_calculation_service()
    }
}
