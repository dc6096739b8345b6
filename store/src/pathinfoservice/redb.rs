//! [RedbPathInfoService]: PathInfos in a redb database file, the default
//! persistent backend (crash-safe: a committed put is durable, and an
//! interrupted one is rolled back on open).

use std::path::Path;

use nix_compat::store_path::DIGEST_SIZE;
use tvix_castore::kv::RedbTable;

use super::Error;
use super::kv::KvPathInfoService;

/// The table holding store path digest → protobuf encoding of the PathInfo.
const PATH_INFOS: &str = "pathinfos";

/// Keeps PathInfos in a redb database (`redb:///path`, or `redb://` for an
/// in-memory database). Each put is its own transaction; a listing reads
/// one transaction, so it is a consistent snapshot.
pub type RedbPathInfoService = KvPathInfoService<RedbTable<DIGEST_SIZE>>;

impl RedbPathInfoService {
    /// Opens the database at `path`, creating it if needed. The parent
    /// directory must exist.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let db = RedbTable::open(path, PATH_INFOS).await?;
        Ok(Self { db })
    }

    /// A database that lives in memory only.
    pub fn new_in_memory() -> Result<Self, Error> {
        let db = RedbTable::new_in_memory(PATH_INFOS)?;
        Ok(Self { db })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::PATH_INFO_FULL;
    use crate::pathinfoservice::PathInfoService;
    use crate::pathinfoservice::kv::encode;
    use tvix_castore::kv::KvStore;

    /// A PathInfo stored under another digest is reported, not returned.
    #[tokio::test]
    async fn detects_wrong_key() {
        let service = RedbPathInfoService::new_in_memory().expect("open");
        let wrong_key = [0x55; DIGEST_SIZE];
        let encoded = encode(&PATH_INFO_FULL);
        service
            .db
            .write(vec![(wrong_key, encoded)])
            .await
            .expect("write");

        let err = service.get(wrong_key).await.expect_err("must fail");
        assert!(
            matches!(&err, Error::WrongPathInfo { requested, got }
                if *requested == wrong_key && *got == PATH_INFO_FULL.store_path),
            "{err}"
        );
    }
}
