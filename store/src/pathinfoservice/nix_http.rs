//! [NixHttpPathInfoService]: a read-only path info service over a Nix HTTP
//! binary cache (`nix+http://host/path`, `nix+https://host/path`).
//!
//! `get` fetches `<base>/<nixbase32 digest>.narinfo`, checks that a trusted
//! key signed it, then fetches the NAR it points to, decompresses it while
//! ingesting it into the castore, and checks the NAR's size and sha256
//! against the signed narinfo. Only then is a [PathInfo] returned (and
//! remembered, so the NAR is fetched once per service). What the cache says
//! is never trusted before it was checked: a bad signature, NAR hash or size
//! is an error, never a PathInfo.
//!
//! Nix's signature covers the store path, NAR hash, NAR size and
//! references, but not the `URL`, `Compression`, `FileHash` or `FileSize`
//! lines: whoever serves the narinfo may point it at any file. So the NAR
//! that file decompresses to is checked against the signed NAR hash and
//! size before its directories are committed to the castore (a wrong one
//! leaves only unreferenced file blobs), and the file itself against
//! `FileSize` and `FileHash` when the narinfo gives them: a cache whose
//! unsigned lines disagree with its files is broken or tampered with.
//!
//! The signature policy follows Nix's settings, given as URL query
//! parameters with Nix's names:
//! - `trusted-public-keys=name:base64 name2:base64…` (space separated; a
//!   literal `+` stays a `+`): the keys to trust. Absent, Nix's default
//!   `cache.nixos.org-1` key is trusted, so `nix+https://cache.nixos.org`
//!   just works.
//! - `require-sigs=false` accepts narinfos without a valid signature (their
//!   NAR hash and size are still checked); the default is `true`. An empty
//!   `trusted-public-keys=` with signatures required would refuse every
//!   path, so that address is refused instead.
//!
//! FUTUREWORK: Nix also accepts unsigned content-addressed paths whose
//! store path matches their CA field; here they need a signature (or
//! `require-sigs=false`).

use std::io;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use futures::stream::BoxStream;
use lru::LruCache;
use nix_compat::narinfo::{self, KeyError, NarInfo, VerifyingKey};
use nix_compat::nixbase32;
use nix_compat::store_path::{DIGEST_SIZE, StorePath};
use percent_encoding::percent_decode_str;
use reqwest::StatusCode;
use thiserror::Error;
use tokio::io::AsyncReadExt;
use tokio_util::io::StreamReader;
use tracing::{debug, instrument};
use tvix_castore::blobservice::BlobService;
use tvix_castore::directoryservice::DirectoryService;
use url::Url;

use super::{Error, PathInfoService};
use crate::PathInfo;
use crate::nar::{
    IngestNarError, NarCompression, NarSummary, UnsupportedCompression, ingest_nar_verified,
};

mod file_check;

use file_check::{FileCheck, FileChecked};

/// The key Nix trusts when `trusted-public-keys` is not set.
pub const NIX_DEFAULT_TRUSTED_PUBLIC_KEY: &str =
    "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=";

/// Largest narinfo read. Real ones are well below a kilobyte, even with a
/// thousand references; a cache must not choose how much memory we spend.
const MAX_NARINFO_SIZE: usize = 1024 * 1024;
/// Most PathInfos remembered (a few hundred bytes each).
const MAX_REMEMBERED: NonZeroUsize = NonZeroUsize::new(64 * 1024).expect("not zero");
/// A connection that cannot be set up in this time is given up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A transfer that sends nothing for this long is given up.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Which narinfos are believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignaturePolicy {
    /// A narinfo needs a valid signature by one of these keys (never empty).
    Require(Vec<VerifyingKey>),
    /// Signatures are not checked (`require-sigs=false`).
    Ignore,
}

/// Why a `nix+http(s)://` address does not describe a service.
#[derive(Debug, Error)]
pub enum NixHttpAddrError {
    #[error("{0:?} is not a nix+http:// or nix+https:// URL")]
    NotNixHttp(String),
    #[error("invalid cache URL {url:?}: {source}")]
    InvalidUrl {
        url: String,
        source: url::ParseError,
    },
    #[error("unknown query parameter {0:?}: expected trusted-public-keys or require-sigs")]
    UnknownParameter(String),
    #[error("query parameter {0:?} given twice")]
    DuplicateParameter(String),
    #[error("query parameter {0:?} is not UTF-8 once percent-decoded")]
    NotUtf8(String),
    #[error("trusted-public-keys: {key:?}: {source}")]
    InvalidKey { key: String, source: KeyError },
    #[error("require-sigs must be true or false, got {0:?}")]
    InvalidRequireSigs(String),
    #[error("trusted-public-keys is empty while require-sigs is true: every path would be refused")]
    NoTrustedKeys,
    #[error("setting up the HTTP client: {0}")]
    Client(reqwest::Error),
}

/// Why a path could not be read from the binary cache.
#[derive(Debug, Error)]
pub enum NixHttpError {
    #[error("fetching {url}: {source}")]
    Request { url: Url, source: reqwest::Error },
    #[error("fetching {url}: HTTP status {status}")]
    Status { url: Url, status: StatusCode },
    #[error("{url}: the narinfo is larger than {MAX_NARINFO_SIZE} bytes")]
    NarInfoTooLarge { url: Url },
    #[error("{url}: the narinfo is not UTF-8")]
    NarInfoNotUtf8 { url: Url },
    #[error("{url}: {source}")]
    NarInfo { url: Url, source: narinfo::Error },
    #[error("{url}: describes {got}, not the requested path")]
    WrongStorePath { url: Url, got: StorePath },
    #[error("{store_path}: no valid signature by a trusted key")]
    Untrusted { store_path: StorePath },
    #[error("{store_path}: NAR URL {nar_url:?}: {source}")]
    InvalidNarUrl {
        store_path: StorePath,
        nar_url: String,
        source: url::ParseError,
    },
    #[error("{store_path}: NAR URL {nar_url} is not http or https")]
    NarUrlScheme { store_path: StorePath, nar_url: Url },
    #[error("{store_path}: {source}")]
    Compression {
        store_path: StorePath,
        source: UnsupportedCompression,
    },
    #[error("{store_path}: ingesting the NAR from {nar_url}: {source}")]
    Ingest {
        store_path: StorePath,
        nar_url: Url,
        source: IngestNarError,
    },
    #[error("{store_path}: the NAR is {got} bytes, the narinfo says {expected}")]
    NarSize {
        store_path: StorePath,
        expected: u64,
        got: u64,
    },
    #[error(
        "{store_path}: the NAR has sha256 {}, the narinfo says {}",
        nixbase32::encode(.got),
        nixbase32::encode(.expected)
    )]
    NarHash {
        store_path: StorePath,
        expected: [u8; 32],
        got: [u8; 32],
    },
    #[error("{store_path}: the file {nar_url} is {got} bytes, the narinfo says {expected}")]
    FileSize {
        store_path: StorePath,
        nar_url: Url,
        expected: u64,
        got: u64,
    },
    #[error(
        "{store_path}: the file {nar_url} has sha256 {}, the narinfo says {}",
        nixbase32::encode(.got),
        nixbase32::encode(.expected)
    )]
    FileHash {
        store_path: StorePath,
        nar_url: Url,
        expected: [u8; 32],
        got: [u8; 32],
    },
    #[error("a Nix binary cache is read-only: cannot put {0}")]
    ReadOnly(StorePath),
    #[error("a Nix binary cache cannot list its paths")]
    ListUnsupported,
}

/// A read-only [PathInfoService] over a Nix HTTP binary cache, ingesting
/// NARs into the given castore on first use.
pub struct NixHttpPathInfoService {
    /// The cache root, ending in `/` so that file names join below it.
    base_url: Url,
    policy: SignaturePolicy,
    http: reqwest::Client,
    blob_service: Arc<dyn BlobService>,
    directory_service: Arc<dyn DirectoryService>,
    /// PathInfos already checked and ingested, the [MAX_REMEMBERED] used
    /// last: a long-running process (a daemon, nar-bridge) may ask for any
    /// number of paths. Forgetting one only costs a fetch (the castore
    /// keeps its contents). Two concurrent first gets of one path both
    /// fetch it; the castore deduplicates what they write.
    ingested: Mutex<LruCache<[u8; DIGEST_SIZE], PathInfo>>,
}

impl NixHttpPathInfoService {
    /// A service over the cache at `base_url` (`http` or `https`).
    pub fn new(
        mut base_url: Url,
        policy: SignaturePolicy,
        blob_service: Arc<dyn BlobService>,
        directory_service: Arc<dyn DirectoryService>,
    ) -> Result<Self, NixHttpAddrError> {
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(NixHttpAddrError::Client)?;
        Ok(Self {
            base_url,
            policy,
            http,
            blob_service,
            directory_service,
            ingested: Mutex::new(LruCache::new(MAX_REMEMBERED)),
        })
    }

    /// A service from its address, `nix+http(s)://host/path?query` (see
    /// the module doc for the query).
    pub fn from_addr(
        addr: &str,
        blob_service: Arc<dyn BlobService>,
        directory_service: Arc<dyn DirectoryService>,
    ) -> Result<Self, NixHttpAddrError> {
        let settings = NixHttpSettings::from_addr(addr)?;
        Self::new(
            settings.base_url,
            SignaturePolicy::new(
                settings.trusted_public_keys.as_deref(),
                settings.require_sigs,
            )?,
            blob_service,
            directory_service,
        )
    }

    /// Fetches, checks and ingests the path with this digest.
    #[instrument(skip(self), fields(digest = nixbase32::encode(&digest)), err)]
    async fn fetch(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error> {
        let narinfo_url = self.join(&format!("{}.narinfo", nixbase32::encode(&digest)));
        let Some(text) = self.fetch_narinfo(&narinfo_url).await? else {
            return Ok(None);
        };
        let narinfo = NarInfo::parse(&text).map_err(|source| NixHttpError::NarInfo {
            url: narinfo_url.clone(),
            source,
        })?;
        let store_path = narinfo.store_path.to_owned();
        if *store_path.digest() != digest {
            return Err(NixHttpError::WrongStorePath {
                url: narinfo_url,
                got: store_path,
            }
            .into());
        }
        if !self.trusts(&narinfo) {
            return Err(NixHttpError::Untrusted { store_path }.into());
        }
        let compression = NarCompression::from_narinfo(narinfo.compression).map_err(|source| {
            NixHttpError::Compression {
                store_path: store_path.clone(),
                source,
            }
        })?;
        let nar_url =
            self.base_url
                .join(narinfo.url)
                .map_err(|source| NixHttpError::InvalidNarUrl {
                    store_path: store_path.clone(),
                    nar_url: narinfo.url.to_owned(),
                    source,
                })?;
        if !matches!(nar_url.scheme(), "http" | "https") {
            return Err(NixHttpError::NarUrlScheme {
                store_path,
                nar_url,
            }
            .into());
        }

        debug!(%nar_url, ?compression, "fetching NAR");
        let response = self.get_ok(&nar_url).await?;
        let body = StreamReader::new(response.bytes_stream().map_err(io::Error::other));
        let (file, tally) = FileCheck::new(body, narinfo.file_size);
        // One byte more than announced, so a longer NAR is noticed as data
        // after its end, while a lying cache cannot make us read on forever.
        let nar = compression
            .decode(tokio::io::BufReader::new(file))
            .take(narinfo.nar_size.saturating_add(1));
        let verify = |summary: &NarSummary| {
            check_nar(&store_path, &nar_url, &narinfo, summary, tally.get())
                .map_err(|error| error as Box<dyn std::error::Error + Send + Sync>)
        };
        let ingested = ingest_nar_verified(
            self.blob_service.as_ref(),
            self.directory_service.as_ref(),
            nar,
            verify,
        )
        .await
        .map_err(|source| match source {
            IngestNarError::Refused(refused) => match refused.downcast::<NixHttpError>() {
                Ok(error) => *error,
                Err(other) => NixHttpError::Ingest {
                    store_path: store_path.clone(),
                    nar_url: nar_url.clone(),
                    source: IngestNarError::Refused(other),
                },
            },
            source => NixHttpError::Ingest {
                store_path: store_path.clone(),
                nar_url: nar_url.clone(),
                source,
            },
        })?;
        Ok(Some(PathInfo {
            store_path,
            node: ingested.node,
            references: narinfo
                .references
                .iter()
                .map(|reference| reference.to_owned())
                .collect(),
            nar_size: narinfo.nar_size,
            nar_sha256: narinfo.nar_hash,
            signatures: narinfo.signatures.iter().copied().map(Into::into).collect(),
            deriver: narinfo.deriver.map(|deriver| deriver.to_owned()),
            ca: narinfo.ca,
        }))
    }

    /// The narinfo text at `url`, or None if the cache does not have it
    /// (404, as Nix's HTTP binary cache store takes it).
    async fn fetch_narinfo(&self, url: &Url) -> Result<Option<String>, Error> {
        let response = self.send(url).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let mut response = check_status(url, response)?;
        let request_error = |source| NixHttpError::Request {
            url: url.clone(),
            source,
        };
        let mut text = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if text.len() + chunk.len() > MAX_NARINFO_SIZE {
                return Err(NixHttpError::NarInfoTooLarge { url: url.clone() }.into());
            }
            text.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(text)
            .map_err(|_| NixHttpError::NarInfoNotUtf8 { url: url.clone() })?;
        Ok(Some(text))
    }

    /// Sends a GET for `url`, refusing any status but success.
    async fn get_ok(&self, url: &Url) -> Result<reqwest::Response, Error> {
        check_status(url, self.send(url).await?)
    }

    /// Sends a GET for `url`, whatever the status of the answer.
    async fn send(&self, url: &Url) -> Result<reqwest::Response, Error> {
        Ok(self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|source| NixHttpError::Request {
                url: url.clone(),
                source,
            })?)
    }

    /// Whether the signature policy accepts `narinfo`: as Nix, one valid
    /// signature by a trusted key is enough.
    fn trusts(&self, narinfo: &NarInfo<'_>) -> bool {
        match &self.policy {
            SignaturePolicy::Ignore => true,
            SignaturePolicy::Require(keys) => {
                let fingerprint = narinfo.fingerprint();
                narinfo.signatures.iter().any(|signature| {
                    keys.iter()
                        .any(|key| signature.verify(fingerprint.as_bytes(), key))
                })
            }
        }
    }

    /// `file` below the cache root; file names made here always join.
    fn join(&self, file: &str) -> Url {
        let mut url = self.base_url.clone();
        let path = format!("{}{file}", url.path());
        url.set_path(&path);
        url
    }

    fn remembered(&self, digest: &[u8; DIGEST_SIZE]) -> Option<PathInfo> {
        self.ingested
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(digest)
            .cloned()
    }

    fn remember(&self, path_info: &PathInfo) {
        self.ingested
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .put(*path_info.store_path.digest(), path_info.clone());
    }
}

/// Checks the NAR that was read (`summary`) against the signed NAR size and
/// hash of `narinfo`, and the file it came from (`file`) against the
/// narinfo's unsigned `FileSize` and `FileHash` where it has them.
fn check_nar(
    store_path: &StorePath,
    nar_url: &Url,
    narinfo: &NarInfo<'_>,
    summary: &NarSummary,
    file: FileChecked,
) -> Result<(), Box<NixHttpError>> {
    if summary.nar_size != narinfo.nar_size {
        return Err(Box::new(NixHttpError::NarSize {
            store_path: store_path.clone(),
            expected: narinfo.nar_size,
            got: summary.nar_size,
        }));
    }
    if summary.nar_sha256 != narinfo.nar_hash {
        return Err(Box::new(NixHttpError::NarHash {
            store_path: store_path.clone(),
            expected: narinfo.nar_hash,
            got: summary.nar_sha256,
        }));
    }
    if let Some(expected) = narinfo.file_size.filter(|&size| size != file.size) {
        return Err(Box::new(NixHttpError::FileSize {
            store_path: store_path.clone(),
            nar_url: nar_url.clone(),
            expected,
            got: file.size,
        }));
    }
    if let Some(expected) = narinfo.file_hash.filter(|&hash| hash != file.sha256) {
        return Err(Box::new(NixHttpError::FileHash {
            store_path: store_path.clone(),
            nar_url: nar_url.clone(),
            expected,
            got: file.sha256,
        }));
    }
    Ok(())
}

/// `response` if its status is a success, else the error naming it.
fn check_status(url: &Url, response: reqwest::Response) -> Result<reqwest::Response, Error> {
    let status = response.status();
    if status.is_success() {
        Ok(response)
    } else {
        Err(NixHttpError::Status {
            url: url.clone(),
            status,
        }
        .into())
    }
}

/// The signature policy a cache address's query asks for. Parameters are
/// split and percent-decoded as Nix does, which keeps `+` as it is (base64
/// keys contain it).
/// What a `nix+http(s)://host/path?query` address says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixHttpSettings {
    /// `http(s)://host/path`, without the query.
    pub base_url: Url,
    /// The `trusted-public-keys` parameter: keys separated by white space.
    pub trusted_public_keys: Option<String>,
    /// The `require-sigs` parameter (default true).
    pub require_sigs: bool,
}

impl NixHttpSettings {
    pub fn from_addr(addr: &str) -> Result<Self, NixHttpAddrError> {
        let http_addr = addr
            .strip_prefix("nix+")
            .filter(|rest| rest.starts_with("http://") || rest.starts_with("https://"))
            .ok_or_else(|| NixHttpAddrError::NotNixHttp(addr.to_owned()))?;
        let mut base_url =
            Url::parse(http_addr).map_err(|source| NixHttpAddrError::InvalidUrl {
                url: http_addr.to_owned(),
                source,
            })?;
        let mut trusted_public_keys = None;
        let mut require_sigs = None;
        let query = base_url.query().unwrap_or("").to_owned();
        for parameter in query.split('&').filter(|parameter| !parameter.is_empty()) {
            let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            let value = percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| NixHttpAddrError::NotUtf8(name.to_owned()))?;
            let slot = match name {
                "trusted-public-keys" => &mut trusted_public_keys,
                "require-sigs" => &mut require_sigs,
                other => return Err(NixHttpAddrError::UnknownParameter(other.to_owned())),
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(NixHttpAddrError::DuplicateParameter(name.to_owned()));
            }
        }
        let require_sigs = match require_sigs.as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => return Err(NixHttpAddrError::InvalidRequireSigs(other.to_owned())),
        };
        base_url.set_query(None);
        let settings = Self {
            base_url,
            trusted_public_keys,
            require_sigs,
        };
        // Checked now, so that a bad key is refused before anything opens.
        SignaturePolicy::new(settings.trusted_public_keys.as_deref(), require_sigs)?;
        Ok(settings)
    }
}

impl SignaturePolicy {
    /// The policy of `trusted-public-keys` (white-space separated; the
    /// cache.nixos.org key if not given) and `require-sigs`.
    pub fn new(
        trusted_public_keys: Option<&str>,
        require_sigs: bool,
    ) -> Result<Self, NixHttpAddrError> {
        if !require_sigs {
            return Ok(SignaturePolicy::Ignore);
        }
        let keys = trusted_public_keys
            .unwrap_or(NIX_DEFAULT_TRUSTED_PUBLIC_KEY)
            .split_whitespace()
            .map(|key| {
                VerifyingKey::from_str(key).map_err(|source| NixHttpAddrError::InvalidKey {
                    key: key.to_owned(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(NixHttpAddrError::NoTrustedKeys);
        }
        Ok(SignaturePolicy::Require(keys))
    }
}

#[async_trait]
impl PathInfoService for NixHttpPathInfoService {
    async fn get(&self, digest: [u8; DIGEST_SIZE]) -> Result<Option<PathInfo>, Error> {
        if let Some(path_info) = self.remembered(&digest) {
            return Ok(Some(path_info));
        }
        let path_info = self.fetch(digest).await?;
        if let Some(path_info) = &path_info {
            self.remember(path_info);
        }
        Ok(path_info)
    }

    async fn put(&self, path_info: PathInfo) -> Result<PathInfo, Error> {
        Err(NixHttpError::ReadOnly(path_info.store_path).into())
    }

    fn list(&self) -> BoxStream<'static, Result<PathInfo, Error>> {
        Box::pin(futures::stream::once(async {
            Err(NixHttpError::ListUnsupported.into())
        }))
    }
}

#[cfg(test)]
mod tests;
