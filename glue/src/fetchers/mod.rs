//! Fetching into the store: files and tarballs downloaded over HTTP(S) or
//! read from `file://` URLs, and revisions (or the working tree) of local
//! git repositories, as CppNix 2.26's fetchers add them. The builtins
//! (`fetchurl`, `fetchTarball`, `fetchGit`, `fetchTree`) read their
//! arguments and shape their results; this module does the fetching.
//!
//! - [download]: opening a URL as a byte stream, with a progress bar.
//! - [file]: a download added as one file, addressed by its sha256.
//! - [tarball]: a download unpacked by castore's tar import.
//! - [git]: a tree of a local repository, read with gix.
//!
//! Nothing is ever held whole in memory: downloads stream into the blob
//! service while they are hashed, tarballs are unpacked as they arrive,
//! git blobs are uploaded one at a time. Every store path is complete
//! before its PathInfo is put.
//!
//! A fetch happens once per evaluation: [Fetcher] remembers each result by
//! what was asked (the URL and name; the git request), as CppNix's fetcher
//! cache does within one evaluation.

mod download;
mod error;
mod file;
mod git;
mod tarball;

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;

use nix_compat::store_path::StorePath;

pub use error::FetchError;
pub use git::{FetchedGit, GitRequest};

/// A file added to the store by a download.
#[derive(Clone, Debug)]
pub struct FetchedFile {
    pub store_path: StorePath,
    /// The sha256 of its contents, which its store path is addressed by.
    pub sha256: [u8; 32],
    /// The sha256 of its NAR.
    pub nar_sha256: [u8; 32],
}

/// A tree added to the store, addressed by its NAR's sha256.
#[derive(Clone, Debug)]
pub struct FetchedTree {
    pub store_path: StorePath,
    pub nar_sha256: [u8; 32],
    /// The newest modification time in a tarball.
    pub last_modified: u64,
}

/// What was fetched in this evaluation, and the HTTP client, made on
/// first use.
#[derive(Default)]
pub struct Fetcher {
    client: OnceCell<reqwest::Client>,
    files: RefCell<HashMap<(String, String), FetchedFile>>,
    tarballs: RefCell<HashMap<(String, String), FetchedTree>>,
    git: RefCell<HashMap<GitRequest, FetchedGit>>,
}

impl Fetcher {
    /// The HTTP client, made the first time it is needed.
    fn client(&self) -> Result<&reqwest::Client, FetchError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = download::client()?;
        Ok(self.client.get_or_init(|| client))
    }
}
