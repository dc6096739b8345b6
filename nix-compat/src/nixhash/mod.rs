//! Nix hashes: an algorithm and a digest, in every text form Nix reads and
//! writes.
//!
//! Nix accepts a digest as lowercase or uppercase base16, nixbase32 or
//! base64, told apart by length alone (the three lengths never collide for a
//! given algorithm), either prefixed with the algorithm (`sha256:…`), in SRI
//! form (`sha256-…`, base64 only) or bare when the caller knows the
//! algorithm.

use data_encoding::{BASE64, HEXLOWER, HEXLOWER_PERMISSIVE};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use thiserror::Error;

use crate::nixbase32;

mod algo;
mod ca_hash;

pub use algo::HashAlgo;
pub use ca_hash::CAHash;

/// A digest together with the algorithm that produced it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NixHash {
    Md5([u8; 16]),
    Sha1([u8; 20]),
    Sha256([u8; 32]),
    /// Boxed so that the common variants stay small.
    Sha512(Box<[u8; 64]>),
}

/// Why a string or byte slice is not a Nix hash.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum NixHashError {
    #[error("unknown hash algorithm {0:?}")]
    UnknownAlgo(String),
    #[error("hash {0:?} does not name its algorithm and none is expected")]
    MissingAlgo(String),
    #[error("hash {hash:?} uses {found}, but {expected} is expected")]
    ConflictingAlgo {
        hash: String,
        expected: HashAlgo,
        found: HashAlgo,
    },
    #[error(
        "{algo} digest {digest:?} has length {len}, which is neither base16, nixbase32 nor base64"
    )]
    InvalidEncodedLength {
        algo: HashAlgo,
        digest: String,
        len: usize,
    },
    #[error("SRI hash {0:?} must be base64")]
    InvalidSriEncoding(String),
    #[error("invalid base16 in digest {0:?}")]
    InvalidBase16(String),
    #[error("invalid nixbase32 in digest {digest:?}: {source}")]
    InvalidNixbase32 {
        digest: String,
        source: nixbase32::Nixbase32DecodeError,
    },
    #[error("invalid base64 in digest {0:?}")]
    InvalidBase64(String),
    #[error("{algo} digest must be {expected} bytes, got {actual}")]
    InvalidDigestLength {
        algo: HashAlgo,
        expected: usize,
        actual: usize,
    },
}

impl NixHash {
    /// The algorithm of this hash.
    pub fn algo(&self) -> HashAlgo {
        match self {
            NixHash::Md5(_) => HashAlgo::Md5,
            NixHash::Sha1(_) => HashAlgo::Sha1,
            NixHash::Sha256(_) => HashAlgo::Sha256,
            NixHash::Sha512(_) => HashAlgo::Sha512,
        }
    }

    /// The raw digest.
    pub fn digest_as_bytes(&self) -> &[u8] {
        match self {
            NixHash::Md5(d) => d,
            NixHash::Sha1(d) => d,
            NixHash::Sha256(d) => d,
            NixHash::Sha512(d) => d.as_slice(),
        }
    }

    /// Builds a hash from an algorithm and a raw digest of the right length.
    pub fn from_algo_and_digest(algo: HashAlgo, digest: &[u8]) -> Result<NixHash, NixHashError> {
        let wrong_length = || NixHashError::InvalidDigestLength {
            algo,
            expected: algo.digest_length(),
            actual: digest.len(),
        };
        Ok(match algo {
            HashAlgo::Md5 => NixHash::Md5(digest.try_into().map_err(|_| wrong_length())?),
            HashAlgo::Sha1 => NixHash::Sha1(digest.try_into().map_err(|_| wrong_length())?),
            HashAlgo::Sha256 => NixHash::Sha256(digest.try_into().map_err(|_| wrong_length())?),
            HashAlgo::Sha512 => {
                NixHash::Sha512(Box::new(digest.try_into().map_err(|_| wrong_length())?))
            }
        })
    }

    /// `algo:base16`, as in derivations' fixed-output fingerprints.
    pub fn to_nix_lowerhex_string(&self) -> String {
        format!(
            "{}:{}",
            self.algo(),
            HEXLOWER.encode(self.digest_as_bytes())
        )
    }

    /// `algo:nixbase32`, as in narinfo files and `nix-hash --type … --base32`.
    pub fn to_nix_nixbase32_string(&self) -> String {
        format!(
            "{}:{}",
            self.algo(),
            nixbase32::encode(self.digest_as_bytes())
        )
    }

    /// `algo-base64`, the SRI form modern Nix prints.
    pub fn to_sri_string(&self) -> String {
        format!("{}-{}", self.algo(), BASE64.encode(self.digest_as_bytes()))
    }
}

/// Hashes `data` with `algo`.
pub fn hash_bytes(algo: HashAlgo, data: &[u8]) -> NixHash {
    match algo {
        HashAlgo::Md5 => NixHash::Md5(Md5::digest(data).into()),
        HashAlgo::Sha1 => NixHash::Sha1(Sha1::digest(data).into()),
        HashAlgo::Sha256 => NixHash::Sha256(Sha256::digest(data).into()),
        HashAlgo::Sha512 => NixHash::Sha512(Box::new(Sha512::digest(data).into())),
    }
}

/// Parses a hash in any form Nix accepts.
///
/// `expected` is the algorithm the caller requires (as with `outputHashAlgo`);
/// it is needed for bare digests and must agree with the one a prefixed or
/// SRI hash names.
pub fn from_str(s: &str, expected: Option<HashAlgo>) -> Result<NixHash, NixHashError> {
    let check = |found: HashAlgo| match expected {
        Some(expected) if expected != found => Err(NixHashError::ConflictingAlgo {
            hash: s.to_string(),
            expected,
            found,
        }),
        _ => Ok(found),
    };
    if let Some((algo, digest)) = s.split_once(':') {
        decode_digest(check(algo.parse()?)?, digest)
    } else if let Some((algo, digest)) = s.split_once('-') {
        let algo = check(algo.parse()?)?;
        if digest.len() != base64_len(algo.digest_length()) {
            return Err(NixHashError::InvalidSriEncoding(s.to_string()));
        }
        decode_digest(algo, digest)
    } else {
        let algo = expected.ok_or_else(|| NixHashError::MissingAlgo(s.to_string()))?;
        decode_digest(algo, s)
    }
}

/// The length of padded base64 for `len` bytes.
const fn base64_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// Decodes a digest whose encoding is told by its length.
fn decode_digest(algo: HashAlgo, digest: &str) -> Result<NixHash, NixHashError> {
    let size = algo.digest_length();
    let bytes = if digest.len() == size * 2 {
        HEXLOWER_PERMISSIVE
            .decode(digest.as_bytes())
            .map_err(|_| NixHashError::InvalidBase16(digest.to_string()))?
    } else if digest.len() == nixbase32::encode_len(size) {
        nixbase32::decode(digest).map_err(|source| NixHashError::InvalidNixbase32 {
            digest: digest.to_string(),
            source,
        })?
    } else if digest.len() == base64_len(size) {
        BASE64
            .decode(digest.as_bytes())
            .map_err(|_| NixHashError::InvalidBase64(digest.to_string()))?
    } else {
        return Err(NixHashError::InvalidEncodedLength {
            algo,
            digest: digest.to_string(),
            len: digest.len(),
        });
    };
    NixHash::from_algo_and_digest(algo, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    /// sha256("") in hex, the fixture for the format table below.
    const EMPTY_SHA256_HEX: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn empty_sha256() -> NixHash {
        hash_bytes(HashAlgo::Sha256, b"")
    }

    // The encodings were printed by `nix-hash --type sha256 --to-base32` and
    // `nix hash to-sri` for sha256 of the empty string.
    #[rstest]
    #[case::prefixed_hex(
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        None
    )]
    #[case::prefixed_upper_hex(
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        None
    )]
    #[case::prefixed_nixbase32("sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73", None)]
    #[case::prefixed_base64("sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", None)]
    #[case::sri("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", None)]
    #[case::sri_with_expected(
        "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        Some(HashAlgo::Sha256)
    )]
    #[case::bare_hex(EMPTY_SHA256_HEX, Some(HashAlgo::Sha256))]
    #[case::bare_nixbase32(
        "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
        Some(HashAlgo::Sha256)
    )]
    #[case::bare_base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", Some(HashAlgo::Sha256))]
    fn parses_every_form(#[case] input: &str, #[case] expected: Option<HashAlgo>) {
        assert_eq!(from_str(input, expected), Ok(empty_sha256()));
    }

    #[test]
    fn prints_every_form() {
        let h = empty_sha256();
        assert_eq!(
            h.to_nix_lowerhex_string(),
            format!("sha256:{EMPTY_SHA256_HEX}")
        );
        assert_eq!(
            h.to_nix_nixbase32_string(),
            "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
        );
        assert_eq!(
            h.to_sri_string(),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    // Digests of the empty string for the other algorithms, from coreutils'
    // md5sum/sha1sum/sha512sum, in the base16 form.
    #[rstest]
    #[case::md5(HashAlgo::Md5, "d41d8cd98f00b204e9800998ecf8427e")]
    #[case::sha1(HashAlgo::Sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709")]
    #[case::sha512(
        HashAlgo::Sha512,
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
    )]
    fn other_algos_roundtrip_every_form(#[case] algo: HashAlgo, #[case] hex: &str) {
        let h = hash_bytes(algo, b"");
        assert_eq!(h.to_nix_lowerhex_string(), format!("{algo}:{hex}"));
        for printed in [
            h.to_nix_lowerhex_string(),
            h.to_nix_nixbase32_string(),
            h.to_sri_string(),
        ] {
            assert_eq!(from_str(&printed, None).as_ref(), Ok(&h), "{printed}");
        }
    }

    #[rstest]
    #[case::unknown_algo("sha3:00", None, NixHashError::UnknownAlgo("sha3".into()))]
    #[case::missing_algo(EMPTY_SHA256_HEX, None, NixHashError::MissingAlgo(EMPTY_SHA256_HEX.into()))]
    #[case::conflicting(
        "sha1:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
        Some(HashAlgo::Sha256),
        NixHashError::ConflictingAlgo {
            hash: "sha1:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73".into(),
            expected: HashAlgo::Sha256,
            found: HashAlgo::Sha1,
        }
    )]
    #[case::bad_length("sha256:abcd", None, NixHashError::InvalidEncodedLength {
        algo: HashAlgo::Sha256, digest: "abcd".into(), len: 4 })]
    #[case::sri_not_base64(
        "sha256-0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
        None,
        NixHashError::InvalidSriEncoding("sha256-0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73".into())
    )]
    #[case::bad_hex(
        "sha1:zz39a3ee5e6b4b0d3255bfef95601890afd80709",
        None,
        NixHashError::InvalidBase16("zz39a3ee5e6b4b0d3255bfef95601890afd80709".into())
    )]
    #[case::bad_base64(
        "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu!U=",
        None,
        NixHashError::InvalidBase64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu!U=".into())
    )]
    fn rejects(#[case] input: &str, #[case] expected: Option<HashAlgo>, #[case] err: NixHashError) {
        assert_eq!(from_str(input, expected), Err(err));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*", algo in proptest::option::of(proptest::sample::select(HashAlgo::ALL.to_vec()))) {
            let _ = from_str(&s, algo);
        }

        #[test]
        fn roundtrip_all_forms(data in proptest::collection::vec(any::<u8>(), 0..64), algo in proptest::sample::select(HashAlgo::ALL.to_vec())) {
            let h = hash_bytes(algo, &data);
            for (printed, expected) in [
                (h.to_nix_nixbase32_string(), None),
                (h.to_sri_string(), Some(algo)),
                (h.to_nix_lowerhex_string(), Some(algo)),
            ] {
                prop_assert_eq!(from_str(&printed, expected), Ok(h.clone()));
            }
        }
    }
}
