//! [SledDirectoryService]: directories in a sled database, kept for users who
//! ask for it; prefer redb for new stores (sled 0.34 is no longer
//! maintained).
//!
//! It must never write a closure in more than one batch, or a crash between
//! them would leave part of it visible.

use std::path::Path;

use super::Error;
use super::key_value::KvDirectoryService;
use crate::kv::SledTree;

/// Keeps directories in a sled database (`sled:///path`, or `sled://` for a
/// temporary one deleted on drop). Each closure is applied as one atomic
/// batch and flushed before the put returns.
pub type SledDirectoryService = KvDirectoryService<SledTree>;

impl SledDirectoryService {
    /// Opens the database at `path`, creating it if needed.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let db = SledTree::open(path).await?;
        Ok(Self { db })
    }

    /// A database in a temporary location, removed when dropped.
    pub async fn new_temporary() -> Result<Self, Error> {
        let db = SledTree::new_temporary().await?;
        Ok(Self { db })
    }
}
