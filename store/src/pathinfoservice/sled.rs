//! [SledPathInfoService]: PathInfos in a sled database, kept for users who
//! ask for it; prefer redb for new stores (sled 0.34 is no longer
//! maintained).

use std::path::Path;

use async_trait::async_trait;
use futures::stream::BoxStream;
use nix_compat::store_path::DIGEST_SIZE;

use super::kv::{blocking_list, decode_stored, encode, stored_digest};
use super::{Error, PathInfoService};
use crate::PathInfo;

/// Keeps PathInfos in a sled database (`sled:///path`, or `sled://` for a
/// temporary one deleted on drop). Each put is flushed before it returns.
#[derive(Clone)]
pub struct SledPathInfoService {
    db: sled::Db,
}

impl SledPathInfoService {
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
impl PathInfoService for SledPathInfoService {
    async fn get(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error> {
        let db = self.db.clone();
        let encoded = tokio::task::spawn_blocking(move || db.get(digest)).await??;
        encoded
            .map(|encoded| decode_stored(digest, &encoded))
            .transpose()
    }

    async fn put(&self, path_info: PathInfo) -> Result<PathInfo, Error> {
        let db = self.db.clone();
        let digest = *path_info.store_path.digest();
        let encoded = encode(&path_info);
        tokio::task::spawn_blocking(move || db.insert(digest, encoded)).await??;
        self.db.flush_async().await?;
        Ok(path_info)
    }

    fn list(&self) -> BoxStream<'static, Result<PathInfo, Error>> {
        let db = self.db.clone();
        blocking_list(move |send| {
            for entry in db.iter() {
                let item = entry
                    .map_err(Error::Sled)
                    .and_then(|(key, value)| decode_stored(stored_digest(&key)?, &value));
                if !send(item) {
                    return;
                }
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
        let path = tmp.path().join("pathinfos.sled");
        {
            let service = SledPathInfoService::open(&path).await.expect("open");
            service.put(PATH_INFO_FULL.clone()).await.expect("put");
        }
        let service = SledPathInfoService::open(&path).await.expect("reopen");
        assert_eq!(
            Some(PATH_INFO_FULL.clone()),
            service
                .get(*PATH_INFO_FULL.store_path.digest())
                .await
                .expect("get")
        );
    }

    /// A key that is no digest is reported while listing.
    #[tokio::test]
    async fn list_reports_invalid_key() {
        use futures::StreamExt;

        let service = SledPathInfoService::new_temporary().await.expect("open");
        service
            .db
            .insert(b"short", encode(&PATH_INFO_FULL))
            .expect("insert");
        let items: Vec<_> = service.list().collect().await;
        assert!(
            matches!(items.as_slice(), [Err(Error::InvalidKey(5))]),
            "{items:?}"
        );
    }
}
