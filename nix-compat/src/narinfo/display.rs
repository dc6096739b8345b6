//! Writing a narinfo the way CppNix 2.8 does, and its signed fingerprint.

use std::fmt;

use super::NarInfo;
use crate::{nixbase32, store_path::STORE_DIR_WITH_SLASH};

/// Writes `sha256:<nixbase32>`, the only form Nix writes into narinfo files
/// and fingerprints.
struct Sha256<'a>(&'a [u8; 32]);

impl fmt::Display for Sha256<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", nixbase32::encode(self.0))
    }
}

impl NarInfo<'_> {
    /// The string a binary cache signs:
    /// `1;<store path>;sha256:<nar hash>;<nar size>;<references>`, with
    /// absolute paths and the references comma-separated.
    ///
    /// Nix holds references in a sorted set, so they are sorted and
    /// deduplicated here whatever their order in the file.
    pub fn fingerprint(&self) -> String {
        let mut references = self.references.clone();
        references.sort();
        references.dedup();
        let references: Vec<String> = references
            .iter()
            .map(|reference| reference.to_absolute_path())
            .collect();
        format!(
            "1;{};{};{};{}",
            self.store_path.to_absolute_path(),
            Sha256(&self.nar_hash),
            self.nar_size,
            references.join(",")
        )
    }
}

impl fmt::Display for NarInfo<'_> {
    /// The narinfo text, fields in Nix's order, each line ending with `\n`.
    /// Absent optional fields are left out; strings are written verbatim.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "StorePath: {STORE_DIR_WITH_SLASH}{}", self.store_path)?;
        writeln!(f, "URL: {}", self.url)?;
        if let Some(compression) = self.compression {
            writeln!(f, "Compression: {compression}")?;
        }
        if let Some(file_hash) = &self.file_hash {
            writeln!(f, "FileHash: {}", Sha256(file_hash))?;
        }
        if let Some(file_size) = self.file_size {
            writeln!(f, "FileSize: {file_size}")?;
        }
        writeln!(f, "NarHash: {}", Sha256(&self.nar_hash))?;
        writeln!(f, "NarSize: {}", self.nar_size)?;
        // Nix keeps the space after the colon even when there are none.
        f.write_str("References: ")?;
        for (i, reference) in self.references.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{reference}")?;
        }
        f.write_str("\n")?;
        if let Some(deriver) = &self.deriver {
            writeln!(f, "Deriver: {deriver}")?;
        }
        if let Some(system) = self.system {
            writeln!(f, "System: {system}")?;
        }
        for signature in &self.signatures {
            writeln!(f, "Sig: {signature}")?;
        }
        if let Some(ca) = &self.ca {
            writeln!(f, "CA: {}", ca.to_nix_nixbase32_string())?;
        }
        Ok(())
    }
}
