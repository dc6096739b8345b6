//! Narinfos that Nix would reject, or accepts in a form it never writes.

use rstest::rstest;

use crate::narinfo::{Error, Field, NamedBytesError, NarInfo};
use crate::nixbase32::Nixbase32DecodeError;
use crate::nixhash::{HashAlgo, NixHashError};
use crate::store_path;

/// A valid narinfo that every case below changes in one place.
const BASE: &str =
    include_str!("../../../testdata/narinfo/xz/q27hx9z1w7qq4pg31qcy9b9mb8wfx757.narinfo");

const NAR_HASH: &str = "1dbb66sdk8sxfxrl5nxrbsl97q4jbz0zxqnvh96j5i7g2jr2rldk";

/// `BASE` with `from` replaced by `to`; `from` must occur in it.
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from:?} is not in the base narinfo");
    BASE.replacen(from, to, 1)
}

/// The `from` of a case that drops a whole line.
fn line_of(field: &str) -> String {
    let line = BASE
        .lines()
        .find(|line| line.starts_with(&format!("{field}: ")))
        .expect("field in base narinfo");
    format!("{line}\n")
}

#[rstest]
#[case::missing_newline(&line_of("Sig"), "Sig: test-key-1:9blJudPV3+yXGX4lMQh8W0UfMiOuzaR03T7cPc2HOpm3ABakFJCSgptl+hmuyoej2FBo8Xc3/cgMn0H6R6IfAg==",
    Error::MissingNewline { line: 10 })]
#[case::missing_separator("Compression: xz\n", "Compression:xz\n",
    Error::MissingSeparator { line: 3, content: "Compression:xz".into() })]
#[case::empty_line("Compression: xz\n", "\n",
    Error::MissingSeparator { line: 3, content: "".into() })]
#[case::duplicate_url("Compression: xz\n", "URL: a\n",
    Error::DuplicateField { line: 3, field: Field::Url })]
#[case::duplicate_references("Compression: xz\n", "Compression: xz\nReferences: \n",
    Error::DuplicateField { line: 9, field: Field::References })]
#[case::duplicate_deriver_placeholder("Compression: xz\n", "Deriver: unknown-deriver\n",
    Error::DuplicateField { line: 9, field: Field::Deriver })]
#[case::missing_store_path(&line_of("StorePath"), "", Error::MissingField(Field::StorePath))]
#[case::missing_url(&line_of("URL"), "", Error::MissingField(Field::Url))]
#[case::missing_nar_hash(&line_of("NarHash"), "", Error::MissingField(Field::NarHash))]
#[case::missing_nar_size(&line_of("NarSize"), "", Error::MissingField(Field::NarSize))]
#[case::store_path_basename("StorePath: /nix/store/", "StorePath: ",
    Error::InvalidStorePath { line: 1, field: Field::StorePath,
        source: store_path::Error::NotInStoreDir("q27hx9z1w7qq4pg31qcy9b9mb8wfx757-built-output".into()) })]
#[case::reference_bad_name("7pd01133yha2s6wji4ab7vh7pp1905a1-greeting.txt", "7pd01133yha2s6wji4ab7vh7pp1905a1-greeting!txt",
    Error::InvalidStorePath { line: 8, field: Field::References,
        source: store_path::Error::InvalidCharacter {
            path: "7pd01133yha2s6wji4ab7vh7pp1905a1-greeting!txt".into(), char: '!', pos: 8 } })]
#[case::reference_absolute("References: 7pd", "References: /nix/store/7pd",
    Error::InvalidStorePath { line: 8, field: Field::References,
        source: store_path::Error::InvalidDigest {
            path: "/nix/store/7pd01133yha2s6wji4ab7vh7pp1905a1-greeting.txt".into(),
            source: Nixbase32DecodeError::CharacterNotInAlphabet('/', 10) } })]
#[case::deriver_too_short("Deriver: bpdabvpa2rxfz7xsfdzhy7pz0aq26yj9-built-output.drv", "Deriver: x.drv",
    Error::InvalidStorePath { line: 9, field: Field::Deriver, source: store_path::Error::TooShort("x.drv".into()) })]
#[case::nar_hash_bare(&format!("NarHash: sha256:{NAR_HASH}"), &format!("NarHash: {NAR_HASH}"),
    Error::InvalidHash { line: 6, field: Field::NarHash, source: NixHashError::MissingAlgo(NAR_HASH.into()) })]
#[case::nar_hash_sha1(&format!("NarHash: sha256:{NAR_HASH}"), "NarHash: sha1:0000000000000000000000000000000z",
    Error::UnsupportedHashAlgo { line: 6, field: Field::NarHash, algo: HashAlgo::Sha1 })]
#[case::file_hash_truncated("FileHash: sha256:1dji98", "FileHash: sha256:",
    Error::InvalidHash { line: 4, field: Field::FileHash, source: NixHashError::InvalidEncodedLength {
        algo: HashAlgo::Sha256, digest: "xssazw6pxg16bh9jlmf3k8i60d4iyw6mdv4r8crika0ciq".into(), len: 46 } })]
#[case::nar_size_word("NarSize: 296", "NarSize: many",
    Error::InvalidSize { line: 7, field: Field::NarSize, source: "many".parse::<u64>().unwrap_err() })]
#[case::file_size_negative("FileSize: 264", "FileSize: -264",
    Error::InvalidSize { line: 5, field: Field::FileSize, source: "-264".parse::<u64>().unwrap_err() })]
#[case::nar_size_zero("NarSize: 296", "NarSize: 0", Error::ZeroNarSize { line: 7 })]
#[case::empty_url(&line_of("URL"), "URL: \n", Error::EmptyUrl { line: 2 })]
#[case::sig_without_name("Sig: test-key-1:", "Sig: ",
    Error::InvalidSignature { line: 10, source: NamedBytesError::MissingColon(
        "9blJudPV3+yXGX4lMQh8W0UfMiOuzaR03T7cPc2HOpm3ABakFJCSgptl+hmuyoej2FBo8Xc3/cgMn0H6R6IfAg==".into()) })]
#[case::sig_short("9blJudPV3+yXGX4lMQh8W0UfMiOuzaR03T7cPc2HOpm3ABakFJCSgptl+hmuyoej2FBo8Xc3/cgMn0H6R6IfAg==", "AAAA",
    Error::InvalidSignature { line: 10, source: NamedBytesError::WrongLength {
        name: "test-key-1".into(), expected: 64, actual: 3 } })]
#[case::ca_unknown_method(&line_of("Sig"), "CA: flat:sha256:00\n",
    Error::InvalidCa { line: 10, value: "flat:sha256:00".into() })]
fn rejects(#[case] from: &str, #[case] to: &str, #[case] error: Error) {
    assert_eq!(NarInfo::parse(&edit(from, to)), Err(error));
}

#[test]
fn rejects_empty_text() {
    assert_eq!(
        NarInfo::parse(""),
        Err(Error::MissingField(Field::StorePath))
    );
}

/// Forms Nix reads although it never writes them (the hashes printed by
/// `nix-hash --to-base16` and `nix hash to-sri`); they parse to the same
/// values as the base narinfo, so they render to the base form.
#[rstest]
#[case::hex_nar_hash(&format!("NarHash: sha256:{NAR_HASH}"),
    "NarHash: sha256:b3d12cb214efc4224d82dbe2fec15f92e093a85eb9db4273775da3d9b4316bb5")]
#[case::sri_nar_hash(&format!("NarHash: sha256:{NAR_HASH}"),
    "NarHash: sha256-s9EsshTvxCJNgtvi/sFfkuCTqF6520Jzd12j2bQxa7U=")]
#[case::unknown_key("Compression: xz\n", "Compression: xz\nX-Future: anything at all\n")]
#[case::references_extra_spaces(" c2nkj", "   c2nkj")]
fn accepts_nonstandard(#[case] from: &str, #[case] to: &str) {
    let edited = edit(from, to);
    let info = NarInfo::parse(&edited).expect("Nix accepts this");
    assert_eq!(info, NarInfo::parse(BASE).expect("base parses"));
    assert_eq!(info.to_string(), BASE);
}

#[rstest]
#[case::unknown_deriver("Deriver: unknown-deriver\n")]
#[case::empty_ca("CA: \n")]
fn placeholders_mean_absent(#[case] line: &str) {
    let text = BASE.replacen(&line_of("Deriver"), line, 1);
    let info = NarInfo::parse(&text).expect("Nix accepts this");
    assert_eq!(info.deriver, None);
    assert_eq!(info.ca, None);
}
