//! The derivations an evaluation knows, with their `hash_derivation_modulo`.
//!
//! Computing a derivation's output paths needs the
//! `hash_derivation_modulo` of every derivation it depends on, and a
//! `=`-context needs their references and output names. CppNix memoises
//! the hashes per evaluation (`drvHashes`) and reads derivations from its
//! store when it must; [KnownPaths] is that memo. Derivations instantiated
//! in this evaluation enter it as they are made; others are read from the
//! store once, by the builtins, and enter it then.
//!
//! Only what those uses need is kept, not the whole derivation: a package
//! set's environments are most of its derivations' size, and the `.drv`
//! is in the store anyway.

use std::collections::HashMap;

use nix_compat::derivation::Derivation;
use nix_compat::store_path::{DIGEST_SIZE, StorePath, StorePathRef};

/// A known derivation: its `hash_derivation_modulo`, output names and
/// references.
pub struct KnownDerivation {
    pub drv_path: StorePath,
    pub hash_derivation_modulo: [u8; 32],
    pub outputs: Box<[String]>,
    /// Its input sources and input derivations.
    pub references: Box<[StorePath]>,
}

/// Derivations by the digest of their `.drv` path.
#[derive(Default)]
pub struct KnownPaths {
    derivations: HashMap<[u8; DIGEST_SIZE], KnownDerivation>,
}

impl KnownPaths {
    pub fn get(&self, drv_path: &StorePathRef<'_>) -> Option<&KnownDerivation> {
        self.derivations
            .get(drv_path.digest())
            .filter(|known| known.drv_path.as_ref() == *drv_path)
    }

    pub fn contains(&self, drv_path: &StorePathRef<'_>) -> bool {
        self.get(drv_path).is_some()
    }

    /// Records the derivation at `drv_path`. Its input derivations must be
    /// known already: its `hash_derivation_modulo` is computed from theirs.
    pub fn add(&mut self, drv_path: StorePath, derivation: &Derivation) {
        let hash_derivation_modulo = self.hash_derivation_modulo(derivation);
        let references = derivation
            .input_sources
            .iter()
            .chain(derivation.input_derivations.keys())
            .cloned()
            .collect();
        self.derivations.insert(
            *drv_path.digest(),
            KnownDerivation {
                drv_path,
                hash_derivation_modulo,
                outputs: derivation.outputs.keys().cloned().collect(),
                references,
            },
        );
    }

    /// The `hash_derivation_modulo` of `derivation` as it stands, with the
    /// memoised hashes of its input derivations. An input that is not
    /// known (which callers rule out first) counts as a hash of zeroes.
    pub fn hash_derivation_modulo(&self, derivation: &Derivation) -> [u8; 32] {
        derivation.hash_derivation_modulo(|drv_path| {
            self.get(drv_path)
                .map(|known| known.hash_derivation_modulo)
                .unwrap_or_default()
        })
    }
}
