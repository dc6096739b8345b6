//! [MemoryDirectoryService]: directories in a hash map, gone when dropped.
//!
//! A closure is inserted under one write lock, so readers must never see
//! part of one.

use std::collections::HashMap;

use async_trait::async_trait;
use tokio::sync::RwLock;

use super::buffered_putter::{BufferedPutter, WriteBatch};
use super::{DirectoryPutter, DirectoryService, Error};
use crate::{B3Digest, Directory};

/// Keeps directories in memory (`memory://`).
#[derive(Debug, Default)]
pub struct MemoryDirectoryService {
    directories: RwLock<HashMap<B3Digest, Directory>>,
}

impl MemoryDirectoryService {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl DirectoryService for MemoryDirectoryService {
    async fn get(&self, digest: &B3Digest) -> Result<Option<Directory>, Error> {
        Ok(self.directories.read().await.get(digest).cloned())
    }

    fn put_multiple_start(&self) -> Box<dyn DirectoryPutter + '_> {
        Box::new(BufferedPutter::new(self))
    }
}

#[async_trait]
impl WriteBatch for MemoryDirectoryService {
    async fn write_batch(&self, directories: Vec<(B3Digest, Directory)>) -> Result<(), Error> {
        // One write lock for the whole batch: readers see all of it or none.
        self.directories.write().await.extend(directories);
        Ok(())
    }
}
