//! Building a blob service from its URL.
//!
//! It must never ignore part of a URL: a host, path or query a backend does
//! not take is an error, so a typo cannot silently pick another store.

use std::sync::Arc;

use ::object_store::local::LocalFileSystem;
use ::object_store::memory::InMemory;
use ::object_store::path::Path as ObjectStorePath;
use thiserror::Error;
use url::Url;

use super::{
    BlobService, GrpcBlobService, MemoryBlobService, ObjectStoreBlobService, PackBlobService,
    PackOpenError,
};
use crate::channel::{ChannelError, channel_from_url};
use crate::proto::blob_service_client::BlobServiceClient;

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
    #[error("{0:?} is not a pack:// blob service")]
    NotPack(String),
    #[error("invalid object store path in {0:?}: {1}")]
    ObjectStorePath(String, ::object_store::path::Error),
    #[error("{0:?} names no local directory: {1}")]
    LocalPath(String, ::object_store::Error),
    #[error(transparent)]
    Grpc(#[from] ChannelError),
}

/// The blob service at `url`:
/// - `memory://`
/// - `objectstore+memory://`
/// - `objectstore+file:///absolute/path`
/// - `pack:///absolute/path`, the default local store
/// - `grpc+unix:///path/to/socket`, `grpc+http://host:port`,
///   `grpc+https://host:port` (see [crate::channel])
///
/// Async because gRPC channels run a task on the caller's tokio runtime.
pub async fn from_addr(url: &str) -> Result<Arc<dyn BlobService>, FromAddrError> {
    let parsed = Url::parse(url).map_err(|e| FromAddrError::InvalidUrl(url.to_owned(), e))?;
    match parsed.scheme() {
        "memory" => {
            expect_bare("memory://", &parsed)?;
            Ok(Arc::new(MemoryBlobService::new()))
        }
        "objectstore+memory" => {
            expect_bare("objectstore+memory://", &parsed)?;
            Ok(Arc::new(ObjectStoreBlobService::new(
                Arc::new(InMemory::new()),
                Default::default(),
            )))
        }
        "objectstore+file" => {
            expect_no_host_or_query("objectstore+file://", &parsed)?;
            if matches!(parsed.path(), "" | "/") {
                return Err(FromAddrError::MissingPath("objectstore+file"));
            }
            // Percent-decoded, so `%20` names a directory with a space.
            let base = ObjectStorePath::from_url_path(parsed.path())
                .map_err(|e| FromAddrError::ObjectStorePath(url.to_owned(), e))?;
            let service = ObjectStoreBlobService::new_local(Arc::new(LocalFileSystem::new()), base)
                .map_err(|e| FromAddrError::LocalPath(url.to_owned(), e))?;
            Ok(Arc::new(service))
        }
        "pack" => Ok(Arc::new(open_pack(url, &parsed).await?)),
        "grpc+unix" | "grpc+http" | "grpc+https" => {
            let channel = channel_from_url(&parsed)?;
            Ok(Arc::new(GrpcBlobService::from_client(
                crate::with_message_limits!(BlobServiceClient::new(channel)),
            )))
        }
        other => Err(FromAddrError::UnknownScheme(other.to_owned())),
    }
}

/// The pack store at `url` (`pack:///absolute/path`) itself, for what only
/// it can do (see [PackBlobService::space_report]). Within a process, it is
/// the store [from_addr] opened at the same URL.
pub async fn pack_from_addr(url: &str) -> Result<PackBlobService, FromAddrError> {
    let parsed = Url::parse(url).map_err(|e| FromAddrError::InvalidUrl(url.to_owned(), e))?;
    if parsed.scheme() != "pack" {
        return Err(FromAddrError::NotPack(url.to_owned()));
    }
    open_pack(url, &parsed).await
}

async fn open_pack(url: &str, parsed: &Url) -> Result<PackBlobService, FromAddrError> {
    expect_no_host_or_query("pack://", parsed)?;
    if matches!(parsed.path(), "" | "/") {
        return Err(FromAddrError::MissingPath("pack"));
    }
    let dir = parsed
        .to_file_path()
        .map_err(|()| FromAddrError::MissingPath("pack"))?;
    let opened = tokio::task::spawn_blocking(move || PackBlobService::open(dir))
        .await
        .map_err(|e| PackOpenError::Io {
            path: url.into(),
            source: std::io::Error::other(e),
        })?;
    Ok(opened?)
}

/// Checks that a URL of a local backend has neither host nor query.
fn expect_no_host_or_query(form: &'static str, url: &Url) -> Result<(), FromAddrError> {
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
fn expect_bare(form: &'static str, url: &Url) -> Result<(), FromAddrError> {
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
