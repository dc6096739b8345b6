//! [RedbDirectoryService]: directories in a redb database file, the default
//! persistent backend (maintained, and crash-safe: a committed transaction is
//! durable and an interrupted one is rolled back on open).
//!
//! It must never write a closure in more than one transaction, or a crash
//! between them would leave part of it visible.

use std::{path::Path, sync::Arc};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, TableDefinition};

use super::buffered_putter::{BufferedPutter, WriteBatch};
use super::key_value::{get_blocking, write_batch_blocking};
use super::{DirectoryPutter, DirectoryService, Error};
use crate::{B3Digest, Directory};

/// Digest → canonical protobuf encoding of the directory.
const DIRECTORIES: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("directories");

/// Keeps directories in a redb database (`redb:///path`, or `redb://` for an
/// in-memory database). Each closure is written in one transaction.
#[derive(Clone)]
pub struct RedbDirectoryService {
    db: Arc<Database>,
}

impl RedbDirectoryService {
    /// Opens the database at `path`, creating it if needed. The parent
    /// directory must exist.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_owned();
        tokio::task::spawn_blocking(move || Self::init(Database::create(path)?)).await?
    }

    /// A database that lives in memory only.
    pub fn new_in_memory() -> Result<Self, Error> {
        Self::init(
            Database::builder()
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .map_err(redb::Error::from)?,
        )
    }

    /// Creates the table up front, so reads never meet a missing table.
    fn init(db: Database) -> Result<Self, Error> {
        let txn = db.begin_write().map_err(redb::Error::from)?;
        txn.open_table(DIRECTORIES).map_err(redb::Error::from)?;
        txn.commit().map_err(redb::Error::from)?;
        Ok(Self { db: Arc::new(db) })
    }
}

impl From<redb::DatabaseError> for Error {
    fn from(value: redb::DatabaseError) -> Self {
        Self::Redb(value.into())
    }
}

#[async_trait]
impl DirectoryService for RedbDirectoryService {
    async fn get(&self, digest: &B3Digest) -> Result<Option<Directory>, Error> {
        let db = self.db.clone();
        get_blocking(digest, move |key| -> Result<_, redb::Error> {
            let table = db.begin_read()?.open_table(DIRECTORIES)?;
            Ok(table.get(key)?.map(|guard| guard.value().to_vec()))
        })
        .await
    }

    fn put_multiple_start(&self) -> Box<dyn DirectoryPutter + '_> {
        Box::new(BufferedPutter::new(self))
    }
}

#[async_trait]
impl WriteBatch for RedbDirectoryService {
    /// One write transaction: redb commits it durably or, if interrupted,
    /// rolls it back when the database is next opened.
    async fn write_batch(&self, directories: Vec<(B3Digest, Directory)>) -> Result<(), Error> {
        let db = self.db.clone();
        write_batch_blocking(directories, move |entries| -> Result<(), redb::Error> {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(DIRECTORIES)?;
                for (key, value) in entries {
                    table.insert(key, value.as_slice())?;
                }
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{DIRECTORY_COMPLICATED, DIRECTORY_WITH_KEEP};

    /// Bytes under the wrong key are reported, not returned.
    #[tokio::test]
    async fn detects_corruption() {
        let service = RedbDirectoryService::new_in_memory().expect("open");
        let wrong_key = DIRECTORY_COMPLICATED.digest();
        service
            .write_batch(vec![(wrong_key, DIRECTORY_WITH_KEEP.clone())])
            .await
            .expect("write");
        let err = service.get(&wrong_key).await.expect_err("must fail");
        assert!(
            matches!(err, Error::DigestMismatch { requested, actual }
                if requested == wrong_key && actual == DIRECTORY_WITH_KEEP.digest()),
            "{err}"
        );
    }
}
