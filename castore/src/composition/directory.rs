//! The entries of `directoryservices`.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::{CastoreComposition, CompositionError, Reference, ServiceConfig};
use crate::channel::channel_from_url;
use crate::directoryservice::{
    BigtableDirectoryService, CachedDirectoryService, DirectoryService, FromAddrError,
    GrpcDirectoryService, LruDirectoryService, MemoryDirectoryService, RedbDirectoryService,
    SledDirectoryService,
};
use crate::proto::directory_service_client::DirectoryServiceClient;

pub(super) const TABLE: &str = "directoryservices";

/// One entry of `directoryservices`, by its `type`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum DirectoryServiceConfig {
    /// In memory, gone when the process ends (`memory://`).
    Memory,
    /// A redb database file, created if missing; in memory without `path`
    /// (`redb:///path`, `redb://`).
    Redb {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// A sled database directory; temporary without `path` (`sled:///path`,
    /// `sled://`).
    Sled {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// A remote directory service: `url` is `grpc+unix:///socket` or
    /// `grpc+http://host:port`.
    Grpc { url: String },
    /// Directories in a Bigtable table: `url` is
    /// `bigtable://INSTANCE?project_id=…&table_name=…&family_name=…`
    /// ([BigtableDirectoryService]).
    Bigtable { url: String },
    /// `near` as a read-through cache of `far`: reads try `near` first and
    /// copy what only `far` has into it; writes go to `far`
    /// ([CachedDirectoryService]).
    Cache { near: String, far: String },
    /// The `capacity` most recently used directories, in memory
    /// ([LruDirectoryService]); for the `near` of a `cache`.
    Lru { capacity: NonZeroUsize },
}

impl ServiceConfig for DirectoryServiceConfig {
    fn references(&self) -> Vec<Reference<'_>> {
        match self {
            Self::Cache { near, far } => vec![
                Reference {
                    key: "near",
                    table: TABLE,
                    name: near,
                },
                Reference {
                    key: "far",
                    table: TABLE,
                    name: far,
                },
            ],
            Self::Memory
            | Self::Redb { .. }
            | Self::Sled { .. }
            | Self::Grpc { .. }
            | Self::Bigtable { .. }
            | Self::Lru { .. } => Vec::new(),
        }
    }
}

impl DirectoryServiceConfig {
    /// Builds the entry at `path`, with the entries it names from
    /// `composition`.
    pub(super) async fn build(
        &self,
        path: &str,
        composition: &CastoreComposition,
    ) -> Result<Arc<dyn DirectoryService>, CompositionError> {
        match self {
            Self::Cache { near, far } => Ok(Arc::new(CachedDirectoryService::new(
                composition.directory_service(near).await?,
                composition.directory_service(far).await?,
            ))),
            leaf => leaf
                .open()
                .await
                .map_err(|e| CompositionError::build(path, e)),
        }
    }

    /// Opens a backend that names no other entry, as a URL describes.
    pub(crate) async fn open(&self) -> Result<Arc<dyn DirectoryService>, FromAddrError> {
        let open_error = |path: &Option<PathBuf>, source| FromAddrError::Open {
            url: match path {
                Some(path) => path.display().to_string(),
                None => "(in memory)".to_owned(),
            },
            source: Box::new(source),
        };
        Ok(match self {
            Self::Memory => Arc::new(MemoryDirectoryService::new()),
            Self::Redb { path } => Arc::new(
                match path {
                    Some(file) => RedbDirectoryService::open(file).await,
                    None => RedbDirectoryService::new_in_memory(),
                }
                .map_err(|e| open_error(path, e))?,
            ),
            Self::Sled { path } => Arc::new(
                match path {
                    Some(dir) => SledDirectoryService::open(dir).await,
                    None => SledDirectoryService::new_temporary().await,
                }
                .map_err(|e| open_error(path, e))?,
            ),
            Self::Grpc { url } => {
                let url = url::Url::parse(url).map_err(|source| FromAddrError::InvalidUrl {
                    url: url.clone(),
                    source,
                })?;
                Arc::new(GrpcDirectoryService::from_client(
                    crate::with_message_limits!(DirectoryServiceClient::new(channel_from_url(
                        &url
                    )?)),
                ))
            }
            Self::Bigtable { url } => {
                let url = url::Url::parse(url).map_err(|source| FromAddrError::InvalidUrl {
                    url: url.clone(),
                    source,
                })?;
                Arc::new(BigtableDirectoryService::from_url(&url).await?)
            }
            Self::Lru { capacity } => Arc::new(LruDirectoryService::new(*capacity)),
            Self::Cache { .. } => return Err(FromAddrError::NeedsComposition("cache")),
        })
    }
}
