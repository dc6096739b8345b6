//! [CachedDirectoryService]: a near (local, fast) directory service as a
//! read-through cache of a far (shared) one.
//!
//! Reads try `near` first; a directory only `far` has is fetched with its
//! whole closure, which is put into `near` as one closure, so `near` stays
//! a valid directory service. Writes go to `far` only, the service other
//! machines see; `near` learns of them when they are first read.
//!
//! It must never answer from `near` what `near` cannot fully back: a
//! failure to fill `near` is logged and the directory is still returned
//! from what `far` sent (already validated as a closure by the get).

use std::sync::Arc;

use async_trait::async_trait;
use futures::TryStreamExt;
use tracing::warn;

use super::{DirectoryPutter, DirectoryService, Error};
use crate::{B3Digest, Directory};

/// `near` caching `far`; see the module doc.
pub struct CachedDirectoryService {
    near: Arc<dyn DirectoryService>,
    far: Arc<dyn DirectoryService>,
}

impl CachedDirectoryService {
    pub fn new(near: Arc<dyn DirectoryService>, far: Arc<dyn DirectoryService>) -> Self {
        Self { near, far }
    }

    /// Puts a closure received root first (breadth first) into `near`,
    /// leaves first.
    async fn fill_near(&self, closure: &[Directory]) -> Result<B3Digest, Error> {
        let mut putter = self.near.put_multiple_start();
        for directory in closure.iter().rev() {
            putter.put(directory.clone()).await?;
        }
        putter.close().await
    }
}

#[async_trait]
impl DirectoryService for CachedDirectoryService {
    async fn get(&self, digest: &B3Digest) -> Result<Option<Directory>, Error> {
        if let Some(directory) = self.near.get(digest).await? {
            return Ok(Some(directory));
        }
        let closure: Vec<Directory> = self.far.get_recursive(digest).try_collect().await?;
        let Some(root) = closure.first().cloned() else {
            return Ok(None);
        };
        if let Err(error) = self.fill_near(&closure).await {
            warn!(%digest, %error, "could not copy a directory closure into the near cache");
        }
        Ok(Some(root))
    }

    fn put_multiple_start(&self) -> Box<dyn DirectoryPutter + '_> {
        self.far.put_multiple_start()
    }
}
