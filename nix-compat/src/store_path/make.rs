//! Computing store paths, as CppNix's `makeStorePath` family does.
//!
//! Every store path digest is the sha256 of a fingerprint
//! `<type>:sha256:<inner digest hex>:/nix/store:<name>`, folded to 20 bytes
//! by [compress_hash]. The functions here differ in the type and inner
//! digest they put in.

use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::{DIGEST_SIZE, STORE_DIR, StorePath, validate_name};
use crate::nixhash::{CAHash, HashAlgo, NixHash};

/// Why a store path cannot be computed from the given parts.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum BuildStorePathError {
    #[error("invalid name for a store path: {0}")]
    InvalidName(#[from] super::Error),
    #[error("{0} store paths cannot have references")]
    ReferencesNotAllowed(&'static str),
    #[error("text store paths cannot refer to themselves")]
    SelfReferenceNotAllowed,
}

/// Folds `input` onto `OUTPUT_SIZE` bytes by xor-ing byte `i` into slot
/// `i % OUTPUT_SIZE`, as Nix shortens sha256 to store path digests.
pub fn compress_hash<const OUTPUT_SIZE: usize>(input: &[u8]) -> [u8; OUTPUT_SIZE] {
    let mut out = [0u8; OUTPUT_SIZE];
    for (i, b) in input.iter().enumerate() {
        out[i % OUTPUT_SIZE] ^= b;
    }
    out
}

/// The path of a text file such as a `.drv` (`builtins.toFile`,
/// `nix-store --add-fixed` does not make these) with the given references
/// (absolute store paths, in store path order).
pub fn build_text_path<S: AsRef<str>, I: IntoIterator<Item = S>, C: AsRef<[u8]>>(
    name: &str,
    content: C,
    references: I,
) -> Result<StorePath, BuildStorePathError> {
    let inner: [u8; 32] = Sha256::digest(content.as_ref()).into();
    build_ca_path(name, &CAHash::Text(inner), references, false)
}

/// The path of content-addressed data, as `nix-store --add` (NAR sha256),
/// `--add-fixed` and fixed-output derivations give it.
///
/// Only NAR-sha256 and text paths may have references; only NAR-sha256
/// paths may refer to themselves.
pub fn build_ca_path<S: AsRef<str>, I: IntoIterator<Item = S>>(
    name: &str,
    ca_hash: &CAHash,
    references: I,
    self_reference: bool,
) -> Result<StorePath, BuildStorePathError> {
    let (ty, inner) = match ca_hash {
        CAHash::Text(digest) => {
            if self_reference {
                return Err(BuildStorePathError::SelfReferenceNotAllowed);
            }
            (type_with_references("text", references, false), *digest)
        }
        CAHash::Nar(NixHash::Sha256(digest)) => (
            type_with_references("source", references, self_reference),
            *digest,
        ),
        CAHash::Nar(hash) | CAHash::Flat(hash) => {
            if self_reference || references.into_iter().next().is_some() {
                return Err(BuildStorePathError::ReferencesNotAllowed("fixed-output"));
            }
            let method = if matches!(ca_hash, CAHash::Nar(_)) {
                "r:"
            } else {
                ""
            };
            let fingerprint = format!("fixed:out:{method}{}:", hash.to_nix_lowerhex_string());
            ("output:out".to_string(), Sha256::digest(fingerprint).into())
        }
    };
    make_store_path(&ty, &inner, name)
}

/// The path of a derivation output, from the derivation's
/// `hash_derivation_modulo`. `output_path_name` is `name` for `out` and
/// `name-<output>` for the others.
pub fn build_output_path(
    drv_sha256: &[u8; 32],
    output_name: &str,
    output_path_name: &str,
) -> Result<StorePath, BuildStorePathError> {
    make_store_path(
        &format!("output:{output_name}"),
        drv_sha256,
        output_path_name,
    )
}

/// `<ty>:<ref1>:<ref2>…[:self]`, CppNix's `makeType`.
fn type_with_references<S: AsRef<str>, I: IntoIterator<Item = S>>(
    ty: &str,
    references: I,
    self_reference: bool,
) -> String {
    let mut out = ty.to_string();
    for reference in references {
        out.push(':');
        out.push_str(reference.as_ref());
    }
    if self_reference {
        out.push_str(":self");
    }
    out
}

/// CppNix's `makeStorePath` with a sha256 inner digest. An invalid name
/// is an error naming the whole would-be path (`<digest>-<name>`), as
/// CppNix names it.
fn make_store_path(
    ty: &str,
    inner_sha256: &[u8; 32],
    name: &str,
) -> Result<StorePath, BuildStorePathError> {
    let fingerprint = format!(
        "{ty}:{}:{}:{STORE_DIR}:{name}",
        HashAlgo::Sha256,
        HEXLOWER.encode(inner_sha256)
    );
    let digest = compress_hash::<DIGEST_SIZE>(&Sha256::digest(fingerprint));
    validate_name(name.as_bytes())
        .map_err(|e| e.with_path(format!("{}-{name}", crate::nixbase32::encode(&digest))))?;
    Ok(StorePath::from_name_and_digest(name, &digest)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// `testdata/store_path/paths.txt`, made by `generate.sh` beside it with
    /// Nix 2.8: `<store path> <CA> [references…]` a line.
    const GOLDEN: &str = include_str!("../../testdata/store_path/paths.txt");

    #[test]
    fn matches_cppnix() {
        let mut checked = 0;
        for line in GOLDEN.lines() {
            let mut fields = line.split(' ');
            let expected = fields.next().unwrap();
            let ca = CAHash::from_nix_str(fields.next().unwrap()).unwrap();
            let references: Vec<&str> = fields.collect();
            let name = StorePath::from_absolute_path(expected.as_bytes())
                .unwrap()
                .name()
                .to_string();
            let path = build_ca_path(&name, &ca, &references, false).unwrap();
            assert_eq!(path.to_absolute_path(), expected, "{line}");
            checked += 1;
        }
        assert_eq!(checked, 15);
    }

    #[test]
    fn text_path_from_content() {
        // builtins.toFile "note.txt" "some text", see paths.txt.
        assert_eq!(
            build_text_path("note.txt", "some text", [] as [&str; 0])
                .unwrap()
                .to_absolute_path(),
            "/nix/store/4yr9379d0i4j6kyv72mfng0jxmxrjm24-note.txt"
        );
    }

    #[rstest]
    #[case::flat_with_refs(
        CAHash::Flat(NixHash::Sha256([0; 32])),
        &["/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt"],
        false,
        BuildStorePathError::ReferencesNotAllowed("fixed-output")
    )]
    #[case::nar_sha1_self(
        CAHash::Nar(NixHash::Sha1([0; 20])),
        &[],
        true,
        BuildStorePathError::ReferencesNotAllowed("fixed-output")
    )]
    #[case::text_self(CAHash::Text([0; 32]), &[], true, BuildStorePathError::SelfReferenceNotAllowed)]
    fn rejects(
        #[case] ca: CAHash,
        #[case] references: &[&str],
        #[case] self_reference: bool,
        #[case] err: BuildStorePathError,
    ) {
        assert_eq!(
            build_ca_path("x", &ca, references, self_reference),
            Err(err)
        );
    }

    #[test]
    fn rejects_bad_name() {
        assert!(matches!(
            build_output_path(&[0; 32], "out", "has space"),
            Err(BuildStorePathError::InvalidName(
                super::super::Error::InvalidCharacter { .. }
            ))
        ));
    }

    #[test]
    fn compress_hash_folds() {
        assert_eq!(compress_hash::<2>(&[1, 2, 4, 8, 16]), [1 ^ 4 ^ 16, 2 ^ 8]);
    }
}
