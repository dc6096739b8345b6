//! How the key-value backends (redb, sled) store a directory: its canonical
//! protobuf encoding under its digest. Reads decode, re-validate and check
//! the digest, so a corrupted database is reported instead of served.

use prost::Message;

use super::Error;
use crate::{B3Digest, Directory, proto};

pub(super) fn encode(directory: &Directory) -> Vec<u8> {
    proto::Directory::from(directory).encode_to_vec()
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
