//! [KvDirectoryService]: the directory service over a key-value database
//! ([crate::kv]), written once for redb and sled. A directory is stored as
//! its canonical protobuf encoding under its digest.
//!
//! Reads decode, re-validate and check the digest, so a corrupted database
//! is reported instead of served. A batch must reach the database through
//! one call of the backend's atomic write: this module never writes
//! directories one by one.

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use futures::stream::BoxStream;
use prost::Message;

use super::buffered_putter::{BufferedPutter, WriteBatch};
use super::traverse::get_recursive_batched;
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

/// Directories fetched at once by [DirectoryService::get_recursive].
const GET_BATCH: usize = 1024;
/// Directories decoded at once from which a second thread helps.
const DECODE_SPLIT: usize = 64;

#[async_trait]
impl<S: KvStore<B3_LEN>> DirectoryService for KvDirectoryService<S> {
    async fn get(&self, digest: &B3Digest) -> Result<Option<Directory>, Error> {
        let stored = self.db.get(*digest.as_bytes()).await?;
        stored
            .map(|encoded| decode_stored(digest, encoded))
            .transpose()
    }

    /// Fetches [GET_BATCH] directories per blocking call and database
    /// snapshot: a tree of thousands of directories fetched one by one
    /// costs a thread hand-off and a read transaction each.
    fn get_recursive(&self, root: &B3Digest) -> BoxStream<'_, Result<Directory, Error>> {
        get_recursive_batched(*root, GET_BATCH, move |digests| {
            let db = self.db.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let keys: Vec<_> = digests.iter().map(|digest| *digest.as_bytes()).collect();
                    let stored = db.get_many_blocking(&keys)?;
                    decode_many(&digests, stored)
                })
                .await?
            }
            .boxed()
        })
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

/// Decodes what is stored under each of `digests`, on two threads if they
/// are many: decoding and checking a directory costs more than reading it.
fn decode_many(
    digests: &[B3Digest],
    stored: Vec<Option<Vec<u8>>>,
) -> Result<Vec<Option<Directory>>, Error> {
    let decode = |digests: &[B3Digest], stored: Vec<Option<Vec<u8>>>| {
        digests
            .iter()
            .zip(stored)
            .map(|(digest, encoded)| {
                encoded
                    .map(|encoded| decode_stored(digest, encoded))
                    .transpose()
            })
            .collect::<Result<Vec<_>, Error>>()
    };
    if stored.len() < DECODE_SPLIT {
        return decode(digests, stored);
    }
    // Halves of about equal bytes: one large directory costs more than
    // many small ones.
    let total: usize = stored.iter().flatten().map(Vec::len).sum();
    let mut bytes = 0;
    let half = stored
        .iter()
        .position(|encoded| {
            bytes += encoded.as_ref().map_or(0, Vec::len);
            bytes * 2 >= total
        })
        .map_or(stored.len(), |last| last + 1);
    let mut first = stored;
    let second = Mutex::new(Some(first.split_off(half)));
    let (first_digests, second_digests) = digests.split_at(half);
    // Shares only references, so it can be called here too if no thread
    // could be started (a thread that never started took nothing).
    let decode_second = || {
        let stored = second
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        decode(second_digests, stored)
    };
    let (mut first, second) = std::thread::scope(|scope| {
        let helper = std::thread::Builder::new().spawn_scoped(scope, decode_second);
        let first = decode(first_digests, first);
        let second = match helper {
            // A panic in decoding is a bug: passed on as it is.
            Ok(helper) => helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => decode_second(),
        };
        (first, second)
    });
    if let Ok(first) = &mut first {
        first.extend(second?);
    }
    first
}

/// Decodes the bytes stored under `digest`, checking that they are the
/// encoding of a valid directory with that digest.
pub(super) fn decode_stored(digest: &B3Digest, encoded: Vec<u8>) -> Result<Directory, Error> {
    // From `Bytes`, names and digests are slices of it, not copies.
    let proto = proto::Directory::decode(Bytes::from(encoded)).map_err(|source| Error::Decode {
        digest: *digest,
        source,
    })?;
    let (directory, actual) = Directory::from_proto_with_digest(proto)?;
    if actual != *digest {
        return Err(Error::DigestMismatch {
            requested: *digest,
            actual,
        });
    }
    Ok(directory)
}
