//! The checks CppNix makes on a derivation before writing it.

use super::{Derivation, DerivationError};
use crate::nixhash::CAHash;
use crate::store_path::validate_name;

impl Derivation {
    /// Checks the derivation as CppNix (2.8) does when instantiating one:
    /// at least one output, output names usable in store path names (and
    /// not `drv`), a fixed-output derivation has a single output named
    /// `out`, input derivations are `.drv` files, builder and system are set.
    /// With `validate_output_paths`, every output must also have its path.
    pub fn validate(&self, validate_output_paths: bool) -> Result<(), DerivationError> {
        if self.outputs.is_empty() {
            return Err(DerivationError::NoOutputs);
        }
        if let Some((name, _)) = self.outputs.iter().find(|(_, o)| o.ca_hash.is_some()) {
            if self.outputs.len() != 1 {
                return Err(DerivationError::FixedOutputAmongOthers(self.outputs.len()));
            }
            if name != "out" {
                return Err(DerivationError::FixedOutputNotNamedOut(name.clone()));
            }
        }
        for (name, output) in &self.outputs {
            if !is_valid_output_name(name) {
                return Err(DerivationError::InvalidOutputName(name.clone()));
            }
            if matches!(output.ca_hash, Some(CAHash::Text(_))) {
                return Err(DerivationError::TextHashedOutput(name.clone()));
            }
            if validate_output_paths && output.path.is_none() {
                return Err(DerivationError::MissingOutputPath(name.clone()));
            }
        }

        for (drv, outputs) in &self.input_derivations {
            if !drv.name().ends_with(".drv") {
                return Err(DerivationError::InputDerivationNotDrv(drv.clone()));
            }
            if let Some(output) = outputs.iter().find(|o| !is_valid_output_name(o)) {
                return Err(DerivationError::InvalidInputDerivationOutputName {
                    drv: drv.clone(),
                    output: output.clone(),
                });
            }
        }

        if self.builder.is_empty() {
            return Err(DerivationError::EmptyBuilder);
        }
        if self.system.is_empty() {
            return Err(DerivationError::EmptySystem);
        }
        Ok(())
    }
}

/// An output name becomes part of a store path name (`name-dev`), and
/// `drv` is reserved for the derivation itself.
fn is_valid_output_name(name: &str) -> bool {
    name != "drv" && validate_name(name.as_bytes()).is_ok()
}
