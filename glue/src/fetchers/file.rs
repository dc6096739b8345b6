//! A download added to the store as one file, as CppNix's `downloadFile`
//! adds it: not executable, addressed by the sha256 of its contents
//! (`fixed:sha256`), named as asked.
//!
//! The contents stream into the blob service while the file's sha256 is
//! computed, and its NAR's sha256 too when the length is known first (a
//! NAR gives a file's length before its contents); otherwise the NAR is
//! hashed from the stored blob afterwards.

use nix_compat::nar::wire::{SEQ_HEADER, SEQ_REGULAR, TOK_CLOSE};
use nix_compat::nixhash::{CAHash, NixHash};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tvix_castore::Node;
use tvix_store::nar::NarSummary;

use super::download::{self, Progress};
use super::{FetchError, FetchedFile};
use crate::TvixStoreIO;
use crate::tvix_store_io::StoreError;

/// Read buffer of a download.
const CHUNK: usize = 64 * 1024;

/// The sha256 of the NAR of a non-executable file of a known length, fed
/// its contents as they arrive.
pub(super) struct NarFileHasher {
    hasher: Sha256,
    len: u64,
    seen: u64,
}

impl NarFileHasher {
    pub fn new(len: u64) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(SEQ_HEADER);
        hasher.update(SEQ_REGULAR);
        hasher.update(len.to_le_bytes());
        NarFileHasher {
            hasher,
            len,
            seen: 0,
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.seen += chunk.len() as u64;
    }

    /// The NAR's size and sha256, if the contents were as long as said.
    pub fn finish(mut self) -> Option<NarSummary> {
        if self.seen != self.len {
            return None;
        }
        let padding = (8 - (self.len % 8) as usize) % 8;
        self.hasher.update(&[0u8; 8][..padding]);
        self.hasher.update(TOK_CLOSE);
        let nar_size = (SEQ_HEADER.len() + SEQ_REGULAR.len() + 8 + padding + TOK_CLOSE.len())
            as u64
            + self.len;
        Some(NarSummary {
            nar_size,
            nar_sha256: self.hasher.finalize().into(),
        })
    }
}

impl TvixStoreIO {
    /// Downloads `url` into the store as the file `name` (once per
    /// evaluation).
    pub fn fetch_file(&self, url: &str, name: &str) -> Result<FetchedFile, FetchError> {
        let key = (url.to_string(), name.to_string());
        if let Some(fetched) = self.fetcher.files.borrow().get(&key) {
            return Ok(fetched.clone());
        }
        let client = self.fetcher.client()?;
        let (node, sha256, nar) = self.runtime.block_on(async {
            let body = download::open(client, url, "file").await?;
            let bar = download::progress_bar(url, body.len);
            let mut reader = Progress::new(body.reader, bar);
            let mut nar = body.len.map(NarFileHasher::new);
            let mut hasher = Sha256::new();
            let mut writer = self.services.blob_service.open_write().await;
            let mut buffer = vec![0; CHUNK];
            let mut size = 0u64;
            let failed = |e: std::io::Error| FetchError::Download {
                url: url.to_string(),
                message: e.to_string(),
            };
            loop {
                let read = reader.read(&mut buffer).await.map_err(failed)?;
                let Some(chunk) = buffer.get(..read).filter(|c| !c.is_empty()) else {
                    break;
                };
                hasher.update(chunk);
                if let Some(nar) = &mut nar {
                    nar.update(chunk);
                }
                writer.write_all(chunk).await.map_err(failed)?;
                size += read as u64;
            }
            let digest = writer.close().await.map_err(failed)?;
            let node = Node::File {
                digest,
                size,
                executable: false,
            };
            let sha256: [u8; 32] = hasher.finalize().into();
            Ok::<_, FetchError>((node, sha256, nar.and_then(NarFileHasher::finish)))
        })?;
        let nar = match nar {
            Some(nar) => nar,
            None => self.nar_summary(std::path::Path::new(url), &node)?,
        };
        let store_path = self.add_ca_node(
            name,
            node,
            CAHash::Flat(NixHash::Sha256(sha256)),
            nar,
            Vec::new(),
        )?;
        let fetched = FetchedFile {
            store_path,
            sha256,
            nar_sha256: nar.nar_sha256,
        };
        self.fetcher.files.borrow_mut().insert(key, fetched.clone());
        Ok(fetched)
    }

    /// Adds the file of `fetched` again, as the NAR-addressed store path
    /// `name` (what `fetchTree` makes of a `file` input).
    pub fn add_file_as_tree(
        &self,
        fetched: &FetchedFile,
        name: &str,
    ) -> Result<nix_compat::store_path::StorePath, StoreError> {
        let path = fetched.store_path.to_absolute_path();
        let info = self
            .path_info(&fetched.store_path.as_ref())?
            .ok_or(StoreError::InvalidPath(path))?;
        let nar = NarSummary {
            nar_size: info.nar_size,
            nar_sha256: info.nar_sha256,
        };
        let ca = CAHash::Nar(NixHash::Sha256(info.nar_sha256));
        self.add_ca_node(name, info.node, ca, nar, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The same NAR as nix-compat's writer makes of the file.
    #[rstest]
    #[case::empty(0)]
    #[case::short(5)]
    #[case::word(8)]
    #[case::long(100_003)]
    fn nar_hash_of_a_file(#[case] len: usize) {
        let contents: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut nar = Vec::new();
        nix_compat::nar::writer::open(&mut nar)
            .and_then(|node| node.file(false, len as u64, &mut &contents[..]))
            .expect("the NAR is written");
        let mut hasher = NarFileHasher::new(len as u64);
        for chunk in contents.chunks(7) {
            hasher.update(chunk);
        }
        let expected = NarSummary {
            nar_size: nar.len() as u64,
            nar_sha256: Sha256::digest(&nar).into(),
        };
        assert_eq!(hasher.finish(), Some(expected));
    }

    #[test]
    fn wrong_length_gives_no_hash() {
        let mut hasher = NarFileHasher::new(3);
        hasher.update(b"ab");
        assert_eq!(hasher.finish(), None);
    }
}
