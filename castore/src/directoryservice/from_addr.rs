//! [from_addr]: a directory service from a URL.
//!
//! It must never ignore part of a URL: a host, path or query a backend does
//! not take is an error, so a typo cannot silently pick another store.

use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;
use url::Url;

use super::{DirectoryService, Error};
use crate::bigtable::{BigtableError, BigtableParams};
use crate::channel::ChannelError;
use crate::composition::DirectoryServiceConfig;
use crate::local_addr::{LocalAddrError, expect_bare, local_location};

/// Why [from_addr] could not build a service.
#[derive(Debug, Error)]
pub enum FromAddrError {
    #[error("invalid URL {url:?}: {source}")]
    InvalidUrl {
        url: String,
        source: url::ParseError,
    },
    #[error(
        "unknown directory service scheme {0:?}: expected memory, redb, sled, grpc+unix, grpc+http, grpc+https or bigtable"
    )]
    UnknownScheme(String),
    #[error(transparent)]
    LocalAddr(#[from] LocalAddrError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Bigtable(#[from] BigtableError),
    #[error("opening {url:?}: {source}")]
    Open { url: String, source: Box<Error> },
    #[error("a {0:?} directory service names other services: it exists only in a composition")]
    NeedsComposition(&'static str),
}

/// Builds a directory service from its address:
///
/// | URL | service |
/// |---|---|
/// | `memory://` | [super::MemoryDirectoryService] |
/// | `redb:///path/to/file.redb` | [super::RedbDirectoryService] in that file (created if missing) |
/// | `redb://` | [super::RedbDirectoryService] in memory |
/// | `sled:///path/to/dir` | [super::SledDirectoryService] in that directory |
/// | `sled://` | [super::SledDirectoryService], temporary |
/// | `grpc+unix:///path/to/socket`, `grpc+http://host:port`, `grpc+https://host:port` (see [crate::channel]) | [super::GrpcDirectoryService] |
/// | `bigtable://INSTANCE?project_id=…&table_name=…&family_name=…` | [super::BigtableDirectoryService] (also `channel_size`, `timeout` in seconds, `app_profile_id`; connects lazily) |
pub async fn from_addr(addr: &str) -> Result<Arc<dyn DirectoryService>, FromAddrError> {
    config_from_addr(addr)?.open().await
}

/// The composition entry a directory service URL stands for; every part of
/// the URL is checked here, before anything is opened.
pub fn config_from_addr(addr: &str) -> Result<DirectoryServiceConfig, FromAddrError> {
    let url = Url::parse(addr).map_err(|source| FromAddrError::InvalidUrl {
        url: addr.to_owned(),
        source,
    })?;
    let path = |url: &Url| local_location(url).map(|path| path.map(PathBuf::from));
    Ok(match url.scheme() {
        "memory" => {
            expect_bare(&url)?;
            DirectoryServiceConfig::Memory
        }
        "redb" => DirectoryServiceConfig::Redb { path: path(&url)? },
        "sled" => DirectoryServiceConfig::Sled { path: path(&url)? },
        "grpc+unix" | "grpc+http" | "grpc+https" => {
            crate::channel::check_url(&url)?;
            DirectoryServiceConfig::Grpc {
                url: addr.to_owned(),
            }
        }
        "bigtable" => {
            BigtableParams::from_url(&url).map_err(BigtableError::from)?;
            DirectoryServiceConfig::Bigtable {
                url: addr.to_owned(),
            }
        }
        other => return Err(FromAddrError::UnknownScheme(other.to_owned())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::KvError;
    use rstest::rstest;

    /// Addresses that must build a service; `{tmp}` is a fresh temporary
    /// directory.
    #[rstest]
    #[case::memory("memory://")]
    #[case::redb_in_memory("redb://")]
    #[case::redb_file("redb://{tmp}/directories.redb")]
    #[case::sled_temporary("sled://")]
    #[case::sled_dir("sled://{tmp}/directories.sled")]
    #[case::grpc_unix("grpc+unix:///run/tvix/castore.sock")]
    #[case::grpc_http("grpc+http://localhost:8000")]
    #[case::grpc_http_ipv6("grpc+http://[::1]:8000")]
    #[case::grpc_https("grpc+https://localhost:8000")]
    #[tokio::test]
    async fn valid(#[case] addr: &str) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let addr = addr.replace("{tmp}", &tmp.path().to_string_lossy());
        if let Err(e) = from_addr(&addr).await {
            panic!("{addr} must be valid: {e}");
        }
    }

    #[rstest]
    #[case::empty("", "invalid URL \"\": relative URL without a base")]
    #[case::no_scheme("/tmp/foo", "invalid URL \"/tmp/foo\": relative URL without a base")]
    #[case::unknown_scheme(
        "foo://",
        "unknown directory service scheme \"foo\": expected memory, redb, sled, grpc+unix, grpc+http, grpc+https or bigtable"
    )]
    #[case::memory_path("memory:///foo", "memory:// takes no path, got \"/foo\"")]
    #[case::memory_host("memory://foo", "memory:// takes no host, got \"foo\"")]
    #[case::memory_query("memory://?x=1", "memory:// takes no query, got \"x=1\"")]
    #[case::redb_host("redb://host/path.redb", "redb:// takes no host, got \"host\"")]
    #[case::sled_host("sled://host/path", "sled:// takes no host, got \"host\"")]
    #[case::sled_query("sled:///tmp/x?flush=1", "sled:// takes no query, got \"flush=1\"")]
    #[case::grpc_unix_no_path("grpc+unix://", "grpc+unix URL has no socket path")]
    #[case::grpc_unix_host(
        "grpc+unix://host/sock",
        "grpc+unix URL has host \"host\": expected grpc+unix:///absolute/path"
    )]
    #[case::grpc_http_path(
        "grpc+http://localhost:8000/foo",
        "grpc+http URL has path \"/foo\": expected grpc+http://host:port"
    )]
    #[case::bigtable_no_family(
        "bigtable://inst?project_id=p&table_name=t",
        "bigtable:// needs the query parameter family_name"
    )]
    #[tokio::test]
    async fn invalid(#[case] addr: &str, #[case] expected: &str) {
        match from_addr(addr).await {
            Ok(_) => panic!("{addr} must be refused"),
            Err(e) => assert_eq!(expected, e.to_string()),
        }
    }

    #[tokio::test]
    async fn redb_missing_parent_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let addr = format!("redb://{}/missing/directories.redb", tmp.path().display());
        match from_addr(&addr).await {
            Ok(_) => panic!("{addr} must fail to open"),
            Err(e) => assert!(
                matches!(&e, FromAddrError::Open { url, source } if addr.ends_with(url.as_str()) && matches!(**source, Error::Kv(KvError::Redb(_)))),
                "{e}"
            ),
        }
    }
}
