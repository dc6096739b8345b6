//! The errors of the store builtins, worded as CppNix 2.26 words them:
//! each message is the last `error:` line of
//! `../shared/tools/modern-nix nix-instantiate --eval --strict -E EXPR`,
//! with the fixture tree of `testdata/make-fixture.sh` at `FIXTURE`.

mod common;

use rstest::rstest;
use tvix_eval::EvalOptions;

use common::{TestStore, fixture};

const DRV: &str = r#"{ name = "x"; builder = "b"; system = "s"; }"#;

#[rstest]
#[case::name_with_illegal_character(
    r#"builtins.derivationStrict { name = "~x"; }"#,
    "invalid derivation name: name '~x' contains illegal character '~'. Please pass a different 'name'."
)]
#[case::name_empty(
    r#"builtins.derivationStrict { name = ""; }"#,
    "invalid derivation name: name must not be empty. Please pass a different 'name'."
)]
#[case::name_dot_dash(
    r#"builtins.derivationStrict { name = ".-x"; }"#,
    "invalid derivation name: name '.-x' is not valid: first dash-separated component must not be '.'. Please pass a different 'name'."
)]
#[case::name_with_context(
    r#"builtins.derivationStrict { name = "x${builtins.toFile "a" "b"}"; }"#,
    "the string 'x/nix/store/g76zcpqc540lrc8i6g7xy6ip0npn2hnp-a' is not allowed to refer to a store path (such as 'g76zcpqc540lrc8i6g7xy6ip0npn2hnp-a')"
)]
#[case::name_ends_in_drv(
    r#"builtins.derivationStrict { name = "x.drv"; builder = "b"; system = "s"; }"#,
    "derivation names are allowed to end in '.drv' only if they produce a single derivation file"
)]
#[case::no_builder(
    r#"builtins.derivationStrict { name = "x"; system = "s"; }"#,
    "required attribute 'builder' missing"
)]
#[case::empty_builder(
    r#"builtins.derivationStrict { name = "x"; builder = ""; system = ""; }"#,
    "required attribute 'builder' missing"
)]
#[case::no_system(
    r#"builtins.derivationStrict { name = "x"; builder = "b"; }"#,
    "required attribute 'system' missing"
)]
#[case::duplicate_output(
    r#"builtins.derivationStrict (DRV // { outputs = [ "out" "out" ]; })"#,
    "duplicate derivation output 'out'"
)]
#[case::output_named_drv_path(
    r#"builtins.derivationStrict (DRV // { outputs = [ "drvPath" ]; })"#,
    "invalid derivation output name 'drvPath'"
)]
#[case::no_outputs(
    r#"builtins.derivationStrict (DRV // { outputs = [ ]; })"#,
    "derivation cannot have an empty set of outputs"
)]
#[case::output_with_illegal_character(
    r#"builtins.derivationStrict (DRV // { outputs = [ "a~b" ]; })"#,
    "path '5njj24bh15nf27fw8hs2zrsjji8k3fa8-x-a~b' is not a valid store path: name 'x-a~b' contains illegal character '~'"
)]
#[case::structured_output_with_context(
    r#"builtins.derivationStrict (DRV // { __structuredAttrs = true; outputs = [ "${builtins.toFile "a" "b"}" ]; })"#,
    "the string '/nix/store/g76zcpqc540lrc8i6g7xy6ip0npn2hnp-a' is not allowed to refer to a store path (such as 'g76zcpqc540lrc8i6g7xy6ip0npn2hnp-a')"
)]
#[case::invalid_hash_mode(
    r#"builtins.derivationStrict (DRV // { outputHashMode = "custom"; })"#,
    "invalid value 'custom' for 'outputHashMode' attribute"
)]
#[case::text_hash_mode_without_feature(
    r#"builtins.derivationStrict (DRV // { outputHashMode = "text"; })"#,
    "experimental Nix feature 'dynamic-derivations' is disabled; add '--extra-experimental-features dynamic-derivations' to enable it"
)]
#[case::git_hash_mode(
    r#"builtins.derivationStrict (DRV // { outputHashMode = "git"; })"#,
    "experimental Nix feature 'git-hashing' is disabled; add '--extra-experimental-features git-hashing' to enable it"
)]
#[case::content_addressed(
    r#"builtins.derivationStrict (DRV // { __contentAddressed = true; })"#,
    "experimental Nix feature 'ca-derivations' is disabled; add '--extra-experimental-features ca-derivations' to enable it"
)]
#[case::impure(
    r#"builtins.derivationStrict (DRV // { __impure = true; })"#,
    "experimental Nix feature 'impure-derivations' is disabled; add '--extra-experimental-features impure-derivations' to enable it"
)]
#[case::fixed_output_with_outputs(
    r#"builtins.derivationStrict (DRV // { outputs = [ "a" "b" ]; outputHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; })"#,
    "multiple outputs are not supported in fixed-output derivations"
)]
#[case::fixed_output_wrong_algorithm(
    r#"builtins.derivationStrict (DRV // { outputHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; outputHashAlgo = "sha1"; })"#,
    "hash 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' should have type 'sha1'"
)]
#[case::fixed_output_without_algorithm(
    r#"builtins.derivationStrict (DRV // { outputHash = "AAAA"; })"#,
    "hash 'AAAA' does not include a type, nor is the type otherwise known from context"
)]
#[case::fixed_output_empty_without_algorithm(
    r#"builtins.derivationStrict (DRV // { outputHash = ""; })"#,
    "empty hash requires explicit hash algorithm"
)]
#[case::to_file_refers_to_drv_path(
    r#"builtins.toFile "a" (derivation DRV).drvPath"#,
    "files created by builtins.toFile may not reference derivations, but a references =5wq5jx7219pmi3xklyhl77fjbqvy6qaj-x.drv"
)]
#[case::to_file_refers_to_output(
    r#"builtins.toFile "a" "${derivation DRV}""#,
    "files created by builtins.toFile may not reference derivations, but a references !out!5wq5jx7219pmi3xklyhl77fjbqvy6qaj-x.drv"
)]
#[case::to_file_illegal_name(
    r#"builtins.toFile "a~" "x""#,
    "path '6f7bjp8gzmj32iz92kr16cfc88rs8fw0-a~' is not a valid store path: name 'a~' contains illegal character '~'"
)]
#[case::to_file_dot(
    r#"builtins.toFile "." "x""#,
    "path '1ka9gw6ddkrf0b8k65q7p46xbgb9wdr8-.' is not a valid store path: name '.' is not valid"
)]
#[case::to_file_name_with_context(
    r#"builtins.toFile ("a" + builtins.toFile "b" "c") "x""#,
    "the string 'a/nix/store/lkxmc6rp2ycwc2mhcxd0r4r8wp5fqr8h-b' is not allowed to refer to a store path (such as 'lkxmc6rp2ycwc2mhcxd0r4r8wp5fqr8h-b')"
)]
#[case::path_unsupported_argument(
    r#"builtins.path { path = FIXTURE; foo = 1; }"#,
    "unsupported argument 'foo' to 'builtins.path'"
)]
#[case::path_without_path(
    r#"builtins.path { name = "x"; }"#,
    "missing required 'path' attribute in the first argument to 'builtins.path'"
)]
#[case::path_hash_mismatch(
    r#"builtins.path { path = FIXTURE; sha256 = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }"#,
    "store path mismatch in (possibly filtered) path added from 'FIXTURE'"
)]
#[case::path_directory_flat(
    r#"builtins.path { path = FIXTURE; recursive = false; }"#,
    "reading from file 'FIXTURE': Is a directory"
)]
#[case::path_missing(
    r#"builtins.path { path = FIXTURE + "/missing"; }"#,
    "path 'FIXTURE/missing' does not exist"
)]
#[case::path_relative(
    r#"builtins.path { path = "relative"; }"#,
    "string 'relative' doesn't represent an absolute path"
)]
#[case::filter_source_missing(
    r#"builtins.filterSource (p: t: true) (FIXTURE + "/missing")"#,
    "path 'FIXTURE/missing' does not exist"
)]
#[case::store_path_outside(
    r#"builtins.storePath FIXTURE"#,
    "path 'FIXTURE' is not in the Nix store"
)]
#[case::interpolated_drv_file(
    r#""${FIXTURE + "/x.drv"}""#,
    "file names are not allowed to end in '.drv'"
)]
fn store_builtin_errors(#[case] expr: &str, #[case] message: &str) {
    let fixture = fixture();
    let root = fixture.path().join("fixture");
    std::fs::write(root.join("x.drv"), "not a derivation").expect("x.drv is written");
    let root = root.display().to_string();
    let expr = expr.replace("DRV", DRV).replace("FIXTURE", &root);
    let error = TestStore::new().eval(&expr, EvalOptions::default(), |value, _, _| value.err());
    assert_eq!(error, Some(message.replace("FIXTURE", &root)));
}

/// A socket cannot be stored, wherever it is in the tree; the error
/// names it (CppNix 2.26: "file '…' has an unsupported type"). A filter
/// that leaves it out gets around it.
#[rstest]
#[case::interpolated(
    r#""${FIXTURE}""#,
    Err("file 'FIXTURE/socket' has an unsupported type")
)]
#[case::path(
    r#"builtins.path { path = FIXTURE; }"#,
    Err("file 'FIXTURE/socket' has an unsupported type")
)]
#[case::path_of_the_socket(
    r#"builtins.path { path = FIXTURE + "/socket"; }"#,
    Err("file 'FIXTURE/socket' has an unsupported type")
)]
#[case::filter_source_keeping_it(
    r#"builtins.filterSource (_: type: type == "unknown") FIXTURE"#,
    Err("file 'FIXTURE/socket' has an unsupported type")
)]
#[case::filter_source_leaving_it_out(
    r#"builtins.filterSource (_: type: type != "unknown") FIXTURE"#,
    Ok(())
)]
fn sockets_cannot_be_stored(#[case] expr: &str, #[case] expected: Result<(), &str>) {
    let fixture = fixture();
    let root = fixture.path().join("fixture");
    drop(std::os::unix::net::UnixListener::bind(root.join("socket")).expect("a socket"));
    let root = root.display().to_string();
    let expr = expr.replace("FIXTURE", &root);
    let result =
        TestStore::new().eval(&expr, EvalOptions::default(), |value, _, _| value.map(drop));
    assert_eq!(result, expected.map_err(|m| m.replace("FIXTURE", &root)));
}
