//! Key and signature formats on their own.

use data_encoding::DecodeError;
use rstest::rstest;

use super::{TEST_KEY_1_PUB, TEST_KEY_1_SEC, TEST_KEY_2_PUB, signing_key, verifying_key};
use crate::narinfo::{KeyError, NamedBytesError, Signature, SigningKey, VerifyingKey};

#[rstest]
#[case::key_1("test-key-1", TEST_KEY_1_PUB)]
#[case::key_2("test-key-2", TEST_KEY_2_PUB)]
fn public_key_renders_back(#[case] name: &str, #[case] text: &str) {
    let key = verifying_key(name);
    assert_eq!(key.name(), name);
    assert_eq!(key.to_string(), text);
}

#[rstest]
#[case::key_1("test-key-1")]
#[case::key_2("test-key-2")]
fn secret_key_holds_its_public_key(#[case] name: &str) {
    let key = signing_key(name);
    assert_eq!(key.name(), name);
    assert_eq!(key.verifying_key(), verifying_key(name));
}

#[test]
fn signature_renders_back() {
    let text = "test-key-1:9blJudPV3+yXGX4lMQh8W0UfMiOuzaR03T7cPc2HOpm3ABakFJCSgptl+hmuyoej2FBo8Xc3/cgMn0H6R6IfAg==";
    let signature = Signature::parse(text).expect("valid signature");
    assert_eq!(signature.name(), "test-key-1");
    assert_eq!(signature.bytes()[..4], [0xf5, 0xb9, 0x49, 0xb9]);
    assert_eq!(signature.to_string(), text);
}

#[test]
fn sign_then_verify() {
    let key = signing_key("test-key-2");
    let signature = key.sign(b"some fingerprint");
    assert_eq!(signature.name(), "test-key-2");
    assert!(signature.verify(b"some fingerprint", &key.verifying_key()));
    assert!(!signature.verify(b"some fingerprinT", &key.verifying_key()));
}

#[rstest]
#[case::no_colon("test-key-1", NamedBytesError::MissingColon("test-key-1".into()))]
#[case::empty_name(":AAAA", NamedBytesError::InvalidName("".into()))]
#[case::bad_base64("k:!!!!", NamedBytesError::InvalidBase64 {
    name: "k".into(), source: DecodeError { position: 0, kind: data_encoding::DecodeKind::Symbol } })]
#[case::unpadded("k:AAA", NamedBytesError::InvalidBase64 {
    name: "k".into(), source: DecodeError { position: 0, kind: data_encoding::DecodeKind::Length } })]
// Found by the fuzzer (fuzz/corpus/signing_keys/regression-inner-padding).
#[case::padding_inside("k:AA==AAAA", NamedBytesError::InvalidBase64 {
    name: "k".into(), source: DecodeError { position: 2, kind: data_encoding::DecodeKind::Padding } })]
#[case::short("k:AAAA", NamedBytesError::WrongLength { name: "k".into(), expected: 64, actual: 3 })]
fn rejects_signature(#[case] text: &str, #[case] error: NamedBytesError) {
    assert_eq!(Signature::parse(text), Err(error));
}

#[rstest]
#[case::empty("", NamedBytesError::InvalidName("".into()))]
#[case::colon("a:b", NamedBytesError::InvalidName("a:b".into()))]
#[case::newline("a\nb", NamedBytesError::InvalidName("a\nb".into()))]
fn rejects_signature_name(#[case] name: &str, #[case] error: NamedBytesError) {
    assert_eq!(Signature::new(name, [0; 64]), Err(error));
}

#[rstest]
#[case::secret_as_public(
    TEST_KEY_1_SEC,
    KeyError::Format(NamedBytesError::WrongLength { name: "test-key-1".into(), expected: 32, actual: 64 })
)]
#[case::trailing_newline(
    "k:BBR9qOZ4p3q5aKwxZ7O3Lx6ZI47ia20GNebtwUtz/9A=\n",
    KeyError::Format(NamedBytesError::InvalidBase64 { name: "k".into(),
        source: DecodeError { position: 44, kind: data_encoding::DecodeKind::Length } })
)]
fn rejects_public_key(#[case] text: &str, #[case] error: KeyError) {
    assert_eq!(text.parse::<VerifyingKey>(), Err(error));
}

/// A point that is not on the curve: y = 2 has no matching x.
#[test]
fn rejects_public_key_off_curve() {
    let text = format!("k:{}", data_encoding::BASE64.encode(&[2; 32]));
    assert_eq!(
        text.parse::<VerifyingKey>(),
        Err(KeyError::InvalidPublicKey { name: "k".into() })
    );
}

#[test]
fn rejects_secret_key_with_foreign_public_half() {
    let secret = data_encoding::BASE64
        .decode(TEST_KEY_1_SEC.split_once(':').unwrap().1.as_bytes())
        .unwrap();
    let other_public = data_encoding::BASE64
        .decode(TEST_KEY_2_PUB.split_once(':').unwrap().1.as_bytes())
        .unwrap();
    let mixed = [&secret[..32], &other_public[..]].concat();
    let text = format!("test-key-1:{}", data_encoding::BASE64.encode(&mixed));
    assert_eq!(
        text.parse::<SigningKey>().map(|k| k.name().to_string()),
        Err(KeyError::MismatchedKeypair {
            name: "test-key-1".into()
        })
    );
}

#[test]
fn rejects_public_key_as_secret() {
    assert_eq!(
        TEST_KEY_1_PUB
            .parse::<SigningKey>()
            .map(|k| k.name().to_string()),
        Err(KeyError::Format(NamedBytesError::WrongLength {
            name: "test-key-1".into(),
            expected: 64,
            actual: 32
        }))
    );
}
