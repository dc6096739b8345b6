//! Instantiates the derivations of `testdata/derivations/cases.nix` and
//! `text-cases.nix` and compares them with what CppNix (Nix 2.8, and 2.26
//! for text-hashed outputs) made of them (see `generate.sh` there): the
//! `.drv` path, its bytes, which tvix reads back from its store, the output
//! paths, and the `.drv`'s references in the store. Among them, the
//! derivations of the `<nix/fetchurl.nix>` corepkg (only instantiated:
//! `builtin:fetchurl` is never built), whose `drvPath`s Nix 2.26 gives too.

mod common;

use std::collections::BTreeMap;

use bstr::BString;
use nix_compat::derivation::Derivation;
use nix_compat::store_path::StorePath;
use rstest::rstest;
use tvix_eval::EvalOptions;

use common::{TestStore, fixture, testdata};

/// What is compared for one derivation.
#[derive(Debug, PartialEq, Eq)]
struct Instantiated {
    drv_path: String,
    drv: BString,
    outputs: BTreeMap<String, String>,
    references: Vec<String>,
}

/// CppNix's: from the golden files.
fn golden(name: &str) -> Instantiated {
    let dir = testdata().join("derivations");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest.json"))
            .expect("manifest.json is JSON");
    let drv = std::fs::read(dir.join(format!("{name}.drv"))).expect("the golden .drv");
    let parsed = Derivation::from_aterm_bytes(&drv).expect("the golden .drv parses");
    let outputs = parsed
        .outputs
        .iter()
        .map(|(output, o)| {
            let path = o.path.as_ref().map(StorePath::to_absolute_path);
            (output.clone(), path.unwrap_or_default())
        })
        .collect();
    let references = std::fs::read_to_string(dir.join(format!("{name}.refs")))
        .expect("the golden references")
        .lines()
        .map(String::from)
        .collect();
    Instantiated {
        drv_path: manifest[name].as_str().unwrap_or_default().to_string(),
        drv: drv.into(),
        outputs,
        references,
    }
}

/// tvix's: the derivation's attributes, the `.drv` read back through the
/// evaluator's file access, and its PathInfo.
fn instantiate(name: &str) -> Instantiated {
    let fixture = fixture();
    // Text-hashed outputs need an experimental feature, as in CppNix.
    let (cases, options) = match name.starts_with("text-") {
        true => (
            "derivations/text-cases.nix",
            EvalOptions {
                experimental_features: vec!["dynamic-derivations".into()],
                ..EvalOptions::default()
            },
        ),
        false => ("derivations/cases.nix", EvalOptions::default()),
    };
    let cases = testdata().join(cases);
    let expr = format!(
        r#"let d = (import {} {{ fixture = {}/fixture; }}).{name}; in {{
             inherit (d) drvPath;
             drv = builtins.readFile d.drvPath;
             outputs = builtins.listToAttrs (map (o: {{ name = o; value = d.${{o}}.outPath; }}) (d.outputs or [ "out" ]));
           }}"#,
        cases.display(),
        fixture.path().display(),
    );
    TestStore::new().eval(&expr, options, |value, _, io| {
        let attrs = value.expect("evaluates").as_attrs().expect("a set");
        let string = |name: &str| {
            attrs
                .get(name.as_bytes())
                .and_then(|v| v.resolved().as_string().ok())
                .expect("a string attribute")
        };
        let drv_path = string("drvPath").to_string();
        let outputs = attrs
            .get(b"outputs")
            .and_then(|v| v.resolved().as_attrs().ok())
            .expect("outputs")
            .iter()
            .map(|(output, path)| {
                let path = path.resolved().as_string().expect("a path string");
                (output.to_string(), path.to_string())
            })
            .collect();
        let store_path = StorePath::from_absolute_path(drv_path.as_bytes()).expect("a store path");
        let mut references: Vec<String> = io
            .path_info(&store_path.as_ref())
            .expect("the store answers")
            .expect("the .drv is in the store")
            .references
            .iter()
            .map(StorePath::to_absolute_path)
            .collect();
        references.sort();
        Instantiated {
            drv_path,
            drv: string("drv").as_bytes().into(),
            outputs,
            references,
        }
    })
}

#[rstest]
#[case::args("args")]
#[case::builder_from_dependency("builder-from-dependency")]
#[case::ca_and_impure_false("ca-and-impure-false")]
#[case::context_all_outputs("context-all-outputs")]
#[case::context_drv_path("context-drv-path")]
#[case::context_drv_path_with_sources("context-drv-path-with-sources")]
#[case::context_mixed("context-mixed")]
#[case::context_other_outputs("context-other-outputs")]
#[case::context_path_values("context-path-values")]
#[case::context_plain_path("context-plain-path")]
#[case::context_single_output("context-single-output")]
#[case::context_to_file("context-to-file")]
#[case::diamond("diamond")]
#[case::dotted_name("dotted-name")]
#[case::drv_path_of_fod("drv-path-of-fod")]
#[case::env_types("env-types")]
#[case::escapes("escapes")]
#[case::fetchurl_corepkg_executable("fetchurl-corepkg-executable")]
#[case::fetchurl_corepkg_hash_sri("fetchurl-corepkg-hash-sri")]
#[case::fetchurl_corepkg_md5("fetchurl-corepkg-md5")]
#[case::fetchurl_corepkg_named("fetchurl-corepkg-named")]
#[case::fetchurl_corepkg_output_hash("fetchurl-corepkg-output-hash")]
#[case::fetchurl_corepkg_query_in_name("fetchurl-corepkg-query-in-name")]
#[case::fetchurl_corepkg_sha1("fetchurl-corepkg-sha1")]
#[case::fetchurl_corepkg_sha256("fetchurl-corepkg-sha256")]
#[case::fetchurl_corepkg_sha512("fetchurl-corepkg-sha512")]
#[case::fetchurl_corepkg_unpack("fetchurl-corepkg-unpack")]
#[case::first_output_not_out("first-output-not-out")]
#[case::fod_empty_hash("fod-empty-hash")]
#[case::fod_flat_md5_base16("fod-flat-md5-base16")]
#[case::fod_flat_md5_nix32("fod-flat-md5-nix32")]
#[case::fod_flat_md5_sri("fod-flat-md5-sri")]
#[case::fod_flat_sha1_base16("fod-flat-sha1-base16")]
#[case::fod_flat_sha1_nix32("fod-flat-sha1-nix32")]
#[case::fod_flat_sha1_sri("fod-flat-sha1-sri")]
#[case::fod_flat_sha256_base16("fod-flat-sha256-base16")]
#[case::fod_flat_sha256_base64("fod-flat-sha256-base64")]
#[case::fod_flat_sha256_nix32("fod-flat-sha256-nix32")]
#[case::fod_flat_sha256_prefixed_nix32("fod-flat-sha256-prefixed-nix32")]
#[case::fod_flat_sha256_sri("fod-flat-sha256-sri")]
#[case::fod_flat_sha512_base16("fod-flat-sha512-base16")]
#[case::fod_flat_sha512_sri("fod-flat-sha512-sri")]
#[case::fod_input("fod-input")]
#[case::fod_recursive_md5_base64("fod-recursive-md5-base64")]
#[case::fod_recursive_sha1_nix32("fod-recursive-sha1-nix32")]
#[case::fod_recursive_sha256_nix32("fod-recursive-sha256-nix32")]
#[case::fod_recursive_sha256_sri("fod-recursive-sha256-sri")]
#[case::fod_recursive_sha512_nix32("fod-recursive-sha512-nix32")]
#[case::fod_with_inputs("fod-with-inputs")]
#[case::ignore_nulls("ignore-nulls")]
#[case::large_environment("large-environment")]
#[case::legacy_checks("legacy-checks")]
#[case::long_name("long-name")]
#[case::many_inputs("many-inputs")]
#[case::multiple_outputs("multiple-outputs")]
#[case::nested_chain("nested-chain")]
#[case::no_args_builder_path("no-args-builder-path")]
#[case::non_utf8_value("non-utf8-value")]
#[case::odd_attribute_names("odd-attribute-names")]
#[case::pass_as_file("pass-as-file")]
#[case::placeholder("placeholder")]
#[case::plain("plain")]
#[case::structured_attrs("structured-attrs")]
#[case::structured_attrs_empty("structured-attrs-empty")]
#[case::structured_attrs_false("structured-attrs-false")]
#[case::structured_attrs_ignore_nulls("structured-attrs-ignore-nulls")]
#[case::text_output("text-output")]
#[case::text_output_as_input("text-output-as-input")]
#[case::text_output_drv_name("text-output-drv-name")]
#[case::to_file_in_structured_attrs("to-file-in-structured-attrs")]
#[case::twin_fod_inputs("twin-fod-inputs")]
#[case::unicode_values("unicode-values")]
#[case::unsorted_outputs("unsorted-outputs")]
fn derivation_matches_cppnix(#[case] name: &str) {
    assert_eq!(instantiate(name), golden(name));
}
