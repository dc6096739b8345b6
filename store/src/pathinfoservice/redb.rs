//! [RedbPathInfoService]: PathInfos in a redb database file, the default
//! persistent backend (crash-safe: a committed put is durable, and an
//! interrupted one is rolled back on open).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use nix_compat::store_path::DIGEST_SIZE;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::kv::{blocking_list, decode_stored, encode};
use super::{Error, PathInfoService};
use crate::PathInfo;

/// Store path digest → protobuf encoding of the PathInfo.
const PATH_INFOS: TableDefinition<[u8; DIGEST_SIZE], &[u8]> = TableDefinition::new("pathinfos");

/// Keeps PathInfos in a redb database (`redb:///path`, or `redb://` for an
/// in-memory database). Each put is its own transaction.
#[derive(Clone)]
pub struct RedbPathInfoService {
    db: Arc<Database>,
}

impl RedbPathInfoService {
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
        txn.open_table(PATH_INFOS).map_err(redb::Error::from)?;
        txn.commit().map_err(redb::Error::from)?;
        Ok(Self { db: Arc::new(db) })
    }
}

#[async_trait]
impl PathInfoService for RedbPathInfoService {
    async fn get(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error> {
        let db = self.db.clone();
        let encoded = tokio::task::spawn_blocking(move || -> Result<_, redb::Error> {
            let table = db.begin_read()?.open_table(PATH_INFOS)?;
            Ok(table.get(digest)?.map(|guard| guard.value().to_vec()))
        })
        .await??;
        encoded
            .map(|encoded| decode_stored(digest, &encoded))
            .transpose()
    }

    async fn put(&self, path_info: PathInfo) -> Result<PathInfo, Error> {
        let db = self.db.clone();
        let digest = *path_info.store_path.digest();
        let encoded = encode(&path_info);
        tokio::task::spawn_blocking(move || -> Result<(), redb::Error> {
            let txn = db.begin_write()?;
            txn.open_table(PATH_INFOS)?
                .insert(digest, encoded.as_slice())?;
            txn.commit()?;
            Ok(())
        })
        .await??;
        Ok(path_info)
    }

    /// Iterates over one read transaction, so the listing is a consistent
    /// snapshot.
    fn list(&self) -> BoxStream<'static, Result<PathInfo, Error>> {
        let db = self.db.clone();
        blocking_list(move |send| {
            let iterate = || -> Result<(), redb::Error> {
                let table = db.begin_read()?.open_table(PATH_INFOS)?;
                for entry in table.iter()? {
                    let (key, value) = entry?;
                    if !send(decode_stored(key.value(), value.value())) {
                        break;
                    }
                }
                Ok(())
            };
            if let Err(e) = iterate() {
                send(Err(e.into()));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::PATH_INFO_FULL;

    /// A put before the database is closed is there after reopening it.
    #[tokio::test]
    async fn persists_across_reopen() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("pathinfos.redb");
        {
            let service = RedbPathInfoService::open(&path).await.expect("open");
            service.put(PATH_INFO_FULL.clone()).await.expect("put");
        }
        let service = RedbPathInfoService::open(&path).await.expect("reopen");
        assert_eq!(
            Some(PATH_INFO_FULL.clone()),
            service
                .get(*PATH_INFO_FULL.store_path.digest())
                .await
                .expect("get")
        );
    }

    /// A PathInfo stored under another digest is reported, not returned.
    #[tokio::test]
    async fn detects_wrong_key() {
        let service = RedbPathInfoService::new_in_memory().expect("open");
        let wrong_key = [0x55; DIGEST_SIZE];
        let encoded = encode(&PATH_INFO_FULL);
        let txn = service.db.begin_write().expect("begin");
        txn.open_table(PATH_INFOS)
            .expect("table")
            .insert(wrong_key, encoded.as_slice())
            .expect("insert");
        txn.commit().expect("commit");

        let err = service.get(wrong_key).await.expect_err("must fail");
        assert!(
            matches!(&err, Error::WrongPathInfo { requested, got }
                if *requested == wrong_key && *got == PATH_INFO_FULL.store_path),
            "{err}"
        );
    }
}
