//! A tree of a local git repository, read with gix, as CppNix 2.26's git
//! fetcher reads one:
//!
//! - With a `rev` or a `ref` (or when the path is a bare repository), the
//!   tree of that commit (`ref` resolved as `git rev-parse` does; a bare
//!   repository's `HEAD` without one). Submodules are empty directories.
//! - Without either, in a repository with a working tree: the working tree
//!   itself, that is the files the index tracks, as they are on disk. It is
//!   dirty when they differ from `HEAD`'s (untracked files do not count);
//!   then it has no revision.
//!
//! With `exportIgnore` (`fetchGit`'s default), paths with the
//! `export-ignore` attribute are left out ([export_ignore]).
//!
//! The tree is addressed by its NAR's sha256, named as asked. Only local
//! repositories are read: a remote URL is an error.

mod export_ignore;
mod workdir;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use gix::ObjectId;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::objs::tree::EntryKind;
use nix_compat::nixhash::{CAHash, NixHash};
use nix_compat::store_path::StorePath;
use tvix_castore::import::{IngestionEntry, ingest_entries};
use tvix_castore::{B3Digest, SymlinkTarget};

use super::FetchError;
use crate::TvixStoreIO;
use export_ignore::ExportIgnore;

/// Read buffer for working tree files.
const CHUNK: usize = 64 * 1024;

/// What `fetchGit` or `fetchTree` asks of a git repository.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GitRequest {
    /// The repository's URL (`file:///path`).
    pub url: String,
    pub reference: Option<String>,
    /// A commit, 40 hexadecimal digits.
    pub rev: Option<String>,
    /// Whether a shallow repository is fine (and the revision count is
    /// not wanted).
    pub shallow: bool,
    /// Whether paths with the `export-ignore` attribute are left out.
    pub export_ignore: bool,
    pub name: String,
}

/// A tree of a repository, added to the store.
#[derive(Clone, Debug)]
pub struct FetchedGit {
    pub store_path: StorePath,
    pub nar_sha256: [u8; 32],
    /// The commit, unless a dirty working tree was taken.
    pub rev: Option<ObjectId>,
    /// The commits reachable from it, unless the request was shallow.
    pub rev_count: Option<u64>,
    /// Its commit time (for a working tree, `HEAD`'s; 0 without one).
    pub last_modified: u64,
    /// A dirty working tree: the repository's path, and `HEAD` if any.
    pub dirty: Option<(String, Option<ObjectId>)>,
}

/// A tree read into castore, its entries in the order `ingest_entries`
/// wants, children first.
type Entries = Vec<IngestionEntry>;

fn git_error(path: &Path, e: impl std::fmt::Display) -> FetchError {
    FetchError::Git {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The local path of a repository URL.
fn repository_path(url: &str) -> Result<PathBuf, FetchError> {
    let path = match url.strip_prefix("file://") {
        Some(rest) => match rest.strip_prefix("localhost") {
            Some(path) if path.starts_with('/') => path,
            _ => rest,
        },
        None => url
            .strip_prefix("file:")
            .ok_or_else(|| FetchError::GitRemote(url.to_string()))?,
    };
    Ok(super::download::decoded_path(path))
}

impl TvixStoreIO {
    /// Adds the tree `request` asks for to the store (once per evaluation).
    pub fn fetch_git(&self, request: &GitRequest) -> Result<FetchedGit, FetchError> {
        if let Some(fetched) = self.fetcher.git.borrow().get(request) {
            return Ok(fetched.clone());
        }
        let path = repository_path(&request.url)?;
        let has_workdir = path.join(".git").exists();
        let repo = gix::open(&path).map_err(|e| git_error(&path, e))?;
        let taken = if has_workdir && request.reference.is_none() && request.rev.is_none() {
            self.read_workdir(&repo, &path, request.export_ignore)?
        } else {
            self.read_commit(&repo, &path, request)?
        };
        let root = self
            .runtime
            .block_on(ingest_entries(
                &*self.services.directory_service,
                futures::stream::iter(taken.entries.into_iter().map(Ok::<_, FetchError>)),
            ))
            .map_err(|e| git_error(&path, e))?;
        let nar = self.nar_summary(&path, &root)?;
        let ca = CAHash::Nar(NixHash::Sha256(nar.nar_sha256));
        let store_path = self.add_ca_node(&request.name, root, ca, nar, Vec::new())?;
        let fetched = FetchedGit {
            store_path,
            nar_sha256: nar.nar_sha256,
            rev: taken.rev,
            rev_count: taken.rev_count,
            last_modified: taken.last_modified,
            dirty: taken
                .dirty
                .then(|| (path.display().to_string(), taken.head)),
        };
        self.fetcher
            .git
            .borrow_mut()
            .insert(request.clone(), fetched.clone());
        Ok(fetched)
    }

    /// The tree of the commit `request` names.
    fn read_commit(
        &self,
        repo: &gix::Repository,
        path: &Path,
        request: &GitRequest,
    ) -> Result<Taken, FetchError> {
        let rev = match (&request.rev, &request.reference) {
            (Some(rev), _) => ObjectId::from_hex(rev.as_bytes()).map_err(|e| git_error(path, e))?,
            (None, reference) => {
                let reference = reference.as_deref().unwrap_or("HEAD");
                let spec = if path.join(".git").exists() {
                    reference.to_string()
                } else {
                    // CppNix fetches a bare repository's branches by their
                    // full names.
                    remote_ref(reference)
                };
                repo.rev_parse_single(spec.as_bytes().as_bstr())
                    .map_err(|_| FetchError::GitReference {
                        reference: reference.to_string(),
                    })?
                    .detach()
            }
        };
        if repo.is_shallow().map_err(|e| git_error(path, e))? && !request.shallow {
            return Err(FetchError::GitShallow(path.display().to_string()));
        }
        let missing = || FetchError::GitObjectMissing {
            rev: rev.to_string(),
        };
        if !repo.has_object(rev) {
            return Err(missing());
        }
        let commit = repo
            .find_object(rev)
            .and_then(|object| object.peel_to_commit())
            .map_err(|e| git_error(path, e))?;
        let last_modified = commit_time(&commit, path)?;
        let rev_count = match request.shallow {
            true => None,
            false => Some(rev_count(repo, rev, path)?),
        };
        let tree = commit.tree_id().map_err(|e| git_error(path, e))?.detach();
        let mut export_ignore = match request.export_ignore {
            true => Some(commit_attributes(repo, tree, path)?),
            false => None,
        };
        let entries = self.tree_entries(repo, tree, path, export_ignore.as_mut())?;
        Ok(Taken {
            entries,
            rev: Some(rev),
            rev_count,
            last_modified,
            dirty: false,
            head: Some(rev),
        })
    }

    /// Uploads the files of the tree `tree` and returns its entries,
    /// children first, without what `export_ignore` leaves out. Walks
    /// without recursion; every blob is uploaded once.
    fn tree_entries(
        &self,
        repo: &gix::Repository,
        tree: ObjectId,
        path: &Path,
        mut export_ignore: Option<&mut ExportIgnore>,
    ) -> Result<Entries, FetchError> {
        let mut out = Vec::new();
        let mut uploaded: HashMap<ObjectId, (B3Digest, u64)> = HashMap::new();
        let mut stack = vec![(
            tvix_castore::PathBuf::new(),
            tree_children(repo, tree, path)?,
        )];
        while let Some((dir, children)) = stack.last_mut() {
            let Some((name, kind, oid)) = children.pop() else {
                if let Some((dir, _)) = stack.pop() {
                    out.push(IngestionEntry::Dir { path: dir });
                }
                continue;
            };
            let child = dir.try_join(&name).map_err(|e| git_error(path, e))?;
            let is_dir = matches!(kind, EntryKind::Tree | EntryKind::Commit);
            if let Some(attributes) = export_ignore.as_deref_mut()
                && attributes.ignores(child.as_bytes().as_bstr(), is_dir)
            {
                continue;
            }
            match kind {
                EntryKind::Tree => {
                    let children = tree_children(repo, oid, path)?;
                    stack.push((child, children));
                }
                // Submodules are not fetched: an empty directory.
                EntryKind::Commit => out.push(IngestionEntry::Dir { path: child }),
                EntryKind::Link => {
                    let blob = repo.find_blob(oid).map_err(|e| git_error(path, e))?;
                    let target = SymlinkTarget::try_from(blob.data.as_slice())
                        .map_err(|e| git_error(path, e))?;
                    out.push(IngestionEntry::Symlink {
                        path: child,
                        target,
                    });
                }
                EntryKind::Blob | EntryKind::BlobExecutable => {
                    let (digest, size) = match uploaded.get(&oid) {
                        Some(known) => *known,
                        None => {
                            let mut blob = repo.find_blob(oid).map_err(|e| git_error(path, e))?;
                            let data = Bytes::from(blob.take_data());
                            let size = data.len() as u64;
                            let digest = self
                                .runtime
                                .block_on(self.services.blob_service.put(data))
                                .map_err(|e| git_error(path, e))?;
                            uploaded.insert(oid, (digest, size));
                            (digest, size)
                        }
                    };
                    out.push(IngestionEntry::Regular {
                        path: child,
                        digest,
                        size,
                        executable: kind == EntryKind::BlobExecutable,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// What was read of a repository.
struct Taken {
    entries: Entries,
    rev: Option<ObjectId>,
    rev_count: Option<u64>,
    last_modified: u64,
    dirty: bool,
    head: Option<ObjectId>,
}

/// The hash of the repositories read (gix is built for sha1 only).
fn repo_hash() -> gix::hash::Kind {
    gix::hash::Kind::Sha1
}

/// The reference CppNix fetches from a repository it clones.
fn remote_ref(reference: &str) -> String {
    if reference.starts_with("refs/") || reference == "HEAD" {
        reference.to_string()
    } else {
        format!("refs/heads/{reference}")
    }
}

/// The entries of the tree `tree`, last name first.
fn tree_children(
    repo: &gix::Repository,
    tree: ObjectId,
    path: &Path,
) -> Result<Vec<(BString, EntryKind, ObjectId)>, FetchError> {
    let tree = repo.find_tree(tree).map_err(|e| git_error(path, e))?;
    let decoded = tree.decode().map_err(|e| git_error(path, e))?;
    let mut children: Vec<_> = decoded
        .entries
        .iter()
        .map(|e| (e.filename.to_owned(), e.mode.kind(), e.oid.to_owned()))
        .collect();
    children.reverse();
    Ok(children)
}

/// Every file and symlink below the tree `tree`, by path, with its kind and
/// object; submodules left out.
fn flatten_tree(
    repo: &gix::Repository,
    tree: ObjectId,
    path: &Path,
) -> Result<HashMap<BString, (EntryKind, ObjectId)>, FetchError> {
    let mut files = HashMap::new();
    let mut stack = vec![(BString::default(), tree)];
    while let Some((prefix, tree)) = stack.pop() {
        for (name, kind, oid) in tree_children(repo, tree, path)? {
            let mut full = prefix.clone();
            if !full.is_empty() {
                full.push(b'/');
            }
            full.extend_from_slice(&name);
            match kind {
                EntryKind::Tree => stack.push((full, oid)),
                EntryKind::Commit => {}
                _ => {
                    files.insert(full, (kind, oid));
                }
            }
        }
    }
    Ok(files)
}

/// A commit's committer time, in seconds since the epoch.
fn commit_time(commit: &gix::Commit<'_>, path: &Path) -> Result<u64, FetchError> {
    let time = commit.time().map_err(|e| git_error(path, e))?;
    Ok(u64::try_from(time.seconds).unwrap_or(0))
}

/// How many commits `rev` reaches, itself included (`git rev-list
/// --count`).
fn rev_count(repo: &gix::Repository, rev: ObjectId, path: &Path) -> Result<u64, FetchError> {
    let walk = repo.rev_walk([rev]).all().map_err(|e| git_error(path, e))?;
    let mut count = 0;
    for commit in walk {
        commit.map_err(|e| git_error(path, e))?;
        count += 1;
    }
    Ok(count)
}

/// The `export-ignore` rules of the commit tree `tree`.
fn commit_attributes(
    repo: &gix::Repository,
    tree: ObjectId,
    path: &Path,
) -> Result<ExportIgnore, FetchError> {
    let mut files = Vec::new();
    for (file, (kind, oid)) in flatten_tree(repo, tree, path)? {
        if let Some(dir) = attributes_dir(file.as_bstr())
            && matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable)
        {
            let blob = repo.find_blob(oid).map_err(|e| git_error(path, e))?;
            files.push((dir, blob.data.clone()));
        }
    }
    ExportIgnore::new(files, info_attributes(repo)).map_err(|e| git_error(path, e))
}

/// The directory of a `.gitattributes` file, if `file` is one.
fn attributes_dir(file: &BStr) -> Option<BString> {
    match file.rsplit_once_str("/") {
        Some((dir, b".gitattributes")) => Some(dir.into()),
        None if file == ".gitattributes" => Some(BString::default()),
        _ => None,
    }
}

/// The repository's own attributes, `$GIT_DIR/info/attributes`.
fn info_attributes(repo: &gix::Repository) -> Option<Vec<u8>> {
    std::fs::read(repo.git_dir().join("info/attributes")).ok()
}
