//! Addresses of local backends (`memory://`, `redb:///path`, `redb://`,
//! `sled:///path`, `sled://`), shared by every service's `from_addr` so a
//! store's addresses look alike.
//!
//! It must never ignore part of a URL: a host, path or query a backend does
//! not take is an error, so a typo cannot silently pick another store.

use thiserror::Error;
use url::Url;

/// A part of a local backend's URL that it does not take.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LocalAddrError {
    #[error("{scheme}:// takes no host, got {host:?}")]
    UnexpectedHost { scheme: String, host: String },
    #[error("{scheme}:// takes no path, got {path:?}")]
    UnexpectedPath { scheme: String, path: String },
    #[error("{scheme}:// takes no query, got {query:?}")]
    UnexpectedQuery { scheme: String, query: String },
}

/// The path of a local backend URL (`scheme:///path`), or None for
/// `scheme://`. Hosts and queries are refused rather than ignored.
pub fn local_location(url: &Url) -> Result<Option<String>, LocalAddrError> {
    let scheme = url.scheme().to_owned();
    if let Some(host) = url.host_str().filter(|host| !host.is_empty()) {
        return Err(LocalAddrError::UnexpectedHost {
            scheme,
            host: host.to_owned(),
        });
    }
    if let Some(query) = url.query() {
        return Err(LocalAddrError::UnexpectedQuery {
            scheme,
            query: query.to_owned(),
        });
    }
    Ok(match url.path() {
        "" | "/" => None,
        path => Some(path.to_owned()),
    })
}

/// Checks that the URL of a backend without settings (`memory://`) has no
/// host, path or query.
pub fn expect_bare(url: &Url) -> Result<(), LocalAddrError> {
    match local_location(url)? {
        Some(path) => Err(LocalAddrError::UnexpectedPath {
            scheme: url.scheme().to_owned(),
            path,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::no_path("redb://", None)]
    #[case::root_path("redb:///", None)]
    #[case::absolute_path("sled:///tmp/x.sled", Some("/tmp/x.sled"))]
    fn location(#[case] url: &str, #[case] expected: Option<&str>) {
        let url = Url::parse(url).expect("url");
        assert_eq!(
            Ok(expected.map(str::to_owned)),
            local_location(&url),
            "{url}"
        );
    }

    #[rstest]
    #[case::host("redb://host/x", "redb:// takes no host, got \"host\"")]
    #[case::query("sled:///x?flush=1", "sled:// takes no query, got \"flush=1\"")]
    #[case::bare_with_path("memory:///foo", "memory:// takes no path, got \"/foo\"")]
    fn refused(#[case] url: &str, #[case] expected: &str) {
        let url = Url::parse(url).expect("url");
        let err = expect_bare(&url).expect_err("must be refused");
        assert_eq!(expected, err.to_string());
    }
}
