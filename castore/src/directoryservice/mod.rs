//! The directory service: stores [Directory] nodes by digest.
//!
//! Directories are only ever added as complete closures, leaves first
//! ([DirectoryService::put_multiple_start]), so a stored directory always
//! has all its descendants stored too, with matching sizes. Backends must
//! commit a closure atomically: after a crash either all of it or none of it
//! is visible.
//!
//! Backends, each constructed from a URL by [from_addr]:
//! - [MemoryDirectoryService] (`memory://`)
//! - [RedbDirectoryService] (`redb:///path`, `redb://` in memory): the
//!   default for persistent local stores
//! - [SledDirectoryService] (`sled:///path`, `sled://` temporary)
//! - [GrpcDirectoryService] (`grpc+unix:///socket`, `grpc+http://host:port`)
//! - [BigtableDirectoryService] (`bigtable://INSTANCE?project_id=…&table_name=…&family_name=…`):
//!   shared by several daemons; closures are written leaves first rather
//!   than atomically (see its module)
//!
//! and, in a composition only ([crate::composition]), [LruDirectoryService]
//! and [CachedDirectoryService].

mod bigtable;
mod buffered_putter;
mod cache;
mod closure_validator;
mod error;
mod from_addr;
mod grpc;
mod key_value;
mod lru;
mod memory;
mod redb;
mod sled;
mod traverse;

#[cfg(test)]
pub(crate) mod tests;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::{B3Digest, Directory};

pub use bigtable::BigtableDirectoryService;
pub use cache::CachedDirectoryService;
pub use closure_validator::{Accepted, ClosureError, ClosureValidator, RootFirstValidator};
pub use error::Error;
pub use from_addr::{FromAddrError, config_from_addr, from_addr};
pub use grpc::GrpcDirectoryService;
pub use key_value::KvDirectoryService;
pub use lru::LruDirectoryService;
pub use memory::MemoryDirectoryService;
pub use redb::RedbDirectoryService;
pub use sled::SledDirectoryService;
pub use traverse::descend_to;

/// A store of [Directory] nodes, addressed by their digest.
#[async_trait]
pub trait DirectoryService: Send + Sync {
    /// The directory with this digest, or None if it is not stored.
    async fn get(&self, digest: &B3Digest) -> Result<Option<Directory>, Error>;

    /// Stores a single directory. A single put is a closure of one, so a
    /// directory with child directories fails with
    /// [ClosureError::UnknownChild]: its children must be uploaded in the
    /// same closure, with [DirectoryService::put_multiple_start].
    async fn put(&self, directory: Directory) -> Result<B3Digest, Error> {
        let mut putter = self.put_multiple_start();
        putter.put(directory).await?;
        putter.close().await
    }

    /// The directory `root` followed by every directory below it, each
    /// exactly once, breadth first (so each directory is referenced by one
    /// yielded earlier). Yields nothing if `root` is not stored.
    fn get_recursive(&self, root: &B3Digest) -> BoxStream<'_, Result<Directory, Error>> {
        traverse::get_recursive_bfs(self, *root)
    }

    /// Starts uploading a closure of directories, leaves first.
    fn put_multiple_start(&self) -> Box<dyn DirectoryPutter + '_>;
}

/// Uploads one closure of directories, leaves first. Nothing is stored unless
/// [DirectoryPutter::close] succeeds; dropping a putter abandons the upload.
#[async_trait]
pub trait DirectoryPutter: Send {
    /// Adds the next directory. Every child directory it references must have
    /// been put before, with the size the reference claims. Putting the same
    /// directory twice is allowed.
    async fn put(&mut self, directory: Directory) -> Result<(), Error>;

    /// Checks that the directories put form one complete closure, commits
    /// them, and returns the digest of its root (the one directory no other
    /// references).
    async fn close(self: Box<Self>) -> Result<B3Digest, Error>;
}
