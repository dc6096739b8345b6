//! Runs the `tvix` binary as nix-instantiate would be run and compares
//! its output byte for byte with what Nix 2.8's `nix-instantiate` printed
//! for the same command (given in each case's comment; the `-E` text is
//! the same).

use std::process::{Command, Output};

use rstest::rstest;

fn tvix(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tvix"))
        .args(args)
        .env_remove("NIX_PATH")
        .output()
        .expect("the tvix binary runs")
}

#[rstest]
// nix-instantiate --eval --strict -E '{ b = [ 1 2 ]; a = { c = "x"; }; }'
#[case::strict(
    &["--eval", "--strict", "-E", r#"{ b = [ 1 2 ]; a = { c = "x"; }; }"#],
    "{ a = { c = \"x\"; }; b = [ 1 2 ]; }\n"
)]
// nix-instantiate --eval -E 'let f = x: x; in [ (f 1) ]'
#[case::lazy(
    &["--eval", "-E", "let f = x: x; in [ (f 1) ]"],
    "[ <CODE> ]\n"
)]
// nix-instantiate --eval -E 'let x = 1; s = { c = 2; }; in [ (x + 1) (s.c) (if x < 2 then x else 0) ]'
// (cheap expressions over evaluated values are still thunks when the
// printer can show it)
#[case::lazy_no_speculation(
    &["--eval", "-E", "let x = 1; s = { c = 2; }; in [ (x + 1) (s.c) (if x < 2 then x else 0) ]"],
    "[ <CODE> <CODE> <CODE> ]\n"
)]
// nix-instantiate --eval --strict --json -E '{ b = [ 1 2.5 null ]; a = { c = "x\n"; }; }'
#[case::json_without_newline(
    &["--eval", "--strict", "--json", "-E", r#"{ b = [ 1 2.5 null ]; a = { c = "x\n"; }; }"#],
    r#"{"a":{"c":"x\n"},"b":[1,2.5,null]}"#
)]
// nix-instantiate --eval --strict --xml --no-location -E '{ a = 1; f = { x, y ? 1, ... }@s: x; l = [ true "<&>" ]; }'
#[case::xml_no_location(
    &["--eval", "--strict", "--xml", "--no-location", "-E",
      r#"{ a = 1; f = { x, y ? 1, ... }@s: x; l = [ true "<&>" ]; }"#],
    concat!(
        "<?xml version='1.0' encoding='utf-8'?>\n",
        "<expr>\n",
        "  <attrs>\n",
        "    <attr name=\"a\">\n",
        "      <int value=\"1\" />\n",
        "    </attr>\n",
        "    <attr name=\"f\">\n",
        "      <function>\n",
        "        <attrspat ellipsis=\"1\" name=\"s\">\n",
        "          <attr name=\"x\" />\n",
        "          <attr name=\"y\" />\n",
        "        </attrspat>\n",
        "      </function>\n",
        "    </attr>\n",
        "    <attr name=\"l\">\n",
        "      <list>\n",
        "        <bool value=\"true\" />\n",
        "        <string value=\"&lt;&amp;&gt;\" />\n",
        "      </list>\n",
        "    </attr>\n",
        "  </attrs>\n",
        "</expr>\n",
    )
)]
// nix-instantiate --eval --xml --no-location -E '{ a = throw "x"; b = 1 + 1; }'
#[case::xml_lazy(
    &["--eval", "--xml", "--no-location", "-E", r#"{ a = throw "x"; b = 1 + 1; }"#],
    concat!(
        "<?xml version='1.0' encoding='utf-8'?>\n",
        "<expr>\n",
        "  <attrs>\n",
        "    <attr name=\"a\">\n",
        "      <unevaluated />\n",
        "    </attr>\n",
        "    <attr name=\"b\">\n",
        "      <unevaluated />\n",
        "    </attr>\n",
        "  </attrs>\n",
        "</expr>\n",
    )
)]
// nix-instantiate --eval --strict -A x.y -E '{ x.y = [ 1 ]; }'
#[case::attr_path(
    &["--eval", "--strict", "-A", "x.y", "-E", "{ x.y = [ 1 ]; }"],
    "[ 1 ]\n"
)]
// nix-instantiate --eval --strict --arg a '1 + 2' --argstr s hi -E '{ a, s, c ? 0 }: [ a s c ]'
#[case::auto_args(
    &["--eval", "--strict", "--arg", "a", "1 + 2", "--argstr", "s", "hi", "-E",
      "{ a, s, c ? 0 }: [ a s c ]"],
    "[ 3 \"hi\" 0 ]\n"
)]
// nix-instantiate --eval --strict --impure --no-show-trace -E '[ 1 ]'
#[case::accepted_no_op_flags(
    &["--eval", "--strict", "--impure", "--no-show-trace", "-E", "[ 1 ]"],
    "[ 1 ]\n"
)]
// nix-instantiate --eval-only --json --show-trace --read-write-mode --timeout 1 -E '{ a.b = [ 1 "x" ]; }' -A a
// (CppNix 2.26; flags for building and the store are accepted and ignored)
#[case::script_flags(
    &["--eval-only", "--json", "--show-trace", "--read-write-mode", "--timeout", "1",
      "-E", r#"{ a.b = [ 1 "x" ]; }"#, "-A", "a"],
    r#"{"b":[1,"x"]}"#
)]
// nix-instantiate --eval --strict --readonly-mode -Q -Q -v -j 4 --cores 2 --keep-going --fallback --option max-call-depth 100 --option foo bar -E '1'
#[case::ignored_and_repeated_flags(
    &["--eval", "--strict", "--readonly-mode", "-Q", "-Q", "-v", "-j", "4", "--cores", "2",
      "--keep-going", "--fallback", "--option", "max-call-depth", "100", "--option", "foo", "bar",
      "-E", "1"],
    "1\n"
)]
// nix-instantiate --eval --raw -E '"a\nb"'
#[case::raw(&["--eval", "--raw", "-E", r#""a\nb""#], "a\nb")]
fn prints_as_nix_instantiate(#[case] args: &[&str], #[case] expected: &str) {
    let out = tvix(args);
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).as_ref()
        ),
        (Some(0), expected),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[rstest]
// nix-instantiate --eval -E 'throw "boom"' prints "error: boom", exit code 1
#[case::throw(&["--eval", "-E", r#"throw "boom""#], "error: boom")]
// nix-instantiate --eval -E '{}.x' fails with exit code 1; Nix 2.34 says
// what it was selecting first (the lang suite's eval-fail-remove.err.exp).
#[case::missing_attr(
    &["--eval", "-E", "{}.x"],
    "error:\n       … while evaluating the attribute 'x'\n         at «string»:1:1:"
)]
// nix-instantiate --eval --lint-url-literals fatal: Nix 2.8 has no such flag;
// newer CppNix (and tvix) reject the URL literal.
#[case::fatal_lint(
    &["--eval", "--lint-url-literals", "fatal", "-E", "http://example.org"],
    "error: URL literals are disallowed"
)]
fn fails_with_exit_code_1(#[case] args: &[&str], #[case] stderr_start: &str) {
    let out = tvix(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    assert!(
        stderr.starts_with(stderr_start),
        "stderr should start with {stderr_start:?}: {stderr}"
    );
}

/// Outputs that depend on files in `testdata/`: attribute and function
/// positions, as `--xml` (without `--no-location`) and `unsafeGetAttrPos`
/// show them (made by CppNix 2.26), and the `.drv` paths instantiation
/// prints (made by Nix 2.8's `nix-instantiate`); see `testdata/generate.sh`.
#[rstest]
#[case::xml(&["--eval", "--strict", "--xml", "positions.nix"], "positions.xml")]
#[case::unsafe_get_attr_pos(
    &["--eval", "--strict", "-E", r#"let s = import ./positions.nix; in [ (builtins.unsafeGetAttrPos "a" s) (builtins.unsafeGetAttrPos "c" s.b) (builtins.unsafeGetAttrPos "map" s) (builtins.unsafeGetAttrPos "h" s.g) (builtins.unsafeGetAttrPos "e" (builtins.functionArgs s.d)) (builtins.unsafeGetAttrPos "a" (builtins.mapAttrs (n: v: v) s)) (builtins.unsafeGetAttrPos "a" (s // {})) (builtins.unsafeGetAttrPos "a" (builtins.intersectAttrs { a = 1; } s)) ]"#],
    "positions.exp"
)]
#[case::instantiate(&["instantiate.nix"], "instantiate.exp")]
#[case::instantiate_attr_with_args(
    &["instantiate.nix", "-A", "c", "--argstr", "system", "aarch64-linux"],
    "instantiate-attr.exp"
)]
fn with_testdata(#[case] args: &[&str], #[case] expected: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata");
    let out = Command::new(env!("CARGO_BIN_EXE_tvix"))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("the tvix binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).replace(&dir.display().to_string(), "@DIR@");
    let expected = std::fs::read_to_string(dir.join(expected)).unwrap_or_default();
    assert_eq!(
        stdout,
        expected,
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// nix-instantiate --eval --strict --xml --no-location -E 'let d = { type = "derivation"; drvPath = "/nix/store/x.drv"; outPath = "/nix/store/y"; }; in { inherit d; e = d; }'
// (CppNix 2.26: a derivation is written once; again, as <repeated />)
#[rstest]
#[case::derivations(
    &["--eval", "--strict", "--xml", "--no-location", "-E",
      r#"let d = { type = "derivation"; drvPath = "/nix/store/x.drv"; outPath = "/nix/store/y"; }; in { inherit d; e = d; }"#],
    concat!(
        "<?xml version='1.0' encoding='utf-8'?>\n",
        "<expr>\n",
        "  <attrs>\n",
        "    <attr name=\"d\">\n",
        "      <derivation drvPath=\"/nix/store/x.drv\" outPath=\"/nix/store/y\">\n",
        "        <attr name=\"drvPath\">\n",
        "          <string value=\"/nix/store/x.drv\" />\n",
        "        </attr>\n",
        "        <attr name=\"outPath\">\n",
        "          <string value=\"/nix/store/y\" />\n",
        "        </attr>\n",
        "        <attr name=\"type\">\n",
        "          <string value=\"derivation\" />\n",
        "        </attr>\n",
        "      </derivation>\n",
        "    </attr>\n",
        "    <attr name=\"e\">\n",
        "      <derivation drvPath=\"/nix/store/x.drv\" outPath=\"/nix/store/y\">\n",
        "        <repeated />\n",
        "      </derivation>\n",
        "    </attr>\n",
        "  </attrs>\n",
        "</expr>\n",
    )
)]
fn xml_as_cppnix_writes_it(#[case] args: &[&str], #[case] expected: &str) {
    prints_as_nix_instantiate(args, expected);
}

// nix-instantiate --eval --strict -E '(derivation { name = "a"; builder = "b"; system = "c"; }).drvPath'
// (evaluation has a store: tvix-glue's, in memory)
#[rstest]
#[case::derivation(
    &["--eval", "--strict", "-E", r#"(derivation { name = "a"; builder = "b"; system = "c"; }).drvPath"#],
    "\"/nix/store/arhvjaf6zmlyn8vh8fgn55rpwnxq0n7l-a.drv\"\n"
)]
// nix-instantiate --eval --strict -E 'builtins.toFile "x" "y"'
#[case::store_dir_accepted(
    &["--eval", "--strict", "--store-dir", "/nix/store/", "-E", r#"builtins.toFile "x" "y""#],
    "\"/nix/store/lfngsssysp6h1v4ccqg23c52s9sjl779-x\"\n"
)]
fn evaluates_with_a_store(#[case] args: &[&str], #[case] expected: &str) {
    prints_as_nix_instantiate(args, expected);
}

/// Runs tvix with `args` and HOME and XDG_DATA_HOME in `home`.
fn tvix_at_home(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tvix"))
        .args(args)
        .env_remove("NIX_PATH")
        .env_remove("BLOB_SERVICE_ADDR")
        .env_remove("DIRECTORY_SERVICE_ADDR")
        .env_remove("PATH_INFO_SERVICE_ADDR")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .output()
        .expect("the tvix binary runs")
}

/// Without addresses the store is in memory: evaluating writes nothing,
/// not even the default store tvix-store would create.
#[test]
fn store_is_in_memory_by_default() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let out = tvix_at_home(home.path(), &["--eval", "-E", r#"builtins.toFile "x" "y""#]);
    assert_eq!(out.status.code(), Some(0));
    let entries: Vec<_> = std::fs::read_dir(home.path())
        .expect("the home directory")
        .collect();
    assert!(entries.is_empty(), "evaluating wrote {entries:?}");
}

/// With addresses, what one evaluation adds another reads back, through
/// castore (the path is in no host store).
#[test]
fn store_at_addresses_persists() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let dir = home.path().display().to_string();
    std::fs::create_dir(home.path().join("blobs")).expect("the blob directory");
    let blobs = format!("objectstore+file://{dir}/blobs");
    let directories = format!("redb://{dir}/directories.redb");
    let path_infos = format!("redb://{dir}/pathinfo.redb");
    let store = [
        "--blob-service-addr",
        blobs.as_str(),
        "--directory-service-addr",
        directories.as_str(),
        "--path-info-service-addr",
        path_infos.as_str(),
    ];
    let run = |expr: &str| {
        let mut args = store.to_vec();
        args.extend(["--eval", "--strict", "-E", expr]);
        let out = tvix_at_home(home.path(), &args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, path, stderr) =
        run(r#"builtins.toFile "persisted" "written by one tvix, read by another""#);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    let read = run(&format!("builtins.readFile {}", path.trim()));
    assert_eq!(
        read,
        (
            Some(0),
            "\"written by one tvix, read by another\"\n".to_string(),
            String::new()
        )
    );
}

#[rstest]
#[case::other_store_dir(
    &["--store-dir", "/gnu/store", "--eval", "-E", "1"],
    2,
    "error: invalid value '/gnu/store' for '--store-dir <DIR>': only /nix/store is supported as the store directory"
)]
#[case::bad_address(
    &["--blob-service-addr", "nonsense://", "--eval", "-E", "1"],
    1,
    "error: blob service:"
)]
fn refuses_stores_it_cannot_use(
    #[case] args: &[&str],
    #[case] code: i32,
    #[case] stderr_start: &str,
) {
    let out = tvix(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        stderr.starts_with(stderr_start),
        "stderr should start with {stderr_start:?}: {stderr}"
    );
}

/// The debug aids write to standard error and leave the result alone.
#[rstest]
#[case::display_ast(&["--eval", "--display-ast", "-E", "1 + 2"], "NODE_BIN_OP")]
#[case::dump_bytecode(&["--eval", "--dump-bytecode", "-E", "let f = x: x; in f 3"], "=== Function 0.0 f at «string»:1:9")]
fn debug_aids(#[case] args: &[&str], #[case] in_stderr: &str) {
    let out = tvix(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(
        stderr.contains(in_stderr),
        "stderr lacks {in_stderr:?}: {stderr}"
    );
    assert!(
        matches!(out.stdout.as_slice(), b"3\n"),
        "stdout: {:?}",
        out.stdout
    );
}

/// `--trace-runtime` reports, in order, the file's frame being entered,
/// each instruction with its position and the top of the stack after it,
/// and the return; the result is unchanged.
#[test]
fn trace_runtime_shows_each_instruction() {
    let out = tvix(&["--eval", "--trace-runtime", "-E", "1 + 2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(out.stdout, b"3\n");
    // The frame depth under the file's frame depends on how the CLI
    // starts the evaluation; everything else is fixed.
    let lines: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("trace-runtime: "))
        .map(|l| {
            l.trim_start()
                .split_once(' ')
                .map_or(l, |(_, rest)| rest)
                .to_string()
        })
        .collect();
    assert_eq!(
        lines,
        [
            "«string»:1:1 enter file",
            "«string»:1:1 op Constant(0) => 1",
            "«string»:1:5 op Constant(1) => 2",
            "«string»:1:5 op Binary(Add) => 3",
            "«string»:1:1 op Return -> return 3",
        ],
        "stderr: {stderr}"
    );
}

/// Calls into lambdas and builtins show as such, with the values returned.
#[test]
fn trace_runtime_shows_calls_and_returns() {
    let out = tvix(&[
        "--eval",
        "--strict",
        "--trace-runtime",
        "-E",
        "let f = x: x * 2; in builtins.map f [ 1 2 ]",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(out.stdout, b"[ 2 4 ]\n");
    for wanted in [
        "«string»:1:22 op Call(2) -> builtin map",
        "«string»:1:9 enter call f",
        "«string»:1:14 op Binary(Mul) => 4",
        "«string»:1:9 op Return -> return 4",
    ] {
        assert!(stderr.contains(wanted), "stderr lacks {wanted:?}: {stderr}");
    }
}

/// Without the flag nothing of the trace is printed.
#[test]
fn trace_runtime_is_off_by_default() {
    let out = tvix(&["--eval", "-E", "1 + 2"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("trace-runtime"));
}
