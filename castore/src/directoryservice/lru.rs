//! [LruDirectoryService]: the most recently used directories, in memory.
//!
//! Meant as the `near` side of a [super::CachedDirectoryService]: unlike
//! every other backend it forgets directories, so a directory it holds may
//! have lost some of its descendants. A recursive get over it fails on the
//! first forgotten one rather than returning part of a closure.

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use lru::LruCache;

use super::buffered_putter::{BufferedPutter, WriteBatch};
use super::{DirectoryPutter, DirectoryService, Error};
use crate::{B3Digest, Directory};

/// At most `capacity` directories, the least recently used forgotten first.
/// The lock is held only for a lookup or an insert, never across an await.
pub struct LruDirectoryService {
    directories: Mutex<LruCache<B3Digest, Directory>>,
}

impl LruDirectoryService {
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            directories: Mutex::new(LruCache::new(capacity)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<B3Digest, Directory>> {
        // A panic while holding the lock cannot leave the cache
        // inconsistent in a way that matters: every entry is a whole
        // directory under its own digest.
        self.directories
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl DirectoryService for LruDirectoryService {
    async fn get(&self, digest: &B3Digest) -> Result<Option<Directory>, Error> {
        Ok(self.lock().get(digest).cloned())
    }

    fn put_multiple_start(&self) -> Box<dyn DirectoryPutter + '_> {
        Box::new(BufferedPutter::new(self))
    }
}

#[async_trait]
impl WriteBatch for LruDirectoryService {
    /// Leaves first, as they were put, so the root is the most recently
    /// used and the last to go.
    async fn write_batch(&self, directories: Vec<(B3Digest, Directory)>) -> Result<(), Error> {
        let mut cache = self.lock();
        for (digest, directory) in directories {
            cache.put(digest, directory);
        }
        Ok(())
    }
}
