//! The path info service: stores [PathInfo]s by the digest of their store
//! path.
//!
//! A PathInfo points into the castore (its root node); this service keeps
//! only the PathInfo itself. Backends store exactly what they are given,
//! already validated by its type, and check what they read back: a PathInfo
//! is only ever returned for the digest of its own store path.
//!
//! Backends, each constructed from a URL by [from_addr]:
//! - [MemoryPathInfoService] (`memory://`)
//! - [RedbPathInfoService] (`redb:///path`, `redb://` in memory): the
//!   default for persistent local stores
//! - [SledPathInfoService] (`sled:///path`, `sled://` temporary)
//! - [GrpcPathInfoService] (`grpc+unix:///socket`, `grpc+http://host:port`)
//! - [BigtablePathInfoService] (`bigtable://INSTANCE?project_id=…&table_name=…&family_name=…`):
//!   shared by several daemons
//! - [NixHttpPathInfoService] (`nix+http://host/path`, `nix+https://…`):
//!   read-only, over a Nix binary cache, ingesting NARs into the castore
//!
//! and, in a composition only ([crate::composition]), [LruPathInfoService]
//! and [CachedPathInfoService].

mod bigtable;
mod blobs_first;
mod cache;
mod error;
mod from_addr;
mod grpc;
mod kv;
mod lru;
mod memory;
mod nix_http;
mod redb;
mod sled;

#[cfg(test)]
pub(crate) mod tests;

use async_trait::async_trait;
use futures::stream::BoxStream;
use nix_compat::store_path::DIGEST_SIZE;

use crate::PathInfo;
use crate::nar::NarCalculationService;

pub use bigtable::BigtablePathInfoService;
pub use blobs_first::BlobsFirstPathInfoService;
pub use cache::CachedPathInfoService;
pub use error::Error;
pub use from_addr::{FromAddrError, config_from_addr, from_addr};
pub use grpc::GrpcPathInfoService;
pub use kv::KvPathInfoService;
pub use lru::LruPathInfoService;
pub use memory::MemoryPathInfoService;
pub use nix_http::{
    NIX_DEFAULT_TRUSTED_PUBLIC_KEY, NixHttpAddrError, NixHttpError, NixHttpPathInfoService,
    NixHttpSettings, SignaturePolicy,
};
pub use redb::RedbPathInfoService;
pub use sled::SledPathInfoService;

/// A store of [PathInfo]s, addressed by the digest of their store path.
#[async_trait]
pub trait PathInfoService: Send + Sync {
    /// The PathInfo of the store path with this digest, or None if it is
    /// not stored.
    async fn get(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error>;

    /// Stores `path_info`, replacing any earlier one for the same store
    /// path, and returns what was stored (a remote service may have added
    /// to it, e.g. signatures).
    async fn put(&self, path_info: PathInfo) -> Result<PathInfo, Error>;

    /// Every stored PathInfo, each once, in no particular order.
    fn list(&self) -> BoxStream<'static, Result<PathInfo, Error>>;

    /// A service computing NAR sizes and hashes where the data is, if this
    /// backend has one (a remote store can answer without sending the
    /// tree); None means the caller renders the NAR itself.
    fn nar_calculation_service(&self) -> Option<Box<dyn NarCalculationService>> {
        None
    }
}
