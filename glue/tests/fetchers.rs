//! The fetchers against files this test serves itself (no internet): an
//! HTTP server in the test process serves `testdata/fetchers/files`, and
//! the same files are fetched through `file://` URLs; git repositories are
//! made by `make-repos.sh` with the `git` binary.
//!
//! - Every attribute of `testdata/fetchers/cases.nix` (`fetchurl`,
//!   `fetchTarball` in every compression, `fetchGit` of revisions, refs,
//!   working trees clean and dirty, `fetchTree` of files, tarballs and
//!   repositories, with and without `export-ignore`) gives what CppNix 2.26 gives (`expected.json`, see
//!   `generate.sh` there), over HTTP and over `file://`.
//! - Errors are worded as CppNix words them.
//! - A fetch happens once per evaluation; a pinned path the store holds is
//!   not fetched again; encoded and redirected responses are followed.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rstest::rstest;
use tvix_eval::{Diagnostic, EvalOptions, EvalRequest, Evaluator, OutputFormat};

use common::{TestStore, testdata};

/// The directory of the fetched files.
fn files() -> PathBuf {
    testdata().join("fetchers/files")
}

/// How often each path was asked for.
type Hits = Arc<Mutex<HashMap<String, usize>>>;

/// The files of `files()` over HTTP:
/// - `/files/NAME`: the file;
/// - `/gzip/NAME`: `NAME.gz` sent as `NAME` with `Content-Encoding: gzip`;
/// - `/redirect/NAME`: a redirect to `/files/NAME`;
/// - `/missing`: a 404 with a body, `/empty-404`: one without.
struct FileServer {
    base: String,
    hits: Hits,
}

impl FileServer {
    fn start(store: &TestStore) -> FileServer {
        let hits = Hits::default();
        let app = axum::Router::new()
            .route("/files/{name}", get(serve_file))
            .route("/gzip/{name}", get(serve_gzip))
            .route(
                "/redirect/{name}",
                get(|UrlPath(name): UrlPath<String>| async move {
                    Redirect::temporary(&format!("/files/{name}"))
                }),
            )
            .route(
                "/missing",
                get(|| async { (StatusCode::NOT_FOUND, "no such file\n") }),
            )
            .route("/empty-404", get(|| async { StatusCode::NOT_FOUND }))
            .with_state(hits.clone());
        let listener = store
            .runtime()
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a local port");
        let addr = listener.local_addr().expect("the port");
        store
            .runtime()
            .spawn(async move { axum::serve(listener, app).await });
        FileServer {
            base: format!("http://{addr}"),
            hits,
        }
    }

    /// How often `path` was asked for.
    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .map(|hits| hits.get(path).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

fn count(hits: &Hits, path: String) {
    if let Ok(mut hits) = hits.lock() {
        *hits.entry(path).or_default() += 1;
    }
}

async fn serve_file(State(hits): State<Hits>, UrlPath(name): UrlPath<String>) -> Response {
    count(&hits, format!("/files/{name}"));
    match std::fs::read(files().join(&name)) {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve_gzip(State(hits): State<Hits>, UrlPath(name): UrlPath<String>) -> Response {
    count(&hits, format!("/gzip/{name}"));
    match std::fs::read(files().join(format!("{name}.gz"))) {
        Ok(bytes) => ([(header::CONTENT_ENCODING, "gzip")], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The repositories of `make-repos.sh`, made once per test run (in the
/// target directory's scratch space; the tests only read them).
fn repos() -> &'static Path {
    static REPOS: OnceLock<PathBuf> = OnceLock::new();
    REPOS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fetchers-repos");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("the old repositories are removed");
        }
        std::fs::create_dir_all(&dir).expect("a directory for the repositories");
        let status = std::process::Command::new("bash")
            .arg(testdata().join("fetchers/make-repos.sh"))
            .arg(&dir)
            .status()
            .expect("bash runs");
        assert!(status.success(), "make-repos.sh failed");
        dir
    })
}

/// Where the fetched files come from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Http,
    File,
}

/// Options with the features the cases need (`fetchTree`).
fn options() -> EvalOptions {
    EvalOptions {
        experimental_features: vec!["nix-command".into(), "flakes".into()],
        ..EvalOptions::default()
    }
}

/// A Nix string literal of `text`.
fn nix_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// `case` of cases.nix, evaluated by tvix to JSON.
fn evaluate_case(store: &TestStore, base: &str, repos: &Path, case: &str) -> serde_json::Value {
    let expr = format!(
        "(import {} {{ base = {}; repos = {}; }}).{case}",
        testdata().join("fetchers/cases.nix").display(),
        nix_string(base),
        nix_string(&repos.display().to_string()),
    );
    let json = store.eval(&expr, options(), |value, evaluator, _| {
        let value = value.unwrap_or_else(|e| panic!("{case} evaluates: {e}"));
        evaluator
            .print(&value, OutputFormat::Json)
            .expect("prints as JSON")
    });
    serde_json::from_str(&json).expect("tvix printed JSON")
}

#[rstest]
fn matches_cppnix(
    #[values(
        "fetchGit-dirty",
        "fetchGit-dirty-rev",
        "fetchGit-export-ignore",
        "fetchGit-export-ignore-off",
        "fetchGit-export-ignore-ref",
        "fetchGit-named",
        "fetchGit-no-commits",
        "fetchGit-path",
        "fetchGit-path-value",
        "fetchGit-read-through",
        "fetchGit-ref-branch",
        "fetchGit-ref-full",
        "fetchGit-ref-tag",
        "fetchGit-rev",
        "fetchGit-rev-other-branch",
        "fetchGit-rev-shallow",
        "fetchGit-shallow-clone",
        "fetchGit-staged-deletion",
        "fetchGit-url",
        "fetchTarball-bzip2",
        "fetchTarball-empty",
        "fetchTarball-gzip",
        "fetchTarball-named",
        "fetchTarball-plain",
        "fetchTarball-read-through",
        "fetchTarball-several-entries",
        "fetchTarball-sha256",
        "fetchTarball-single-file",
        "fetchTarball-xz",
        "fetchTarball-zstd",
        "fetchTree-file",
        "fetchTree-file-nar-hash",
        "fetchTree-file-url",
        "fetchTree-git",
        "fetchTree-git-dirty",
        "fetchTree-git-keeps-export-ignored",
        "fetchTree-git-not-shallow",
        "fetchTree-git-rev",
        "fetchTree-git-url",
        "fetchTree-tarball",
        "fetchTree-tarball-url",
        "fetchurl-archive-as-file",
        "fetchurl-attrs",
        "fetchurl-big",
        "fetchurl-context",
        "fetchurl-empty-name-is-base-name",
        "fetchurl-named",
        "fetchurl-sha256-base16",
        "fetchurl-sha256-nix32",
        "fetchurl-sha256-sri",
        "fetchurl-string"
    )]
    case: &str,
    #[values(Source::Http, Source::File)] source: Source,
) {
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(testdata().join("fetchers/expected.json")).expect("expected.json"),
    )
    .expect("expected.json is JSON");
    let store = TestStore::new();
    let base = match source {
        Source::Http => format!("{}/files", FileServer::start(&store).base),
        Source::File => format!("file://{}", files().display()),
    };
    assert_eq!(
        evaluate_case(&store, &base, repos(), case),
        expected[case],
        "{case} over {source:?}"
    );
}

/// The message of the error `expr` fails with, `BASE` and `REPOS` in it
/// standing for the served files and the repositories.
fn error_of(expr: &str, options: EvalOptions) -> (String, String, String) {
    let store = TestStore::new();
    let server = FileServer::start(&store);
    let repos = repos().display().to_string();
    let base = format!("{}/", server.base);
    let expr = expr.replace("BASE/", &base).replace("REPOS", &repos);
    let message = store.eval(&expr, options, |value, _, _| match value {
        Ok(_) => panic!("{expr} must fail"),
        Err(message) => message,
    });
    (message, base, repos)
}

// The messages are CppNix 2.26's (`modern-nix nix-instantiate --eval
// --strict -E EXPR`, the files served by `python3 -m http.server`), but
// where noted.
#[rstest]
#[case::http_404_with_body(
    r#"builtins.fetchurl "BASE/missing""#,
    "unable to download 'BASE/missing': HTTP error 404\n\nresponse body:\n\nno such file"
)]
#[case::http_404(
    r#"builtins.fetchurl "BASE/empty-404""#,
    "unable to download 'BASE/empty-404': HTTP error 404"
)]
#[case::missing_file(
    r#"builtins.fetchurl "file:///nonexistent/x""#,
    "unable to download 'file:///nonexistent/x': Could not read a file:// file (37) Couldn't open file /nonexistent/x"
)]
#[case::hash_mismatch(
    r#"builtins.fetchurl { url = "BASE/files/hello.txt"; sha256 = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }"#,
    "hash mismatch in file downloaded from 'BASE/files/hello.txt':\n  specified: sha256:0000000000000000000000000000000000000000000000000000\n  got:       sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq"
)]
#[case::tarball_hash_mismatch(
    r#"builtins.fetchTarball { url = "BASE/files/tree.tar"; sha256 = "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq"; }"#,
    "hash mismatch in file downloaded from 'BASE/files/tree.tar':\n  specified: sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq\n  got:       sha256:18i9gz9aaswdghfc1ifk4dddqmc80aa7xpw30v2fwk9gbydxlc1b"
)]
#[case::sha256_of_other_algorithm(
    r#"builtins.fetchurl { url = "BASE/files/hello.txt"; sha256 = "sha512-AAAA"; }"#,
    "hash 'sha512-AAAA' should have type 'sha256'"
)]
#[case::unsupported_argument(
    r#"builtins.fetchurl { url = "BASE/files/hello.txt"; executable = true; }"#,
    "unsupported argument 'executable' to 'fetchurl'"
)]
#[case::tarball_unsupported_argument(
    r#"builtins.fetchTarball { url = "BASE/files/tree.tar"; hash = ""; }"#,
    "unsupported argument 'hash' to 'fetchTarball'"
)]
#[case::url_required(r#"builtins.fetchurl { name = "x"; }"#, "'url' argument required")]
#[case::url_not_a_string("builtins.fetchurl 1", "expected a string but found an integer: 1")]
#[case::url_with_context(
    r#"builtins.fetchurl "${builtins.toFile "x" "y"}""#,
    "the string '/nix/store/lfngsssysp6h1v4ccqg23c52s9sjl779-x' is not allowed to refer to a store path (such as 'lfngsssysp6h1v4ccqg23c52s9sjl779-x')"
)]
#[case::name_from_url_invalid(
    r#"builtins.fetchurl "BASE/""#,
    "invalid store path name when fetching URL 'BASE/': name '127.0.0.1:PORT' contains illegal character ':'. Please pass an attribute set with 'url' and 'name' attributes to 'fetchurl',  so that it can create a valid store path."
)]
#[case::tarball_not_an_archive(
    r#"builtins.fetchTarball "BASE/files/hello.txt""#,
    // CppNix: "Failed to open archive (Unrecognized archive format)".
    "unpacking 'BASE/files/hello.txt': reading the next archive entry: failed to read entire block"
)]
#[case::relative_file_url(
    r#"builtins.fetchTarball "file:./x.tar.gz""#,
    // CppNix 2.34's words (the language suite's); 2.26 lets curl refuse it.
    "tarball 'file:./x.tar.gz' must use an absolute path. The 'file' scheme does not support relative paths."
)]
#[case::file_url_with_authority(
    r#"builtins.fetchurl "file://host/x""#,
    "file:// URL 'file://host/x' has unexpected authority 'host'"
)]
#[case::git_missing_ref(
    r#"builtins.fetchGit { url = "REPOS/repo"; ref = "nope"; }"#,
    "resolving Git reference 'nope': revspec 'nope' not found"
)]
#[case::git_missing_rev(
    r#"builtins.fetchGit { url = "REPOS/repo"; rev = "0000000000000000000000000000000000000001"; }"#,
    "getting Git object '0000000000000000000000000000000000000001': object not found - no match for id (0000000000000000000000000000000000000001)"
)]
#[case::git_shallow_not_allowed(
    r#"builtins.fetchGit { url = "REPOS/shallow"; ref = "main"; }"#,
    "'REPOS/shallow' is a shallow Git repository, but shallow repositories are only allowed when `shallow = true;` is specified"
)]
#[case::git_type_argument(
    r#"builtins.fetchGit { type = "git"; url = "REPOS/repo"; }"#,
    "unexpected argument 'type'"
)]
#[case::git_unknown_attribute(
    r#"builtins.fetchGit { url = "REPOS/repo"; foo = 1; }"#,
    "input attribute 'foo' not supported by scheme 'git'"
)]
#[case::git_negative(
    r#"builtins.fetchGit { url = "REPOS/repo"; revCount = -1; }"#,
    "negative value given for 'fetchGit' argument 'revCount': -1"
)]
#[case::git_public_keys(
    r#"builtins.fetchGit { url = "REPOS/repo"; publicKeys = [ ]; }"#,
    "experimental Nix feature 'verified-fetches' is disabled; add '--extra-experimental-features verified-fetches' to enable it"
)]
#[case::git_remote(
    r#"builtins.fetchGit "https://example.com/repo.git""#,
    // tvix's own: CppNix would clone it.
    "fetching the Git repository 'https://example.com/repo.git' is not supported: tvix reads local repositories only"
)]
#[case::git_submodules(
    r#"builtins.fetchGit { url = "REPOS/repo"; submodules = true; }"#,
    "fetching Git submodules is not supported"
)]
#[case::tree_missing_type(
    r#"builtins.fetchTree { url = "BASE/files/hello.txt"; }"#,
    "argument 'type' is missing in call to 'fetchTree'"
)]
#[case::tree_unknown_type(
    r#"builtins.fetchTree { type = "foo"; }"#,
    r#"cannot show unsupported input '{"type":"foo"}'"#
)]
#[case::tree_list_attribute(
    r#"builtins.fetchTree { type = "file"; url = [ 1 ]; }"#,
    "fetchTree argument 'url' is a list while a string, Boolean or integer is expected"
)]
#[case::tree_missing_url(
    r#"builtins.fetchTree { type = "file"; }"#,
    "input attribute 'url' is missing"
)]
#[case::tree_name(
    r#"builtins.fetchTree { type = "file"; url = "BASE/files/hello.txt"; name = "x"; }"#,
    "attribute 'name' isn\u{2019}t supported in call to 'fetchTree'"
)]
#[case::tree_nar_hash_mismatch(
    r#"builtins.fetchTree { type = "tarball"; url = "BASE/files/tree.tar"; narHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }"#,
    "NAR hash mismatch in input 'BASE/files/tree.tar?narHash=sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D', expected 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' but got 'sha256-KzDam18vTe7EBoPffpQCiFXcWiPTxcAcfI1rpdJ/KaI='"
)]
#[case::tree_github(
    r#"builtins.fetchTree "github:NixOS/nixpkgs""#,
    // tvix's own: CppNix would download it.
    "fetching inputs of type 'github' is not supported"
)]
#[case::mercurial(
    r#"builtins.fetchMercurial "BASE/repo""#,
    "fetching Mercurial repositories is not supported"
)]
fn errors(#[case] expr: &str, #[case] message: &str) {
    let (got, base, repos) = error_of(expr, options());
    let port = base
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches('/');
    let message = message
        .replace("BASE/", &base)
        .replace("REPOS", &repos)
        .replace("PORT", port);
    assert_eq!(got, message);
}

// `modern-nix nix-instantiate --pure-eval --eval --strict -E EXPR`.
#[rstest]
#[case::fetchurl_unpinned(
    r#"builtins.fetchurl "BASE/files/hello.txt""#,
    "in pure evaluation mode, 'fetchurl' requires a 'sha256' argument"
)]
#[case::fetch_tarball_unpinned(
    r#"builtins.fetchTarball "BASE/files/tree.tar""#,
    "in pure evaluation mode, 'fetchTarball' requires a 'sha256' argument"
)]
#[case::fetch_git_unlocked(
    r#"builtins.fetchGit "REPOS/repo""#,
    "in pure evaluation mode, 'fetchGit' will not fetch unlocked input 'git+file://REPOS/repo?exportIgnore=1'"
)]
#[case::fetch_tree_unlocked(
    r#"builtins.fetchTree { type = "file"; url = "BASE/files/hello.txt"; }"#,
    "in pure evaluation mode, 'fetchTree' will not fetch unlocked input 'BASE/files/hello.txt'"
)]
fn pure_evaluation_refuses_unpinned_fetches(#[case] expr: &str, #[case] message: &str) {
    let options = EvalOptions {
        pure: true,
        ..options()
    };
    let (got, base, repos) = error_of(expr, options);
    let message = message.replace("BASE/", &base).replace("REPOS", &repos);
    assert_eq!(got, message);
}

/// Evaluates `expr` (strictly, to JSON) with files served by `server`.
fn evaluate(store: &TestStore, expr: &str, options: EvalOptions) -> serde_json::Value {
    let json = store.eval(expr, options, |value, evaluator, _| {
        let value = value.unwrap_or_else(|e| panic!("{expr} evaluates: {e}"));
        evaluator
            .print(&value, OutputFormat::Json)
            .expect("prints as JSON")
    });
    serde_json::from_str(&json).expect("tvix printed JSON")
}

#[test]
fn pure_evaluation_fetches_pinned() {
    let store = TestStore::new();
    let server = FileServer::start(&store);
    let expr = format!(
        r#"[
          (builtins.fetchurl {{ url = "{base}/files/hello.txt"; sha256 = "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq"; }})
          (builtins.fetchGit {{ url = "{repos}/repo"; rev = "4688d5cd06761a26636b2eb99c7557c9d71698f1"; }}).outPath
        ]"#,
        base = server.base,
        repos = repos().display(),
    );
    let options = EvalOptions {
        pure: true,
        ..options()
    };
    // The paths of `fetchurl-sha256-nix32` and `fetchGit-rev`.
    assert_eq!(
        evaluate(&store, &expr, options),
        serde_json::json!([
            "/nix/store/gy454w1cxaq731grqwylhzf4pp9r5izh-hello.txt",
            "/nix/store/58a3armkcsg054s1lp8yz0by7w71plgm-source"
        ])
    );
}

#[test]
fn each_fetch_happens_once_per_evaluation() {
    let store = TestStore::new();
    let server = FileServer::start(&store);
    let expr = format!(
        r#"let
          url = "{base}/files/hello.txt";
          tarball = "{base}/files/tree.tar.gz";
        in [
          (builtins.fetchurl url)
          (builtins.fetchurl {{ inherit url; }})
          (builtins.fetchurl url)
          (builtins.fetchTarball tarball)
          (builtins.fetchTarball {{ url = tarball; }})
          (builtins.fetchTree {{ type = "tarball"; url = tarball; }}).outPath
        ]"#,
        base = server.base,
    );
    evaluate(&store, &expr, options());
    assert_eq!(server.hits("/files/hello.txt"), 1);
    // fetchTree names its tree `source`, as fetchTarball does.
    assert_eq!(server.hits("/files/tree.tar.gz"), 1);

    // A new evaluation fetches again.
    evaluate(&store, &expr, options());
    assert_eq!(server.hits("/files/hello.txt"), 2);
}

#[test]
fn pinned_path_in_the_store_is_not_fetched_again() {
    let store = TestStore::new();
    let server = FileServer::start(&store);
    let fetch = |dir: &str| {
        format!(
            r#"builtins.fetchurl {{ url = "{base}/{dir}/hello.txt"; sha256 = "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq"; }}"#,
            base = server.base
        )
    };
    let path = serde_json::json!("/nix/store/gy454w1cxaq731grqwylhzf4pp9r5izh-hello.txt");
    assert_eq!(evaluate(&store, &fetch("files"), options()), path);
    // Nothing is served there: the path in the store is the answer.
    assert_eq!(evaluate(&store, &fetch("gone"), options()), path);
    assert_eq!(server.hits("/files/hello.txt"), 1);
}

#[test]
fn encoded_and_redirected_downloads() {
    let store = TestStore::new();
    let server = FileServer::start(&store);
    let expr = format!(
        r#"[
          (builtins.fetchurl "{base}/files/tree.tar")
          (builtins.fetchurl "{base}/gzip/tree.tar")
          (builtins.fetchurl "{base}/redirect/tree.tar")
        ]"#,
        base = server.base
    );
    let path = "/nix/store/c1fxa36rav0rflcqwdhkm36drd5682fx-tree.tar";
    assert_eq!(
        evaluate(&store, &expr, options()),
        serde_json::json!([path, path, path])
    );
    assert_eq!(server.hits("/gzip/tree.tar"), 1);
}

#[test]
fn bare_repository_reads_as_its_origin() {
    let store = TestStore::new();
    let expr = format!(
        r#"let
          bare = "{repos}/bare.git";
          repo = "{repos}/repo";
          one = "4688d5cd06761a26636b2eb99c7557c9d71698f1";
        in [
          ((builtins.fetchGit {{ url = bare; rev = one; }}) == (builtins.fetchGit {{ url = repo; rev = one; }}))
          ((builtins.fetchGit bare) == (builtins.fetchGit {{ url = repo; ref = "main"; }}))
          ((builtins.fetchGit {{ url = bare; ref = "feature"; }}) == (builtins.fetchGit {{ url = repo; ref = "feature"; }}))
        ]"#,
        repos = repos().display(),
    );
    assert_eq!(
        evaluate(&store, &expr, options()),
        serde_json::json!([true, true, true])
    );
}

#[test]
fn dirty_working_tree_warns() {
    let store = TestStore::new();
    let dirty = repos().join("dirty");
    let warnings = store.with_io(|io| {
        let warnings: Rc<std::cell::RefCell<Vec<String>>> = Rc::default();
        let sink = warnings.clone();
        let evaluator = tvix_glue::configure(Evaluator::builder(), io)
            .options(options())
            .on_diagnostic(Rc::new(move |d: &Diagnostic, _: &_| {
                if let Diagnostic::Warning { message, .. } = d {
                    sink.borrow_mut().push(message.clone());
                }
            }))
            .build();
        let expr = format!(
            "(builtins.fetchGit {}).rev",
            nix_string(&dirty.display().to_string())
        );
        let request = EvalRequest {
            strict: true,
            ..EvalRequest::default()
        };
        evaluator
            .eval_expr(&expr, Path::new("/"), &request)
            .expect("evaluates");
        warnings.take()
    });
    assert_eq!(
        warnings,
        vec![format!("Git tree '{}' is dirty", dirty.display())]
    );
}
