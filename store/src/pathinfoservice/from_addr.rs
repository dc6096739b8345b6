//! [from_addr]: a path info service from a URL.

use std::sync::Arc;

use thiserror::Error;
use tvix_castore::blobservice::BlobService;
use tvix_castore::channel::{ChannelError, channel_from_url};
use tvix_castore::directoryservice::DirectoryService;
use tvix_castore::local_addr::{LocalAddrError, expect_bare, local_location};
use url::Url;

use super::{
    Error, GrpcPathInfoService, MemoryPathInfoService, NixHttpAddrError, NixHttpPathInfoService,
    PathInfoService, RedbPathInfoService, SledPathInfoService,
};
use crate::proto::path_info_service_client::PathInfoServiceClient;

/// Why [from_addr] could not build a service.
#[derive(Debug, Error)]
pub enum FromAddrError {
    #[error("invalid URL {url:?}: {source}")]
    InvalidUrl {
        url: String,
        source: url::ParseError,
    },
    #[error(
        "unknown path info service scheme {0:?}: expected memory, redb, sled, grpc+unix, grpc+http, grpc+https, nix+http or nix+https"
    )]
    UnknownScheme(String),
    #[error(transparent)]
    LocalAddr(#[from] LocalAddrError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    NixHttp(#[from] NixHttpAddrError),
    #[error("opening {url:?}: {source}")]
    Open { url: String, source: Box<Error> },
}

/// Builds a path info service from its address:
///
/// | URL | service |
/// |---|---|
/// | `memory://` | [MemoryPathInfoService] |
/// | `redb:///path/to/file.redb` | [RedbPathInfoService] in that file (created if missing) |
/// | `redb://` | [RedbPathInfoService] in memory |
/// | `sled:///path/to/dir` | [SledPathInfoService] in that directory |
/// | `sled://` | [SledPathInfoService], temporary |
/// | `grpc+unix:///path/to/socket`, `grpc+http://host:port`, `grpc+https://host:port` (see [tvix_castore::channel]) | [GrpcPathInfoService] |
/// | `nix+http://host/path`, `nix+https://host/path` | [NixHttpPathInfoService] (read-only; query parameters `trusted-public-keys`, `require-sigs`) |
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
    let url = Url::parse(addr).map_err(|source| FromAddrError::InvalidUrl {
        url: addr.to_owned(),
        source,
    })?;
    let open_error = |source| FromAddrError::Open {
        url: addr.to_owned(),
        source: Box::new(source),
    };
    Ok(match url.scheme() {
        "memory" => {
            expect_bare(&url)?;
            Arc::new(MemoryPathInfoService::new())
        }
        "redb" => Arc::new(
            match local_location(&url)? {
                Some(path) => RedbPathInfoService::open(path).await,
                None => RedbPathInfoService::new_in_memory(),
            }
            .map_err(open_error)?,
        ),
        "sled" => Arc::new(
            match local_location(&url)? {
                Some(path) => SledPathInfoService::open(path).await,
                None => SledPathInfoService::new_temporary().await,
            }
            .map_err(open_error)?,
        ),
        "grpc+unix" | "grpc+http" | "grpc+https" => Arc::new(GrpcPathInfoService::from_client(
            tvix_castore::with_message_limits!(PathInfoServiceClient::new(channel_from_url(&url)?)),
        )),
        "nix+http" | "nix+https" => Arc::new(NixHttpPathInfoService::from_addr(
            addr,
            blob_service,
            directory_service,
        )?),
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
        "unknown path info service scheme \"foo\": expected memory, redb, sled, grpc+unix, grpc+http, grpc+https, nix+http or nix+https"
    )]
    #[case::nix_file(
        "nix+file:///tmp/cache",
        "unknown path info service scheme \"nix+file\": expected memory, redb, sled, grpc+unix, grpc+http, grpc+https, nix+http or nix+https"
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
                    if *url == addr && matches!(**source, Error::Kv(KvError::Redb(_)))),
                "{e}"
            ),
        }
    }
}
