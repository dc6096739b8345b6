//! Checking that a stream of directories forms a complete closure, in the two
//! orders directories travel in.
//!
//! - [ClosureValidator]: leaves first, as they are uploaded. Every child
//!   directory must have been seen before its parent, with the size its parent
//!   claims; at the end exactly one directory is left unreferenced: the root.
//! - [RootFirstValidator]: root first, as a recursive get returns them. Every
//!   directory after the root must have been referenced by one received
//!   earlier and not received yet; at the end nothing referenced is missing.
//!
//! Both only keep digests and sizes, so callers decide whether to buffer the
//! directories themselves. Neither must ever accept a closure that a
//! backend could not serve completely: a missing child, a size that does
//! not match, or more than one root.

use std::collections::{HashMap, HashSet, hash_map};

use thiserror::Error;

use crate::{B3Digest, Directory, PathComponent};

/// Why a sequence of directories is not a valid closure.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClosureError {
    #[error("directory {parent} references {child} at {name}, which was not sent before it")]
    UnknownChild {
        parent: B3Digest,
        name: PathComponent,
        child: B3Digest,
    },
    #[error(
        "directory {parent} references {child} at {name} with size {referenced}, but its size is {actual}"
    )]
    SizeMismatch {
        parent: B3Digest,
        name: PathComponent,
        child: B3Digest,
        referenced: u64,
        actual: u64,
    },
    #[error("no directories were sent")]
    Empty,
    #[error("the directories sent form several trees instead of one, with roots {0:?}")]
    MultipleRoots(Vec<B3Digest>),
    #[error("expected root directory {expected}, got {actual}")]
    RootMismatch {
        expected: B3Digest,
        actual: B3Digest,
    },
    #[error("directory {0} was not referenced by any directory before it, or was sent twice")]
    Unexpected(B3Digest),
    #[error("referenced directories were never sent: {0:?}")]
    Incomplete(Vec<B3Digest>),
}

/// A directory accepted by [ClosureValidator::add].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub digest: B3Digest,
    /// False if the same directory was sent before; callers can skip storing
    /// it again.
    pub is_new: bool,
}

/// Validates directories sent leaves first. See the module doc.
#[derive(Debug, Default)]
pub struct ClosureValidator {
    /// Size of every directory accepted so far.
    sizes: HashMap<B3Digest, u64>,
    /// Accepted directories that no later directory references yet.
    unreferenced: HashSet<B3Digest>,
}

impl ClosureValidator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `directory` if all its children were accepted before, with
    /// matching sizes. Sending a directory again is allowed and changes
    /// nothing.
    pub fn add(&mut self, directory: &Directory) -> Result<Accepted, ClosureError> {
        let digest = directory.digest();
        if self.sizes.contains_key(&digest) {
            return Ok(Accepted {
                digest,
                is_new: false,
            });
        }
        for (name, child, referenced) in directory.directories() {
            match self.sizes.get(child) {
                None => {
                    return Err(ClosureError::UnknownChild {
                        parent: digest,
                        name: name.clone(),
                        child: *child,
                    });
                }
                Some(&actual) if actual != referenced => {
                    return Err(ClosureError::SizeMismatch {
                        parent: digest,
                        name: name.clone(),
                        child: *child,
                        referenced,
                        actual,
                    });
                }
                Some(_) => {}
            }
        }
        for (_, child, _) in directory.directories() {
            self.unreferenced.remove(child);
        }
        self.sizes.insert(digest, directory.size());
        self.unreferenced.insert(digest);
        Ok(Accepted {
            digest,
            is_new: true,
        })
    }

    /// The root digest, if the directories accepted form one closure.
    pub fn finalize(self) -> Result<B3Digest, ClosureError> {
        let mut roots: Vec<B3Digest> = self.unreferenced.into_iter().collect();
        match roots.as_slice() {
            [] => Err(ClosureError::Empty),
            [root] => Ok(*root),
            _ => {
                roots.sort();
                Err(ClosureError::MultipleRoots(roots))
            }
        }
    }
}

/// Where a not-yet-received directory was first referenced from.
#[derive(Debug)]
struct Reference {
    parent: B3Digest,
    name: PathComponent,
    size: u64,
}

/// Validates directories received root first. See the module doc.
#[derive(Debug)]
pub struct RootFirstValidator {
    root: B3Digest,
    /// Size of every directory received so far.
    received: HashMap<B3Digest, u64>,
    /// Directories referenced but not received yet.
    expected: HashMap<B3Digest, Reference>,
}

impl RootFirstValidator {
    pub fn new(root: B3Digest) -> Self {
        Self {
            root,
            received: HashMap::new(),
            expected: HashMap::new(),
        }
    }

    /// Accepts the next directory received, returning its digest.
    pub fn add(&mut self, directory: &Directory) -> Result<B3Digest, ClosureError> {
        let digest = directory.digest();
        if self.received.is_empty() {
            if digest != self.root {
                return Err(ClosureError::RootMismatch {
                    expected: self.root,
                    actual: digest,
                });
            }
        } else {
            let reference = self
                .expected
                .remove(&digest)
                .ok_or(ClosureError::Unexpected(digest))?;
            if reference.size != directory.size() {
                return Err(ClosureError::SizeMismatch {
                    parent: reference.parent,
                    name: reference.name,
                    child: digest,
                    referenced: reference.size,
                    actual: directory.size(),
                });
            }
        }
        self.received.insert(digest, directory.size());

        for (name, child, size) in directory.directories() {
            let known_size = match self.received.get(child) {
                Some(&actual) => Some(actual),
                None => match self.expected.entry(*child) {
                    hash_map::Entry::Occupied(occupied) => Some(occupied.get().size),
                    hash_map::Entry::Vacant(vacant) => {
                        vacant.insert(Reference {
                            parent: digest,
                            name: name.clone(),
                            size,
                        });
                        None
                    }
                },
            };
            if let Some(actual) = known_size.filter(|&known| known != size) {
                return Err(ClosureError::SizeMismatch {
                    parent: digest,
                    name: name.clone(),
                    child: *child,
                    referenced: size,
                    actual,
                });
            }
        }
        Ok(digest)
    }

    /// Checks that every referenced directory was received. An empty stream
    /// passes: it means the root was not found, which callers report as such.
    pub fn finalize(self) -> Result<(), ClosureError> {
        if self.expected.is_empty() {
            return Ok(());
        }
        let mut missing: Vec<B3Digest> = self.expected.into_keys().collect();
        missing.sort();
        Err(ClosureError::Incomplete(missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Node;
    use crate::fixtures::{
        DIRECTORY_COMPLICATED, DIRECTORY_DEEP, DIRECTORY_EMPTY, DIRECTORY_TWICE_EMPTY,
        DIRECTORY_WITH_KEEP, name,
    };
    use rstest::rstest;

    /// [DIRECTORY_COMPLICATED] but claiming its child has one entry more.
    fn complicated_with_wrong_size() -> Directory {
        let mut directory = Directory::new();
        for (entry_name, node) in DIRECTORY_COMPLICATED.nodes() {
            let node = match node {
                Node::Directory { digest, size } => Node::Directory {
                    digest: *digest,
                    size: size + 1,
                },
                other => other.clone(),
            };
            directory.add(entry_name.clone(), node).expect("valid");
        }
        directory
    }

    #[rstest]
    #[case::single_leaf(vec![&*DIRECTORY_WITH_KEEP], &*DIRECTORY_WITH_KEEP)]
    #[case::empty_directory(vec![&*DIRECTORY_EMPTY], &*DIRECTORY_EMPTY)]
    #[case::leaf_then_parent(vec![&*DIRECTORY_WITH_KEEP, &*DIRECTORY_COMPLICATED], &*DIRECTORY_COMPLICATED)]
    #[case::duplicate_leaf(vec![&*DIRECTORY_EMPTY, &*DIRECTORY_EMPTY, &*DIRECTORY_TWICE_EMPTY], &*DIRECTORY_TWICE_EMPTY)]
    #[case::duplicate_after_parent(vec![&*DIRECTORY_EMPTY, &*DIRECTORY_TWICE_EMPTY, &*DIRECTORY_EMPTY], &*DIRECTORY_TWICE_EMPTY)]
    #[case::deep(vec![&*DIRECTORY_EMPTY, &*DIRECTORY_WITH_KEEP, &*DIRECTORY_TWICE_EMPTY, &*DIRECTORY_COMPLICATED, &*DIRECTORY_DEEP], &*DIRECTORY_DEEP)]
    fn leaves_first_valid(#[case] sent: Vec<&Directory>, #[case] root: &Directory) {
        let mut validator = ClosureValidator::new();
        for directory in sent {
            validator.add(directory).expect("accepted");
        }
        assert_eq!(Ok(root.digest()), validator.finalize());
    }

    #[test]
    fn leaves_first_reports_duplicates() {
        let mut validator = ClosureValidator::new();
        let digest = DIRECTORY_EMPTY.digest();
        assert_eq!(
            Ok(Accepted {
                digest,
                is_new: true
            }),
            validator.add(&DIRECTORY_EMPTY)
        );
        assert_eq!(
            Ok(Accepted {
                digest,
                is_new: false
            }),
            validator.add(&DIRECTORY_EMPTY)
        );
    }

    #[test]
    fn leaves_first_parent_before_child() {
        let mut validator = ClosureValidator::new();
        assert_eq!(
            Err(ClosureError::UnknownChild {
                parent: DIRECTORY_COMPLICATED.digest(),
                name: name("keep"),
                child: DIRECTORY_WITH_KEEP.digest(),
            }),
            validator.add(&DIRECTORY_COMPLICATED)
        );
    }

    /// The error for [complicated_with_wrong_size], in either order.
    fn wrong_size_error(parent: &Directory) -> ClosureError {
        ClosureError::SizeMismatch {
            parent: parent.digest(),
            name: name("keep"),
            child: DIRECTORY_WITH_KEEP.digest(),
            referenced: 2,
            actual: 1,
        }
    }

    #[test]
    fn leaves_first_wrong_size() {
        let mut validator = ClosureValidator::new();
        validator.add(&DIRECTORY_WITH_KEEP).expect("leaf");
        let parent = complicated_with_wrong_size();
        assert_eq!(Err(wrong_size_error(&parent)), validator.add(&parent));
    }

    #[test]
    fn leaves_first_empty() {
        assert_eq!(Err(ClosureError::Empty), ClosureValidator::new().finalize());
    }

    #[test]
    fn leaves_first_disconnected() {
        let mut validator = ClosureValidator::new();
        validator.add(&DIRECTORY_EMPTY).expect("first");
        validator.add(&DIRECTORY_WITH_KEEP).expect("second");
        let mut roots = vec![DIRECTORY_EMPTY.digest(), DIRECTORY_WITH_KEEP.digest()];
        roots.sort();
        assert_eq!(
            Err(ClosureError::MultipleRoots(roots)),
            validator.finalize()
        );
    }

    #[rstest]
    #[case::empty_stream(&*DIRECTORY_DEEP, vec![])]
    #[case::leaf(&*DIRECTORY_WITH_KEEP, vec![&*DIRECTORY_WITH_KEEP])]
    #[case::deep_bfs(&*DIRECTORY_DEEP, vec![&*DIRECTORY_DEEP, &*DIRECTORY_COMPLICATED, &*DIRECTORY_TWICE_EMPTY, &*DIRECTORY_WITH_KEEP, &*DIRECTORY_EMPTY])]
    #[case::deep_dfs(&*DIRECTORY_DEEP, vec![&*DIRECTORY_DEEP, &*DIRECTORY_TWICE_EMPTY, &*DIRECTORY_EMPTY, &*DIRECTORY_COMPLICATED, &*DIRECTORY_WITH_KEEP])]
    fn root_first_valid(#[case] root: &Directory, #[case] received: Vec<&Directory>) {
        let mut validator = RootFirstValidator::new(root.digest());
        for directory in received {
            assert_eq!(Ok(directory.digest()), validator.add(directory));
        }
        assert_eq!(Ok(()), validator.finalize());
    }

    #[test]
    fn root_first_wrong_root() {
        let mut validator = RootFirstValidator::new(DIRECTORY_DEEP.digest());
        assert_eq!(
            Err(ClosureError::RootMismatch {
                expected: DIRECTORY_DEEP.digest(),
                actual: DIRECTORY_EMPTY.digest(),
            }),
            validator.add(&DIRECTORY_EMPTY)
        );
    }

    #[rstest]
    #[case::unreferenced(vec![&*DIRECTORY_COMPLICATED, &*DIRECTORY_EMPTY], DIRECTORY_EMPTY.digest())]
    #[case::sent_twice(vec![&*DIRECTORY_TWICE_EMPTY, &*DIRECTORY_EMPTY, &*DIRECTORY_EMPTY], DIRECTORY_EMPTY.digest())]
    #[case::root_twice(vec![&*DIRECTORY_EMPTY, &*DIRECTORY_EMPTY], DIRECTORY_EMPTY.digest())]
    fn root_first_unexpected(#[case] received: Vec<&Directory>, #[case] unexpected: B3Digest) {
        let (last, before) = received.split_last().expect("non-empty case");
        let mut validator = RootFirstValidator::new(before[0].digest());
        for directory in before {
            validator.add(directory).expect("accepted");
        }
        assert_eq!(
            Err(ClosureError::Unexpected(unexpected)),
            validator.add(last)
        );
    }

    #[test]
    fn root_first_wrong_size() {
        let parent = complicated_with_wrong_size();
        let mut validator = RootFirstValidator::new(parent.digest());
        validator.add(&parent).expect("root");
        assert_eq!(
            Err(wrong_size_error(&parent)),
            validator.add(&DIRECTORY_WITH_KEEP)
        );
    }

    #[test]
    fn root_first_incomplete() {
        let mut validator = RootFirstValidator::new(DIRECTORY_DEEP.digest());
        validator.add(&DIRECTORY_DEEP).expect("root");
        validator.add(&DIRECTORY_COMPLICATED).expect("child");
        let mut missing = vec![DIRECTORY_TWICE_EMPTY.digest(), DIRECTORY_WITH_KEEP.digest()];
        missing.sort();
        assert_eq!(Err(ClosureError::Incomplete(missing)), validator.finalize());
    }
}
