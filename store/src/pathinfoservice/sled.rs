//! [SledPathInfoService]: PathInfos in a sled database, kept for users who
//! ask for it; prefer redb for new stores (sled 0.34 is no longer
//! maintained).

use std::path::Path;

use tvix_castore::kv::SledTree;

use super::Error;
use super::kv::KvPathInfoService;

/// Keeps PathInfos in a sled database (`sled:///path`, or `sled://` for a
/// temporary one deleted on drop). Each put is flushed before it returns.
pub type SledPathInfoService = KvPathInfoService<SledTree>;

impl SledPathInfoService {
    /// Opens the database at `path`, creating it if needed.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let db = SledTree::open(path).await?;
        Ok(Self { db })
    }

    /// A database in a temporary location, removed when dropped.
    pub async fn new_temporary() -> Result<Self, Error> {
        let db = SledTree::new_temporary().await?;
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

    /// A key that is no digest is reported while listing.
    #[tokio::test]
    async fn list_reports_invalid_key() {
        use futures::StreamExt;

        let service = SledPathInfoService::new_temporary().await.expect("open");
        service
            .db
            .write(vec![(*b"short", encode(&PATH_INFO_FULL))])
            .await
            .expect("write");
        let items: Vec<_> = service.list().collect().await;
        assert!(
            matches!(items.as_slice(), [Err(Error::InvalidKey(5))]),
            "{items:?}"
        );
    }
}
