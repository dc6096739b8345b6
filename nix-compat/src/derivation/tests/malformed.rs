//! Malformed ATerm input: each case fails with one exact typed error.

use rstest::rstest;

use super::*;
use crate::derivation::OutputError;
use crate::derivation::parser::{Error, Field};
use crate::nixbase32::Nixbase32DecodeError;
use crate::nixhash::HashAlgo;
use crate::store_path;

/// Builds an ATerm derivation from its parts (each written as in the file).
fn aterm(outputs: &str, input_drvs: &str, input_srcs: &str, args: &str, env: &str) -> Vec<u8> {
    format!(r#"Derive([{outputs}],[{input_drvs}],[{input_srcs}],"x86_64-linux","/bin/sh",[{args}],[{env}])"#)
        .into_bytes()
}

const OUT: &str = r#"("out","/nix/store/94f9f6i31zwzwbf0kclq1naqxxi4c7v9-simple","","")"#;
const DRV: &str = "/nix/store/3ghsl9sd83mc26i81adpa2fzf3yw4f68-simple.drv";
const SRC: &str = "/nix/store/lwl3xfldapjgpd1brgsbfnva92wrhm23-input-source.txt";
const SHA1_HEX: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

/// Byte offsets of the list contents in [aterm]'s output.
const OUTPUTS_AT: usize = "Derive([".len();

#[rstest]
#[case::empty(b"".to_vec(), Error::Expected { expected: "Derive(", pos: 0 })]
#[case::other_constructor(b"Derivation([".to_vec(), Error::Expected { expected: "Derive(", pos: 0 })]
#[case::whitespace(
    format!("Derive([{OUT}], [],[],\"\",\"\",[],[])").into_bytes(),
    Error::Expected { expected: "[", pos: OUTPUTS_AT + OUT.len() + 2 }
)]
#[case::truncated(
    aterm(OUT, "", "", "", "").split_last().unwrap().1.to_vec(),
    Error::Expected { expected: ")", pos: aterm(OUT, "", "", "", "").len() - 1 }
)]
#[case::trailing_data(
    [aterm(OUT, "", "", "", ""), b"\n".to_vec()].concat(),
    Error::TrailingData { pos: aterm(OUT, "", "", "", "").len() }
)]
#[case::missing_comma_in_list(
    aterm(OUT, "", "", r#""a""b""#, ""),
    Error::Expected { expected: ",", pos: 111 }
)]
#[case::output_tuple_too_short(
    aterm(r#"("out","","")"#, "", "", "", ""),
    Error::Expected { expected: ",", pos: OUTPUTS_AT + 12 }
)]
#[case::unterminated_string(
    b"Derive([(\"out".to_vec(),
    Error::UnterminatedString { field: Field::OutputName, pos: OUTPUTS_AT + 1 }
)]
#[case::unterminated_after_backslash(
    b"Derive([(\"out\\".to_vec(),
    Error::UnterminatedString { field: Field::OutputName, pos: OUTPUTS_AT + 1 }
)]
#[case::invalid_escape(
    aterm(OUT, "", "", r#""a\b""#, ""),
    Error::InvalidEscape { field: Field::Argument, byte: b'b', pos: 110 }
)]
#[case::non_utf8_argument(
    aterm(OUT, "", "", "\"\u{0}\"", "").into_iter().map(|b| if b == 0 { 0xff } else { b }).collect(),
    Error::NotUtf8 { field: Field::Argument, pos: 108 }
)]
#[case::output_path_not_in_store(
    aterm(r#"("out","/tmp/out","","")"#, "", "", "", ""),
    Error::InvalidStorePath {
        field: Field::OutputPath,
        pos: OUTPUTS_AT + 7,
        source: store_path::Error::NotInStoreDir("/tmp/out".into()),
    }
)]
#[case::output_path_bad_digest(
    aterm(r#"("out","/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x","","")"#, "", "", "", ""),
    Error::InvalidStorePath {
        field: Field::OutputPath,
        pos: OUTPUTS_AT + 7,
        source: store_path::Error::InvalidDigest {
            path: "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x".into(),
            source: Nixbase32DecodeError::CharacterNotInAlphabet('e', 31),
        },
    }
)]
#[case::input_drv_empty_path(
    aterm(OUT, r#"("",["out"])"#, "", "", ""),
    Error::InvalidStorePath {
        field: Field::InputDerivationPath,
        pos: 78,
        source: store_path::Error::NotInStoreDir("".into()),
    }
)]
#[case::input_src_relative(
    aterm(OUT, "", r#""input-source.txt""#, "", ""),
    Error::InvalidStorePath {
        field: Field::InputSource,
        pos: 80,
        source: store_path::Error::NotInStoreDir("input-source.txt".into()),
    }
)]
#[case::duplicate_output(
    aterm(&format!("{OUT},{OUT}"), "", "", "", ""),
    Error::Duplicate { field: Field::OutputName, key: "out".into(), pos: OUTPUTS_AT + OUT.len() + 2 }
)]
#[case::duplicate_input_drv(
    aterm(OUT, &format!(r#"("{DRV}",["out"]),("{DRV}",["out"])"#), "", "", ""),
    Error::Duplicate { field: Field::InputDerivationPath, key: DRV[11..].into(), pos: 145 }
)]
#[case::duplicate_input_drv_output(
    aterm(OUT, &format!(r#"("{DRV}",["out","out"])"#), "", "", ""),
    Error::Duplicate { field: Field::InputDerivationOutput, key: "out".into(), pos: 142 }
)]
#[case::duplicate_input_src(
    aterm(OUT, "", &format!(r#""{SRC}","{SRC}""#), "", ""),
    Error::Duplicate { field: Field::InputSource, key: SRC[11..].into(), pos: 143 }
)]
#[case::duplicate_env(
    aterm(OUT, "", "", "", r#"("a","1"),("a","2")"#),
    Error::Duplicate { field: Field::EnvironmentKey, key: "a".into(), pos: 122 }
)]
#[case::floating_ca_output(
    aterm(r#"("out","","r:sha256","")"#, "", "", "", ""),
    Error::InvalidOutput {
        name: "out".into(),
        pos: OUTPUTS_AT + 1,
        source: OutputError::FloatingContentAddressed("r:sha256".into()),
    }
)]
#[case::output_hash_wrong_algo(
    aterm(&format!(r#"("out","","sha256","{SHA1_HEX}")"#), "", "", "", ""),
    Error::InvalidOutput {
        name: "out".into(),
        pos: OUTPUTS_AT + 1,
        source: OutputError::InvalidHash { algo: HashAlgo::Sha256, hash: SHA1_HEX.into() },
    }
)]
fn rejects(#[case] input: Vec<u8>, #[case] expected: Error) {
    assert_eq!(Derivation::from_aterm_bytes(&input), Err(expected));
}
