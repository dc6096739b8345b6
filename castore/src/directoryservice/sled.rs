//! [SledDirectoryService]: directories in a sled database, kept for users who
//! ask for it; prefer redb for new stores (sled 0.34 is no longer
//! maintained).
//!
//! It must never write a closure in more than one batch, or a crash between
//! them would leave part of it visible.

use std::path::Path;

use async_trait::async_trait;

use super::buffered_putter::{BufferedPutter, WriteBatch};
use super::key_value::{get_blocking, write_batch_blocking};
use super::{DirectoryPutter, DirectoryService, Error};
use crate::{B3Digest, Directory};

/// Keeps directories in a sled database (`sled:///path`, or `sled://` for a
/// temporary one deleted on drop). Each closure is applied as one atomic
/// batch and flushed before the put returns.
#[derive(Clone)]
pub struct SledDirectoryService {
    db: sled::Db,
}

impl SledDirectoryService {
    /// Opens the database at `path`, creating it if needed.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_owned();
        let db = tokio::task::spawn_blocking(move || sled::open(path)).await??;
        Ok(Self { db })
    }

    /// A database in a temporary location, removed when dropped.
    pub async fn new_temporary() -> Result<Self, Error> {
        let db =
            tokio::task::spawn_blocking(|| sled::Config::new().temporary(true).open()).await??;
        Ok(Self { db })
    }
}

#[async_trait]
impl DirectoryService for SledDirectoryService {
    async fn get(&self, digest: &B3Digest) -> Result<Option<Directory>, Error> {
        let db = self.db.clone();
        get_blocking(digest, move |key| db.get(key)).await
    }

    fn put_multiple_start(&self) -> Box<dyn DirectoryPutter + '_> {
        Box::new(BufferedPutter::new(self))
    }
}

#[async_trait]
impl WriteBatch for SledDirectoryService {
    /// One sled batch, which sled applies atomically, flushed to disk
    /// before the put returns.
    async fn write_batch(&self, directories: Vec<(B3Digest, Directory)>) -> Result<(), Error> {
        let db = self.db.clone();
        write_batch_blocking(directories, move |entries| {
            let mut batch = sled::Batch::default();
            for (key, value) in entries {
                batch.insert(&key, value);
            }
            db.apply_batch(batch)?;
            db.flush()?;
            Ok::<_, sled::Error>(())
        })
        .await
    }
}
