//! A derivation's inputs, from the string context of its attributes, and
//! the known derivations they need.
//!
//! - A plain store path is an input source.
//! - One output of a derivation (`drv.out`) makes that derivation an
//!   input derivation, for that output.
//! - A whole derivation (`drv.drvPath`, context `=`) gives the builder
//!   the whole graph behind it, as CppNix does: every path of the closure
//!   of the `.drv` becomes an input source, and every derivation in it an
//!   input derivation with all its outputs.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use nix_compat::derivation::Derivation;
use nix_compat::store_path::StorePath;
use tvix_eval::io::{EvalIO, HostIO};
use tvix_eval::value::{ContextElement, NixContext};

use super::errors::DerivationError;
use crate::TvixStoreIO;
use crate::tvix_store_io::StoreError;

/// Adds the inputs `context` names to `derivation`.
pub(super) fn add_inputs(
    io: &TvixStoreIO,
    derivation: &mut Derivation,
    context: &NixContext,
) -> Result<(), DerivationError> {
    for element in context {
        match element {
            ContextElement::Plain(path) => {
                derivation.input_sources.insert(parse_store_path(path)?);
            }
            ContextElement::Single {
                derivation: drv_path,
                output,
            } => {
                let drv_path = parse_store_path(drv_path)?;
                ensure_known(io, &drv_path)?;
                derivation
                    .input_derivations
                    .entry(drv_path)
                    .or_default()
                    .insert(output.clone());
            }
            ContextElement::Derivation(drv_path) => {
                for path in closure(io, parse_store_path(drv_path)?)? {
                    if path.name().ends_with(".drv") {
                        ensure_known(io, &path)?;
                        let known = io.known_paths().borrow();
                        let outputs = known
                            .get(&path.as_ref())
                            .map(|known| known.outputs.iter().cloned())
                            .into_iter()
                            .flatten();
                        derivation
                            .input_derivations
                            .entry(path.clone())
                            .or_default()
                            .extend(outputs);
                    }
                    derivation.input_sources.insert(path);
                }
            }
        }
    }
    Ok(())
}

/// Parses an absolute store path from a string context.
pub(super) fn parse_store_path(path: &str) -> Result<StorePath, DerivationError> {
    StorePath::from_absolute_path(path.as_bytes()).map_err(|e| DerivationError::InvalidStorePath {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// `path` and every store path it refers to, directly or not. The
/// references of known derivations are their inputs; those of other paths
/// come from the store.
fn closure(io: &TvixStoreIO, path: StorePath) -> Result<BTreeSet<StorePath>, DerivationError> {
    let mut seen = HashSet::from([path.clone()]);
    let mut work = vec![path];
    while let Some(path) = work.pop() {
        let known_references = io
            .known_paths()
            .borrow()
            .get(&path.as_ref())
            .map(|known| known.references.to_vec());
        let references = match known_references {
            Some(references) => references,
            None => match io.references(&path.as_ref()) {
                Ok(references) => references,
                // In the host's store only: its references are unknown
                // here, so it counts as a leaf.
                Err(StoreError::InvalidPath(_))
                    if HostIO
                        .path_exists(Path::new(&path.to_absolute_path()))
                        .unwrap_or(false) =>
                {
                    Vec::new()
                }
                Err(e) => return Err(e.into()),
            },
        };
        for reference in references {
            if seen.insert(reference.clone()) {
                work.push(reference);
            }
        }
    }
    Ok(seen.into_iter().collect())
}

/// Makes sure the derivation at `drv_path` is known, with every derivation
/// it depends on: those not known yet are read from the store, inputs
/// before the derivations that use them.
pub(super) fn ensure_known(io: &TvixStoreIO, drv_path: &StorePath) -> Result<(), DerivationError> {
    let known = |path: &StorePath| io.known_paths().borrow().contains(&path.as_ref());
    // A derivation is pushed again, read, after the inputs it misses.
    let mut work: Vec<(StorePath, Option<Derivation>)> = vec![(drv_path.clone(), None)];
    while let Some((path, read)) = work.pop() {
        if known(&path) {
            continue;
        }
        let second_visit = read.is_some();
        let derivation = match read {
            Some(derivation) => derivation,
            None => read_derivation(io, &path)?,
        };
        let missing: Vec<StorePath> = derivation
            .input_derivations
            .keys()
            .filter(|input| !known(input))
            .cloned()
            .collect();
        if missing.is_empty() {
            io.known_paths().borrow_mut().add(path, &derivation);
        } else if second_visit {
            // Its inputs were all made known before it came back, unless
            // one of them depends on it: a store that says so is broken.
            return Err(DerivationError::InvalidStorePath {
                path: path.to_absolute_path(),
                reason: "the derivation depends on itself".into(),
            });
        } else {
            work.push((path, Some(derivation)));
            work.extend(missing.into_iter().map(|input| (input, None)));
        }
    }
    Ok(())
}

/// Reads and parses the `.drv` at `path`: from the store, or from the
/// host's store if the store does not hold it.
fn read_derivation(io: &TvixStoreIO, path: &StorePath) -> Result<Derivation, DerivationError> {
    let absolute = path.to_absolute_path();
    let bytes = io
        .read_to_end(Path::new(&absolute))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::InvalidPath(absolute.clone()),
            _ => StoreError::Blob {
                path: absolute.clone(),
                source: e,
            },
        })?;
    Derivation::from_aterm_bytes(&bytes).map_err(|source| DerivationError::ReadDerivation {
        path: path.clone(),
        source,
    })
}
