//! [RedbDirectoryService]: directories in a redb database file, the default
//! persistent backend (maintained, and crash-safe: a committed transaction is
//! durable and an interrupted one is rolled back on open).
//!
//! It must never write a closure in more than one transaction, or a crash
//! between them would leave part of it visible.

use std::path::Path;

use super::Error;
use super::key_value::KvDirectoryService;
use crate::B3_LEN;
use crate::kv::RedbTable;

/// The table holding digest → canonical protobuf encoding of the directory.
const DIRECTORIES: &str = "directories";

/// Keeps directories in a redb database (`redb:///path`, or `redb://` for an
/// in-memory database). Each closure is written in one transaction, which
/// redb commits durably or, if interrupted, rolls back when the database is
/// next opened.
pub type RedbDirectoryService = KvDirectoryService<RedbTable<B3_LEN>>;

impl RedbDirectoryService {
    /// Opens the database at `path`, creating it if needed. The parent
    /// directory must exist.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let db = RedbTable::open(path, DIRECTORIES).await?;
        Ok(Self { db })
    }

    /// A database that lives in memory only.
    pub fn new_in_memory() -> Result<Self, Error> {
        let db = RedbTable::new_in_memory(DIRECTORIES)?;
        Ok(Self { db })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directoryservice::DirectoryService;
    use crate::directoryservice::buffered_putter::WriteBatch;
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
