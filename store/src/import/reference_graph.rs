//! Copying a closure out of a local Nix store, described by a reference
//! graph: the JSON `nix path-info --json --recursive PATH` prints, or the
//! one `exportReferencesGraph` writes for structured-attrs derivations.
//!
//! Three shapes are accepted:
//! - a list of path infos, each with its `path` (Nix 2.8 `nix path-info
//!   --json`);
//! - an object whose values are such lists (`exportReferencesGraph`, one
//!   list per exported name);
//! - an object from store path to path info (`nix path-info --json` of
//!   newer Nix versions).
//!
//! Paths are ingested with their references first, so even an interrupted
//! copy leaves only PathInfos whose listed references are stored too.

use std::collections::HashMap;
use std::path::Path;

use nix_compat::narinfo::{self, NamedBytesError};
use nix_compat::nixbase32;
use nix_compat::nixhash::{self, CAHash, HashAlgo, NixHash, NixHashError};
use nix_compat::store_path::{self, StorePath};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;
use tvix_castore::blobservice::BlobService;
use tvix_castore::directoryservice::DirectoryService;

use super::{ImportError, ImportProgress, NarMismatch, ingest, summarize_nar};
use crate::pathinfoservice::PathInfoService;
use crate::{PathInfo, Signature};

/// Why a reference graph was refused. `path` is the store path of the
/// entry involved, as written in the graph.
#[derive(Debug, Error)]
pub enum ReferenceGraphError {
    #[error("reference graph is not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("reference graph must be a list or an object of path infos, got {0}")]
    Shape(&'static str),
    #[error("reference graph entry {entry}: {source}")]
    Entry {
        entry: String,
        source: serde_json::Error,
    },
    #[error("reference graph entry {entry}: {field} {value:?} is not a store path: {source}")]
    StorePath {
        entry: String,
        field: &'static str,
        value: String,
        source: store_path::Error,
    },
    #[error("{0} is not valid in the Nix store the reference graph was made from")]
    NotValid(String),
    #[error("{path} has no {field} in the reference graph")]
    MissingField { path: String, field: &'static str },
    #[error("{path} has an invalid narHash {value:?}: {source}")]
    NarHash {
        path: String,
        value: String,
        source: NixHashError,
    },
    #[error("{path} has an invalid signature {value:?}: {source}")]
    Signature {
        path: String,
        value: String,
        source: NamedBytesError,
    },
    #[error("{path} has an invalid ca {value:?}")]
    Ca { path: String, value: String },
    #[error("{0} is listed twice with different path infos")]
    Conflicting(StorePath),
    #[error("the references of {0} lead back to it")]
    Cycle(StorePath),
}

/// One path of a reference graph, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceGraphEntry {
    pub store_path: StorePath,
    pub references: Vec<StorePath>,
    pub nar_size: u64,
    pub nar_sha256: [u8; 32],
    pub deriver: Option<StorePath>,
    pub signatures: Vec<Signature>,
    pub ca: Option<CAHash>,
}

/// The paths of a reference graph, each listed once, every path after the
/// paths it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceGraph {
    entries: Vec<ReferenceGraphEntry>,
}

impl ReferenceGraph {
    /// Parses and validates a reference graph in any of the accepted shapes.
    pub fn from_json(json: &[u8]) -> Result<Self, ReferenceGraphError> {
        let document: Value = serde_json::from_slice(json).map_err(ReferenceGraphError::Json)?;
        let mut entries = Vec::new();
        match document {
            Value::Array(list) => parse_list(list, &mut entries)?,
            Value::Object(object) => {
                for (key, value) in object {
                    match value {
                        Value::Array(list) => parse_list(list, &mut entries)?,
                        Value::Object(_) | Value::Null => {
                            entries.push(parse_entry(Some(&key), value, &key)?)
                        }
                        other => return Err(ReferenceGraphError::Shape(kind(&other))),
                    }
                }
            }
            other => return Err(ReferenceGraphError::Shape(kind(&other))),
        }
        Ok(Self {
            entries: references_first(entries)?,
        })
    }

    /// The entries, every one after those it refers to.
    pub fn entries(&self) -> &[ReferenceGraphEntry] {
        &self.entries
    }
}

/// A path info as Nix writes it; fields tvix has no use for
/// (`registrationTime`, `ultimate`, `closureSize`, ...) are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    path: Option<String>,
    valid: Option<bool>,
    nar_hash: Option<String>,
    nar_size: Option<u64>,
    #[serde(default)]
    references: Vec<String>,
    deriver: Option<String>,
    #[serde(default)]
    signatures: Vec<String>,
    ca: Option<String>,
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn parse_list(
    list: Vec<Value>,
    entries: &mut Vec<ReferenceGraphEntry>,
) -> Result<(), ReferenceGraphError> {
    for (index, value) in list.into_iter().enumerate() {
        entries.push(parse_entry(None, value, &format!("#{index}"))?);
    }
    Ok(())
}

/// Validates one path info; `key` is its store path when the graph is keyed
/// by path, and `entry` names it in errors until its path is known.
fn parse_entry(
    key: Option<&str>,
    value: Value,
    entry: &str,
) -> Result<ReferenceGraphEntry, ReferenceGraphError> {
    // Newer Nix writes `null` for a path that is not valid.
    if value.is_null() {
        return Err(ReferenceGraphError::NotValid(entry.to_owned()));
    }
    let raw: RawEntry =
        serde_json::from_value(value).map_err(|source| ReferenceGraphError::Entry {
            entry: entry.to_owned(),
            source,
        })?;
    let path = match (key, raw.path.as_deref()) {
        (_, Some(path)) | (Some(path), None) => path.to_owned(),
        (None, None) => {
            return Err(ReferenceGraphError::MissingField {
                path: entry.to_owned(),
                field: "path",
            });
        }
    };
    let store_path = parse_store_path(&path, "path", &path)?;
    if raw.valid == Some(false) {
        return Err(ReferenceGraphError::NotValid(path));
    }
    let missing = |field| ReferenceGraphError::MissingField {
        path: path.clone(),
        field,
    };
    let nar_hash = raw.nar_hash.ok_or_else(|| missing("narHash"))?;
    let nar_size = raw.nar_size.ok_or_else(|| missing("narSize"))?;
    // The algorithm is required, so any hash that parses is a sha256.
    let nar_sha256 = match nixhash::from_str(&nar_hash, Some(HashAlgo::Sha256)) {
        Ok(NixHash::Sha256(digest)) => digest,
        Ok(other) => {
            return Err(ReferenceGraphError::NarHash {
                path,
                value: nar_hash,
                source: NixHashError::ConflictingAlgo {
                    hash: other.to_nix_lowerhex_string(),
                    expected: HashAlgo::Sha256,
                    found: other.algo(),
                },
            });
        }
        Err(source) => {
            return Err(ReferenceGraphError::NarHash {
                path,
                value: nar_hash,
                source,
            });
        }
    };
    let references = raw
        .references
        .iter()
        .map(|reference| parse_store_path(&path, "reference", reference))
        .collect::<Result<_, _>>()?;
    let deriver = raw
        .deriver
        .as_deref()
        .map(|deriver| parse_store_path(&path, "deriver", deriver))
        .transpose()?;
    let signatures = raw
        .signatures
        .iter()
        .map(|signature| {
            narinfo::Signature::parse(signature)
                .map(Signature::from)
                .map_err(|source| ReferenceGraphError::Signature {
                    path: path.clone(),
                    value: signature.clone(),
                    source,
                })
        })
        .collect::<Result<_, _>>()?;
    let ca = raw
        .ca
        .map(|ca| {
            CAHash::from_nix_str(&ca).ok_or_else(|| ReferenceGraphError::Ca {
                path: path.clone(),
                value: ca,
            })
        })
        .transpose()?;
    Ok(ReferenceGraphEntry {
        store_path,
        references,
        nar_size,
        nar_sha256,
        deriver,
        signatures,
        ca,
    })
}

fn parse_store_path(
    entry: &str,
    field: &'static str,
    value: &str,
) -> Result<StorePath, ReferenceGraphError> {
    StorePath::from_absolute_path(value.as_bytes()).map_err(|source| {
        ReferenceGraphError::StorePath {
            entry: entry.to_owned(),
            field,
            value: value.to_owned(),
            source,
        }
    })
}

/// `entries` without repetitions (exported names may share paths), ordered
/// so every entry comes after the entries it refers to. References to paths
/// not in the graph and self references do not constrain the order.
fn references_first(
    entries: Vec<ReferenceGraphEntry>,
) -> Result<Vec<ReferenceGraphEntry>, ReferenceGraphError> {
    let mut unique: Vec<ReferenceGraphEntry> = Vec::with_capacity(entries.len());
    let mut index: HashMap<StorePath, usize> = HashMap::new();
    for entry in entries {
        match index.get(&entry.store_path).and_then(|&i| unique.get(i)) {
            Some(known) if *known == entry => {}
            Some(_) => return Err(ReferenceGraphError::Conflicting(entry.store_path)),
            None => {
                index.insert(entry.store_path.clone(), unique.len());
                unique.push(entry);
            }
        }
    }

    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Visiting,
        Done,
    }
    let mut state = vec![State::New; unique.len()];
    let mut order = Vec::with_capacity(unique.len());
    for start in 0..unique.len() {
        if state[start] != State::New {
            continue;
        }
        state[start] = State::Visiting;
        // Depth-first, on an explicit stack of (entry, next reference).
        let mut stack = vec![(start, 0)];
        while let Some((current, next)) = stack.pop() {
            let child = unique[current]
                .references
                .iter()
                .enumerate()
                .skip(next)
                .find_map(|(position, reference)| {
                    let child = *index.get(reference)?;
                    (child != current).then_some((position, child))
                });
            match child {
                Some((position, child)) => {
                    stack.push((current, position + 1));
                    match state[child] {
                        State::New => {
                            state[child] = State::Visiting;
                            stack.push((child, 0));
                        }
                        State::Visiting => {
                            return Err(ReferenceGraphError::Cycle(
                                unique[child].store_path.clone(),
                            ));
                        }
                        State::Done => {}
                    }
                }
                None => {
                    state[current] = State::Done;
                    order.push(current);
                }
            }
        }
    }
    let mut slots: Vec<Option<ReferenceGraphEntry>> = unique.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect())
}

/// Copies every path of `graph` from the Nix store directory
/// `nix_store_dir` (normally `/nix/store`) into the store, references
/// first, and returns their PathInfos. Paths the path info service already
/// has are left as they are. Each path must have exactly the NAR size and
/// hash the graph gives, or the copy stops with [NarMismatch].
pub async fn copy_closure<BS, DS, PS>(
    blob_service: BS,
    directory_service: &DS,
    path_info_service: &PS,
    graph: &ReferenceGraph,
    nix_store_dir: &Path,
    progress: &dyn ImportProgress,
) -> Result<Vec<PathInfo>, ImportError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
    PS: PathInfoService + ?Sized,
{
    let mut path_infos = Vec::with_capacity(graph.entries().len());
    for entry in graph.entries() {
        let store_path = &entry.store_path;
        let known = path_info_service
            .get(*store_path.digest())
            .await
            .map_err(|source| ImportError::GetPathInfo {
                store_path: store_path.clone(),
                source: Box::new(source),
            })?;
        if let Some(known) = known {
            path_infos.push(known);
            continue;
        }
        let local_path = nix_store_dir.join(store_path.to_string());
        let node = ingest(
            blob_service.clone(),
            directory_service,
            &local_path,
            progress,
        )
        .await?;
        let nar = summarize_nar(
            &blob_service,
            directory_service,
            path_info_service,
            &node,
            progress,
        )
        .await?;
        if nar.nar_size != entry.nar_size || nar.nar_sha256 != entry.nar_sha256 {
            return Err(ImportError::NarMismatch(Box::new(NarMismatch {
                store_path: store_path.clone(),
                expected_size: entry.nar_size,
                expected_sha256: nixbase32::encode(&entry.nar_sha256),
                found_size: nar.nar_size,
                found_sha256: nixbase32::encode(&nar.nar_sha256),
            })));
        }
        let path_info = PathInfo {
            store_path: store_path.clone(),
            node,
            references: entry.references.clone(),
            nar_size: nar.nar_size,
            nar_sha256: nar.nar_sha256,
            signatures: entry.signatures.clone(),
            deriver: entry.deriver.clone(),
            ca: entry.ca.clone(),
        };
        path_infos.push(path_info_service.put(path_info).await.map_err(|source| {
            ImportError::PutPathInfo {
                store_path: store_path.clone(),
                source: Box::new(source),
            }
        })?);
    }
    Ok(path_infos)
}
