//! Finding the store path of a NAR URL.
//!
//! NAR URLs name the NAR hash (`nar/<nixbase32 sha256>.nar`), as in any
//! Nix binary cache, while the path info service is keyed by store path.
//! Clients fetch a narinfo before its NAR, so the NAR hashes of served
//! narinfos are remembered here; a NAR hash not remembered (a client that
//! cached the narinfo across a restart of the bridge) is looked for among
//! all PathInfos.
//!
//! A client that uploaded a path remembers the narinfo it uploaded, whose
//! URL names the uploaded file by its file hash (`nix copy --to` then
//! `--from` asks for it), so the file names of uploads are remembered too;
//! the NAR is then rendered anew, which Nix accepts: it checks the NAR
//! hash, not the file hash. These are forgotten on restart.

use futures::TryStreamExt;
use nix_compat::store_path::DIGEST_SIZE;
use tvix_store::PathInfo;
use tvix_store::pathinfoservice::{self, PathInfoService};

use crate::bounded_map::BoundedMap;

/// Hashes remembered at most, of each kind; beyond it the oldest are
/// forgotten. An entry is 52 bytes plus the map's overhead, so this stays
/// below 20 MiB each.
const CAPACITY: usize = 128 * 1024;

pub struct NarIndex {
    /// One search through all PathInfos at a time: requests for unknown
    /// hashes cannot make the bridge read the whole store many times over.
    search: tokio::sync::Mutex<()>,
    /// NAR sha256 to store path digest.
    by_nar_hash: BoundedMap<[u8; 32], [u8; DIGEST_SIZE]>,
    /// sha256 of an uploaded (compressed) NAR file to store path digest.
    by_file_hash: BoundedMap<[u8; 32], [u8; DIGEST_SIZE]>,
}

impl Default for NarIndex {
    fn default() -> Self {
        Self {
            search: tokio::sync::Mutex::new(()),
            by_nar_hash: BoundedMap::new(CAPACITY),
            by_file_hash: BoundedMap::new(CAPACITY),
        }
    }
}

impl NarIndex {
    /// Remembers the NAR hash of `path_info`.
    pub fn insert(&self, path_info: &PathInfo) {
        self.by_nar_hash
            .insert(path_info.nar_sha256, *path_info.store_path.digest());
    }

    /// Remembers that the file uploaded with this sha256 holds the NAR of
    /// `path_info`.
    pub fn insert_upload(&self, file_sha256: [u8; 32], path_info: &PathInfo) {
        self.by_file_hash
            .insert(file_sha256, *path_info.store_path.digest());
    }

    /// The PathInfo whose NAR a URL with this hash names: the NAR's
    /// sha256, or that of an uploaded file.
    pub async fn find(
        &self,
        path_info_service: &dyn PathInfoService,
        hash: &[u8; 32],
    ) -> Result<Option<PathInfo>, pathinfoservice::Error> {
        if let Some(found) = self.remembered(path_info_service, hash).await? {
            return Ok(Some(found));
        }
        let _searching = self.search.lock().await;
        // A search that just finished may have found it.
        if let Some(found) = self.remembered(path_info_service, hash).await? {
            return Ok(Some(found));
        }
        tracing::debug!("NAR hash not remembered, searching all PathInfos");
        let found = path_info_service
            .list()
            .try_filter(|path_info| std::future::ready(path_info.nar_sha256 == *hash))
            .try_next()
            .await?;
        if let Some(path_info) = &found {
            self.insert(path_info);
        }
        Ok(found)
    }

    /// The PathInfo for `hash` if it is remembered.
    async fn remembered(
        &self,
        path_info_service: &dyn PathInfoService,
        hash: &[u8; 32],
    ) -> Result<Option<PathInfo>, pathinfoservice::Error> {
        if let Some(digest) = self.by_nar_hash.get(hash) {
            // The store may have changed since; believe only what it says.
            if let Some(path_info) = path_info_service.get(digest).await?
                && path_info.nar_sha256 == *hash
            {
                return Ok(Some(path_info));
            }
        }
        match self.by_file_hash.get(hash) {
            Some(digest) => path_info_service.get(digest).await,
            None => Ok(None),
        }
    }
}
