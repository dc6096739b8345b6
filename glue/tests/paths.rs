//! Imports the fixture tree as `testdata/paths/cases.nix` asks, and reads
//! through the imported paths, comparing every result with CppNix's (Nix
//! 2.8, see `generate.sh` there): `"${./dir}"`, `builtins.path` (names,
//! filters, flat and recursive, expected hashes), `filterSource`,
//! `toFile`, `storePath`, and `readFile`/`readDir`/`pathExists` below
//! store paths, which tvix reads from castore, as it re-adds parts of them
//! (`builtins.path` of a store path).

mod common;

use rstest::rstest;
use tvix_eval::{EvalOptions, OutputFormat};

use common::{TestStore, fixture, testdata};

/// CppNix's value of the case, as JSON.
fn expected(name: &str) -> serde_json::Value {
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(testdata().join("paths/expected.json")).expect("expected.json"),
    )
    .expect("expected.json is JSON");
    expected[name].clone()
}

/// tvix's value of the case, as JSON.
fn evaluate(name: &str) -> serde_json::Value {
    let fixture = fixture();
    let expr = format!(
        "(import {} {{ fixture = {}/fixture; }}).{name}",
        testdata().join("paths/cases.nix").display(),
        fixture.path().display(),
    );
    let json = TestStore::new().eval(&expr, EvalOptions::default(), |value, evaluator, _| {
        let value = value.expect("evaluates");
        evaluator
            .print(&value, OutputFormat::Json)
            .expect("prints as JSON")
    });
    serde_json::from_str(&json).expect("tvix printed JSON")
}

#[rstest]
#[case::filter_source_of_store_path("filter-source-of-store-path")]
#[case::path_of_store_file_flat("path-of-store-file-flat")]
#[case::path_of_store_path("path-of-store-path")]
#[case::path_of_store_path_filtered("path-of-store-path-filtered")]
#[case::path_of_store_subpath("path-of-store-subpath")]
#[case::path_of_store_symlink("path-of-store-symlink")]
#[case::path_of_to_file_with_references("path-of-to-file-with-references")]
#[case::filter_source_directories_only("filter-source-directories-only")]
#[case::filter_source_everything("filter-source-everything")]
#[case::filter_source_no_hidden("filter-source-no-hidden")]
#[case::filter_source_string("filter-source-string")]
#[case::interpolated_dangling_symlink("interpolated-dangling-symlink")]
#[case::interpolated_dir("interpolated-dir")]
#[case::interpolated_empty_dir("interpolated-empty-dir")]
#[case::interpolated_empty_file("interpolated-empty-file")]
#[case::interpolated_executable("interpolated-executable")]
#[case::interpolated_file("interpolated-file")]
#[case::interpolated_in_text("interpolated-in-text")]
#[case::interpolated_subdir("interpolated-subdir")]
#[case::interpolated_symlink("interpolated-symlink")]
#[case::path_exists("path-exists")]
#[case::path_filter_by_full_path("path-filter-by-full-path")]
#[case::path_filter_by_name("path-filter-by-name")]
#[case::path_filter_everything("path-filter-everything")]
#[case::path_filter_file_root("path-filter-file-root")]
#[case::path_filter_no_symlinks("path-filter-no-symlinks")]
#[case::path_filter_nothing("path-filter-nothing")]
#[case::path_filter_only_known_types("path-filter-only-known-types")]
#[case::path_filter_with_sha256("path-filter-with-sha256")]
#[case::path_flat("path-flat")]
#[case::path_flat_executable("path-flat-executable")]
#[case::path_named("path-named")]
#[case::path_plain("path-plain")]
#[case::path_recursive_file("path-recursive-file")]
#[case::path_sha256_flat("path-sha256-flat")]
#[case::path_sha256_recursive("path-sha256-recursive")]
#[case::path_string("path-string")]
#[case::read_dir("read-dir")]
#[case::read_dir_sub("read-dir-sub")]
#[case::read_dir_through_symlink("read-dir-through-symlink")]
#[case::read_file("read-file")]
#[case::read_file_through_directory_symlink("read-file-through-directory-symlink")]
#[case::read_file_through_parent_symlink("read-file-through-parent-symlink")]
#[case::read_file_through_symlink("read-file-through-symlink")]
#[case::read_to_file("read-to-file")]
#[case::store_path("store-path")]
#[case::store_path_below("store-path-below")]
#[case::to_file("to-file")]
#[case::to_file_unicode("to-file-unicode")]
#[case::to_file_with_references("to-file-with-references")]
fn path_matches_cppnix(#[case] name: &str) {
    assert_eq!(evaluate(name), expected(name));
}
