//! Table tests of the data builtins through the evaluator — `fromTOML`,
//! hashing, string contexts, flake references — for what only a whole
//! evaluation shows: which argument is forced first, errors from inside
//! arguments, warnings, and builtins that exist only with an experimental
//! feature. The golden values are CppNix 2.26's:
//! `/work/shared/tools/modern-nix nix-instantiate --eval --strict -E '<expr>'`
//! (with `--extra-experimental-features <features>` where a case names
//! some), the error being the message after the last `error:`; where
//! the lang suite's Nix (2.34) differs — blake3 is known, behind
//! `blake3-hashes` — its behaviour is the golden one.

use rstest::rstest;
use tvix_eval::{Diagnostic, EvalOptions, EvalRequest, Evaluator, OutputFormat};

/// A `.drv` store path with an output `out`, as context for the cases.
const DRV: &str = "\"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo.drv\"";

/// Evaluates with `--strict` and the experimental features given; the
/// printed value or the error message, and the warnings reported.
fn eval(features: &[&str], expr: &str) -> (Result<String, String>, Vec<Diagnostic>) {
    let options = EvalOptions {
        experimental_features: features.iter().map(|f| f.to_string()).collect(),
        ..EvalOptions::default()
    };
    let evaluator = Evaluator::builder().options(options).build();
    let request = EvalRequest {
        strict: true,
        speculate: true,
        ..EvalRequest::default()
    };
    let result = evaluator
        .eval_expr(
            &expr.replace("DRV", DRV),
            std::path::Path::new("/"),
            &request,
        )
        .and_then(|v| evaluator.print(&v, OutputFormat::Nix))
        .map_err(|e| e.kind.to_string());
    (result, evaluator.take_diagnostics())
}

#[rstest]
// fromTOML
#[case::toml_table(&[], r#"builtins.fromTOML "a.b = [1, 2.5, \"x\"]""#, r#"{ a = { b = [ 1 2.5 "x" ]; }; }"#)]
#[case::toml_top_level(&[], r#"fromTOML "a = true""#, "{ a = true; }")]
#[case::toml_timestamp(&["parse-toml-timestamps"], r#"builtins.fromTOML "t = 1979-05-27T07:32:00Z""#, r#"{ t = { _type = "timestamp"; value = "1979-05-27T07:32:00Z"; }; }"#)]
// hashing
#[case::hash_string(&[], r#"builtins.hashString "md5" "text 1""#, r#""6c69ee7f211c640419d5366cc076ae46""#)]
#[case::hash_string_ignores_context(&[], r#"builtins.hashString "md5" (builtins.appendContext "a" { DRV = { path = true; }; })"#, r#""0cc175b9c0f1b6a831c399e269772661""#)]
#[case::hash_string_blake3(&["blake3-hashes"], r#"builtins.hashString "blake3" """#, r#""af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262""#)]
#[case::convert_hash_extra_attrs(&[], r#"builtins.convertHash { hash = "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; toHashFormat = "nix32"; extra = 1; }"#, r#""0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73""#)]
#[case::convert_hash_upper_hex(&[], r#"builtins.convertHash { hash = "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"; toHashFormat = "sri"; }"#, r#""sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=""#)]
// contexts
#[case::get_context_merges(&[], r#"builtins.getContext (builtins.appendContext "a" { DRV = { outputs = ["out" "bin"]; allOutputs = true; path = true; }; })"#, r#"{ "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo.drv" = { allOutputs = true; outputs = [ "bin" "out" ]; path = true; }; }"#)]
#[case::append_context_nothing(&[], r#"builtins.hasContext (builtins.appendContext "a" {})"#, "false")]
#[case::append_context_false_flags(&[], r#"builtins.appendContext "a" { "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo" = { outputs = [ ]; allOutputs = false; foo = 1; }; }"#, r#""a""#)]
#[case::append_context_canonicalises(&[], r#"builtins.getContext (builtins.appendContext "a" { "/nix//store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo.drv/" = { path = true; }; })"#, r#"{ "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo.drv" = { path = true; }; }"#)]
#[case::discard_output_dependency(&[], r#"builtins.getContext (builtins.unsafeDiscardOutputDependency (builtins.appendContext "a" { DRV = { allOutputs = true; outputs = ["out"]; }; }))"#, r#"{ "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo.drv" = { outputs = [ "out" ]; path = true; }; }"#)]
#[case::discard_output_dependency_coerces(&[], r#"builtins.unsafeDiscardOutputDependency { outPath = "x"; }"#, r#""x""#)]
#[case::add_drv_output_dependencies(&[], r#"builtins.getContext (builtins.addDrvOutputDependencies (builtins.appendContext "a" { DRV = { path = true; }; }))"#, r#"{ "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo.drv" = { allOutputs = true; }; }"#)]
#[case::add_drv_output_dependencies_idempotent(&[], r#"builtins.getContext (builtins.addDrvOutputDependencies (builtins.appendContext "a" { DRV = { allOutputs = true; }; }))"#, r#"{ "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo.drv" = { allOutputs = true; }; }"#)]
// flake references, only with `flakes`
#[case::flake_builtins_absent(&[], "builtins ? parseFlakeRef || builtins ? flakeRefToString", "false")]
#[case::flake_builtins_present(&["flakes"], "builtins ? parseFlakeRef && builtins ? flakeRefToString", "true")]
#[case::parse_flake_ref(&["flakes"], r#"builtins.parseFlakeRef "github:NixOS/nixpkgs/23.05?dir=lib""#, r#"{ dir = "lib"; owner = "NixOS"; ref = "23.05"; repo = "nixpkgs"; type = "github"; }"#)]
#[case::parse_flake_ref_int(&["flakes"], r#"builtins.parseFlakeRef "path:/tmp?lastModified=5""#, r#"{ lastModified = 5; path = "/tmp"; type = "path"; }"#)]
#[case::flake_ref_to_string(&["flakes"], r#"builtins.flakeRefToString { type = "github"; owner = "NixOS"; repo = "nixpkgs"; ref = "23.05"; dir = "lib"; }"#, r#""github:NixOS/nixpkgs/23.05?dir=lib""#)]
fn evaluates(#[case] features: &[&str], #[case] expr: &str, #[case] expected: &str) {
    assert_eq!(eval(features, expr).0, Ok(expected.to_string()));
}

#[rstest]
// fromTOML
#[case::toml_with_context(&[], r#"builtins.fromTOML (builtins.appendContext "a = 1" { "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo" = { path = true; }; })"#, "the string 'a = 1' is not allowed to refer to a store path (such as 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo')")]
// Found by the fuzzer (fuzz/corpus/eval_from_toml/regression-nul-key): a
// key refused for its NUL stood in as "", next to a real "" key, which made
// an invalid attribute set (a debug assertion) before the error returned.
#[case::toml_nul_key_and_empty_key(&[], r#"builtins.fromTOML "\"\" = 1\n\"a\\u0000\" = 2""#, "while parsing TOML: error: input string 'a␀' cannot be represented as Nix string because it contains null bytes")]
#[case::toml_timestamps_off(&[], r#"builtins.fromTOML "t = 07:32:00""#, "while parsing TOML: Dates and times are not supported")]
// hashing: the algorithm is checked before the string is forced
#[case::hash_string_forces_algo_first(&[], r#"builtins.hashString (throw "a") (throw "b")"#, "a")]
#[case::hash_string_algo_before_string(&[], r#"builtins.hashString "foo" (throw "b")"#, "unknown hash algorithm 'foo', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'")]
#[case::hash_string_algo_with_context(&[], r#"builtins.hashString (builtins.appendContext "sha256" { DRV = { outputs = ["out"]; }; }) "x""#, "the string 'sha256' is not allowed to refer to a store path (such as '!out!aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo.drv')")]
#[case::hash_string_blake3_off(&[], r#"builtins.hashString "blake3" "x""#, "experimental Nix feature 'blake3-hashes' is disabled; add '--extra-experimental-features blake3-hashes' to enable it")]
#[case::hash_file_algo_before_path(&[], r#"builtins.hashFile "foo" (throw "b")"#, "unknown hash algorithm 'foo', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'")]
#[case::hash_file_relative(&[], r#"builtins.hashFile "sha256" "relative""#, "string 'relative' doesn't represent an absolute path")]
#[case::hash_file_directory(&[], r#"builtins.hashFile "sha256" "/tmp""#, "reading from file '/tmp': Is a directory")]
#[case::convert_hash_forces_hash_first(&[], r#"builtins.convertHash { hash = throw "h"; toHashFormat = throw "f"; hashAlgo = throw "a"; }"#, "h")]
#[case::convert_hash_algo_before_format(&[], r#"builtins.convertHash { hash = "x"; toHashFormat = throw "f"; hashAlgo = throw "a"; }"#, "a")]
#[case::convert_hash_missing_hash(&[], r#"builtins.convertHash { toHashFormat = "sri"; }"#, "attribute 'hash' missing")]
#[case::convert_hash_missing_format(&[], r#"builtins.convertHash { hash = "x"; }"#, "attribute 'toHashFormat' missing")]
#[case::convert_hash_format_before_hash(&[], r#"builtins.convertHash { hash = "sha256:x"; toHashFormat = "foo"; }"#, "unknown hash format 'foo', expect 'base16', 'base32', 'base64', or 'sri'")]
#[case::convert_hash_with_context(&[], r#"builtins.convertHash { hash = builtins.appendContext "x" { DRV = { path = true; }; }; toHashFormat = "sri"; }"#, "the string 'x' is not allowed to refer to a store path (such as 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo.drv')")]
// contexts
#[case::append_context_forces_string_first(&[], r#"builtins.appendContext (throw "a") (throw "b")"#, "a")]
#[case::append_context_not_a_store_path(&[], r#"builtins.appendContext "a" { "/nix/store/foo" = {}; }"#, r#"context key '"/nix/store/foo"' is not a store path"#)]
#[case::append_context_identifier_key(&[], r#"builtins.appendContext "a" { foo = {}; }"#, "context key 'foo' is not a store path")]
#[case::append_context_all_outputs_of_path(&[], r#"builtins.appendContext "a" { "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo" = { allOutputs = true; }; }"#, r#"tried to add all-outputs context of "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo", which is not a derivation, to a string"#)]
#[case::append_context_outputs_of_path(&[], r#"builtins.appendContext "a" { "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo" = { outputs = ["out"]; }; }"#, r#"tried to add derivation output context of "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo", which is not a derivation, to a string"#)]
#[case::add_drv_output_dependencies_empty(&[], r#"builtins.addDrvOutputDependencies """#, "context of string '' must have exactly one element, but has 0")]
#[case::add_drv_output_dependencies_output(&[], r#"builtins.addDrvOutputDependencies (builtins.appendContext "a" { DRV = { outputs = ["out"]; }; })"#, "`addDrvOutputDependencies` can only act on derivations, not on a derivation output such as 'out'")]
#[case::add_drv_output_dependencies_plain(&[], r#"builtins.addDrvOutputDependencies (builtins.appendContext "a" { "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo" = { path = true; }; })"#, "path '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo' is not a derivation")]
// flake references
#[case::parse_flake_ref_off(&[], r#"builtins.parseFlakeRef "nixpkgs""#, "attribute 'parseFlakeRef' missing")]
#[case::flake_ref_to_string_thunk(&["flakes"], r#"builtins.flakeRefToString { type = "github"; owner = "a"; repo = "b" + "c"; }"#, "flake reference attribute sets may only contain integers, Booleans, and strings, but attribute 'repo' is a thunk")]
#[case::flake_ref_to_string_negative(&["flakes"], r#"let n = -1; in builtins.seq n (builtins.flakeRefToString { type = "github"; owner = "a"; repo = n; })"#, "negative value given for flake ref attr repo: -1")]
#[case::flake_ref_to_string_null(&["flakes"], r#"builtins.flakeRefToString { type = "github"; owner = "a"; repo = "x"; ref = null; }"#, "flake reference attribute sets may only contain integers, Booleans, and strings, but attribute 'ref' is null")]
fn fails(#[case] features: &[&str], #[case] expr: &str, #[case] message: &str) {
    assert_eq!(eval(features, expr).0, Err(message.to_string()));
}

/// `base32`, the old name of `nix32`, works with a warning each time.
#[test]
fn base32_is_deprecated() {
    let (result, diagnostics) = eval(
        &[],
        r#"map (f: builtins.convertHash { hash = "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; toHashFormat = f; }) [ "base32" "nix32" "base32" ]"#,
    );
    let warning = Diagnostic::Warning {
        message: r#""base32" is a deprecated alias for hash format "nix32"."#.into(),
        span: None,
    };
    let nix32 = r#""0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73""#;
    assert_eq!(
        (result, diagnostics),
        (
            Ok(format!("[ {nix32} {nix32} {nix32} ]")),
            vec![warning.clone(), warning]
        )
    );
}
