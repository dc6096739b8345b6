//! [KvDirectoryService]: the directory service over a key-value database
//! ([crate::kv]), written once for redb and sled. A directory is stored as
//! its canonical protobuf encoding under its digest.
//!
//! Reads decode, re-validate and check the digest, so a corrupted database
//! is reported instead of served. A batch must reach the database through
//! one call of the backend's atomic write: this module never writes
//! directories one by one.

use async_trait::async_trait;
use prost::Message;

use super::buffered_putter::{BufferedPutter, WriteBatch};
use super::{DirectoryPutter, DirectoryService, Error};
use crate::kv::KvStore;
use crate::{B3_LEN, B3Digest, Directory, proto};

/// Keeps directories in the key-value database `S`; used as
/// [super::RedbDirectoryService] and [super::SledDirectoryService]. Each
/// closure is written in one atomic write.
#[derive(Clone)]
pub struct KvDirectoryService<S> {
    pub(super) db: S,
}

#[async_trait]
impl<S: KvStore<B3_LEN>> DirectoryService for KvDirectoryService<S> {
    async fn get(&self, digest: &B3Digest) -> Result<Option<Directory>, Error> {
        let stored = self.db.get(*digest.as_bytes()).await?;
        stored
            .map(|encoded| decode_stored(digest, &encoded))
            .transpose()
    }

    fn put_multiple_start(&self) -> Box<dyn DirectoryPutter + '_> {
        Box::new(BufferedPutter::new(self))
    }
}

#[async_trait]
impl<S: KvStore<B3_LEN>> WriteBatch for KvDirectoryService<S> {
    async fn write_batch(&self, directories: Vec<(B3Digest, Directory)>) -> Result<(), Error> {
        let entries = directories
            .into_iter()
            .map(|(digest, directory)| {
                let value = proto::Directory::from(&directory).encode_to_vec();
                (*digest.as_bytes(), value)
            })
            .collect();
        // Directories are content-addressed: those stored already are
        // skipped, so a tree imported again writes nothing.
        Ok(self.db.write_new(entries).await?)
    }
}

/// Decodes the bytes stored under `digest`.
pub(super) fn decode_stored(digest: &B3Digest, encoded: &[u8]) -> Result<Directory, Error> {
    let proto = proto::Directory::decode(encoded).map_err(|source| Error::Decode {
        digest: *digest,
        source,
    })?;
    let directory = Directory::try_from(proto)?;
    let actual = directory.digest();
    if actual != *digest {
        return Err(Error::DigestMismatch {
            requested: *digest,
            actual,
        });
    }
    Ok(directory)
}
