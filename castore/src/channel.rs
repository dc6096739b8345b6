//! Turning a `grpc+…` URL into a gRPC channel ([GrpcChannel]), shared by the
//! gRPC clients of every castore service so they accept the same addresses.
//!
//! - `grpc+unix:///path/to/socket`: a Unix domain socket (absolute path, no
//!   host).
//! - `grpc+http://host:port`: plain HTTP/2 over TCP (no path besides `/`).
//! - `grpc+https://host:port`: HTTP/2 over TLS (rustls). The server's
//!   certificate is checked against the system's roots, or only against the
//!   PEM certificate(s) of `?ca=/path/ca.pem`; `&cert=…&key=…` (PEM) are
//!   the client's own certificate and key, for servers that ask for one
//!   (mTLS).
//!
//! Any of them takes `token_file=/path`: a file whose contents (trimmed)
//! are sent as `authorization: Bearer <token>` with every request. Without
//! it, the environment variable `TVIX_STORE_TOKEN` (the token itself) is
//! used when set. The token is never part of the URL itself: URLs end up
//! in logs and process listings.
//!
//! Channels connect lazily: building one never blocks or fails on an
//! unreachable server; the first request does. Parts of a URL that gRPC does
//! not use (an unknown query parameter, a host for Unix sockets) must never
//! be ignored: they are errors.

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use thiserror::Error;
use tokio::net::UnixStream;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};
use url::Url;

/// The environment variable a client takes its bearer token from when its
/// URL names no `token_file`.
pub const TOKEN_ENV: &str = "TVIX_STORE_TOKEN";

/// What the gRPC clients talk through: a channel that adds the bearer
/// token, if there is one, to every request.
pub type GrpcChannel = InterceptedService<Channel, BearerToken>;

/// Adds `authorization: Bearer <token>` to every request, or nothing.
#[derive(Clone, Default)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

impl BearerToken {
    /// The token as sent, or an error for one that cannot be a header.
    pub fn new(token: &str) -> Result<Self, ChannelError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(ChannelError::InvalidToken);
        }
        format!("Bearer {token}")
            .parse()
            .map(|value| Self(Some(value)))
            .map_err(|_| ChannelError::InvalidToken)
    }
}

impl Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Why a URL cannot be turned into a gRPC channel.
#[derive(Debug, Error)]
pub enum ChannelError {
    #[error("unsupported scheme {0:?}: expected grpc+unix, grpc+http or grpc+https")]
    UnsupportedScheme(String),
    #[error("grpc+unix URL has host {0:?}: expected grpc+unix:///absolute/path")]
    UnexpectedHost(String),
    #[error("grpc+unix URL has no socket path")]
    MissingSocketPath,
    #[error("{0} URL has no host")]
    MissingHost(String),
    #[error("{scheme} URL has path {path:?}: expected {scheme}://host:port")]
    UnexpectedPath { scheme: String, path: String },
    #[error(
        "URL has the query parameter {0:?}, which gRPC addresses do not take (token_file; for grpc+https also ca, cert, key)"
    )]
    UnexpectedQuery(String),
    #[error("a client certificate needs both cert= and key=")]
    HalfIdentity,
    #[error("reading {path:?}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the bearer token is empty or not a valid header value")]
    InvalidToken,
    #[error("invalid gRPC endpoint: {0}")]
    InvalidEndpoint(#[from] tonic::transport::Error),
}

/// The query parameters of a gRPC URL.
#[derive(Default)]
struct Params {
    token_file: Option<PathBuf>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

impl Params {
    /// Reads the query of `url`; TLS parameters only where `tls` is set.
    fn parse(url: &Url, tls: bool) -> Result<Self, ChannelError> {
        let mut params = Self::default();
        for (name, value) in url.query_pairs() {
            let slot = match &*name {
                "token_file" => &mut params.token_file,
                "ca" if tls => &mut params.ca,
                "cert" if tls => &mut params.cert,
                "key" if tls => &mut params.key,
                _ => return Err(ChannelError::UnexpectedQuery(name.into_owned())),
            };
            *slot = Some(PathBuf::from(&*value));
        }
        Ok(params)
    }

    /// The token: from `token_file`, else from [TOKEN_ENV], else none.
    fn token(&self) -> Result<BearerToken, ChannelError> {
        match &self.token_file {
            Some(path) => BearerToken::new(&String::from_utf8_lossy(&read(path)?)),
            None => match std::env::var(TOKEN_ENV) {
                Ok(token) => BearerToken::new(&token),
                Err(_) => Ok(BearerToken::default()),
            },
        }
    }

    fn tls_config(&self) -> Result<ClientTlsConfig, ChannelError> {
        let mut config = ClientTlsConfig::new();
        config = match &self.ca {
            Some(ca) => config.ca_certificate(Certificate::from_pem(read(ca)?)),
            None => config.with_native_roots(),
        };
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                Ok(config.identity(Identity::from_pem(read(cert)?, read(key)?)))
            }
            (None, None) => Ok(config),
            _ => Err(ChannelError::HalfIdentity),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ChannelError> {
    std::fs::read(path).map_err(|source| ChannelError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

/// Where a gRPC URL points.
enum Target {
    UnixSocket(String),
    /// `host:port`, over TLS where `tls` is set.
    Http {
        authority: String,
        tls: bool,
    },
}

/// Checks every part of a gRPC URL, without connecting, reading files or
/// needing a runtime, so that a bad address is refused as soon as it is
/// read.
pub fn check_url(url: &Url) -> Result<(), ChannelError> {
    target(url).map(drop)
}

fn target(url: &Url) -> Result<(Target, Params), ChannelError> {
    let tls = url.scheme() == "grpc+https";
    let params = Params::parse(url, tls)?;
    let target = match url.scheme() {
        "grpc+unix" => {
            if let Some(host) = url.host_str().filter(|host| !host.is_empty()) {
                return Err(ChannelError::UnexpectedHost(host.to_owned()));
            }
            let socket_path = url.path().to_owned();
            if socket_path.is_empty() || socket_path == "/" {
                return Err(ChannelError::MissingSocketPath);
            }
            Target::UnixSocket(socket_path)
        }
        scheme @ ("grpc+http" | "grpc+https") => {
            let host = url
                .host_str()
                .filter(|host| !host.is_empty())
                .ok_or_else(|| ChannelError::MissingHost(scheme.to_owned()))?;
            if !matches!(url.path(), "" | "/") {
                return Err(ChannelError::UnexpectedPath {
                    scheme: scheme.to_owned(),
                    path: url.path().to_owned(),
                });
            }
            let authority = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            Target::Http { authority, tls }
        }
        other => return Err(ChannelError::UnsupportedScheme(other.to_owned())),
    };
    Ok((target, params))
}

/// Builds a lazily connecting channel for `url`.
pub fn channel_from_url(url: &Url) -> Result<GrpcChannel, ChannelError> {
    let (target, params) = target(url)?;
    let channel = match target {
        Target::UnixSocket(socket_path) => {
            let connector = tower::service_fn(move |_: Uri| {
                let socket_path = socket_path.clone();
                async move {
                    Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket_path).await?))
                }
            });
            // The URI is only used for the HTTP/2 :authority header; the
            // connector ignores it.
            Endpoint::from_static("http://localhost").connect_with_connector_lazy(connector)
        }
        Target::Http {
            authority,
            tls: true,
        } => Endpoint::from_shared(format!("https://{authority}"))?
            .tls_config(params.tls_config()?)?
            .connect_lazy(),
        Target::Http {
            authority,
            tls: false,
        } => Endpoint::from_shared(format!("http://{authority}"))?.connect_lazy(),
    };
    Ok(InterceptedService::new(channel, params.token()?))
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
    #[case::https("grpc+https://localhost:8000", None)]
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
    #[case::unknown_query(
        "grpc+unix:///run/tvix.sock?x=1",
        Some(
            "URL has the query parameter \"x\", which gRPC addresses do not take (token_file; for grpc+https also ca, cert, key)"
        )
    )]
    #[case::ca_without_tls(
        "grpc+http://localhost:8000?ca=/ca.pem",
        Some(
            "URL has the query parameter \"ca\", which gRPC addresses do not take (token_file; for grpc+https also ca, cert, key)"
        )
    )]
    #[case::missing_token_file(
        "grpc+http://localhost:8000?token_file=/nonexistent/token",
        Some("reading \"/nonexistent/token\": No such file or directory (os error 2)")
    )]
    #[case::half_identity(
        "grpc+https://localhost:8000?cert=/cert.pem",
        Some("a client certificate needs both cert= and key=")
    )]
    #[case::other_scheme(
        "grpc+ftp://localhost:8000",
        Some("unsupported scheme \"grpc+ftp\": expected grpc+unix, grpc+http or grpc+https")
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
