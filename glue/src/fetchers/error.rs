//! Why a fetch failed, in CppNix's words where it has them.

use crate::tvix_store_io::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The transfer itself failed (no connection, a missing file, a
    /// broken stream).
    #[error("unable to download '{url}': {message}")]
    Download { url: String, message: String },
    /// The server answered with an error status; CppNix shows the body
    /// (here, its start) after the status.
    #[error(
        "unable to download '{url}': HTTP error {status}{}",
        response_body(body)
    )]
    HttpStatus {
        url: String,
        status: u16,
        body: String,
    },
    #[error(
        "{kind} '{url}' must use an absolute path. The 'file' scheme does not support relative paths."
    )]
    RelativeFileUrl { kind: &'static str, url: String },
    /// The HTTP client cannot start (no TLS backend).
    #[error("setting up the HTTP client: {0}")]
    HttpClient(String),
    #[error("file:// URL '{url}' has unexpected authority '{authority}'")]
    FileUrlAuthority { url: String, authority: String },
    #[error("unpacking '{url}': {message}")]
    Unpack { url: String, message: String },
    /// Resolving a reference (`ref`) of a git repository.
    #[error("resolving Git reference '{reference}': revspec '{reference}' not found")]
    GitReference { reference: String },
    /// A revision (`rev`) the repository does not have.
    #[error("getting Git object '{rev}': object not found - no match for id ({rev})")]
    GitObjectMissing { rev: String },
    #[error(
        "'{0}' is a shallow Git repository, but shallow repositories are only allowed when `shallow = true;` is specified"
    )]
    GitShallow(String),
    /// Anything else gix reports about a repository.
    #[error("reading the Git repository '{path}': {message}")]
    Git { path: String, message: String },
    /// tvix reads local repositories only.
    #[error(
        "fetching the Git repository '{0}' is not supported: tvix reads local repositories only"
    )]
    GitRemote(String),
    #[error("fetching Git submodules is not supported")]
    GitSubmodules,
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// CppNix's rendering of an error response's body.
fn response_body(body: &str) -> String {
    let body = body.trim_end();
    if body.is_empty() {
        String::new()
    } else {
        format!("\n\nresponse body:\n\n{body}")
    }
}

impl From<FetchError> for tvix_eval::Error {
    fn from(e: FetchError) -> Self {
        tvix_eval::ErrorKind::Builtin(e.to_string()).into()
    }
}
