//! Content addresses: how a content-addressed store path's hash was made.

use std::borrow::Cow;

use super::{HashAlgo, NixHash, from_str};

/// The content address of a store path, as in narinfo's `CA` field.
///
/// `Flat` hashes a single file's contents, `Nar` the NAR serialisation of a
/// tree (`outputHashMode = "recursive"`), `Text` a file of text such as a
/// `.drv` (always sha256).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CAHash {
    Flat(NixHash),
    Nar(NixHash),
    Text([u8; 32]),
}

impl CAHash {
    /// The hash inside the content address.
    pub fn hash(&self) -> Cow<'_, NixHash> {
        match self {
            CAHash::Flat(h) | CAHash::Nar(h) => Cow::Borrowed(h),
            CAHash::Text(digest) => Cow::Owned(NixHash::Sha256(*digest)),
        }
    }

    /// The form of narinfo's `CA` field: `fixed:r:sha256:…`, `fixed:sha1:…`
    /// or `text:sha256:…`, digests in nixbase32.
    pub fn to_nix_nixbase32_string(&self) -> String {
        let (prefix, hash) = match self {
            CAHash::Flat(h) => ("fixed:", Cow::Borrowed(h)),
            CAHash::Nar(h) => ("fixed:r:", Cow::Borrowed(h)),
            CAHash::Text(_) => ("text:", self.hash()),
        };
        format!("{prefix}{}", hash.to_nix_nixbase32_string())
    }

    /// Parses the narinfo `CA` field form; the digest may be in any encoding
    /// Nix accepts after an algorithm prefix. `None` when it is not one.
    pub fn from_nix_str(s: &str) -> Option<CAHash> {
        if let Some(rest) = s.strip_prefix("text:") {
            return match from_str(rest, Some(HashAlgo::Sha256)).ok()? {
                NixHash::Sha256(digest) if rest.contains(':') => Some(CAHash::Text(digest)),
                _ => None,
            };
        }
        let rest = s.strip_prefix("fixed:")?;
        let (wrap, rest): (fn(NixHash) -> CAHash, &str) = match rest.strip_prefix("r:") {
            Some(rest) => (CAHash::Nar, rest),
            None => (CAHash::Flat, rest),
        };
        // The algorithm must be spelled out; SRI is not a CA field form.
        let (algo, _) = rest.split_once(':')?;
        let algo: HashAlgo = algo.parse().ok()?;
        from_str(rest, Some(algo)).ok().map(wrap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nixhash::hash_bytes;
    use rstest::rstest;

    #[rstest]
    #[case::nar_sha256(
        "fixed:r:sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
        CAHash::Nar(hash_bytes(HashAlgo::Sha256, b""))
    )]
    #[case::flat_sha1(
        "fixed:sha1:0000000000000000000000000000000z",
        CAHash::Flat(NixHash::Sha1([0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
    )]
    #[case::text(
        "text:sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
        CAHash::Text(*b"\xe3\xb0\xc4\x42\x98\xfc\x1c\x14\x9a\xfb\xf4\xc8\x99\x6f\xb9\x24\x27\xae\x41\xe4\x64\x9b\x93\x4c\xa4\x95\x99\x1b\x78\x52\xb8\x55")
    )]
    fn roundtrip(#[case] s: &str, #[case] ca: CAHash) {
        assert_eq!(CAHash::from_nix_str(s).as_ref(), Some(&ca));
        assert_eq!(ca.to_nix_nixbase32_string(), s);
    }

    #[rstest]
    #[case::no_prefix("sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73")]
    #[case::text_sha1("text:sha1:0000000000000000000000000000000z")]
    #[case::text_bare("text:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73")]
    #[case::fixed_sri("fixed:sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")]
    #[case::fixed_unknown_algo("fixed:r:sha3:00")]
    #[case::empty("")]
    fn rejects(#[case] s: &str) {
        assert_eq!(CAHash::from_nix_str(s), None);
    }
}
