//! Turning a `grpc+…` URL into a tonic [Channel], shared by the gRPC clients
//! of every castore service so they accept the same addresses.
//!
//! - `grpc+unix:///path/to/socket`: a Unix domain socket (absolute path, no
//!   host).
//! - `grpc+http://host:port`: plain HTTP/2 over TCP (no path besides `/`).
//!
//! Channels connect lazily: building one never blocks or fails on an
//! unreachable server; the first request does. Parts of a URL that gRPC does
//! not use (a query, a host for Unix sockets) must never be ignored: they
//! are errors.

use hyper_util::rt::TokioIo;
use thiserror::Error;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};
use url::Url;

/// Why a URL cannot be turned into a gRPC channel.
#[derive(Debug, Error)]
pub enum ChannelError {
    #[error("unsupported scheme {0:?}: expected grpc+unix or grpc+http")]
    UnsupportedScheme(String),
    #[error("grpc+unix URL has host {0:?}: expected grpc+unix:///absolute/path")]
    UnexpectedHost(String),
    #[error("grpc+unix URL has no socket path")]
    MissingSocketPath,
    #[error("grpc+http URL has no host")]
    MissingHost,
    #[error("grpc+http URL has path {0:?}: expected grpc+http://host:port")]
    UnexpectedPath(String),
    #[error("URL has a query {0:?}, which gRPC addresses do not take")]
    UnexpectedQuery(String),
    #[error("invalid gRPC endpoint: {0}")]
    InvalidEndpoint(#[from] tonic::transport::Error),
}

/// Where a gRPC URL points.
enum Target {
    UnixSocket(String),
    /// `host:port`.
    Http(String),
}

/// Checks every part of a gRPC URL, without connecting or needing a
/// runtime, so that a bad address is refused as soon as it is read.
pub fn check_url(url: &Url) -> Result<(), ChannelError> {
    target(url).map(drop)
}

fn target(url: &Url) -> Result<Target, ChannelError> {
    if let Some(query) = url.query() {
        return Err(ChannelError::UnexpectedQuery(query.to_owned()));
    }
    match url.scheme() {
        "grpc+unix" => {
            if let Some(host) = url.host_str().filter(|host| !host.is_empty()) {
                return Err(ChannelError::UnexpectedHost(host.to_owned()));
            }
            let socket_path = url.path().to_owned();
            if socket_path.is_empty() || socket_path == "/" {
                return Err(ChannelError::MissingSocketPath);
            }
            Ok(Target::UnixSocket(socket_path))
        }
        "grpc+http" => {
            let host = url
                .host_str()
                .filter(|host| !host.is_empty())
                .ok_or(ChannelError::MissingHost)?;
            if !matches!(url.path(), "" | "/") {
                return Err(ChannelError::UnexpectedPath(url.path().to_owned()));
            }
            Ok(Target::Http(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            }))
        }
        other => Err(ChannelError::UnsupportedScheme(other.to_owned())),
    }
}

/// Builds a lazily connecting channel for `url`.
pub fn channel_from_url(url: &Url) -> Result<Channel, ChannelError> {
    match target(url)? {
        Target::UnixSocket(socket_path) => {
            let connector = tower::service_fn(move |_: Uri| {
                let socket_path = socket_path.clone();
                async move {
                    Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket_path).await?))
                }
            });
            // The URI is only used for the HTTP/2 :authority header; the
            // connector ignores it.
            Ok(Endpoint::from_static("http://localhost").connect_with_connector_lazy(connector))
        }
        Target::Http(authority) => {
            Ok(Endpoint::from_shared(format!("http://{authority}"))?.connect_lazy())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::unix("grpc+unix:///run/tvix.sock", None)]
    #[case::http_port("grpc+http://localhost:8000", None)]
    #[case::http_ipv6("grpc+http://[::1]:8000", None)]
    #[case::http_trailing_slash("grpc+http://localhost:8000/", None)]
    #[case::http_default_port("grpc+http://localhost", None)]
    #[case::unix_host(
        "grpc+unix://host/run/tvix.sock",
        Some("grpc+unix URL has host \"host\": expected grpc+unix:///absolute/path")
    )]
    #[case::unix_no_path("grpc+unix://", Some("grpc+unix URL has no socket path"))]
    #[case::unix_root_path("grpc+unix:///", Some("grpc+unix URL has no socket path"))]
    #[case::http_no_host("grpc+http:///", Some("grpc+http URL has no host"))]
    #[case::http_path(
        "grpc+http://localhost:8000/foo",
        Some("grpc+http URL has path \"/foo\": expected grpc+http://host:port")
    )]
    #[case::query(
        "grpc+unix:///run/tvix.sock?x=1",
        Some("URL has a query \"x=1\", which gRPC addresses do not take")
    )]
    #[case::https(
        "grpc+https://localhost:8000",
        Some("unsupported scheme \"grpc+https\": expected grpc+unix or grpc+http")
    )]
    #[tokio::test]
    async fn from_url(#[case] url: &str, #[case] expected_error: Option<&str>) {
        let url = Url::parse(url).expect("parses as a URL");
        assert_eq!(
            expected_error.map(str::to_owned),
            channel_from_url(&url).err().map(|e| e.to_string())
        );
    }
}
