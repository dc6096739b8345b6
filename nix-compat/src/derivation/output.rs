//! One output of a derivation, and the `hashAlgo`/`hash` field pair that
//! encodes a fixed output's content hash in both ATerm and JSON.

use data_encoding::HEXLOWER;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::nixhash::{CAHash, HashAlgo, NixHash};
use crate::store_path::StorePath;

/// An output of a derivation.
///
/// `path` is `None` while the path is not computed yet (CppNix writes `""`
/// then). `ca_hash` is set for the output of a fixed-output derivation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "OutputFields", into = "OutputFields")]
pub struct Output {
    pub path: Option<StorePath>,
    pub ca_hash: Option<CAHash>,
}

/// Why an output's `hashAlgo` and `hash` fields do not make a content hash.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum OutputError {
    #[error("unknown hash algorithm {0:?}")]
    UnknownHashAlgo(String),
    #[error("text-hashed outputs must use sha256, not {0}")]
    TextHashNotSha256(HashAlgo),
    #[error(
        "hash algorithm {0:?} without a hash: floating content-addressed outputs are not supported"
    )]
    FloatingContentAddressed(String),
    #[error("hash {0:?} without a hash algorithm")]
    HashWithoutAlgo(String),
    #[error("{algo} hash {hash:?} is not {} lowercase hex digits", 2 * algo.digest_length())]
    InvalidHash { algo: HashAlgo, hash: String },
}

impl Output {
    /// Builds an output from its three fields as CppNix writes them; empty
    /// strings stand for absent values, as in ATerm.
    pub(super) fn from_fields(
        path: Option<StorePath>,
        hash_algo: &str,
        hash: &str,
    ) -> Result<Output, OutputError> {
        let ca_hash = match (hash_algo, hash) {
            ("", "") => None,
            ("", hash) => return Err(OutputError::HashWithoutAlgo(hash.to_string())),
            (hash_algo, "") => {
                return Err(OutputError::FloatingContentAddressed(hash_algo.to_string()));
            }
            (hash_algo, hash) => Some(parse_ca_hash(hash_algo, hash)?),
        };
        Ok(Output { path, ca_hash })
    }

    /// The `hashAlgo` field: `r:sha256`, `sha1`, `text:sha256`, or empty
    /// for an output that is not fixed.
    pub(super) fn hash_algo_field(&self) -> String {
        match &self.ca_hash {
            None => String::new(),
            Some(ca_hash) => format!("{}{}", method_prefix(ca_hash), ca_hash.hash().algo()),
        }
    }

    /// The `hash` field: the digest in lowercase hex, or empty.
    pub(super) fn hash_field(&self) -> String {
        self.ca_hash
            .as_ref()
            .map(|ca_hash| HEXLOWER.encode(ca_hash.hash().digest_as_bytes()))
            .unwrap_or_default()
    }
}

/// How the content was hashed, as the prefix of `hashAlgo`, and as it
/// appears in the fixed-output fingerprint of `hash_derivation_modulo`.
pub(super) fn method_prefix(ca_hash: &CAHash) -> &'static str {
    match ca_hash {
        CAHash::Flat(_) => "",
        CAHash::Nar(_) => "r:",
        CAHash::Text(_) => "text:",
    }
}

/// Parses `hashAlgo` (with its optional method prefix) and the hex `hash`.
///
/// Only lowercase hex is accepted although CppNix would read other
/// encodings here: it only ever writes hex, and accepting others would
/// break byte-exact round trips.
fn parse_ca_hash(hash_algo: &str, hash: &str) -> Result<CAHash, OutputError> {
    let (prefix, algo) = ["r:", "text:"]
        .into_iter()
        .find_map(|prefix| Some((prefix, hash_algo.strip_prefix(prefix)?)))
        .unwrap_or(("", hash_algo));
    let algo: HashAlgo = algo
        .parse()
        .map_err(|_| OutputError::UnknownHashAlgo(hash_algo.to_string()))?;
    let invalid = || OutputError::InvalidHash {
        algo,
        hash: hash.to_string(),
    };
    if hash.len() != 2 * algo.digest_length() {
        return Err(invalid());
    }
    let digest = HEXLOWER.decode(hash.as_bytes()).map_err(|_| invalid())?;
    let hash = NixHash::from_algo_and_digest(algo, &digest).map_err(|_| invalid())?;
    Ok(match (prefix, hash) {
        ("r:", hash) => CAHash::Nar(hash),
        ("text:", NixHash::Sha256(digest)) => CAHash::Text(digest),
        ("text:", other) => return Err(OutputError::TextHashNotSha256(other.algo())),
        (_, hash) => CAHash::Flat(hash),
    })
}

/// An output in `nix show-derivation`'s JSON: absent fields are omitted.
#[derive(Serialize, Deserialize)]
struct OutputFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<StorePath>,
    #[serde(rename = "hashAlgo", default, skip_serializing_if = "String::is_empty")]
    hash_algo: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    hash: String,
}

impl TryFrom<OutputFields> for Output {
    type Error = OutputError;

    fn try_from(fields: OutputFields) -> Result<Self, Self::Error> {
        Output::from_fields(fields.path, &fields.hash_algo, &fields.hash)
    }
}

impl From<Output> for OutputFields {
    fn from(output: Output) -> Self {
        OutputFields {
            hash_algo: output.hash_algo_field(),
            hash: output.hash_field(),
            path: output.path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const SHA1_HEX: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    const SHA256_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn sha1() -> NixHash {
        NixHash::Sha1(
            HEXLOWER
                .decode(SHA1_HEX.as_bytes())
                .unwrap()
                .try_into()
                .unwrap(),
        )
    }

    fn sha256() -> [u8; 32] {
        HEXLOWER
            .decode(SHA256_HEX.as_bytes())
            .unwrap()
            .try_into()
            .unwrap()
    }

    #[rstest]
    #[case::none("", "", None)]
    #[case::flat_sha1("sha1", SHA1_HEX, Some(CAHash::Flat(sha1())))]
    #[case::nar_sha1("r:sha1", SHA1_HEX, Some(CAHash::Nar(sha1())))]
    #[case::nar_sha256("r:sha256", SHA256_HEX, Some(CAHash::Nar(NixHash::Sha256(sha256()))))]
    #[case::text_sha256("text:sha256", SHA256_HEX, Some(CAHash::Text(sha256())))]
    fn fields_roundtrip(#[case] algo: &str, #[case] hash: &str, #[case] ca: Option<CAHash>) {
        let output = Output::from_fields(None, algo, hash).unwrap();
        assert_eq!(output.ca_hash, ca);
        assert_eq!(output.hash_algo_field(), algo);
        assert_eq!(output.hash_field(), hash);
    }

    #[rstest]
    #[case::unknown_algo("sha3", SHA1_HEX, OutputError::UnknownHashAlgo("sha3".into()))]
    #[case::unknown_method("x:sha1", SHA1_HEX, OutputError::UnknownHashAlgo("x:sha1".into()))]
    #[case::text_sha1("text:sha1", SHA1_HEX, OutputError::TextHashNotSha256(HashAlgo::Sha1))]
    #[case::floating("r:sha256", "", OutputError::FloatingContentAddressed("r:sha256".into()))]
    #[case::hash_only("", SHA1_HEX, OutputError::HashWithoutAlgo(SHA1_HEX.into()))]
    #[case::wrong_length("sha256", SHA1_HEX, OutputError::InvalidHash { algo: HashAlgo::Sha256, hash: SHA1_HEX.into() })]
    #[case::uppercase("sha1", "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", OutputError::InvalidHash { algo: HashAlgo::Sha1, hash: "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709".into() })]
    #[case::nixbase32("sha1", "0000000000000000000000000000000z", OutputError::InvalidHash { algo: HashAlgo::Sha1, hash: "0000000000000000000000000000000z".into() })]
    fn fields_rejected(#[case] algo: &str, #[case] hash: &str, #[case] err: OutputError) {
        assert_eq!(Output::from_fields(None, algo, hash), Err(err));
    }
}
