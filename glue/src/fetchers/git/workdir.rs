//! A working tree, as CppNix reads one when neither a `rev` nor a `ref` is
//! asked for: the files the index tracks (submodules aside), as they are
//! on disk; missing ones left out. It is clean when those files, their
//! kinds and the index all agree with `HEAD`, as libgit2's status (without
//! untracked files) says; then its revision is `HEAD`'s.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use gix::ObjectId;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::objs::tree::EntryKind;
use tokio::io::AsyncWriteExt;
use tvix_castore::SymlinkTarget;
use tvix_castore::import::IngestionEntry;

use super::export_ignore::ExportIgnore;
use super::{
    CHUNK, Taken, attributes_dir, commit_time, flatten_tree, git_error, info_attributes, repo_hash,
    rev_count,
};
use crate::TvixStoreIO;
use crate::fetchers::FetchError;

/// A working tree file, read: its entry (if uploaded), kind and git
/// object.
type ReadFile = (Option<IngestionEntry>, EntryKind, ObjectId);

impl TvixStoreIO {
    /// The files of the index, as they are in the working tree `root`.
    pub(super) fn read_workdir(
        &self,
        repo: &gix::Repository,
        root: &Path,
        export_ignore: bool,
    ) -> Result<Taken, FetchError> {
        let head = repo.head_commit().ok();
        let mut head_files = match &head {
            Some(commit) => {
                let tree = commit.tree_id().map_err(|e| git_error(root, e))?.detach();
                flatten_tree(repo, tree, root)?
            }
            None => HashMap::new(),
        };
        let index = repo.index_or_empty().map_err(|e| git_error(root, e))?;
        // Submodules are left out, as `git status` leaves them out here;
        // a conflicted file is listed once per stage.
        let mut seen = HashSet::new();
        let tracked: Vec<_> = index
            .entries()
            .iter()
            .filter(|e| !e.mode.is_submodule() && !e.mode.is_sparse())
            .filter(|e| seen.insert(e.path(&index)))
            .collect();
        let mut attributes = match export_ignore {
            true => {
                let files = tracked
                    .iter()
                    .filter_map(|e| attributes_dir(e.path(&index)).map(|dir| (dir, e.id)))
                    .filter_map(|(dir, id)| {
                        let blob = repo.find_blob(id).ok()?;
                        Some((dir, blob.data.clone()))
                    })
                    .collect();
                let rules = ExportIgnore::new(files, info_attributes(repo));
                Some(rules.map_err(|e| git_error(root, e))?)
            }
            false => None,
        };
        let mut left_out = LeftOut::default();
        let mut files = Vec::new();
        let mut present = Vec::new();
        let mut dirty = false;
        for entry in tracked {
            let file = entry.path(&index);
            let in_head = head_files.remove(file);
            let staged = entry
                .mode
                .to_tree_entry_mode()
                .map(|m| (m.kind(), entry.id));
            dirty |= staged != in_head;
            let kept = !left_out.covers(attributes.as_mut(), file);
            let Some((read, kind, oid)) = self.read_workdir_file(root, file, kept)? else {
                dirty = true;
                continue;
            };
            dirty |= in_head != Some((kind, oid));
            present.push(file.to_owned());
            files.extend(read);
        }
        // What `HEAD` has and the index does not is deleted.
        dirty |= !head_files.is_empty();
        let directories = directories(&present, attributes.as_mut(), &mut left_out);
        let mut entries = files;
        entries.extend(directories);
        let head_id = head.as_ref().map(|commit| commit.id);
        let last_modified = match &head {
            Some(commit) => commit_time(commit, root)?,
            None => 0,
        };
        let (rev, rev_count) = match (dirty, head_id) {
            (true, _) => (None, None),
            (false, Some(id)) => (Some(id), Some(rev_count(repo, id, root)?)),
            (false, None) => (None, Some(0)),
        };
        Ok(Taken {
            entries,
            rev,
            rev_count,
            last_modified,
            dirty,
            head: head_id,
        })
    }

    /// Reads the working tree file `file` (relative to `root`): its kind
    /// and git object id, and when `upload`, its contents into the blob
    /// service. `None` if it is missing or no longer a file or symlink.
    fn read_workdir_file(
        &self,
        root: &Path,
        file: &BStr,
        upload: bool,
    ) -> Result<Option<ReadFile>, FetchError> {
        let castore_path = castore_path(file, root)?;
        let host_path = root.join(file.to_path().map_err(|e| git_error(root, e))?);
        let Ok(metadata) = std::fs::symlink_metadata(&host_path) else {
            return Ok(None);
        };
        let file_type = metadata.file_type();
        if file_type.is_symlink() {
            let target = std::fs::read_link(&host_path).map_err(|e| git_error(&host_path, e))?;
            let target = target.as_os_str().as_encoded_bytes();
            let oid = gix::objs::compute_hash(repo_hash(), gix::objs::Kind::Blob, target)
                .map_err(|e| git_error(&host_path, e))?;
            let target = SymlinkTarget::try_from(target).map_err(|e| git_error(&host_path, e))?;
            let entry = upload.then_some(IngestionEntry::Symlink {
                path: castore_path,
                target,
            });
            return Ok(Some((entry, EntryKind::Link, oid)));
        }
        if !file_type.is_file() {
            return Ok(None);
        }
        let executable = metadata.permissions().mode() & 0o100 != 0;
        let mut reader = std::fs::File::open(&host_path).map_err(|e| git_error(&host_path, e))?;
        let mut hasher = gix::hash::hasher(repo_hash());
        hasher.update(&gix::objs::encode::loose_header(
            gix::objs::Kind::Blob,
            metadata.len(),
        ));
        let (digest, size) = self
            .runtime
            .block_on(async {
                let mut writer = match upload {
                    true => Some(self.services.blob_service.open_write().await),
                    false => None,
                };
                let mut buffer = vec![0; CHUNK];
                let mut size = 0u64;
                loop {
                    let read = reader.read(&mut buffer)?;
                    let Some(chunk) = buffer.get(..read).filter(|c| !c.is_empty()) else {
                        break;
                    };
                    hasher.update(chunk);
                    if let Some(writer) = &mut writer {
                        writer.write_all(chunk).await?;
                    }
                    size += read as u64;
                }
                let digest = match writer {
                    Some(mut writer) => Some(writer.close().await?),
                    None => None,
                };
                Ok::<_, std::io::Error>((digest, size))
            })
            .map_err(|e| git_error(&host_path, e))?;
        // A file that changed while it was read hashes to no object.
        let oid = if size == metadata.len() {
            hasher
                .try_finalize()
                .map_err(|e| git_error(&host_path, e))?
        } else {
            ObjectId::null(repo_hash())
        };
        let kind = match executable {
            true => EntryKind::BlobExecutable,
            false => EntryKind::Blob,
        };
        let entry = digest.map(|digest| IngestionEntry::Regular {
            path: castore_path,
            digest,
            size,
            executable,
        });
        Ok(Some((entry, kind, oid)))
    }
}

/// What `export-ignore` left out so far: the directories looked at, and
/// whether each is left out (with everything below it).
#[derive(Default)]
struct LeftOut {
    directories: HashMap<BString, bool>,
}

impl LeftOut {
    /// Whether `file`, or a directory above it, is left out.
    fn covers(&mut self, attributes: Option<&mut ExportIgnore>, file: &BStr) -> bool {
        let Some(attributes) = attributes else {
            return false;
        };
        let mut end = 0;
        while let Some(slash) = file[end..].find_byte(b'/') {
            end += slash;
            if self.directory(attributes, &file[..end]) {
                return true;
            }
            end += 1;
        }
        attributes.ignores(file, false)
    }

    /// Whether the directory `dir`, or one above it, is left out.
    fn directory(&mut self, attributes: &mut ExportIgnore, dir: &BStr) -> bool {
        if let Some(known) = self.directories.get(dir) {
            return *known;
        }
        let above = match dir.rfind_byte(b'/') {
            Some(slash) => self.directory(attributes, &dir[..slash]),
            None => false,
        };
        let left_out = above || attributes.ignores(dir, true);
        self.directories.insert(dir.to_owned(), left_out);
        left_out
    }
}

/// A path of the index as a castore path.
fn castore_path(file: &BStr, root: &Path) -> Result<tvix_castore::PathBuf, FetchError> {
    tvix_castore::Path::from_bytes(file)
        .map(ToOwned::to_owned)
        .map_err(|e| git_error(root, format!("{file}: {e}")))
}

/// The directories holding the files `present`, but those left out,
/// deepest first and the root last, as `ingest_entries` wants them after
/// the files.
fn directories(
    present: &[BString],
    mut attributes: Option<&mut ExportIgnore>,
    left_out: &mut LeftOut,
) -> Vec<IngestionEntry> {
    let mut directories = BTreeSet::new();
    for file in present {
        let mut dir = file.as_bstr();
        while let Some(slash) = dir.rfind_byte(b'/') {
            dir = &dir[..slash];
            if !directories.insert(dir.to_owned()) {
                break;
            }
        }
    }
    let mut kept: Vec<tvix_castore::PathBuf> = directories
        .into_iter()
        .filter(|dir| match attributes.as_deref_mut() {
            Some(attributes) => !left_out.directory(attributes, dir.as_bstr()),
            None => true,
        })
        .filter_map(|dir| {
            tvix_castore::Path::from_bytes(&dir)
                .ok()
                .map(ToOwned::to_owned)
        })
        .collect();
    kept.push(tvix_castore::PathBuf::new());
    kept.sort_by_key(|dir| std::cmp::Reverse(dir.components_bytes().count()));
    kept.into_iter()
        .map(|path| IngestionEntry::Dir { path })
        .collect()
}
