//! `validate` and the path calculations on derivations CppNix would refuse.

use rstest::rstest;

use super::*;
use crate::derivation::{DerivationError, Output};
use crate::nixhash::CAHash;
use crate::store_path::{BuildStorePathError, Error as StorePathError};

fn simple() -> Derivation {
    golden_drv("simple")
}

fn fixed() -> Derivation {
    golden_drv("fod-flat-sha256")
}

fn with_inputs() -> Derivation {
    golden_drv("with-input-drvs")
}

fn store_path(path: &str) -> StorePath {
    StorePath::from_absolute_path(path.as_bytes()).unwrap()
}

#[rstest]
#[case::no_outputs(simple(), |d: &mut Derivation| d.outputs.clear(), DerivationError::NoOutputs)]
#[case::output_named_drv(
    simple(),
    |d: &mut Derivation| { d.outputs.insert("drv".into(), Output::default()); },
    DerivationError::InvalidOutputName("drv".into())
)]
#[case::output_name_with_space(
    simple(),
    |d: &mut Derivation| { d.outputs.insert("a b".into(), Output::default()); },
    DerivationError::InvalidOutputName("a b".into())
)]
#[case::empty_output_name(
    simple(),
    |d: &mut Derivation| { d.outputs.insert("".into(), Output::default()); },
    DerivationError::InvalidOutputName("".into())
)]
#[case::fixed_among_others(
    fixed(),
    |d: &mut Derivation| { d.outputs.insert("dev".into(), Output::default()); },
    DerivationError::FixedOutputAmongOthers(2)
)]
#[case::fixed_not_named_out(
    fixed(),
    |d: &mut Derivation| { let out = d.outputs.remove("out").unwrap(); d.outputs.insert("bin".into(), out); },
    DerivationError::FixedOutputNotNamedOut("bin".into())
)]
#[case::text_hashed(
    fixed(),
    |d: &mut Derivation| d.outputs.get_mut("out").unwrap().ca_hash = Some(CAHash::Text([0; 32])),
    DerivationError::TextHashedOutput("out".into())
)]
#[case::missing_output_path(
    simple(),
    |d: &mut Derivation| d.outputs.get_mut("out").unwrap().path = None,
    DerivationError::MissingOutputPath("out".into())
)]
#[case::input_not_drv(
    with_inputs(),
    |d: &mut Derivation| {
        d.input_derivations.insert(store_path("/nix/store/94f9f6i31zwzwbf0kclq1naqxxi4c7v9-simple"), ["out".into()].into());
    },
    DerivationError::InputDerivationNotDrv(store_path("/nix/store/94f9f6i31zwzwbf0kclq1naqxxi4c7v9-simple"))
)]
#[case::input_output_name_invalid(
    with_inputs(),
    |d: &mut Derivation| { d.input_derivations.values_mut().for_each(|o| { o.insert("".into()); }); },
    DerivationError::InvalidInputDerivationOutputName {
        drv: store_path("/nix/store/3ghsl9sd83mc26i81adpa2fzf3yw4f68-simple.drv"),
        output: "".into(),
    }
)]
#[case::empty_builder(simple(), |d: &mut Derivation| d.builder.clear(), DerivationError::EmptyBuilder)]
#[case::empty_system(simple(), |d: &mut Derivation| d.system.clear(), DerivationError::EmptySystem)]
fn validate_rejects(
    #[case] mut drv: Derivation,
    #[case] mutate: fn(&mut Derivation),
    #[case] expected: DerivationError,
) {
    drv.validate(true).unwrap();
    mutate(&mut drv);
    assert_eq!(drv.validate(true), Err(expected));
}

#[test]
fn validate_allows_missing_paths_when_asked() {
    let mut drv = simple();
    drv.outputs.get_mut("out").unwrap().path = None;
    assert_eq!(drv.validate(false), Ok(()));
}

#[test]
fn output_path_with_invalid_name() {
    let mut drv = golden_drv("multiple-outputs");
    let before = drv.clone();
    assert_eq!(
        drv.calculate_output_paths("bad name", &[0; 32]),
        Err(DerivationError::OutputPath {
            output: "dev".into(),
            source: BuildStorePathError::InvalidName(StorePathError::InvalidCharacter {
                path: "1y1ywxdy58vsfkifzvia4krascpqrb8l-bad name-dev".into(),
                char: ' ',
                pos: 3,
            }),
        })
    );
    assert_eq!(drv, before, "unchanged after an error");
}

#[test]
fn output_path_of_text_hashed_output() {
    let mut drv = fixed();
    drv.outputs.get_mut("out").unwrap().ca_hash = Some(CAHash::Text([0; 32]));
    assert_eq!(
        drv.calculate_output_paths("x", &[0; 32]),
        Err(DerivationError::TextHashedOutput("out".into()))
    );
}

#[test]
fn derivation_path_with_invalid_name() {
    assert_eq!(
        simple().calculate_derivation_path("a/b"),
        Err(DerivationError::DerivationPath {
            name: "a/b.drv".into(),
            source: BuildStorePathError::InvalidName(StorePathError::InvalidCharacter {
                path: "0cdmqmsmsxinjbmbjwzhc1z9j5y8naa9-a/b.drv".into(),
                char: '/',
                pos: 1,
            }),
        })
    );
}
