//! [BigtablePathInfoService]: PathInfos in a Bigtable table
//! (`bigtable://INSTANCE?project_id=…&table_name=…&family_name=…`), one row
//! per store path, keyed by the nixbase32 of its digest (the 32 characters
//! of the store path's hash part), holding the PathInfo's protobuf encoding
//! in one cell ([tvix_castore::bigtable]).
//!
//! A put first writes only if the row is absent (CheckAndMutateRow), so
//! daemons importing the same path never rewrite each other's row; if a
//! row is there with the same content nothing is written, and with other
//! content it is replaced (the rule of every PathInfo service), by one
//! single-row mutation, which Bigtable applies atomically.

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use nix_compat::nixbase32;
use nix_compat::store_path::DIGEST_SIZE;
use tvix_castore::bigtable::{BigtableError, BigtableRows};

use super::kv::{decode_stored, encode};
use super::{Error, PathInfoService};
use crate::PathInfo;

#[derive(Clone)]
pub struct BigtablePathInfoService {
    rows: BigtableRows,
}

impl BigtablePathInfoService {
    /// Connects (lazily) to the table named by a `bigtable://` URL.
    pub async fn from_url(url: &url::Url) -> Result<Self, BigtableError> {
        Ok(Self {
            rows: BigtableRows::from_url(url).await?,
        })
    }
}

fn row_key(digest: &[u8; DIGEST_SIZE]) -> String {
    nixbase32::encode(digest)
}

#[async_trait]
impl PathInfoService for BigtablePathInfoService {
    async fn get(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error> {
        let stored = self.rows.get(&row_key(&digest)).await?;
        stored
            .map(|bytes| decode_stored(digest, &bytes))
            .transpose()
    }

    async fn put(&self, path_info: PathInfo) -> Result<PathInfo, Error> {
        let key = row_key(path_info.store_path.digest());
        let value = encode(&path_info);
        if self.rows.put_if_absent(&key, value.clone()).await? {
            return Ok(path_info);
        }
        if self.rows.get(&key).await?.as_ref() != Some(&value) {
            tracing::debug!(store_path = %path_info.store_path, "replacing a different PathInfo");
            self.rows.replace(&key, value).await?;
        }
        Ok(path_info)
    }

    fn list(&self) -> BoxStream<'static, Result<PathInfo, Error>> {
        self.rows
            .scan()
            .map(|row| {
                let (key, value) = row?;
                let digest = nixbase32::decode_fixed(&key)
                    .map_err(|_| Error::InvalidRowKey(String::from_utf8_lossy(&key).into()))?;
                decode_stored(digest, &value)
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_key_is_the_hash_part() {
        let store_path = &crate::fixtures::PATH_INFO_FULL.store_path;
        assert_eq!(
            store_path.to_string().split_once('-').unwrap().0,
            row_key(store_path.digest())
        );
    }
}
