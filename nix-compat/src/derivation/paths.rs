//! The hashes and store paths CppNix computes for a derivation: its
//! `hash_derivation_modulo`, the paths of its outputs and its own path.

use std::borrow::Cow;
use std::collections::BTreeSet;

use bstr::BString;
use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};

use super::{Derivation, DerivationError, output::method_prefix};
use crate::nixhash::CAHash;
use crate::store_path::{
    StorePath, StorePathRef, build_ca_path, build_output_path, build_text_path,
};

impl Derivation {
    /// CppNix's `hashDerivationModulo`: the hash output paths are computed
    /// from, and that dependents use in place of this derivation's path.
    ///
    /// For a fixed-output derivation it is the sha256 of
    /// `fixed:out:<hashAlgo>:<hash hex>:<output path>`, so that how a fixed
    /// output is fetched does not change anything depending on it. For any
    /// other derivation it is the sha256 of the ATerm in which every input
    /// derivation's path is replaced by the lowercase hex of its own
    /// `hash_derivation_modulo`, which `lookup` returns (callers memoise it;
    /// this function does not recurse).
    ///
    /// It hashes the derivation as it stands: to compute output paths,
    /// call it while output paths and their environment variables are
    /// empty, as CppNix does. A fixed output without a path is hashed with
    /// an empty path; [Derivation::calculate_output_paths] does not use the
    /// hash for fixed-output derivations.
    pub fn hash_derivation_modulo(
        &self,
        mut lookup: impl FnMut(&StorePathRef<'_>) -> [u8; 32],
    ) -> [u8; 32] {
        if let Some((ca_hash, path)) = self.fixed_output() {
            let path = path.map(StorePath::to_absolute_path).unwrap_or_default();
            let fingerprint = format!(
                "fixed:out:{}{}:{path}",
                method_prefix(ca_hash),
                ca_hash.hash().to_nix_lowerhex_string()
            );
            return Sha256::digest(fingerprint).into();
        }

        // Sorted by hash, and inputs whose hashes coincide (two
        // fixed-output derivations with the same output) merged, as in
        // CppNix. Output sets are borrowed unless merged: this runs twice
        // for every derivation instantiated.
        let mut replacements: Vec<([u8; 64], Cow<'_, BTreeSet<String>>)> = self
            .input_derivations
            .iter()
            .map(|(drv_path, outputs)| {
                let mut hex = [0; 64];
                HEXLOWER.encode_mut(&lookup(&drv_path.as_ref()), &mut hex);
                (hex, Cow::Borrowed(outputs))
            })
            .collect();
        replacements.sort_by_key(|(hex, _)| *hex);
        replacements.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1.to_mut().extend(later.1.iter().cloned());
            }
            same
        });
        Sha256::digest(self.to_aterm_bytes_with_replacements(&replacements)).into()
    }

    /// Computes every output's path and sets it, and the environment
    /// variable named after the output, as CppNix does when instantiating.
    ///
    /// `name` is the derivation's name; an output other than `out` is named
    /// `<name>-<output>`. A fixed output's path follows from its content
    /// hash; the others follow from `hash_derivation_modulo` (of this
    /// derivation with output paths still empty).
    pub fn calculate_output_paths(
        &mut self,
        name: &str,
        hash_derivation_modulo: &[u8; 32],
    ) -> Result<(), DerivationError> {
        // All paths first, so that an error leaves the derivation unchanged.
        let paths = self
            .outputs
            .iter()
            .map(|(output_name, output)| {
                let path_name = if output_name == "out" {
                    name.to_string()
                } else {
                    format!("{name}-{output_name}")
                };
                let path = match &output.ca_hash {
                    Some(CAHash::Text(_)) => {
                        return Err(DerivationError::TextHashedOutput(output_name.clone()));
                    }
                    Some(ca_hash) => build_ca_path(&path_name, ca_hash, [] as [&str; 0], false),
                    None => build_output_path(hash_derivation_modulo, output_name, &path_name),
                };
                path.map_err(|source| DerivationError::OutputPath {
                    output: output_name.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<StorePath>, _>>()?;

        for ((output_name, output), path) in self.outputs.iter_mut().zip(paths) {
            self.environment
                .insert(output_name.clone(), BString::from(path.to_absolute_path()));
            output.path = Some(path);
        }
        Ok(())
    }

    /// The path of this derivation's `.drv` file: a text path named
    /// `<name>.drv` whose references are its input sources and input
    /// derivations.
    pub fn calculate_derivation_path(&self, name: &str) -> Result<StorePath, DerivationError> {
        let references: BTreeSet<&StorePath> = self
            .input_sources
            .iter()
            .chain(self.input_derivations.keys())
            .collect();
        let drv_name = format!("{name}.drv");
        build_text_path(
            &drv_name,
            self.to_aterm_bytes(),
            references.into_iter().map(|p| p.to_absolute_path()),
        )
        .map_err(|source| DerivationError::DerivationPath {
            name: drv_name,
            source,
        })
    }
}
