//! What the key-value backends (redb, sled) share: PathInfos are stored as
//! their protobuf encoding under the 20-byte digest of their store path,
//! checked when read back, and listed by a blocking iteration feeding a
//! bounded queue.

use futures::StreamExt;
use futures::stream::BoxStream;
use nix_compat::store_path::DIGEST_SIZE;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::Error;
use crate::{PathInfo, proto};

/// How many listed PathInfos are decoded ahead of the consumer.
const LIST_QUEUE: usize = 64;

pub(super) fn encode(path_info: &PathInfo) -> Vec<u8> {
    proto::PathInfo::from(path_info.clone()).encode_to_vec()
}

/// Decodes and validates the bytes stored under `digest`, which must be
/// the PathInfo of the store path with that digest.
pub(super) fn decode_stored(digest: [u8; DIGEST_SIZE], bytes: &[u8]) -> Result<PathInfo, Error> {
    let proto =
        proto::PathInfo::decode(bytes).map_err(|source| Error::Decode { digest, source })?;
    let path_info =
        PathInfo::try_from(proto).map_err(|source| Error::InvalidPathInfo { digest, source })?;
    if *path_info.store_path.digest() != digest {
        return Err(Error::WrongPathInfo {
            requested: digest,
            got: path_info.store_path,
        });
    }
    Ok(path_info)
}

/// A stored key as a digest.
pub(super) fn stored_digest(key: &[u8]) -> Result<[u8; DIGEST_SIZE], Error> {
    key.try_into().map_err(|_| Error::InvalidKey(key.len()))
}

/// Runs `iterate` on a blocking thread, streaming what it sends. `iterate`
/// gets a function that sends one item and returns false once the consumer
/// is gone, at which point it should stop.
pub(super) fn blocking_list<F>(iterate: F) -> BoxStream<'static, Result<PathInfo, Error>>
where
    F: FnOnce(&dyn Fn(Result<PathInfo, Error>) -> bool) + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(LIST_QUEUE);
    let task = tokio::task::spawn_blocking(move || {
        iterate(&|item| sender.blocking_send(item).is_ok());
    });
    // A panic in the iteration shows up as a final error item.
    let failed = futures::stream::once(task)
        .filter_map(|joined| async move { joined.err().map(|e| Err(Error::Task(e))) });
    ReceiverStream::new(receiver).chain(failed).boxed()
}
