//! A download unpacked into the store, as CppNix 2.26's `downloadTarball`
//! unpacks it: tar, plain or compressed with gzip, bzip2, xz or zstd; a
//! single top-level directory is the tree, anything else is kept whole.
//! The tree is addressed by its NAR's sha256 and named as asked.
//!
//! castore's tar import reads the archive as it arrives, with bounded
//! memory, so a hostile archive cannot make the evaluator grow.

use nix_compat::nixhash::{CAHash, NixHash};
use tvix_castore::import::archive::{ArchiveRoot, ingest_archive_with_root};

use super::download::{self, Progress};
use super::{FetchError, FetchedTree};
use crate::TvixStoreIO;

impl TvixStoreIO {
    /// Downloads and unpacks `url` into the store as `name` (once per
    /// evaluation).
    pub fn fetch_tarball(&self, url: &str, name: &str) -> Result<FetchedTree, FetchError> {
        let key = (url.to_string(), name.to_string());
        if let Some(fetched) = self.fetcher.tarballs.borrow().get(&key) {
            return Ok(fetched.clone());
        }
        let client = self.fetcher.client()?;
        let archive = self.runtime.block_on(async {
            let body = download::open(client, url, "tarball").await?;
            let bar = download::progress_bar(url, body.len);
            ingest_archive_with_root(
                self.services.blob_service.clone(),
                &*self.services.directory_service,
                Progress::new(body.reader, bar),
                ArchiveRoot::SingleDirectoryOrAll,
            )
            .await
            .map_err(|e| FetchError::Unpack {
                url: url.to_string(),
                message: e.to_string(),
            })
        })?;
        let nar = self.nar_summary(std::path::Path::new(url), &archive.root)?;
        let ca = CAHash::Nar(NixHash::Sha256(nar.nar_sha256));
        let store_path = self.add_ca_node(name, archive.root, ca, nar, Vec::new())?;
        let fetched = FetchedTree {
            store_path,
            nar_sha256: nar.nar_sha256,
            last_modified: archive.newest_mtime,
        };
        self.fetcher
            .tarballs
            .borrow_mut()
            .insert(key, fetched.clone());
        Ok(fetched)
    }
}
