//! [MemoryPathInfoService]: PathInfos in a hash map, gone when dropped.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use nix_compat::store_path::DIGEST_SIZE;

use super::{Error, PathInfoService};
use crate::PathInfo;

type PathInfos = HashMap<[u8; DIGEST_SIZE], PathInfo>;

/// Keeps PathInfos in memory (`memory://`).
///
/// The lock is a blocking one, held only for a map lookup, insert or copy
/// and never across an await. A panic while holding it cannot leave the map
/// half-updated (inserting is the only write), so a poisoned lock is used
/// as is.
#[derive(Debug, Default)]
pub struct MemoryPathInfoService {
    path_infos: RwLock<PathInfos>,
}

impl MemoryPathInfoService {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl PathInfoService for MemoryPathInfoService {
    async fn get(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error> {
        let path_infos = self
            .path_infos
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(path_infos.get(&digest).cloned())
    }

    async fn put(&self, path_info: PathInfo) -> Result<PathInfo, Error> {
        let mut path_infos = self
            .path_infos
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        path_infos.insert(*path_info.store_path.digest(), path_info.clone());
        Ok(path_info)
    }

    /// A snapshot taken when called.
    fn list(&self) -> BoxStream<'static, Result<PathInfo, Error>> {
        let path_infos = self
            .path_infos
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let snapshot: Vec<PathInfo> = path_infos.values().cloned().collect();
        futures::stream::iter(snapshot.into_iter().map(Ok)).boxed()
    }
}
