//! What the key-value backends (redb, sled) share: a directory is stored as
//! its canonical protobuf encoding under its digest, and database calls,
//! which block, run off the async runtime.
//!
//! Reads decode, re-validate and check the digest, so a corrupted database
//! is reported instead of served. A batch must reach the database through
//! one call of the backend's atomic write: this module never writes
//! directories one by one.

use prost::Message;

use super::Error;
use crate::{B3Digest, Directory, proto};

/// A database key: the digest bytes.
pub(super) type Key = [u8; 32];

/// Looks up `digest` with the blocking `lookup` on a blocking thread, then
/// decodes and checks what it found.
pub(super) async fn get_blocking<V, E>(
    digest: &B3Digest,
    lookup: impl FnOnce(Key) -> Result<Option<V>, E> + Send + 'static,
) -> Result<Option<Directory>, Error>
where
    V: AsRef<[u8]> + Send + 'static,
    E: Send + 'static,
    Error: From<E>,
{
    let key = *digest.as_bytes();
    let encoded = tokio::task::spawn_blocking(move || lookup(key)).await??;
    encoded
        .map(|encoded| decode_stored(digest, encoded.as_ref()))
        .transpose()
}

/// Encodes `directories` and hands them, on a blocking thread, to `write`,
/// which must store all of them or none in one atomic write.
pub(super) async fn write_batch_blocking<E>(
    directories: Vec<(B3Digest, Directory)>,
    write: impl FnOnce(Vec<(Key, Vec<u8>)>) -> Result<(), E> + Send + 'static,
) -> Result<(), Error>
where
    E: Send + 'static,
    Error: From<E>,
{
    tokio::task::spawn_blocking(move || {
        let encoded = directories
            .into_iter()
            .map(|(digest, directory)| {
                let value = proto::Directory::from(&directory).encode_to_vec();
                (*digest.as_bytes(), value)
            })
            .collect();
        write(encoded)
    })
    .await??;
    Ok(())
}

/// Decodes the bytes stored under `digest`.
fn decode_stored(digest: &B3Digest, encoded: &[u8]) -> Result<Directory, Error> {
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
