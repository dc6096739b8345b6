//! [from_addr]: a path info service from a URL.

use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;
use tvix_castore::bigtable::{BigtableError, BigtableParams};
use tvix_castore::blobservice::BlobService;
use tvix_castore::channel::ChannelError;
use tvix_castore::directoryservice::DirectoryService;
use tvix_castore::local_addr::{LocalAddrError, expect_bare, local_location};
use url::Url;

use super::{Error, NixHttpAddrError, NixHttpSettings, PathInfoService};
use crate::composition::PathInfoServiceConfig;

/// Why [from_addr] could not build a service.
#[derive(Debug, Error)]
pub enum FromAddrError {
    #[error("invalid URL {url:?}: {source}")]
    InvalidUrl {
        url: String,
        source: url::ParseError,
    },
    #[error(
        "unknown path info service scheme {0:?}: expected memory, redb, sled, grpc+unix, grpc+http, grpc+https, bigtable, nix+http or nix+https"
    )]
    UnknownScheme(String),
    #[error(transparent)]
    LocalAddr(#[from] LocalAddrError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    NixHttp(#[from] NixHttpAddrError),
    #[error(transparent)]
    Bigtable(#[from] BigtableError),
    #[error("opening {url:?}: {source}")]
    Open { url: String, source: Box<Error> },
    #[error("a {0:?} path info service names other services: it exists only in a composition")]
    NeedsComposition(&'static str),
}

/// Builds a path info service from its address:
///
/// | URL | service |
/// |---|---|
/// | `memory://` | [super::MemoryPathInfoService] |
/// | `redb:///path/to/file.redb` | [super::RedbPathInfoService] in that file (created if missing) |
/// | `redb://` | [super::RedbPathInfoService] in memory |
/// | `sled:///path/to/dir` | [super::SledPathInfoService] in that directory |
/// | `sled://` | [super::SledPathInfoService], temporary |
/// | `grpc+unix:///path/to/socket`, `grpc+http://host:port`, `grpc+https://host:port` (see [tvix_castore::channel]) | [super::GrpcPathInfoService] |
/// | `bigtable://INSTANCE?project_id=…&table_name=…&family_name=…` | [super::BigtablePathInfoService] (also `channel_size`, `timeout` in seconds, `app_profile_id`; connects lazily) |
/// | `nix+http://host/path`, `nix+https://host/path` | [super::NixHttpPathInfoService] (read-only; query parameters `trusted-public-keys`, `require-sigs`) |
///
/// The local forms follow castore's directory service addresses, so a
/// store's three addresses look alike.
///
/// `blob_service` and `directory_service` are the castore the PathInfos
/// point into; backends that fill the castore themselves write there.
pub async fn from_addr(
    addr: &str,
    blob_service: Arc<dyn BlobService>,
    directory_service: Arc<dyn DirectoryService>,
) -> Result<Arc<dyn PathInfoService>, FromAddrError> {
    config_from_addr(addr)?
        .open(blob_service, directory_service)
        .await
}

/// The composition entry a path info service URL stands for; every part
/// of the URL is checked here, before anything is opened. A binary cache
/// ingests into the castore entries named `default`.
pub fn config_from_addr(addr: &str) -> Result<PathInfoServiceConfig, FromAddrError> {
    let url = Url::parse(addr).map_err(|source| FromAddrError::InvalidUrl {
        url: addr.to_owned(),
        source,
    })?;
    let path = |url: &Url| local_location(url).map(|path| path.map(PathBuf::from));
    Ok(match url.scheme() {
        "memory" => {
            expect_bare(&url)?;
            PathInfoServiceConfig::Memory
        }
        "redb" => PathInfoServiceConfig::Redb { path: path(&url)? },
        "sled" => PathInfoServiceConfig::Sled { path: path(&url)? },
        "grpc+unix" | "grpc+http" | "grpc+https" => {
            tvix_castore::channel::check_url(&url)?;
            PathInfoServiceConfig::Grpc {
                url: addr.to_owned(),
            }
        }
        "bigtable" => {
            BigtableParams::from_url(&url).map_err(BigtableError::from)?;
            PathInfoServiceConfig::Bigtable {
                url: addr.to_owned(),
            }
        }
        "nix+http" | "nix+https" => {
            let settings = NixHttpSettings::from_addr(addr)?;
            PathInfoServiceConfig::Nix {
                url: settings.base_url,
                trusted_public_keys: settings.trusted_public_keys,
                require_sigs: settings.require_sigs,
                blob_service: "default".to_owned(),
                directory_service: "default".to_owned(),
            }
        }
        other => return Err(FromAddrError::UnknownScheme(other.to_owned())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use tvix_castore::blobservice::MemoryBlobService;
    use tvix_castore::directoryservice::MemoryDirectoryService;
    use tvix_castore::kv::KvError;

    /// [from_addr] over an empty in-memory castore.
    async fn open(addr: &str) -> Result<Arc<dyn PathInfoService>, FromAddrError> {
        from_addr(
            addr,
            Arc::new(MemoryBlobService::new()),
            Arc::new(MemoryDirectoryService::new()),
        )
        .await
    }

    /// Addresses that must build a service; `{tmp}` is a fresh temporary
    /// directory.
    #[rstest]
    #[case::memory("memory://")]
    #[case::redb_in_memory("redb://")]
    #[case::redb_file("redb://{tmp}/pathinfo.redb")]
    #[case::sled_temporary("sled://")]
    #[case::sled_dir("sled://{tmp}/pathinfo.sled")]
    #[case::grpc_unix("grpc+unix:///run/tvix/store.sock")]
    #[case::grpc_http("grpc+http://localhost:8000")]
    #[case::grpc_http_ipv4("grpc+http://127.0.0.1:8000")]
    #[case::grpc_http_ipv6("grpc+http://[::1]:8000")]
    #[case::nix_https("nix+https://cache.nixos.org")]
    #[case::nix_http_path("nix+http://127.0.0.1:8080/some/cache/")]
    #[case::nix_http_trusted_keys(
        "nix+http://localhost/cache?trusted-public-keys=tvix-test-1:gXRo0WV13r9LyojgGGiAUFDr88aH/ZWoiH0qeF3RZps=%20cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="
    )]
    #[case::nix_http_unsigned("nix+http://localhost/cache?require-sigs=false")]
    #[tokio::test]
    async fn valid(#[case] addr: &str) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let addr = addr.replace("{tmp}", &tmp.path().to_string_lossy());
        if let Err(e) = open(&addr).await {
            panic!("{addr} must be valid: {e}");
        }
    }

    #[rstest]
    #[case::empty("", "invalid URL \"\": relative URL without a base")]
    #[case::no_scheme("/tmp/foo", "invalid URL \"/tmp/foo\": relative URL without a base")]
    #[case::unknown_scheme(
        "foo://",
        "unknown path info service scheme \"foo\": expected memory, redb, sled, grpc+unix, grpc+http, grpc+https, bigtable, nix+http or nix+https"
    )]
    #[case::nix_file(
        "nix+file:///tmp/cache",
        "unknown path info service scheme \"nix+file\": expected memory, redb, sled, grpc+unix, grpc+http, grpc+https, bigtable, nix+http or nix+https"
    )]
    #[case::nix_http_no_host("nix+http://", "invalid cache URL \"http://\": empty host")]
    #[case::nix_http_unknown_parameter(
        "nix+https://cache.nixos.org?priority=40",
        "unknown query parameter \"priority\": expected trusted-public-keys or require-sigs"
    )]
    #[case::nix_http_invalid_key(
        "nix+https://cache.nixos.org?trusted-public-keys=cache.nixos.org-1:AAAA",
        "trusted-public-keys: \"cache.nixos.org-1:AAAA\": cache.nixos.org-1: expected 32 bytes, got 3"
    )]
    #[case::nix_http_no_trusted_keys(
        "nix+https://cache.nixos.org?trusted-public-keys=",
        "trusted-public-keys is empty while require-sigs is true: every path would be refused"
    )]
    #[case::nix_http_bad_require_sigs(
        "nix+http://localhost/cache?require-sigs=0",
        "require-sigs must be true or false, got \"0\""
    )]
    #[case::bigtable_unknown_parameter(
        "bigtable://inst?project_id=p&table_name=t&family_name=f&x=1",
        "unknown query parameter \"x\": expected project_id, table_name, family_name, channel_size, timeout or app_profile_id"
    )]
    #[case::memory_path("memory:///foo", "memory:// takes no path, got \"/foo\"")]
    #[case::memory_host("memory://foo", "memory:// takes no host, got \"foo\"")]
    #[case::memory_query("memory://?x=1", "memory:// takes no query, got \"x=1\"")]
    #[case::redb_host("redb://host/path.redb", "redb:// takes no host, got \"host\"")]
    #[case::redb_query("redb:///tmp/x.redb?a=b", "redb:// takes no query, got \"a=b\"")]
    #[case::sled_host("sled://host/path", "sled:// takes no host, got \"host\"")]
    #[case::grpc_unix_no_path("grpc+unix://", "grpc+unix URL has no socket path")]
    #[case::grpc_unix_host(
        "grpc+unix://host/sock",
        "grpc+unix URL has host \"host\": expected grpc+unix:///absolute/path"
    )]
    #[case::grpc_http_path(
        "grpc+http://localhost:8000/foo",
        "grpc+http URL has path \"/foo\": expected grpc+http://host:port"
    )]
    #[tokio::test]
    async fn invalid(#[case] addr: &str, #[case] expected: &str) {
        match open(addr).await {
            Ok(_) => panic!("{addr} must be refused"),
            Err(e) => assert_eq!(expected, e.to_string()),
        }
    }

    /// A put to a database file is there after reopening it.
    #[rstest]
    #[case::redb("redb")]
    #[case::sled("sled")]
    #[tokio::test]
    async fn persists_across_reopen(#[case] scheme: &str) {
        use crate::fixtures::PATH_INFO_FULL;

        let tmp = tempfile::tempdir().expect("tempdir");
        let addr = format!("{scheme}://{}/pathinfo", tmp.path().display());
        {
            let service = open(&addr).await.expect("open");
            service.put(PATH_INFO_FULL.clone()).await.expect("put");
        }
        let service = open(&addr).await.expect("reopen");
        assert_eq!(
            Some(PATH_INFO_FULL.clone()),
            service
                .get(*PATH_INFO_FULL.store_path.digest())
                .await
                .expect("get")
        );
    }

    #[tokio::test]
    async fn redb_missing_parent_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let addr = format!("redb://{}/missing/pathinfo.redb", tmp.path().display());
        match open(&addr).await {
            Ok(_) => panic!("{addr} must fail to open"),
            Err(e) => assert!(
                matches!(&e, FromAddrError::Open { url, source }
                    if addr.ends_with(url.as_str()) && matches!(**source, Error::Kv(KvError::Redb(_)))),
                "{e}"
            ),
        }
    }
}
