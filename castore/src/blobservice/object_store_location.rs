//! Where an [ObjectStoreBlobService] keeps its objects, from the URL of a
//! `type = "objectstore"` entry (or an `objectstore+<url>` address):
//!
//! | URL | store |
//! |---|---|
//! | `memory://` | in memory |
//! | `file:///absolute/path` | a local directory |
//! | `s3://bucket/prefix?endpoint=…&region=…&timeout=…` | an S3 bucket, below `prefix` |
//!
//! S3 credentials (and a region or endpoint the URL does not give) come
//! from the usual `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT`, …). `endpoint` is an S3-compatible server (`http://` is
//! allowed for it, e.g. a local test server); `timeout` (seconds, default
//! 60) bounds every request including its retries, so an unreachable
//! server is an error after that long rather than a hang.
//!
//! Every part of a URL is used or refused, never ignored: a typo cannot
//! silently pick another store.

use std::sync::Arc;
use std::time::Duration;

use ::object_store::aws::AmazonS3Builder;
use ::object_store::local::LocalFileSystem;
use ::object_store::memory::InMemory;
use ::object_store::path::Path as ObjectStorePath;
use ::object_store::{ClientOptions, RetryConfig};
use url::Url;

use super::ObjectStoreBlobService;
use super::from_addr::{FromAddrError, expect_bare, expect_no_host_or_query};

/// How long an S3 request may take, retries included, unless the URL says.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A checked object store URL; see the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectStoreLocation {
    Memory,
    File {
        url: String,
        base: ObjectStorePath,
    },
    S3 {
        bucket: String,
        prefix: ObjectStorePath,
        endpoint: Option<String>,
        region: Option<String>,
        timeout: Duration,
    },
}

impl ObjectStoreLocation {
    pub fn parse(url: &str) -> Result<Self, FromAddrError> {
        let parsed = Url::parse(url).map_err(|e| FromAddrError::InvalidUrl(url.to_owned(), e))?;
        let invalid = |message: String| FromAddrError::ObjectStoreUrl {
            url: url.to_owned(),
            message,
        };
        match parsed.scheme() {
            "memory" => {
                expect_bare("objectstore+memory://", &parsed)?;
                Ok(Self::Memory)
            }
            "file" => {
                expect_no_host_or_query("objectstore+file://", &parsed)?;
                if matches!(parsed.path(), "" | "/") {
                    return Err(FromAddrError::MissingPath("objectstore+file"));
                }
                // Percent-decoded, so `%20` names a directory with a space.
                let base = ObjectStorePath::from_url_path(parsed.path())
                    .map_err(|e| FromAddrError::ObjectStorePath(url.to_owned(), e))?;
                Ok(Self::File {
                    url: url.to_owned(),
                    base,
                })
            }
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .filter(|bucket| !bucket.is_empty())
                    .ok_or_else(|| {
                        invalid("an s3:// URL needs a bucket: s3://bucket/prefix".into())
                    })?
                    .to_owned();
                if parsed.port().is_some() || !parsed.username().is_empty() {
                    return Err(invalid(
                        "an s3:// URL names a bucket, not a server: give the server as ?endpoint="
                            .into(),
                    ));
                }
                let prefix = ObjectStorePath::from_url_path(parsed.path())
                    .map_err(|e| FromAddrError::ObjectStorePath(url.to_owned(), e))?;
                let mut endpoint = None;
                let mut region = None;
                let mut timeout = None;
                for (key, value) in parsed.query_pairs() {
                    let slot = match &*key {
                        "endpoint" => &mut endpoint,
                        "region" => &mut region,
                        "timeout" => &mut timeout,
                        other => {
                            return Err(invalid(format!(
                                "unknown query parameter {other:?}: expected endpoint, region or timeout"
                            )));
                        }
                    };
                    if slot.replace(value.into_owned()).is_some() {
                        return Err(invalid(format!("query parameter {key:?} given twice")));
                    }
                }
                let timeout = match timeout {
                    None => DEFAULT_TIMEOUT,
                    Some(seconds) => match seconds.parse::<u64>() {
                        Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
                        _ => {
                            return Err(invalid(format!(
                                "timeout must be a positive number of seconds, got {seconds:?}"
                            )));
                        }
                    },
                };
                if let Some(endpoint) = &endpoint {
                    let scheme = Url::parse(endpoint).map(|e| e.scheme().to_owned());
                    if !matches!(scheme.as_deref(), Ok("http" | "https")) {
                        return Err(invalid(format!(
                            "endpoint must be an http:// or https:// URL, got {endpoint:?}"
                        )));
                    }
                }
                Ok(Self::S3 {
                    bucket,
                    prefix,
                    endpoint,
                    region,
                    timeout,
                })
            }
            other => Err(invalid(format!(
                "unknown object store scheme {other:?}: expected memory, file or s3"
            ))),
        }
    }

    /// The blob service keeping its objects here. Opening contacts no
    /// server: a bucket that does not exist is noticed on first use.
    pub fn open(&self) -> Result<ObjectStoreBlobService, FromAddrError> {
        Ok(match self {
            Self::Memory => {
                ObjectStoreBlobService::new(Arc::new(InMemory::new()), Default::default())
            }
            Self::File { url, base } => {
                ObjectStoreBlobService::new_local(Arc::new(LocalFileSystem::new()), base.clone())
                    .map_err(|e| FromAddrError::LocalPath(url.clone(), e))?
            }
            Self::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                timeout,
            } => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(RetryConfig {
                        retry_timeout: *timeout,
                        ..Default::default()
                    })
                    .with_client_options(
                        ClientOptions::new()
                            .with_timeout(*timeout)
                            .with_connect_timeout(Duration::from_secs(5).min(*timeout)),
                    );
                if let Some(region) = region {
                    builder = builder.with_region(region);
                }
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_endpoint(endpoint);
                }
                let store = builder
                    .build()
                    .map_err(|source| FromAddrError::ObjectStoreConfig {
                        url: format!("s3://{bucket}/{prefix}"),
                        source,
                    })?;
                ObjectStoreBlobService::new(Arc::new(store), prefix.clone())
            }
        })
    }
}
