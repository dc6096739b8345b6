//! Narinfo files written by Nix: parsed, rendered, fingerprinted, signed.

use rstest::rstest;

use super::{signing_key, verifying_key};
use crate::narinfo::NarInfo;
use crate::nixbase32;
use crate::nixhash::{CAHash, NixHash};
use crate::store_path::StorePathRef;

const BUILT_XZ: &str =
    include_str!("../../../testdata/narinfo/xz/q27hx9z1w7qq4pg31qcy9b9mb8wfx757.narinfo");
const BUILT_MULTISIG: &str =
    include_str!("../../../testdata/narinfo/multisig/q27hx9z1w7qq4pg31qcy9b9mb8wfx757.narinfo");

fn store_path(basename: &str) -> StorePathRef<'_> {
    StorePathRef::from_bytes(basename.as_bytes()).expect("valid store path")
}

fn sha256(nixbase32: &str) -> [u8; 32] {
    nixbase32::decode_fixed(nixbase32).expect("valid nixbase32")
}

#[rstest]
fn renders_byte_identical(
    #[files("testdata/narinfo/*/*.narinfo")]
    #[mode = str]
    text: &str,
) {
    let info = NarInfo::parse(text).expect("golden narinfo parses");
    assert_eq!(info.to_string(), text);
}

#[rstest]
fn signatures_verify(
    #[files("testdata/narinfo/*/*.narinfo")]
    #[mode = str]
    text: &str,
) {
    let info = NarInfo::parse(text).expect("golden narinfo parses");
    let fingerprint = info.fingerprint();
    for signature in &info.signatures {
        let key = verifying_key(signature.name());
        assert!(
            signature.verify(fingerprint.as_bytes(), &key),
            "{signature}"
        );
    }
}

/// Signing again with the golden secret keys gives Nix's signatures, in
/// the order Nix wrote them.
#[rstest]
fn signing_reproduces_nix(
    #[files("testdata/narinfo/*/*.narinfo")]
    #[mode = str]
    text: &str,
) {
    let mut info = NarInfo::parse(text).expect("golden narinfo parses");
    let names: Vec<&str> = info.signatures.iter().map(|s| s.name()).collect();
    let keys: Vec<_> = names.iter().map(|name| signing_key(name)).collect();
    info.signatures.clear();
    for key in &keys {
        info.add_signature(key);
    }
    assert_eq!(info.to_string(), text);
}

#[test]
fn parses_every_field() {
    let info = NarInfo::parse(BUILT_XZ).expect("golden narinfo parses");
    assert_eq!(
        info,
        NarInfo {
            store_path: store_path("q27hx9z1w7qq4pg31qcy9b9mb8wfx757-built-output"),
            url: "nar/1dji98xssazw6pxg16bh9jlmf3k8i60d4iyw6mdv4r8crika0ciq.nar.xz",
            compression: Some("xz"),
            file_hash: Some(sha256("1dji98xssazw6pxg16bh9jlmf3k8i60d4iyw6mdv4r8crika0ciq")),
            file_size: Some(264),
            nar_hash: sha256("1dbb66sdk8sxfxrl5nxrbsl97q4jbz0zxqnvh96j5i7g2jr2rldk"),
            nar_size: 296,
            references: vec![
                store_path("7pd01133yha2s6wji4ab7vh7pp1905a1-greeting.txt"),
                store_path("c2nkj2pxdvlb3n9y8azj4402zvasim9k-refers-to-greeting"),
                store_path("q27hx9z1w7qq4pg31qcy9b9mb8wfx757-built-output"),
            ],
            deriver: Some(store_path("bpdabvpa2rxfz7xsfdzhy7pz0aq26yj9-built-output.drv")),
            system: None,
            signatures: vec![crate::narinfo::Signature::parse(
                "test-key-1:9blJudPV3+yXGX4lMQh8W0UfMiOuzaR03T7cPc2HOpm3ABakFJCSgptl+hmuyoej2FBo8Xc3/cgMn0H6R6IfAg=="
            )
            .expect("valid signature")],
            ca: None,
        }
    );
}

#[rstest]
#[case::added_file(
    include_str!("../../../testdata/narinfo/none/i9pmrzmpshapij2kin22pff6fc2adavx.narinfo"),
    CAHash::Nar(NixHash::Sha256(sha256("04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw")))
)]
#[case::to_file(
    include_str!("../../../testdata/narinfo/none/7pd01133yha2s6wji4ab7vh7pp1905a1.narinfo"),
    CAHash::Text(sha256("00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq"))
)]
fn parses_content_address(#[case] text: &str, #[case] ca: CAHash) {
    let info = NarInfo::parse(text).expect("golden narinfo parses");
    assert_eq!(info.ca, Some(ca));
    assert_eq!(info.compression, Some("none"));
    assert_eq!(info.references, vec![]);
}

#[test]
fn fingerprint_lists_absolute_sorted_references() {
    let info = NarInfo::parse(BUILT_XZ).expect("golden narinfo parses");
    assert_eq!(
        info.fingerprint(),
        "1;/nix/store/q27hx9z1w7qq4pg31qcy9b9mb8wfx757-built-output;\
         sha256:1dbb66sdk8sxfxrl5nxrbsl97q4jbz0zxqnvh96j5i7g2jr2rldk;296;\
         /nix/store/7pd01133yha2s6wji4ab7vh7pp1905a1-greeting.txt,\
         /nix/store/c2nkj2pxdvlb3n9y8azj4402zvasim9k-refers-to-greeting,\
         /nix/store/q27hx9z1w7qq4pg31qcy9b9mb8wfx757-built-output"
    );
}

/// Nix keeps references in a sorted set, so file order and repeats do not
/// change what is signed.
#[test]
fn fingerprint_ignores_reference_order_and_repeats() {
    let mut info = NarInfo::parse(BUILT_XZ).expect("golden narinfo parses");
    let expected = info.fingerprint();
    info.references.reverse();
    info.references.push(info.references[0]);
    assert_eq!(info.fingerprint(), expected);
}

#[test]
fn fingerprint_without_references_ends_with_semicolon() {
    let info = NarInfo::parse(include_str!(
        "../../../testdata/narinfo/none/i9pmrzmpshapij2kin22pff6fc2adavx.narinfo"
    ))
    .expect("golden narinfo parses");
    assert_eq!(
        info.fingerprint(),
        "1;/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt;\
         sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw;120;"
    );
}

#[test]
fn signing_twice_with_one_key_adds_one_signature() {
    let key = signing_key("test-key-2");
    let mut info = NarInfo::parse(BUILT_MULTISIG).expect("golden narinfo parses");
    info.add_signature(&key);
    assert_eq!(info.to_string(), BUILT_MULTISIG);
}

#[rstest]
#[case::other_key_by_name("test-key-1", "test-key-2")]
#[case::other_key_same_name(
    "test-key-1",
    // test-key-2's public bytes under test-key-1's name.
    "test-key-1:BBR9qOZ4p3q5aKwxZ7O3Lx6ZI47ia20GNebtwUtz/9A="
)]
fn wrong_key_does_not_verify(#[case] signer: &str, #[case] checker: &str) {
    let info = NarInfo::parse(BUILT_MULTISIG).expect("golden narinfo parses");
    let checker = if checker.contains(':') {
        checker.parse().expect("valid public key")
    } else {
        verifying_key(checker)
    };
    let signature = info
        .signatures
        .iter()
        .find(|s| s.name() == signer)
        .expect("golden signature present");
    assert!(!signature.verify(info.fingerprint().as_bytes(), &checker));
}

#[rstest]
#[case::nar_size(|info: &mut NarInfo| info.nar_size += 1)]
#[case::nar_hash(|info: &mut NarInfo| info.nar_hash[0] ^= 1)]
#[case::reference_dropped(|info: &mut NarInfo| { info.references.pop(); })]
#[case::store_path(|info: &mut NarInfo| info.store_path = info.references[0])]
fn tampered_fingerprint_does_not_verify(#[case] tamper: fn(&mut NarInfo)) {
    let mut info = NarInfo::parse(BUILT_MULTISIG).expect("golden narinfo parses");
    let signatures = info.signatures.clone();
    tamper(&mut info);
    let fingerprint = info.fingerprint();
    for signature in signatures {
        let key = verifying_key(signature.name());
        assert!(
            !signature.verify(fingerprint.as_bytes(), &key),
            "{signature}"
        );
    }
}

/// Fields only written by hand (or by other tools) still survive a round trip.
#[test]
fn renders_system_and_no_optional_fields() {
    let text = "StorePath: /nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt\n\
                URL: nar/x.nar.bz2\n\
                NarHash: sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw\n\
                NarSize: 120\n\
                References: \n\
                System: x86_64-linux\n";
    let info = NarInfo::parse(text).expect("valid narinfo");
    assert_eq!(info.system, Some("x86_64-linux"));
    assert_eq!(info.compression, None);
    assert_eq!(info.file_hash, None);
    assert_eq!(info.file_size, None);
    assert_eq!(info.to_string(), text);
}
