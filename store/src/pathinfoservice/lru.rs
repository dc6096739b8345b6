//! [LruPathInfoService]: the most recently used PathInfos, in memory; for
//! the `near` side of a [super::CachedPathInfoService].

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use lru::LruCache;
use nix_compat::store_path::DIGEST_SIZE;

use super::{Error, PathInfoService};
use crate::PathInfo;

/// At most `capacity` PathInfos, the least recently used forgotten first.
/// The lock is held only for a lookup, an insert or a copy, never across
/// an await.
pub struct LruPathInfoService {
    path_infos: Mutex<LruCache<[u8; DIGEST_SIZE], PathInfo>>,
}

impl LruPathInfoService {
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            path_infos: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// Every entry is a whole PathInfo, so a panic while holding the lock
    /// leaves nothing half-written: a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, LruCache<[u8; DIGEST_SIZE], PathInfo>> {
        self.path_infos
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl PathInfoService for LruPathInfoService {
    async fn get(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error> {
        Ok(self.lock().get(&digest).cloned())
    }

    async fn put(&self, path_info: PathInfo) -> Result<PathInfo, Error> {
        self.lock()
            .put(*path_info.store_path.digest(), path_info.clone());
        Ok(path_info)
    }

    /// What is remembered when called.
    fn list(&self) -> BoxStream<'static, Result<PathInfo, Error>> {
        let snapshot: Vec<PathInfo> = self.lock().iter().map(|(_, v)| v.clone()).collect();
        futures::stream::iter(snapshot.into_iter().map(Ok)).boxed()
    }
}
