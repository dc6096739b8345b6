//! Conversions between the `PathInfo` message and [crate::PathInfo].
//!
//! Decoding validates every field and names the first one at fault;
//! encoding cannot fail, since a domain `PathInfo` is valid by construction.

use bstr::BString;
use bytes::Bytes;
use nix_compat::narinfo::NamedBytesError;
use nix_compat::nixhash::{CAHash, HashAlgo, NixHash, NixHashError};
use nix_compat::store_path::{self, DIGEST_SIZE, StorePath};
use thiserror::Error;
use tvix_castore::DirectoryError;
use tvix_castore::proto::Entry;

use super::{NarInfo, PathInfo, nar_info};
use crate::path_info::Signature;

/// Why a `PathInfo` message is not a valid [crate::PathInfo].
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ValidatePathInfoError {
    #[error("the root node is not set")]
    NoRootNode,
    #[error("invalid root node: {0}")]
    InvalidRootNode(DirectoryError),
    #[error("root node name {0:?} is not a store path basename: {1}")]
    InvalidNodeName(BString, store_path::Error),
    #[error("narinfo is not set")]
    NoNarInfo,
    #[error("reference {0} has a digest of {1} bytes, expected {DIGEST_SIZE}")]
    InvalidReferenceDigestLen(usize, usize),
    #[error("{references} references, but {names} reference names")]
    ReferenceCountMismatch { references: usize, names: usize },
    #[error("reference name {0} is not a store path basename: {1}")]
    InvalidReferenceName(usize, store_path::Error),
    #[error("reference name {0} ({1}) does not have the digest of reference {0}")]
    ReferenceNameMismatch(usize, StorePath),
    #[error("nar_sha256 is {0} bytes, expected 32")]
    InvalidNarSha256Len(usize),
    #[error("signature {0}: {1}")]
    InvalidSignatureName(usize, NamedBytesError),
    #[error("signature {0} is {1} bytes, expected {len}", len = nix_compat::narinfo::SIGNATURE_LENGTH)]
    InvalidSignatureLen(usize, usize),
    #[error("invalid deriver: {0}")]
    InvalidDeriver(store_path::Error),
    #[error("unknown content address type {0}")]
    UnknownCaType(i32),
    #[error("invalid content address digest: {0}")]
    InvalidCaDigest(NixHashError),
}

impl PathInfo {
    /// Checks the message as [crate::PathInfo]'s `TryFrom` does, returning
    /// the store path it describes.
    pub fn validate(&self) -> Result<StorePath, ValidatePathInfoError> {
        crate::PathInfo::try_from(self.clone()).map(|path_info| path_info.store_path)
    }
}

impl TryFrom<PathInfo> for crate::PathInfo {
    type Error = ValidatePathInfoError;

    fn try_from(proto: PathInfo) -> Result<Self, Self::Error> {
        use ValidatePathInfoError as E;

        let (name, node) = proto
            .node
            .ok_or(E::NoRootNode)?
            .try_into_name_and_node()
            .map_err(E::InvalidRootNode)?;
        let store_path = StorePath::from_bytes(name.as_bytes())
            .map_err(|e| E::InvalidNodeName(BString::from(name.as_bytes()), e))?;

        let narinfo = proto.narinfo.ok_or(E::NoNarInfo)?;
        let references = references(&proto.references, &narinfo.reference_names)?;
        let nar_sha256 = <[u8; 32]>::try_from(narinfo.nar_sha256.as_ref())
            .map_err(|_| E::InvalidNarSha256Len(narinfo.nar_sha256.len()))?;
        let signatures = narinfo
            .signatures
            .into_iter()
            .enumerate()
            .map(|(idx, signature)| {
                let bytes = signature.data.as_ref().try_into();
                let bytes = bytes.map_err(|_| E::InvalidSignatureLen(idx, signature.data.len()))?;
                Signature::new(signature.name, bytes).map_err(|e| E::InvalidSignatureName(idx, e))
            })
            .collect::<Result<_, _>>()?;
        let deriver = narinfo
            .deriver
            .map(|deriver| StorePath::from_name_and_digest(&deriver.name, &deriver.digest))
            .transpose()
            .map_err(E::InvalidDeriver)?;
        let ca = narinfo.ca.map(ca_hash).transpose()?;

        Ok(Self {
            store_path,
            node,
            references,
            nar_size: narinfo.nar_size,
            nar_sha256,
            signatures,
            deriver,
            ca,
        })
    }
}

/// The references, from their digests and their names, which must agree.
fn references(
    digests: &[Bytes],
    names: &[String],
) -> Result<Vec<StorePath>, ValidatePathInfoError> {
    use ValidatePathInfoError as E;

    if digests.len() != names.len() {
        return Err(E::ReferenceCountMismatch {
            references: digests.len(),
            names: names.len(),
        });
    }
    digests
        .iter()
        .zip(names)
        .enumerate()
        .map(|(idx, (digest, name))| {
            if digest.len() != DIGEST_SIZE {
                return Err(E::InvalidReferenceDigestLen(idx, digest.len()));
            }
            let path = StorePath::from_bytes(name.as_bytes())
                .map_err(|e| E::InvalidReferenceName(idx, e))?;
            if path.digest().as_slice() != digest.as_ref() {
                return Err(E::ReferenceNameMismatch(idx, path));
            }
            Ok(path)
        })
        .collect()
}

fn ca_hash(ca: nar_info::Ca) -> Result<CAHash, ValidatePathInfoError> {
    use nar_info::ca::Hash;

    let hash_type =
        Hash::try_from(ca.r#type).map_err(|_| ValidatePathInfoError::UnknownCaType(ca.r#type))?;
    let (algo, wrap): (HashAlgo, fn(NixHash) -> CAHash) = match hash_type {
        Hash::NarMd5 => (HashAlgo::Md5, CAHash::Nar),
        Hash::NarSha1 => (HashAlgo::Sha1, CAHash::Nar),
        Hash::NarSha256 => (HashAlgo::Sha256, CAHash::Nar),
        Hash::NarSha512 => (HashAlgo::Sha512, CAHash::Nar),
        Hash::FlatMd5 => (HashAlgo::Md5, CAHash::Flat),
        Hash::FlatSha1 => (HashAlgo::Sha1, CAHash::Flat),
        Hash::FlatSha256 => (HashAlgo::Sha256, CAHash::Flat),
        Hash::FlatSha512 => (HashAlgo::Sha512, CAHash::Flat),
        Hash::TextSha256 => {
            let digest = <[u8; 32]>::try_from(ca.digest.as_ref()).map_err(|_| {
                ValidatePathInfoError::InvalidCaDigest(NixHashError::InvalidDigestLength {
                    algo: HashAlgo::Sha256,
                    expected: 32,
                    actual: ca.digest.len(),
                })
            })?;
            return Ok(CAHash::Text(digest));
        }
    };
    NixHash::from_algo_and_digest(algo, &ca.digest)
        .map(wrap)
        .map_err(ValidatePathInfoError::InvalidCaDigest)
}

impl From<crate::PathInfo> for PathInfo {
    fn from(path_info: crate::PathInfo) -> Self {
        Self {
            // A store path basename is a valid castore name.
            node: Some(Entry::from_raw_name_and_node(
                Bytes::from(path_info.store_path.to_string()),
                path_info.node,
            )),
            references: path_info
                .references
                .iter()
                .map(|path| Bytes::copy_from_slice(path.digest()))
                .collect(),
            narinfo: Some(NarInfo {
                nar_size: path_info.nar_size,
                nar_sha256: Bytes::copy_from_slice(&path_info.nar_sha256),
                signatures: path_info
                    .signatures
                    .iter()
                    .map(|signature| nar_info::Signature {
                        name: signature.name().to_owned(),
                        data: Bytes::copy_from_slice(signature.bytes()),
                    })
                    .collect(),
                reference_names: path_info
                    .references
                    .iter()
                    .map(StorePath::to_string)
                    .collect(),
                deriver: path_info.deriver.map(|deriver| super::StorePath {
                    name: deriver.name().to_owned(),
                    digest: Bytes::copy_from_slice(deriver.digest()),
                }),
                ca: path_info.ca.map(|ca| {
                    let hash_type = ca_hash_type(&ca);
                    nar_info::Ca {
                        r#type: hash_type.into(),
                        digest: Bytes::copy_from_slice(ca.hash().digest_as_bytes()),
                    }
                }),
            }),
        }
    }
}

fn ca_hash_type(ca: &CAHash) -> nar_info::ca::Hash {
    use nar_info::ca::Hash;

    match ca {
        CAHash::Nar(hash) => match hash.algo() {
            HashAlgo::Md5 => Hash::NarMd5,
            HashAlgo::Sha1 => Hash::NarSha1,
            HashAlgo::Sha256 => Hash::NarSha256,
            HashAlgo::Sha512 => Hash::NarSha512,
        },
        CAHash::Flat(hash) => match hash.algo() {
            HashAlgo::Md5 => Hash::FlatMd5,
            HashAlgo::Sha1 => Hash::FlatSha1,
            HashAlgo::Sha256 => Hash::FlatSha256,
            HashAlgo::Sha512 => Hash::FlatSha512,
        },
        CAHash::Text(_) => Hash::TextSha256,
    }
}
