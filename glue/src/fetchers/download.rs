//! Opening a URL as a stream of bytes: `http://` and `https://` through
//! reqwest (rustls), `file://` from the host. The body is never held
//! whole; a progress bar follows it on a terminal.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_compression::tokio::bufread::{BzDecoder, GzipDecoder, XzDecoder, ZstdDecoder};
use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader, ReadBuf};
use tokio_util::io::StreamReader;

use super::FetchError;

/// How long a download may stall before it fails, as CppNix's
/// `stalled-download-timeout`.
const STALL_TIMEOUT: Duration = Duration::from_secs(300);
/// How much of an error response's body the message shows.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// A download being read.
pub(super) struct Body {
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
    /// Its length, when known before reading (a file's size, a
    /// `Content-Length` of an unencoded response).
    pub len: Option<u64>,
}

/// The HTTP client of a fetcher: no automatic decompression (CppNix
/// decodes `Content-Encoding` itself, as [open] does), redirects followed.
pub(super) fn client() -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .read_timeout(STALL_TIMEOUT)
        .build()
        .map_err(|e| FetchError::HttpClient(error_chain(&e)))
}

/// Opens `url`. `kind` (`file`, `tarball`) names what is fetched in the
/// error about relative `file:` URLs.
pub(super) async fn open(
    client: &reqwest::Client,
    url: &str,
    kind: &'static str,
) -> Result<Body, FetchError> {
    if let Some(rest) = url.strip_prefix("file:") {
        return open_file(url, rest, kind).await;
    }
    let failed = |message: String| FetchError::Download {
        url: url.to_string(),
        message,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| failed(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(failed(format!(
            "Unsupported protocol: '{}' is not supported",
            parsed.scheme()
        )));
    }
    let response = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| failed(error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        let body = error_body(response).await;
        return Err(FetchError::HttpStatus {
            url: url.to_string(),
            status: status.as_u16(),
            body,
        });
    }
    let encoding = response
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let len = response.content_length();
    let stream = response
        .bytes_stream()
        .map_err(|e| std::io::Error::other(error_chain(&e)));
    let raw = BufReader::new(StreamReader::new(stream));
    // An encoded body is decoded, and its length is no longer known.
    let (reader, len): (Box<dyn AsyncRead + Send + Unpin>, _) = match encoding.as_str() {
        "" | "identity" => (Box::new(raw), len),
        "gzip" | "x-gzip" => (Box::new(GzipDecoder::new(raw)), None),
        "bzip2" | "x-bzip2" => (Box::new(BzDecoder::new(raw)), None),
        "xz" | "x-xz" => (Box::new(XzDecoder::new(raw)), None),
        "zstd" => (Box::new(ZstdDecoder::new(raw)), None),
        other => {
            return Err(failed(format!(
                "unsupported Content-Encoding '{other}' in the response"
            )));
        }
    };
    Ok(Body { reader, len })
}

/// A `file:` URL, `rest` being what follows the scheme: an absolute path,
/// after an empty (or `localhost`) authority if there is one.
async fn open_file(url: &str, rest: &str, kind: &'static str) -> Result<Body, FetchError> {
    let path = match rest.strip_prefix("//") {
        Some(after) => {
            let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            if !authority.is_empty() && authority != "localhost" {
                return Err(FetchError::FileUrlAuthority {
                    url: url.to_string(),
                    authority: authority.to_string(),
                });
            }
            path
        }
        None => rest,
    };
    if !path.starts_with('/') {
        return Err(FetchError::RelativeFileUrl {
            kind,
            url: url.to_string(),
        });
    }
    let path = decoded_path(path);
    // curl's words, which CppNix shows.
    let unreadable = || FetchError::Download {
        url: url.to_string(),
        message: format!(
            "Could not read a file:// file (37) Couldn't open file {}",
            path.display()
        ),
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| unreadable())?;
    let metadata = file.metadata().await.map_err(|_| unreadable())?;
    if !metadata.is_file() {
        return Err(unreadable());
    }
    Ok(Body {
        reader: Box::new(file),
        len: Some(metadata.len()),
    })
}

/// The host path a URL's path names: percent-decoded, without a query
/// or fragment.
pub(super) fn decoded_path(path: &str) -> PathBuf {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    PathBuf::from(OsString::from_vec(bytes))
}

/// The start of an error response's body, for the message.
async fn error_body(response: reqwest::Response) -> String {
    let stream = response.bytes_stream().map_err(std::io::Error::other);
    let mut body = Vec::new();
    let _ = StreamReader::new(stream)
        .take(MAX_ERROR_BODY)
        .read_to_end(&mut body)
        .await;
    String::from_utf8_lossy(&body).into_owned()
}

/// An error and its causes, as one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// A progress bar for a download of `len` bytes (a spinner if unknown),
/// drawn on standard error only when that is a terminal.
pub(super) fn progress_bar(url: &str, len: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{msg} {wide_bar} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} {msg} {binary_bytes} ({binary_bytes_per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_message(format!("downloading '{url}'"));
    bar
}

/// A reader that moves a progress bar by what is read through it.
pub(super) struct Progress<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R> Progress<R> {
    pub fn new(inner: R, bar: ProgressBar) -> Self {
        Progress { inner, bar }
    }
}

impl<R> Drop for Progress<R> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Progress<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.bar.inc((buf.filled().len() - before) as u64);
        poll
    }
}
