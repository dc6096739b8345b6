//! Who may use a `tvix-store daemon`.
//!
//! On a Unix socket (the default) the socket's file mode decides. TCP is
//! only used when asked for, and then the daemon can serve TLS (rustls),
//! ask clients for a certificate signed by a given CA (mTLS), and require a
//! bearer token in every request's `authorization` metadata. Plaintext TCP
//! on an address other than loopback, where anyone on the network could
//! read and write the store, is refused unless `--insecure` says it is
//! meant. The client side of all this is in [tvix_castore::channel].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// The daemon's access flags; flatten into its subcommand.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AccessArgs {
    /// PEM certificate (chain) to serve TLS with on a TCP address; clients
    /// then connect with grpc+https://. Needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificate(s): only clients presenting a certificate signed
    /// by one of them may connect (mTLS). Needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// File holding a bearer token (surrounding whitespace ignored) every
    /// request must carry as `authorization: Bearer <token>`; clients send
    /// it with `?token_file=` on their address or TVIX_STORE_TOKEN.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Serve plaintext TCP on an address other than loopback, which anyone
    /// who can reach it may read and write.
    #[arg(long)]
    pub insecure: bool,
}

/// Why the access rules cannot be set up as asked.
#[derive(Debug, Error)]
pub enum AccessError {
    #[error("reading {path:?}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the listening socket's address: {0}")]
    LocalAddr(std::io::Error),
    #[error("the token file {0:?} is empty")]
    EmptyToken(PathBuf),
    #[error("TLS is for TCP addresses; a Unix socket's file mode decides who may connect")]
    TlsOnUnixSocket,
    #[error(
        "refusing plaintext TCP on {0}, which is not a loopback address: give --tls-cert and --tls-key, or --insecure if that is meant"
    )]
    PlaintextBeyondLoopback(std::net::SocketAddr),
}

/// The access rules of a daemon, loaded from [AccessArgs].
#[derive(Clone, Default)]
pub struct Access {
    pub(crate) tls: Option<ServerTlsConfig>,
    pub(crate) token: TokenCheck,
    insecure: bool,
}

impl AccessArgs {
    /// Reads the certificates, key and token the flags name.
    pub fn load(&self) -> Result<Access, AccessError> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                let config =
                    ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
                Some(match &self.tls_client_ca {
                    Some(ca) => config.client_ca_root(Certificate::from_pem(read(ca)?)),
                    None => config,
                })
            }
            // clap makes the two flags come together.
            _ => None,
        };
        let token = match &self.token_file {
            Some(path) => {
                let token = read(path)?;
                let token = token.trim_ascii();
                if token.is_empty() {
                    return Err(AccessError::EmptyToken(path.clone()));
                }
                TokenCheck::new(token)
            }
            None => TokenCheck::default(),
        };
        Ok(Access {
            tls,
            token,
            insecure: self.insecure,
        })
    }
}

impl Access {
    /// Whether these rules may guard a listener bound to `local`
    /// (None for a Unix socket).
    pub(crate) fn check(&self, local: Option<std::net::SocketAddr>) -> Result<(), AccessError> {
        match local {
            None if self.tls.is_some() => Err(AccessError::TlsOnUnixSocket),
            Some(addr) if self.tls.is_none() && !self.insecure && !addr.ip().is_loopback() => {
                Err(AccessError::PlaintextBeyondLoopback(addr))
            }
            _ => Ok(()),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, AccessError> {
    std::fs::read(path).map_err(|source| AccessError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

/// Checks the bearer token of every request, or lets every request through
/// when no token is set. Only the token's sha256 is kept, and the one
/// presented is hashed and compared in constant time, so neither its
/// contents nor its length can be learnt from response times.
#[derive(Clone, Default)]
pub struct TokenCheck(Option<Arc<[u8; 32]>>);

impl TokenCheck {
    pub fn new(token: &[u8]) -> Self {
        Self(Some(Arc::new(Sha256::digest(token).into())))
    }
}

impl Interceptor for TokenCheck {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let Some(expected) = &self.0 else {
            return Ok(request);
        };
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
            .map(|token| Sha256::digest(token.trim_ascii()));
        match presented {
            Some(digest) if bool::from(digest.as_slice().ct_eq(expected.as_slice())) => Ok(request),
            Some(_) => Err(tonic::Status::unauthenticated("wrong bearer token")),
            None => Err(tonic::Status::unauthenticated(
                "a bearer token is required (authorization: Bearer …)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::right(Some("Bearer s3cret"), true)]
    #[case::wrong(Some("Bearer s3cre7"), false)]
    #[case::prefix(Some("Bearer s3cre"), false)]
    #[case::longer(Some("Bearer s3cret2"), false)]
    #[case::not_bearer(Some("Basic s3cret"), false)]
    #[case::missing(None, false)]
    fn token_check(#[case] header: Option<&str>, #[case] accepted: bool) {
        let mut request = tonic::Request::new(());
        if let Some(header) = header {
            request
                .metadata_mut()
                .insert("authorization", header.parse().expect("ascii"));
        }
        let result = TokenCheck::new(b"s3cret").call(request);
        assert_eq!(accepted, result.is_ok());
        if let Err(status) = result {
            assert_eq!(tonic::Code::Unauthenticated, status.code());
        }
    }

    #[test]
    fn no_token_lets_everything_through() {
        assert!(TokenCheck::default().call(tonic::Request::new(())).is_ok());
    }

    #[rstest]
    #[case::unix(None, false, Ok(()))]
    #[case::loopback(Some("127.0.0.1:1"), false, Ok(()))]
    #[case::loopback_v6(Some("[::1]:1"), false, Ok(()))]
    #[case::anywhere(
        Some("0.0.0.0:1"),
        false,
        Err(
            "refusing plaintext TCP on 0.0.0.0:1, which is not a loopback address: give --tls-cert and --tls-key, or --insecure if that is meant"
        )
    )]
    #[case::anywhere_insecure(Some("0.0.0.0:1"), true, Ok(()))]
    fn plaintext(
        #[case] local: Option<&str>,
        #[case] insecure: bool,
        #[case] expected: Result<(), &str>,
    ) {
        let access = Access {
            insecure,
            ..Default::default()
        };
        let local = local.map(|addr| addr.parse().expect("socket address"));
        assert_eq!(
            expected.map_err(str::to_owned),
            access.check(local).map_err(|e| e.to_string())
        );
    }
}
