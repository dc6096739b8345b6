//! Services composed from a document that names them and wires them
//! together, e.g. (TOML):
//!
//! ```toml
//! [blobservices.local]
//! type = "pack"
//! path = "/var/cache/tvix/pack"
//!
//! [blobservices.s3]
//! type = "objectstore"
//! url = "s3://bucket/tvix?region=eu-central-1"
//!
//! [blobservices.default]
//! type = "combined"
//! near = "local"
//! far = "s3"
//! ```
//!
//! Each table (`blobservices`, `directoryservices`, and the path info
//! services of tvix-store) maps names to one entry each; an entry's `type`
//! picks a variant of that table's config enum ([BlobServiceConfig],
//! [DirectoryServiceConfig]), whose other keys are its settings. Settings
//! that name another entry ([Reference]) are checked when the document is
//! loaded ([check_table]): a name no entry has and a cycle are errors that
//! name the key they were found at. Entries are built when first asked for,
//! each at most once per composition ([Table]), so two entries naming the
//! same cache share it.
//!
//! A backend joins by adding a variant to its table's config enum and a
//! line to its `build`; nothing else needs to know about it.

mod blob;
mod directory;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use thiserror::Error;

pub use blob::BlobServiceConfig;
pub use directory::DirectoryServiceConfig;

use crate::blobservice::BlobService;
use crate::directoryservice::DirectoryService;

/// Why a document is refused or one of its entries could not be built.
/// Every variant names the place in the document it is about.
#[derive(Debug, Error)]
pub enum CompositionError {
    /// The document does not parse, or an entry has an unknown `type`, an
    /// unknown key or a setting of the wrong type.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// A setting names an entry that does not exist.
    #[error("{path}: no service named {name:?} in {table}")]
    Dangling {
        path: String,
        table: &'static str,
        name: String,
    },
    /// Entries reference each other in a cycle (listed from the first).
    #[error("{path}: reference cycle {}", .cycle.join(" -> "))]
    Cycle { path: String, cycle: Vec<String> },
    /// A service was asked for by a name the document does not define.
    #[error("{table}.{name}: not defined")]
    Undefined { table: &'static str, name: String },
    /// Building the entry at `path` failed.
    #[error("{path}: {source}")]
    Build {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl CompositionError {
    /// The entry at `path` could not be built because of `source`.
    pub fn build(path: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Build {
            path: path.to_owned(),
            source: source.into(),
        }
    }
}

/// A setting of an entry that names another entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The key of the setting, e.g. `far`.
    pub key: &'static str,
    /// The table the named entry is in, e.g. `blobservices`.
    pub table: &'static str,
    /// The name of the entry.
    pub name: &'a str,
}

/// What every entry of a table can tell before it is built.
pub trait ServiceConfig {
    /// The settings of this entry that name other entries.
    fn references(&self) -> Vec<Reference<'_>>;
}

/// Checks the entries of `table`: every reference must name an entry
/// (`exists(table, name)` for other tables), and references within the
/// table must not form a cycle.
pub fn check_table<C: ServiceConfig>(
    table: &'static str,
    entries: &BTreeMap<String, C>,
    exists: &dyn Fn(&str, &str) -> bool,
) -> Result<(), CompositionError> {
    for (name, entry) in entries {
        for reference in entry.references() {
            let found = if reference.table == table {
                entries.contains_key(reference.name)
            } else {
                exists(reference.table, reference.name)
            };
            if !found {
                return Err(CompositionError::Dangling {
                    path: format!("{table}.{name}.{}", reference.key),
                    table: reference.table,
                    name: reference.name.to_owned(),
                });
            }
        }
    }
    // Depth-first from every entry; an entry met again while still on the
    // path closes a cycle. `done` entries are known to reach none.
    let mut done = std::collections::HashSet::new();
    for start in entries.keys() {
        let mut path: Vec<(&str, Option<&'static str>)> = Vec::new();
        visit(table, entries, start, None, &mut path, &mut done)?;
    }
    Ok(())
}

fn visit<'a, C: ServiceConfig>(
    table: &'static str,
    entries: &'a BTreeMap<String, C>,
    name: &'a str,
    via: Option<&'static str>,
    path: &mut Vec<(&'a str, Option<&'static str>)>,
    done: &mut std::collections::HashSet<&'a str>,
) -> Result<(), CompositionError> {
    if done.contains(name) {
        return Ok(());
    }
    if let Some(start) = path.iter().position(|(on_path, _)| *on_path == name) {
        let (first, _) = path[start];
        let key = path.get(start + 1).and_then(|(_, key)| *key).or(via);
        let mut cycle: Vec<String> = path[start..]
            .iter()
            .map(|(name, _)| format!("{table}.{name}"))
            .collect();
        cycle.push(format!("{table}.{first}"));
        return Err(CompositionError::Cycle {
            path: format!("{table}.{first}.{}", key.unwrap_or("?")),
            cycle,
        });
    }
    let Some((name, entry)) = entries.get_key_value(name) else {
        // Checked before: only references to other tables are not here.
        return Ok(());
    };
    path.push((name, via));
    for reference in entry.references() {
        if reference.table == table {
            visit(
                table,
                entries,
                reference.name,
                Some(reference.key),
                path,
                done,
            )?;
        }
    }
    path.pop();
    done.insert(name);
    Ok(())
}

/// The entries of one table and the services built from them so far.
pub struct Table<C, S: ?Sized> {
    name: &'static str,
    entries: BTreeMap<String, C>,
    built: Mutex<HashMap<String, Arc<S>>>,
}

impl<C, S: ?Sized> Table<C, S> {
    /// The table `name` (e.g. `blobservices`) of a checked document.
    pub fn new(name: &'static str, entries: BTreeMap<String, C>) -> Self {
        Self {
            name,
            entries,
            built: Mutex::new(HashMap::new()),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    pub fn entries(&self) -> &BTreeMap<String, C> {
        &self.entries
    }

    /// The service of entry `name`, built by `build(entry, path)` the
    /// first time it is asked for. Builds of a composition happen one
    /// after the other (an entry builds the ones it references while being
    /// built), so none is built twice.
    pub async fn get<'a, F, Fut>(&'a self, name: &str, build: F) -> Result<Arc<S>, CompositionError>
    where
        F: FnOnce(&'a C, String) -> Fut,
        Fut: Future<Output = Result<Arc<S>, CompositionError>>,
    {
        let lock = || self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(service) = lock().get(name) {
            return Ok(service.clone());
        }
        let entry = self
            .entries
            .get(name)
            .ok_or_else(|| CompositionError::Undefined {
                table: self.name,
                name: name.to_owned(),
            })?;
        let service = build(entry, format!("{}.{name}", self.name)).await?;
        lock().insert(name.to_owned(), service.clone());
        Ok(service)
    }
}

/// The castore part of a composition: blob and directory services.
pub struct CastoreComposition {
    blobs: Table<BlobServiceConfig, dyn BlobService>,
    directories: Table<DirectoryServiceConfig, dyn DirectoryService>,
}

impl CastoreComposition {
    /// The composition of these entries, once their references are
    /// checked.
    pub fn new(
        blobservices: BTreeMap<String, BlobServiceConfig>,
        directoryservices: BTreeMap<String, DirectoryServiceConfig>,
    ) -> Result<Self, CompositionError> {
        let none = |_: &str, _: &str| false;
        check_table(blob::TABLE, &blobservices, &none)?;
        check_table(directory::TABLE, &directoryservices, &none)?;
        Ok(Self {
            blobs: Table::new(blob::TABLE, blobservices),
            directories: Table::new(directory::TABLE, directoryservices),
        })
    }

    /// Whether the castore tables have an entry `name` in `table`, for
    /// checking references into them.
    pub fn exists(&self, table: &str, name: &str) -> bool {
        match table {
            blob::TABLE => self.blobs.contains(name),
            directory::TABLE => self.directories.contains(name),
            _ => false,
        }
    }

    /// The blob service named `name`, built on first use.
    pub async fn blob_service(&self, name: &str) -> Result<Arc<dyn BlobService>, CompositionError> {
        Box::pin(self.blobs.get(
            name,
            |entry, path| async move { entry.build(&path, self).await },
        ))
        .await
    }

    /// The directory service named `name`, built on first use.
    pub async fn directory_service(
        &self,
        name: &str,
    ) -> Result<Arc<dyn DirectoryService>, CompositionError> {
        Box::pin(self.directories.get(
            name,
            |entry, path| async move { entry.build(&path, self).await },
        ))
        .await
    }

    pub fn blob_entries(&self) -> &BTreeMap<String, BlobServiceConfig> {
        self.blobs.entries()
    }
}

#[cfg(test)]
mod tests;
