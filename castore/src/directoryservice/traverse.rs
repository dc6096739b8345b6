//! Walking stored trees: the breadth-first recursive get that backends
//! inherit, and [descend_to].
//!
//! Walks are iterative and never yield a directory twice, so a tree that
//! shares subtrees (or is very deep) costs no more than its distinct
//! directories; a directory whose size contradicts its reference must never
//! be passed on.

use std::collections::{HashMap, VecDeque};

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, stream::BoxStream};

use super::{DirectoryService, Error};
use crate::{B3Digest, Directory, Node, Path};

/// The default [DirectoryService::get_recursive]: `root`, then every
/// directory below it once, breadth first, fetched one by one.
pub(super) fn get_recursive_bfs<S: DirectoryService + ?Sized>(
    service: &S,
    root: B3Digest,
) -> BoxStream<'_, Result<Directory, Error>> {
    get_recursive_batched(root, 1, move |digests| {
        async move {
            let mut directories = Vec::with_capacity(digests.len());
            for digest in digests {
                directories.push(service.get(&digest).await?);
            }
            Ok(directories)
        }
        .boxed()
    })
}

/// [DirectoryService::get_recursive] for a backend that fetches many
/// directories at once more cheaply than one by one: `root`, then every
/// directory below it once, breadth first, with up to `batch` of them
/// handed to `fetch` at a time (which returns them in the same order).
/// Each child's size is checked against every reference to it.
pub(super) fn get_recursive_batched<'a, F>(
    root: B3Digest,
    batch: usize,
    fetch: F,
) -> BoxStream<'a, Result<Directory, Error>>
where
    F: Fn(Vec<B3Digest>) -> BoxFuture<'a, Result<Vec<Option<Directory>>, Error>> + Send + 'a,
{
    struct State<F> {
        fetch: F,
        /// Directories to fetch, with the size their first reference claims
        /// (None for the root).
        queue: VecDeque<(B3Digest, Option<u64>)>,
        /// Every directory queued so far, with its referenced size.
        seen: HashMap<B3Digest, u64>,
        /// Fetched and checked, not yet yielded.
        ready: VecDeque<Directory>,
        /// Yielded after `ready`, ending the stream.
        failed: Option<Error>,
    }
    let state = State {
        fetch,
        queue: VecDeque::from([(root, None)]),
        seen: HashMap::new(),
        ready: VecDeque::new(),
        failed: None,
    };

    futures::stream::try_unfold(state, move |mut state| async move {
        loop {
            if let Some(directory) = state.ready.pop_front() {
                return Ok(Some((directory, state)));
            }
            if let Some(error) = state.failed.take() {
                return Err(error);
            }
            if state.queue.is_empty() {
                return Ok(None);
            }
            let wanted: Vec<_> = state
                .queue
                .drain(..batch.clamp(1, state.queue.len()))
                .collect();
            let fetched = (state.fetch)(wanted.iter().map(|(digest, _)| *digest).collect()).await?;
            // A directory `fetch` left out counts as not stored.
            let fetched = fetched.into_iter().chain(std::iter::repeat_with(|| None));
            for ((digest, referenced), directory) in wanted.into_iter().zip(fetched) {
                match take_fetched(
                    &mut state.seen,
                    &mut state.queue,
                    digest,
                    referenced,
                    directory,
                ) {
                    Ok(Some(directory)) => state.ready.push_back(directory),
                    // The root is not stored: nothing to yield.
                    Ok(None) => return Ok(None),
                    Err(error) => {
                        state.failed = Some(error);
                        break;
                    }
                }
            }
        }
    })
    .boxed()
}

/// Checks a fetched directory against its reference and queues its
/// children not seen yet.
fn take_fetched(
    seen: &mut HashMap<B3Digest, u64>,
    queue: &mut VecDeque<(B3Digest, Option<u64>)>,
    digest: B3Digest,
    referenced: Option<u64>,
    directory: Option<Directory>,
) -> Result<Option<Directory>, Error> {
    let directory = match (directory, referenced) {
        (Some(directory), _) => directory,
        (None, None) => return Ok(None),
        (None, Some(_)) => return Err(Error::DirectoryNotFound(digest)),
    };
    if let Some(referenced) = referenced {
        check_size(&digest, &directory, referenced)?;
    }
    seen.entry(digest).or_insert(directory.size());
    for (_, child, size) in directory.directories() {
        match seen.get(child) {
            Some(&known) if known != size => {
                return Err(Error::SizeMismatch {
                    digest: *child,
                    referenced: size,
                    actual: known,
                });
            }
            Some(_) => {}
            None => {
                seen.insert(*child, size);
                queue.push_back((*child, Some(size)));
            }
        }
    }
    Ok(Some(directory))
}

fn check_size(digest: &B3Digest, directory: &Directory, referenced: u64) -> Result<(), Error> {
    if directory.size() != referenced {
        return Err(Error::SizeMismatch {
            digest: *digest,
            referenced,
            actual: directory.size(),
        });
    }
    Ok(())
}

/// The node at `path` below `root_node`, or None if there is none (a name is
/// missing, or a file or symlink is in the way). Fails if a directory on the
/// way is referenced but not stored.
pub async fn descend_to<S: DirectoryService + ?Sized>(
    directory_service: &S,
    root_node: Node,
    path: impl AsRef<Path>,
) -> Result<Option<Node>, Error> {
    let mut node = root_node;
    for component in path.as_ref().components_bytes() {
        let Node::Directory { digest, size } = node else {
            return Ok(None);
        };
        let directory = directory_service
            .get(&digest)
            .await?
            .ok_or(Error::DirectoryNotFound(digest))?;
        check_size(&digest, &directory, size)?;
        match directory.get(component) {
            Some(child) => node = child.clone(),
            None => return Ok(None),
        }
    }
    Ok(Some(node))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PathBuf;
    use crate::directoryservice::MemoryDirectoryService;
    use crate::fixtures::{
        DIRECTORY_COMPLICATED, DIRECTORY_DEEP, DIRECTORY_EMPTY, DIRECTORY_TWICE_EMPTY,
        DIRECTORY_WITH_KEEP, DUMMY_DIGEST, EMPTY_BLOB_DIGEST, directory_node, file, symlink,
    };
    use rstest::rstest;

    async fn deep_store() -> MemoryDirectoryService {
        let service = MemoryDirectoryService::new();
        let mut putter = service.put_multiple_start();
        for directory in [
            &*DIRECTORY_EMPTY,
            &*DIRECTORY_TWICE_EMPTY,
            &*DIRECTORY_WITH_KEEP,
            &*DIRECTORY_COMPLICATED,
            &*DIRECTORY_DEEP,
        ] {
            putter.put(directory.clone()).await.expect("put");
        }
        putter.close().await.expect("close");
        service
    }

    #[rstest]
    #[case::root("", Some(directory_node(&DIRECTORY_DEEP)))]
    #[case::child_directory("complicated", Some(directory_node(&DIRECTORY_COMPLICATED)))]
    #[case::grandchild_directory("complicated/keep", Some(directory_node(&DIRECTORY_WITH_KEEP)))]
    #[case::file_deep("complicated/keep/.keep", Some(file(*EMPTY_BLOB_DIGEST, 0)))]
    #[case::file_top("file", Some(file(DUMMY_DIGEST, 42)))]
    #[case::symlink("complicated/aa", Some(symlink("/nix/store/somewhereelse")))]
    #[case::empty_directory("twice/b", Some(directory_node(&DIRECTORY_EMPTY)))]
    #[case::missing_name("nope", None)]
    #[case::missing_below("complicated/nope", None)]
    #[case::below_file("file/x", None)]
    #[case::below_symlink("complicated/aa/x", None)]
    #[case::below_empty_directory("twice/a/x", None)]
    #[tokio::test]
    async fn descend(#[case] path: &str, #[case] expected: Option<Node>) {
        let service = deep_store().await;
        let path: PathBuf = path.parse().expect("valid path");
        assert_eq!(
            expected,
            descend_to(&service, directory_node(&DIRECTORY_DEEP), &path)
                .await
                .expect("no error")
        );
    }

    /// A root node that is not a directory has nothing below it, but is
    /// itself at the root path.
    #[rstest]
    #[case::file_at_root("", Some(file(DUMMY_DIGEST, 1)))]
    #[case::below_file_root("a", None)]
    #[tokio::test]
    async fn descend_from_file(#[case] path: &str, #[case] expected: Option<Node>) {
        let service = MemoryDirectoryService::new();
        let path: PathBuf = path.parse().expect("valid path");
        assert_eq!(
            expected,
            descend_to(&service, file(DUMMY_DIGEST, 1), &path)
                .await
                .expect("no error")
        );
    }

    #[tokio::test]
    async fn descend_into_missing_directory() {
        let service = MemoryDirectoryService::new();
        let path: PathBuf = "a".parse().expect("valid path");
        let err = descend_to(&service, directory_node(&DIRECTORY_DEEP), &path)
            .await
            .expect_err("root directory is not stored");
        assert!(
            matches!(err, Error::DirectoryNotFound(digest) if digest == DIRECTORY_DEEP.digest()),
            "{err}"
        );
    }

    #[tokio::test]
    async fn descend_with_wrong_size() {
        let service = deep_store().await;
        let root = Node::Directory {
            digest: DIRECTORY_DEEP.digest(),
            size: DIRECTORY_DEEP.size() + 1,
        };
        let path: PathBuf = "file".parse().expect("valid path");
        let err = descend_to(&service, root, &path)
            .await
            .expect_err("size lie");
        assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
    }
}
