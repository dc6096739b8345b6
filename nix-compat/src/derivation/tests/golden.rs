//! Every golden derivation: ATerm round trip, derivation path, output
//! paths and JSON, each compared with what CppNix produced.

use std::collections::{BTreeMap, BTreeSet};

use bstr::BString;
use rstest::rstest;

use super::*;
use crate::derivation::Output;

#[test]
fn cases_cover_manifest() {
    assert_eq!(manifest().len(), 20);
}

#[rstest]
#[case::args_with_quotes("args-with-quotes")]
#[case::chained("chained")]
#[case::empty_value("empty-value")]
#[case::escapes("escapes")]
#[case::fod_flat_md5("fod-flat-md5")]
#[case::fod_flat_sha1("fod-flat-sha1")]
#[case::fod_flat_sha256("fod-flat-sha256")]
#[case::fod_flat_sha256_twin("fod-flat-sha256-twin")]
#[case::fod_recursive_sha1("fod-recursive-sha1")]
#[case::fod_recursive_sha256("fod-recursive-sha256")]
#[case::fod_recursive_sha512("fod-recursive-sha512")]
#[case::input_sources("input-sources")]
#[case::multiple_outputs("multiple-outputs")]
#[case::non_utf8("non-utf8")]
#[case::simple("simple")]
#[case::structured_attrs("structured-attrs")]
#[case::unicode("unicode")]
#[case::with_fod_input("with-fod-input")]
#[case::with_input_drvs("with-input-drvs")]
#[case::with_twin_fod_inputs("with-twin-fod-inputs")]
fn golden(#[case] name: &str) {
    let bytes = golden_file(&format!("{name}.drv"));
    let entry = &manifest()[name];
    let drv = Derivation::from_aterm_bytes(&bytes).unwrap();

    assert_eq!(drv.to_aterm_bytes(), bytes, "ATerm round trip");
    drv.validate(true).unwrap();

    assert_eq!(
        drv.calculate_derivation_path(derivation_name(name))
            .unwrap(),
        entry.drv_path,
        "derivation path"
    );

    let output_paths: BTreeMap<String, StorePath> = drv
        .outputs
        .iter()
        .map(|(name, output)| (name.clone(), output.path.clone().unwrap()))
        .collect();
    assert_eq!(output_paths, entry.outputs, "output paths");

    // Recompute outputs the way CppNix does: paths and their environment
    // variables empty, hash, then fill them in.
    let mut recomputed = drv.clone();
    for (output_name, output) in recomputed.outputs.iter_mut() {
        output.path = None;
        recomputed
            .environment
            .insert(output_name.clone(), BString::default());
    }
    recomputed.validate(false).unwrap();
    let hash = recomputed.hash_derivation_modulo(golden_hash_derivation_modulo);
    recomputed
        .calculate_output_paths(derivation_name(name), &hash)
        .unwrap();
    assert_eq!(recomputed, drv, "recomputed output paths");
}

/// `nix show-derivation`'s JSON, which is `{ drv path: derivation }`.
#[rstest]
#[case::args_with_quotes("args-with-quotes")]
#[case::chained("chained")]
#[case::empty_value("empty-value")]
#[case::escapes("escapes")]
#[case::fod_flat_md5("fod-flat-md5")]
#[case::fod_flat_sha1("fod-flat-sha1")]
#[case::fod_flat_sha256("fod-flat-sha256")]
#[case::fod_flat_sha256_twin("fod-flat-sha256-twin")]
#[case::fod_recursive_sha1("fod-recursive-sha1")]
#[case::fod_recursive_sha256("fod-recursive-sha256")]
#[case::fod_recursive_sha512("fod-recursive-sha512")]
#[case::input_sources("input-sources")]
#[case::multiple_outputs("multiple-outputs")]
#[case::simple("simple")]
#[case::structured_attrs("structured-attrs")]
#[case::unicode("unicode")]
#[case::with_fod_input("with-fod-input")]
#[case::with_input_drvs("with-input-drvs")]
#[case::with_twin_fod_inputs("with-twin-fod-inputs")]
fn json(#[case] name: &str) {
    let json = golden_file(&format!("{name}.json"));
    let drv = golden_drv(name);
    let by_path = BTreeMap::from([(manifest()[name].drv_path.clone(), drv.clone())]);

    // Byte for byte: CppNix pretty-prints as serde_json does, plus a newline.
    assert_eq!(
        format!("{}\n", serde_json::to_string_pretty(&by_path).unwrap()),
        std::str::from_utf8(&json).unwrap(),
        "serialised JSON"
    );
    let parsed: BTreeMap<StorePath, Derivation> = serde_json::from_slice(&json).unwrap();
    assert_eq!(parsed, by_path, "deserialised JSON");
}

#[test]
fn json_rejects_non_utf8_env() {
    let err = serde_json::to_string(&golden_drv("non-utf8")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable \"bytes\" is not UTF-8 and cannot be JSON"
    );
}

#[test]
fn parses_simple_exactly() {
    let out = StorePath::from_absolute_path(b"/nix/store/94f9f6i31zwzwbf0kclq1naqxxi4c7v9-simple")
        .unwrap();
    let expected = Derivation {
        outputs: BTreeMap::from([(
            "out".to_string(),
            Output {
                path: Some(out.clone()),
                ca_hash: None,
            },
        )]),
        input_sources: BTreeSet::new(),
        input_derivations: BTreeMap::new(),
        system: "x86_64-linux".into(),
        builder: "/bin/sh".into(),
        arguments: vec!["-c".into(), "echo hello > $out".into()],
        environment: BTreeMap::from([
            ("builder".into(), "/bin/sh".into()),
            ("name".into(), "simple".into()),
            ("out".into(), out.to_absolute_path().into()),
            ("system".into(), "x86_64-linux".into()),
        ]),
    };
    assert_eq!(golden_drv("simple"), expected);
}

#[rstest]
#[case::escapes_mixed("escapes", "mixed", b"line 1\n\t\"quoted\" \\ back\r\n")]
#[case::escapes_dollar("escapes", "dollar", b"a$b ${c} $$d")]
#[case::unicode("unicode", "greeting", "ü, 日本, emoji 🦀".as_bytes())]
#[case::non_utf8("non-utf8", "bytes", b"a\xffb\xc3")]
#[case::empty("empty-value", "empty", b"")]
fn environment_value(#[case] name: &str, #[case] key: &str, #[case] value: &[u8]) {
    assert_eq!(golden_drv(name).environment[key], value);
}

#[test]
fn twin_fixed_outputs_hash_alike() {
    let drv = golden_drv("with-twin-fod-inputs");
    let hashes: BTreeSet<[u8; 32]> = drv
        .input_derivations
        .keys()
        .map(|path| golden_hash_derivation_modulo(&path.as_ref()))
        .collect();
    assert_eq!(drv.input_derivations.len(), 2);
    assert_eq!(hashes.len(), 1);
}

#[test]
fn fixed_output_hash_ignores_how_it_is_built() {
    // The twins differ only in how they spell outputHash.
    let a = golden_drv("fod-flat-sha256");
    let b = golden_drv("fod-flat-sha256-twin");
    assert_ne!(a.environment["outputHash"], b.environment["outputHash"]);
    let no_inputs = |_: &StorePathRef<'_>| unreachable!("fixed outputs need no lookup");
    assert_eq!(
        a.hash_derivation_modulo(no_inputs),
        b.hash_derivation_modulo(no_inputs)
    );
}
