//! nix-compat's text and byte formats: nixbase32, Nix hashes, store paths,
//! derivations (ATerm and JSON), narinfo and signing keys.

use std::str::FromStr;

use nix_compat::derivation::Derivation;
use nix_compat::narinfo::{NarInfo, Signature, SigningKey, VerifyingKey};
use nix_compat::nixbase32;
use nix_compat::nixhash::{self, CAHash, HashAlgo};
use nix_compat::store_path::{StorePath, StorePathRef};

use super::split_line;

/// nixbase32 decoding round-trips what it accepts.
pub fn nixbase32_decode(data: &[u8]) {
    if let Ok(bytes) = nixbase32::decode(data) {
        assert_eq!(nixbase32::encode(&bytes).as_bytes(), data);
    }
    let _ = nixbase32::decode_fixed::<20>(data);
    let _ = nixbase32::decode_fixed::<32>(data);
}

/// Nix hashes in every format, with and without an expected algorithm;
/// accepted hashes re-parse from their printed forms.
pub fn nixhash_parse(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for expected in [None, Some(HashAlgo::Md5), Some(HashAlgo::Sha256)] {
        if let Ok(h) = nixhash::from_str(s, expected) {
            assert_eq!(nixhash::from_str(&h.to_sri_string(), None).as_ref(), Ok(&h));
        }
    }
    if let Some(ca) = CAHash::from_nix_str(s) {
        assert_eq!(
            CAHash::from_nix_str(&ca.to_nix_nixbase32_string()),
            Some(ca)
        );
    }
}

/// Store path basenames and absolute paths round-trip.
pub fn store_path_parse(data: &[u8]) {
    if let Ok(p) = StorePathRef::from_bytes(data) {
        assert_eq!(p.to_string().as_bytes(), data);
    }
    if let Ok((p, rest)) = StorePath::from_absolute_path_full(data) {
        assert!(rest.is_empty() || rest.starts_with(b"/"));
        assert!(data.starts_with(p.to_absolute_path().as_bytes()));
    }
}

/// ATerm derivations survive a write and a re-parse; validation of what was
/// parsed gives an answer.
pub fn aterm_parse(data: &[u8]) {
    if let Ok(drv) = Derivation::from_aterm_bytes(data) {
        let written = drv.to_aterm_bytes();
        assert_eq!(Derivation::from_aterm_bytes(&written).as_ref(), Ok(&drv));
        let _ = drv.validate(false);
    }
}

/// Derivation JSON (`nix show-derivation`'s value): what is accepted
/// serialises to JSON that parses to the same derivation, and, if it
/// validates, its ATerm round-trips too.
pub fn derivation_json(data: &[u8]) {
    let Ok(drv) = serde_json::from_slice::<Derivation>(data) else {
        return;
    };
    let json = serde_json::to_vec(&drv).expect("a derivation always serialises");
    let reparsed: Derivation = serde_json::from_slice(&json).expect("our JSON parses back");
    assert_eq!(reparsed, drv);
    if drv.validate(false).is_ok() {
        let aterm = drv.to_aterm_bytes();
        assert_eq!(Derivation::from_aterm_bytes(&aterm).as_ref(), Ok(&drv));
    }
}

/// narinfo text renders to text that parses to the same value.
pub fn narinfo_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(narinfo) = NarInfo::parse(text) {
        let rendered = narinfo.to_string();
        assert_eq!(NarInfo::parse(&rendered).as_ref(), Ok(&narinfo));
        let _ = narinfo.fingerprint();
    }
}

/// Key files (the first line, as a secret key and as a public key) and a
/// signature (the rest): a parsed secret key's signatures verify with its
/// public key, a parsed public key prints as it was read, and a parsed
/// signature checks against it without panicking.
pub fn signing_keys(data: &[u8]) {
    let (key, rest) = split_line(data);
    let (Ok(key), Ok(rest)) = (std::str::from_utf8(key), std::str::from_utf8(rest)) else {
        return;
    };
    if let Ok(secret) = SigningKey::from_str(key) {
        let public = secret.verifying_key();
        assert_eq!(public.name(), secret.name());
        let signature = secret.sign(rest.as_bytes());
        assert!(signature.verify(rest.as_bytes(), &public));
        let printed = signature.to_string();
        assert_eq!(Signature::parse(&printed), Ok(signature));
    }
    if let Ok(public) = VerifyingKey::from_str(key) {
        assert_eq!(public.to_string(), key);
        if let Ok(signature) = Signature::parse(rest) {
            let _ = signature.verify(b"fingerprint", &public);
        }
    }
}
