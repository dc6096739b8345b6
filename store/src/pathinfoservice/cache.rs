//! [CachedPathInfoService]: a near (local, fast) path info service as a
//! read-through cache of a far (shared) one.
//!
//! Reads try `near` first and copy what only `far` has into it; writes,
//! listing and NAR calculation go to `far`, the service other machines
//! see. A PathInfo is only ever put into `near` after `far` returned it, so
//! `near` never holds one that `far` lacks. A failure to fill `near` is
//! logged, never the reader's error.

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use nix_compat::store_path::DIGEST_SIZE;
use tracing::warn;

use super::{Error, PathInfoService};
use crate::PathInfo;
use crate::nar::NarCalculationService;

/// `near` caching `far`; see the module doc.
pub struct CachedPathInfoService {
    near: Arc<dyn PathInfoService>,
    far: Arc<dyn PathInfoService>,
}

impl CachedPathInfoService {
    pub fn new(near: Arc<dyn PathInfoService>, far: Arc<dyn PathInfoService>) -> Self {
        Self { near, far }
    }
}

#[async_trait]
impl PathInfoService for CachedPathInfoService {
    async fn get(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error> {
        if let Some(path_info) = self.near.get(digest).await? {
            return Ok(Some(path_info));
        }
        let Some(path_info) = self.far.get(digest).await? else {
            return Ok(None);
        };
        if let Err(error) = self.near.put(path_info.clone()).await {
            warn!(store_path = %path_info.store_path, %error, "could not copy a PathInfo into the near cache");
        }
        Ok(Some(path_info))
    }

    async fn put(&self, path_info: PathInfo) -> Result<PathInfo, Error> {
        self.far.put(path_info).await
    }

    fn list(&self) -> BoxStream<'static, Result<PathInfo, Error>> {
        self.far.list()
    }

    fn nar_calculation_service(&self) -> Option<Box<dyn NarCalculationService>> {
        self.far.nar_calculation_service()
    }
}
