//! Hashes given in Nix code (`outputHash`, `builtins.path`'s `sha256`),
//! parsed as CppNix parses them, with its error messages.
//!
//! nix-compat's parser knows every form; what CppNix adds is the empty
//! hash (a placeholder of zeroes, with a warning, so that a build reports
//! the real hash) and the wording of its errors.

use data_encoding::BASE64;
use nix_compat::nixbase32;
use nix_compat::nixhash::{self, HashAlgo, NixHash, NixHashError};

/// Why a hash string is not a hash, in CppNix's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("hash '{0}' does not include a type, nor is the type otherwise known from context")]
    NoAlgo(String),
    #[error("empty hash requires explicit hash algorithm")]
    EmptyWithoutAlgo,
    #[error("unknown hash algorithm '{0}', expect 'md5', 'sha1', 'sha256', or 'sha512'")]
    UnknownAlgo(String),
    #[error("hash '{hash}' should have type '{expected}'")]
    WrongAlgo { hash: String, expected: HashAlgo },
    #[error("hash '{hash}' has wrong length for hash algorithm '{algo}'")]
    WrongLength { hash: String, algo: HashAlgo },
    #[error("invalid SRI hash '{0}'")]
    InvalidSri(String),
    #[error("invalid base-16 hash '{0}'")]
    InvalidBase16(String),
    #[error("invalid base-32 hash '{0}'")]
    InvalidBase32(String),
    #[error("invalid base-64 hash '{0}'")]
    InvalidBase64(String),
}

/// A parsed hash, and the warning CppNix prints for an empty one.
pub struct ParsedHash {
    pub hash: NixHash,
    pub warning: Option<String>,
}

/// CppNix's `newHashAllowEmpty`: `s` in any form (`algo:digest` in base16,
/// nixbase32 or base64, SRI `algo-base64`, or a bare digest when `algo` is
/// known). An empty `s` is the hash of zeroes of `algo`, with a warning.
pub fn parse_allow_empty(s: &str, algo: Option<HashAlgo>) -> Result<ParsedHash, HashError> {
    if s.is_empty() {
        let algo = algo.ok_or(HashError::EmptyWithoutAlgo)?;
        let zeroes = vec![0; algo.digest_length()];
        let hash = NixHash::from_algo_and_digest(algo, &zeroes)
            .map_err(|_| HashError::EmptyWithoutAlgo)?;
        let warning = format!("found empty hash, assuming '{}'", hash.to_sri_string());
        return Ok(ParsedHash {
            hash,
            warning: Some(warning),
        });
    }
    parse(s, algo).map(|hash| ParsedHash {
        hash,
        warning: None,
    })
}

/// CppNix's `Hash::parseAny`.
fn parse(s: &str, expected: Option<HashAlgo>) -> Result<NixHash, HashError> {
    let (prefix, digest, sri) = match (s.split_once(':'), s.split_once('-')) {
        (Some((prefix, digest)), _) => (Some(prefix), digest, false),
        (None, Some((prefix, digest))) => (Some(prefix), digest, true),
        (None, None) => (None, s, false),
    };
    let algo = match prefix {
        Some(prefix) => {
            let algo: HashAlgo = prefix
                .parse()
                .map_err(|_| HashError::UnknownAlgo(prefix.to_string()))?;
            if expected.is_some_and(|expected| expected != algo) {
                return Err(HashError::WrongAlgo {
                    hash: s.to_string(),
                    expected: expected.unwrap_or(algo),
                });
            }
            algo
        }
        None => expected.ok_or_else(|| HashError::NoAlgo(s.to_string()))?,
    };
    let size = algo.digest_length();
    if sri {
        // SRI is base64 only, padded.
        if digest.len() != base64_len(size) {
            return Err(HashError::InvalidSri(digest.to_string()));
        }
        return decode(algo, digest).map_err(|_| HashError::InvalidSri(digest.to_string()));
    }
    if digest.len() == 2 * size {
        decode(algo, digest).map_err(|_| HashError::InvalidBase16(digest.to_string()))
    } else if digest.len() == nixbase32::encode_len(size) {
        decode(algo, digest).map_err(|_| HashError::InvalidBase32(digest.to_string()))
    } else if digest.len() == base64_len(size) {
        // CppNix decodes base64 leniently and then checks the length.
        match BASE64.decode(digest.as_bytes()) {
            Ok(bytes) => NixHash::from_algo_and_digest(algo, &bytes)
                .map_err(|_| HashError::InvalidBase64(digest.to_string())),
            Err(_) => Err(HashError::InvalidBase64(digest.to_string())),
        }
    } else {
        Err(HashError::WrongLength {
            hash: digest.to_string(),
            algo,
        })
    }
}

/// Decodes a digest whose encoding its length gives.
fn decode(algo: HashAlgo, digest: &str) -> Result<NixHash, NixHashError> {
    nixhash::from_str(&format!("{algo}:{digest}"), Some(algo))
}

/// The length of padded base64 for `len` bytes.
const fn base64_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const SHA256_EMPTY_HEX: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// Every accepted form of the sha256 of "" gives the same hash.
    #[rstest]
    #[case::base16_prefixed(
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        None
    )]
    #[case::base16_upper(
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        None
    )]
    #[case::base16_bare(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        Some(HashAlgo::Sha256)
    )]
    #[case::nixbase32_prefixed("sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73", None)]
    #[case::nixbase32_bare(
        "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
        Some(HashAlgo::Sha256)
    )]
    #[case::base64_prefixed("sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", None)]
    #[case::sri("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", None)]
    #[case::sri_with_algo(
        "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        Some(HashAlgo::Sha256)
    )]
    fn accepted(#[case] s: &str, #[case] algo: Option<HashAlgo>) {
        let parsed =
            parse_allow_empty(s, algo).map(|p| (p.hash.to_nix_lowerhex_string(), p.warning));
        assert_eq!(parsed, Ok((format!("sha256:{SHA256_EMPTY_HEX}"), None)));
    }

    /// The messages are CppNix 2.26's (`nix-instantiate --eval -E
    /// 'derivation { name = "x"; builder = "b"; system = "s"; outputHash
    /// = …; outputHashAlgo = …; }'`).
    #[rstest]
    #[case::no_algo(
        "AAAA",
        None,
        "hash 'AAAA' does not include a type, nor is the type otherwise known from context"
    )]
    #[case::empty_no_algo("", None, "empty hash requires explicit hash algorithm")]
    #[case::unknown_prefix(
        "sha3:abc",
        None,
        "unknown hash algorithm 'sha3', expect 'md5', 'sha1', 'sha256', or 'sha512'"
    )]
    #[case::unknown_sri(
        "foo-abc",
        None,
        "unknown hash algorithm 'foo', expect 'md5', 'sha1', 'sha256', or 'sha512'"
    )]
    #[case::wrong_algo(
        "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        Some(HashAlgo::Sha1),
        "hash 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' should have type 'sha1'"
    )]
    #[case::wrong_length_bare(
        "AAAA",
        Some(HashAlgo::Sha1),
        "hash 'AAAA' has wrong length for hash algorithm 'sha1'"
    )]
    #[case::wrong_length_prefixed(
        "sha256:zzzz",
        None,
        "hash 'zzzz' has wrong length for hash algorithm 'sha256'"
    )]
    #[case::short_sri("sha256-AAAA", None, "invalid SRI hash 'AAAA'")]
    #[case::bad_sri(
        "sha256-____________________________________________",
        None,
        "invalid SRI hash '____________________________________________'"
    )]
    #[case::bad_base16(
        "md5:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        None,
        "invalid base-16 hash 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'"
    )]
    #[case::bad_base32(
        "md5:eeeeeeeeeeeeeeeeeeeeeeeeee",
        None,
        "invalid base-32 hash 'eeeeeeeeeeeeeeeeeeeeeeeeee'"
    )]
    #[case::bad_base64(
        "md5:________________________",
        None,
        "invalid base-64 hash '________________________'"
    )]
    fn rejected(#[case] s: &str, #[case] algo: Option<HashAlgo>, #[case] message: &str) {
        let error = parse_allow_empty(s, algo).err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some(message));
    }

    /// `nix-instantiate --eval -E 'derivation { …; outputHash = "";
    /// outputHashAlgo = "sha1"; }'` warns so.
    #[test]
    fn empty_is_zeroes_with_a_warning() {
        let parsed = parse_allow_empty("", Some(HashAlgo::Sha1))
            .map(|p| (p.hash.to_sri_string(), p.warning));
        assert_eq!(
            parsed,
            Ok((
                "sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_string(),
                Some("found empty hash, assuming 'sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA='".to_string())
            ))
        );
    }
}
