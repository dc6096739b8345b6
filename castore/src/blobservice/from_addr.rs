//! Building a blob service from its URL.
//!
//! It must never ignore part of a URL: a host, path or query a backend does
//! not take is an error, so a typo cannot silently pick another store.

use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;
use url::Url;

use super::{BlobService, PackBlobService, PackOpenError};
use crate::channel::ChannelError;
use crate::composition::BlobServiceConfig;

/// A URL that does not describe a blob service.
#[derive(Debug, Error)]
pub enum FromAddrError {
    #[error("invalid blob service URL {0:?}: {1}")]
    InvalidUrl(String, url::ParseError),
    #[error("unknown blob service scheme {0:?}")]
    UnknownScheme(String),
    #[error("{0} must not have a host, got {1:?}")]
    UnexpectedHost(&'static str, String),
    #[error("{0} must not have a path, got {1:?}")]
    UnexpectedPath(&'static str, String),
    #[error("{0} must not have a query, got {1:?}")]
    UnexpectedQuery(&'static str, String),
    #[error("{0} needs an absolute directory path")]
    MissingPath(&'static str),
    #[error(transparent)]
    Pack(#[from] super::PackOpenError),
    #[error("invalid object store path in {0:?}: {1}")]
    ObjectStorePath(String, ::object_store::path::Error),
    #[error("{0:?} names no local directory: {1}")]
    LocalPath(String, ::object_store::Error),
    #[error("{url:?}: {message}")]
    ObjectStoreUrl { url: String, message: String },
    #[error("configuring the object store at {url:?}: {source}")]
    ObjectStoreConfig {
        url: String,
        source: ::object_store::Error,
    },
    #[error(transparent)]
    Grpc(#[from] ChannelError),
    #[error("a {0:?} blob service names other services: it exists only in a composition")]
    NeedsComposition(&'static str),
}

/// The blob service at `url`:
/// - `memory://`
/// - `objectstore+memory://`
/// - `objectstore+file:///absolute/path`
/// - `objectstore+s3://bucket/prefix?endpoint=…&region=…` (see
///   [super::ObjectStoreLocation])
/// - `pack:///absolute/path`, the default local store
/// - `grpc+unix:///path/to/socket`, `grpc+http://host:port`,
///   `grpc+https://host:port` (see [crate::channel])
///
/// Async because gRPC channels run a task on the caller's tokio runtime.
pub async fn from_addr(url: &str) -> Result<Arc<dyn BlobService>, FromAddrError> {
    config_from_addr(url)?.open().await
}

/// The composition entry a blob service URL stands for; every part of the
/// URL is checked here, before anything is opened.
pub fn config_from_addr(url: &str) -> Result<BlobServiceConfig, FromAddrError> {
    let parsed = Url::parse(url).map_err(|e| FromAddrError::InvalidUrl(url.to_owned(), e))?;
    Ok(match parsed.scheme() {
        "memory" => {
            expect_bare("memory://", &parsed)?;
            BlobServiceConfig::Memory
        }
        scheme if scheme.starts_with("objectstore+") => {
            let inner = &url["objectstore+".len()..];
            // Checked now, so a bad URL is refused before anything opens.
            super::ObjectStoreLocation::parse(inner)?;
            BlobServiceConfig::ObjectStore {
                url: inner.to_owned(),
            }
        }
        "pack" => BlobServiceConfig::Pack {
            path: pack_dir(&parsed)?,
        },
        "grpc+unix" | "grpc+http" | "grpc+https" => {
            // Checked now; the channel is made when the service is opened.
            crate::channel::check_url(&parsed)?;
            BlobServiceConfig::Grpc {
                url: url.to_owned(),
            }
        }
        other => return Err(FromAddrError::UnknownScheme(other.to_owned())),
    })
}

/// The directory of a `pack:///absolute/path` URL.
fn pack_dir(parsed: &Url) -> Result<PathBuf, FromAddrError> {
    expect_no_host_or_query("pack://", parsed)?;
    if matches!(parsed.path(), "" | "/") {
        return Err(FromAddrError::MissingPath("pack"));
    }
    parsed
        .to_file_path()
        .map_err(|()| FromAddrError::MissingPath("pack"))
}

/// Opens (or creates) the pack store in `dir` (absolute), for what only it
/// can do (see [PackBlobService::space_report]). Within a process, it is
/// the store [from_addr] opened at the same directory.
pub async fn open_pack(dir: PathBuf) -> Result<PackBlobService, FromAddrError> {
    if !dir.is_absolute() {
        return Err(FromAddrError::MissingPath("pack"));
    }
    let shown = dir.clone();
    let opened = tokio::task::spawn_blocking(move || PackBlobService::open(dir))
        .await
        .map_err(|e| PackOpenError::Io {
            path: shown,
            source: std::io::Error::other(e),
        })?;
    Ok(opened?)
}

/// Checks that a URL of a local backend has neither host nor query.
pub(super) fn expect_no_host_or_query(form: &'static str, url: &Url) -> Result<(), FromAddrError> {
    if let Some(host) = url.host_str().filter(|host| !host.is_empty()) {
        return Err(FromAddrError::UnexpectedHost(form, host.to_owned()));
    }
    if let Some(query) = url.query() {
        return Err(FromAddrError::UnexpectedQuery(form, query.to_owned()));
    }
    Ok(())
}

/// Checks that a URL of a backend without settings has no host, path or
/// query.
pub(super) fn expect_bare(form: &'static str, url: &Url) -> Result<(), FromAddrError> {
    expect_no_host_or_query(form, url)?;
    if !matches!(url.path(), "" | "/") {
        return Err(FromAddrError::UnexpectedPath(form, url.path().to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::memory("memory://")]
    #[case::objectstore_memory("objectstore+memory://")]
    #[case::objectstore_file("objectstore+file:///tmp/tvix-castore-from-addr-test")]
    #[case::pack("pack:///tmp/tvix-castore-from-addr-test-pack")]
    #[case::s3("objectstore+s3://bucket")]
    #[case::s3_prefix("objectstore+s3://bucket/some/prefix?region=eu-west-1")]
    #[case::s3_endpoint(
        "objectstore+s3://bucket/p?endpoint=http://127.0.0.1:9000&region=us-east-1&timeout=5"
    )]
    #[case::grpc_unix("grpc+unix:///run/tvix/blobs.sock")]
    #[case::grpc_http_ipv4("grpc+http://127.0.0.1:8000")]
    #[case::grpc_http_ipv6("grpc+http://[::1]:8000")]
    #[case::grpc_http_name("grpc+http://localhost:8000")]
    #[case::grpc_https("grpc+https://localhost:8000")]
    #[tokio::test]
    async fn valid(#[case] url: &str) {
        from_addr(url).await.expect("must be accepted");
    }

    #[tokio::test]
    async fn objectstore_file_path_is_percent_decoded() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let url = format!("objectstore+file://{}/with%20space", dir.path().display());
        let service = from_addr(&url).await.expect("must be accepted");

        let mut writer = service.open_write().await;
        tokio::io::AsyncWriteExt::write_all(&mut writer, b"x")
            .await
            .expect("write");
        writer.close().await.expect("close");

        assert!(dir.path().join("with space/chunks").is_dir());
    }

    #[rstest]
    #[case::not_a_url(
        "memory",
        "invalid blob service URL \"memory\": relative URL without a base"
    )]
    #[case::unknown_scheme("sled:///tmp/x", "unknown blob service scheme \"sled\"")]
    #[case::memory_with_host("memory://foo", "memory:// must not have a host, got \"foo\"")]
    #[case::memory_with_path("memory:///foo", "memory:// must not have a path, got \"/foo\"")]
    #[case::objectstore_memory_with_path(
        "objectstore+memory:///x",
        "objectstore+memory:// must not have a path, got \"/x\""
    )]
    #[case::objectstore_file_without_path(
        "objectstore+file://",
        "objectstore+file needs an absolute directory path"
    )]
    #[case::memory_with_query("memory://?x=1", "memory:// must not have a query, got \"x=1\"")]
    #[case::objectstore_file_with_query(
        "objectstore+file:///tmp/x?fsync=1",
        "objectstore+file:// must not have a query, got \"fsync=1\""
    )]
    #[case::objectstore_file_with_host(
        "objectstore+file://host/tmp",
        "objectstore+file:// must not have a host, got \"host\""
    )]
    #[case::pack_without_path("pack://", "pack needs an absolute directory path")]
    #[case::s3_without_bucket(
        "objectstore+s3:///prefix",
        "\"s3:///prefix\": an s3:// URL needs a bucket: s3://bucket/prefix"
    )]
    #[case::s3_with_port(
        "objectstore+s3://host:9000/bucket",
        "\"s3://host:9000/bucket\": an s3:// URL names a bucket, not a server: give the server as ?endpoint="
    )]
    #[case::s3_unknown_parameter(
        "objectstore+s3://bucket?regoin=x",
        "\"s3://bucket?regoin=x\": unknown query parameter \"regoin\": expected endpoint, region or timeout"
    )]
    #[case::s3_twice(
        "objectstore+s3://bucket?region=a&region=b",
        "\"s3://bucket?region=a&region=b\": query parameter \"region\" given twice"
    )]
    #[case::s3_bad_timeout(
        "objectstore+s3://bucket?timeout=0",
        "\"s3://bucket?timeout=0\": timeout must be a positive number of seconds, got \"0\""
    )]
    #[case::s3_bad_endpoint(
        "objectstore+s3://bucket?endpoint=localhost:9000",
        "\"s3://bucket?endpoint=localhost:9000\": endpoint must be an http:// or https:// URL, got \"localhost:9000\""
    )]
    #[case::unknown_object_store(
        "objectstore+gs://bucket",
        "\"gs://bucket\": unknown object store scheme \"gs\": expected memory, file or s3"
    )]
    #[case::pack_with_host("pack://host/tmp", "pack:// must not have a host, got \"host\"")]
    #[case::grpc_unix_without_path("grpc+unix://", "grpc+unix URL has no socket path")]
    #[case::grpc_unix_with_host(
        "grpc+unix://host/sock",
        "grpc+unix URL has host \"host\": expected grpc+unix:///absolute/path"
    )]
    #[case::grpc_http_without_host("grpc+http://", "grpc+http URL has no host")]
    #[case::grpc_http_with_path(
        "grpc+http://localhost:8000/blobs",
        "grpc+http URL has path \"/blobs\": expected grpc+http://host:port"
    )]
    #[tokio::test]
    async fn invalid(#[case] url: &str, #[case] message: &str) {
        let Err(error) = from_addr(url).await else {
            panic!("{url} must be rejected");
        };
        assert_eq!(message, error.to_string());
    }
}
