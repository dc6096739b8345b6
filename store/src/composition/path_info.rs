//! The entries of `pathinfoservices`.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use tvix_castore::blobservice::BlobService;
use tvix_castore::channel::channel_from_url;
use tvix_castore::composition::{CompositionError, Reference, ServiceConfig};
use tvix_castore::directoryservice::DirectoryService;
use url::Url;

use super::StoreComposition;
use crate::pathinfoservice::{
    BigtablePathInfoService, CachedPathInfoService, FromAddrError, GrpcPathInfoService,
    LruPathInfoService, MemoryPathInfoService, NixHttpPathInfoService, PathInfoService,
    RedbPathInfoService, SignaturePolicy, SledPathInfoService,
};
use crate::proto::path_info_service_client::PathInfoServiceClient;

pub(super) const TABLE: &str = "pathinfoservices";

/// The entry a setting names when it is not given.
fn default_name() -> String {
    "default".to_owned()
}

fn default_true() -> bool {
    true
}

/// One entry of `pathinfoservices`, by its `type`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum PathInfoServiceConfig {
    /// In memory, gone when the process ends (`memory://`).
    Memory,
    /// A redb database file, created if missing; in memory without `path`.
    Redb {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// A sled database directory; temporary without `path`.
    Sled {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// A remote path info service: `url` is `grpc+unix:///socket` or
    /// `grpc+http://host:port`.
    Grpc { url: String },
    /// PathInfos in a Bigtable table: `url` is
    /// `bigtable://INSTANCE?project_id=…&table_name=…&family_name=…`
    /// ([BigtablePathInfoService]).
    Bigtable { url: String },
    /// A Nix binary cache at `url` (`http(s)://host/path`), read-only,
    /// ingesting NARs into `blob_service` and `directory_service` (entries
    /// of the castore tables, `default` if not given) (`nix+https://…`).
    Nix {
        url: Url,
        /// White-space separated `name:base64` keys; cache.nixos.org's if
        /// not given.
        #[serde(default)]
        trusted_public_keys: Option<String>,
        #[serde(default = "default_true")]
        require_sigs: bool,
        #[serde(default = "default_name")]
        blob_service: String,
        #[serde(default = "default_name")]
        directory_service: String,
    },
    /// `near` as a read-through cache of `far`: reads try `near` first and
    /// copy what only `far` has into it; writes go to `far`
    /// ([CachedPathInfoService]).
    Cache { near: String, far: String },
    /// The `capacity` most recently used PathInfos, in memory
    /// ([LruPathInfoService]); for the `near` of a `cache`.
    Lru { capacity: NonZeroUsize },
}

impl ServiceConfig for PathInfoServiceConfig {
    fn references(&self) -> Vec<Reference<'_>> {
        let reference = |key, table, name| Reference { key, table, name };
        match self {
            Self::Cache { near, far } => {
                vec![reference("near", TABLE, near), reference("far", TABLE, far)]
            }
            Self::Nix {
                blob_service,
                directory_service,
                ..
            } => vec![
                reference("blob_service", "blobservices", blob_service),
                reference("directory_service", "directoryservices", directory_service),
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

impl PathInfoServiceConfig {
    /// Builds the entry at `path`, with the entries it names from
    /// `composition`.
    pub(super) async fn build(
        &self,
        path: &str,
        composition: &StoreComposition,
    ) -> Result<Arc<dyn PathInfoService>, CompositionError> {
        match self {
            Self::Cache { near, far } => Ok(Arc::new(CachedPathInfoService::new(
                composition.path_info_service(near).await?,
                composition.path_info_service(far).await?,
            ))),
            Self::Nix {
                blob_service,
                directory_service,
                ..
            } => {
                let castore = composition.castore();
                let blobs = castore.blob_service(blob_service).await?;
                let directories = castore.directory_service(directory_service).await?;
                self.open(blobs, directories)
                    .await
                    .map_err(|e| CompositionError::build(path, e))
            }
            leaf => leaf
                .open_leaf()
                .await
                .map_err(|e| CompositionError::build(path, e)),
        }
    }

    /// Opens a backend that names no other entry of this table, as a URL
    /// describes; a binary cache ingests into `blob_service` and
    /// `directory_service`.
    pub(crate) async fn open(
        &self,
        blob_service: Arc<dyn BlobService>,
        directory_service: Arc<dyn DirectoryService>,
    ) -> Result<Arc<dyn PathInfoService>, FromAddrError> {
        match self {
            Self::Nix {
                url,
                trusted_public_keys,
                require_sigs,
                ..
            } => Ok(Arc::new(NixHttpPathInfoService::new(
                url.clone(),
                SignaturePolicy::new(trusted_public_keys.as_deref(), *require_sigs)?,
                blob_service,
                directory_service,
            )?)),
            leaf => leaf.open_leaf().await,
        }
    }

    /// Opens a backend that needs no other service.
    async fn open_leaf(&self) -> Result<Arc<dyn PathInfoService>, FromAddrError> {
        let open_error = |path: &Option<PathBuf>, source| FromAddrError::Open {
            url: match path {
                Some(path) => path.display().to_string(),
                None => "(in memory)".to_owned(),
            },
            source: Box::new(source),
        };
        Ok(match self {
            Self::Memory => Arc::new(MemoryPathInfoService::new()),
            Self::Redb { path } => Arc::new(
                match path {
                    Some(file) => RedbPathInfoService::open(file).await,
                    None => RedbPathInfoService::new_in_memory(),
                }
                .map_err(|e| open_error(path, e))?,
            ),
            Self::Sled { path } => Arc::new(
                match path {
                    Some(dir) => SledPathInfoService::open(dir).await,
                    None => SledPathInfoService::new_temporary().await,
                }
                .map_err(|e| open_error(path, e))?,
            ),
            Self::Grpc { url } => {
                let url = Url::parse(url).map_err(|source| FromAddrError::InvalidUrl {
                    url: url.clone(),
                    source,
                })?;
                Arc::new(GrpcPathInfoService::from_client(
                    tvix_castore::with_message_limits!(PathInfoServiceClient::new(
                        channel_from_url(&url)?
                    )),
                ))
            }
            Self::Bigtable { url } => {
                let url = Url::parse(url).map_err(|source| FromAddrError::InvalidUrl {
                    url: url.clone(),
                    source,
                })?;
                Arc::new(BigtablePathInfoService::from_url(&url).await?)
            }
            Self::Lru { capacity } => Arc::new(LruPathInfoService::new(*capacity)),
            Self::Cache { .. } => return Err(FromAddrError::NeedsComposition("cache")),
            Self::Nix { .. } => return Err(FromAddrError::NeedsComposition("nix")),
        })
    }
}
