//! [SledDirectoryService]: directories in a sled database, kept for users who
//! ask for it; prefer redb for new stores (sled 0.34 is no longer
//! maintained).

use std::path::Path;

use async_trait::async_trait;

use super::buffered_putter::{BufferedPutter, WriteBatch};
use super::encoding::{decode_stored, encode};
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
        let key = *digest.as_bytes();
        let encoded = tokio::task::spawn_blocking(move || db.get(key)).await??;
        encoded
            .map(|encoded| decode_stored(digest, &encoded))
            .transpose()
    }

    fn put_multiple_start(&self) -> Box<dyn DirectoryPutter + '_> {
        Box::new(BufferedPutter::new(self))
    }
}

#[async_trait]
impl WriteBatch for SledDirectoryService {
    async fn write_batch(&self, directories: Vec<(B3Digest, Directory)>) -> Result<(), Error> {
        let mut batch = sled::Batch::default();
        for (digest, directory) in directories {
            batch.insert(digest.as_slice(), encode(&directory));
        }
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.apply_batch(batch)).await??;
        self.db.flush_async().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{DIRECTORY_COMPLICATED, DIRECTORY_WITH_KEEP};

    /// A closure committed before the database is closed is there after
    /// reopening it.
    #[tokio::test]
    async fn persists_across_reopen() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("directories.sled");
        {
            let service = SledDirectoryService::open(&path).await.expect("open");
            let mut putter = service.put_multiple_start();
            putter.put(DIRECTORY_WITH_KEEP.clone()).await.expect("leaf");
            putter
                .put(DIRECTORY_COMPLICATED.clone())
                .await
                .expect("root");
            putter.close().await.expect("close");
        }
        let service = SledDirectoryService::open(&path).await.expect("reopen");
        assert_eq!(
            Some(DIRECTORY_COMPLICATED.clone()),
            service
                .get(&DIRECTORY_COMPLICATED.digest())
                .await
                .expect("get")
        );
    }
}
