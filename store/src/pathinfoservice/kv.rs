//! [KvPathInfoService]: the path info service over a key-value database
//! ([tvix_castore::kv]), written once for redb and sled. PathInfos are
//! stored as their protobuf encoding under the 20-byte digest of their store
//! path, checked when read back, and listed by the database's blocking
//! iteration feeding a bounded queue.

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use nix_compat::store_path::DIGEST_SIZE;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tvix_castore::kv::{KvError, KvStore};

use super::{Error, PathInfoService};
use crate::{PathInfo, proto};

/// How many listed PathInfos are decoded ahead of the consumer.
const LIST_QUEUE: usize = 64;

/// Keeps PathInfos in the key-value database `S`; used as
/// [super::RedbPathInfoService] and [super::SledPathInfoService]. Each put
/// is one atomic write.
#[derive(Clone)]
pub struct KvPathInfoService<S> {
    pub(super) db: S,
}

#[async_trait]
impl<S: KvStore<DIGEST_SIZE>> PathInfoService for KvPathInfoService<S> {
    async fn get(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error> {
        let stored = self.db.get(digest).await?;
        stored
            .map(|bytes| decode_stored(digest, &bytes))
            .transpose()
    }

    async fn put(&self, path_info: PathInfo) -> Result<PathInfo, Error> {
        let entry = (*path_info.store_path.digest(), encode(&path_info));
        self.db.write(vec![entry]).await?;
        Ok(path_info)
    }

    fn list(&self) -> BoxStream<'static, Result<PathInfo, Error>> {
        let db = self.db.clone();
        blocking_list(move |visit| db.for_each_blocking(visit))
    }
}

pub(super) fn encode(path_info: &PathInfo) -> Vec<u8> {
    proto::PathInfo::from(path_info.clone()).encode_to_vec()
}

/// Decodes and validates the bytes stored under `digest`.
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

/// Decodes one listed entry, whose key must be a digest.
fn decode_listed(key: &[u8], value: &[u8]) -> Result<PathInfo, Error> {
    let digest = key.try_into().map_err(|_| Error::InvalidKey(key.len()))?;
    decode_stored(digest, value)
}

/// Streams every stored PathInfo. `for_each` is the database's blocking
/// iteration; it runs on a blocking thread and stops once the consumer is
/// gone. An iteration error ends the stream as its last item.
fn blocking_list<F>(for_each: F) -> BoxStream<'static, Result<PathInfo, Error>>
where
    F: FnOnce(&mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), KvError> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(LIST_QUEUE);
    let task = tokio::task::spawn_blocking(move || {
        let send = |item| sender.blocking_send(item).is_ok();
        if let Err(e) = for_each(&mut |key, value| send(decode_listed(key, value))) {
            send(Err(e.into()));
        }
    });
    // A panic in the iteration shows up as a final error item.
    let failed = futures::stream::once(task)
        .filter_map(|joined| async move { joined.err().map(|e| Err(Error::Task(e))) });
    ReceiverStream::new(receiver).chain(failed).boxed()
}
