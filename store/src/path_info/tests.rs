use nix_compat::narinfo::{NarInfo, SigningKey};
use rstest::rstest;

use super::Signature;
use crate::fixtures::{PATH_INFO_FILE, PATH_INFO_FULL};

/// The narinfo text of each fixture, as a binary cache would serve it.
/// (Digests in nixbase32 checked with `nix-hash --type sha256 --to-base32`.)
#[rstest]
#[case::file(
    &PATH_INFO_FILE,
    "StorePath: /nix/store/00bgd045z0d4icpbc2yyz4gx48ak44la-net-tools-1.60_p20170221182432\n\
     URL: nar/file.nar\n\
     Compression: none\n\
     NarHash: sha256:1axbmfmspaxbmfmspaxbmfmspaxbmfmspaxbmfmspaxbmfmspaxb\n\
     NarSize: 144\n\
     References: \n"
)]
#[case::full(
    &PATH_INFO_FULL,
    "StorePath: /nix/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-full\n\
     URL: nar/file.nar\n\
     Compression: none\n\
     NarHash: sha256:0081040h2081040h2081040h2081040h2081040h2081040h2081\n\
     NarSize: 1024\n\
     References: 00000000000000000000000000000000-dep zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-full\n\
     Deriver: 11111111111111111111111111111111-full.drv\n\
     Sig: cache.nixos.org-1:EREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREREQ==\n\
     Sig: tvix-test-1:IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIg==\n\
     CA: fixed:r:sha256:0crk6crk6crk6crk6crk6crk6crk6crk6crk6crk6crk6crk6crk\n"
)]
fn to_narinfo(#[case] path_info: &crate::PathInfo, #[case] expected: &str) {
    let narinfo = path_info.to_narinfo("nar/file.nar");
    assert_eq!(expected, narinfo.to_string());
    // What we render, nix-compat parses back to the same value.
    assert_eq!(Ok(narinfo), NarInfo::parse(expected));
}

/// A signature made over the rendered narinfo's fingerprint verifies after
/// a trip through [Signature] and the PathInfo.
#[test]
fn signature_survives_pathinfo() {
    // A test key made by `nix-store --generate-binary-cache-key`.
    let key: SigningKey = "test-key-1:wqjUBaBbDV/T7LXUtt0vCYuYdRpSkUXGXb23VhXfOg/rMhm3j/RlXjzYRWxNyw+GvkntjGzj7rsYLWbM2/P4lA=="
        .parse()
        .expect("valid secret key");
    let mut path_info = PATH_INFO_FULL.clone();
    path_info.signatures.clear();
    let fingerprint = path_info.to_narinfo("nar/x.nar").fingerprint();
    path_info
        .signatures
        .push(Signature::from(key.sign(fingerprint.as_bytes())));

    let narinfo = path_info.to_narinfo("nar/x.nar");
    assert_eq!(1, narinfo.signatures.len());
    assert!(narinfo.signatures[0].verify(fingerprint.as_bytes(), &key.verifying_key()));
}

#[rstest]
#[case::empty("", false)]
#[case::colon("a:b", false)]
#[case::newline("a\nb", false)]
#[case::plain("cache.nixos.org-1", true)]
fn signature_name(#[case] name: &str, #[case] valid: bool) {
    assert_eq!(valid, Signature::new(name.to_owned(), [0; 64]).is_ok());
}
