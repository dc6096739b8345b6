//! Tests against the golden files in `testdata/derivation`, made by CppNix
//! (see `generate.sh` there), plus parser error and property tests.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::Derivation;
use crate::store_path::{StorePath, StorePathRef};

mod golden;
mod malformed;
mod properties;
mod validate;

const GOLDEN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/derivation");

/// One entry of `manifest.json`: what CppNix computed for a derivation.
#[derive(Deserialize)]
struct ManifestEntry {
    #[serde(rename = "drvPath")]
    drv_path: StorePath,
    outputs: BTreeMap<String, StorePath>,
}

/// `manifest.json`: golden file name (without `.drv`) to entry.
fn manifest() -> &'static BTreeMap<String, ManifestEntry> {
    static MANIFEST: OnceLock<BTreeMap<String, ManifestEntry>> = OnceLock::new();
    MANIFEST.get_or_init(|| {
        let json = std::fs::read(format!("{GOLDEN_DIR}/manifest.json")).unwrap();
        serde_json::from_slice(&json).unwrap()
    })
}

fn golden_file(file_name: &str) -> Vec<u8> {
    std::fs::read(format!("{GOLDEN_DIR}/{file_name}"))
        .unwrap_or_else(|e| panic!("reading golden file {file_name}: {e}"))
}

fn golden_drv(name: &str) -> Derivation {
    Derivation::from_aterm_bytes(&golden_file(&format!("{name}.drv"))).unwrap()
}

/// The derivation name CppNix used: the `.drv` basename without `.drv`.
fn derivation_name(name: &str) -> &'static str {
    let drv_path = &manifest()[name].drv_path;
    drv_path.name().strip_suffix(".drv").unwrap()
}

/// `hash_derivation_modulo` of a golden derivation, given by its path,
/// computing those of its inputs recursively.
fn golden_hash_derivation_modulo(drv_path: &StorePathRef<'_>) -> [u8; 32] {
    let (name, _) = manifest()
        .iter()
        .find(|(_, entry)| entry.drv_path.as_ref() == *drv_path)
        .unwrap_or_else(|| panic!("no golden file for {drv_path}"));
    golden_drv(name).hash_derivation_modulo(golden_hash_derivation_modulo)
}
