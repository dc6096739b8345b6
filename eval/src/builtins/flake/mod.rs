//! Flake references: `parseFlakeRef` and `flakeRefToString`, which exist
//! only with the `flakes` experimental feature, as in CppNix.
//!
//! A flake reference is text (`github:NixOS/nixpkgs/23.05?dir=lib`) or an
//! attribute set of strings, integers and Booleans (`{ type = "github";
//! owner = "NixOS"; … }`). This module converts between the two the way
//! CppNix 2.26's fetchers do, scheme by scheme (`schemes.rs`), over its URL
//! syntax (`url.rs`), without fetching anything: no registry lookups, no
//! store, no file access (a relative path is an error, as it is for
//! CppNix without a base directory).

pub mod input;
mod schemes;
mod url;

use std::collections::BTreeMap;

use tvix_eval_builtin_macros::builtins;

use super::context::string_without_context;
use crate::errors::{Error, ErrorKind};
use crate::value::{NixAttrs, NixString, Value};
use crate::vm::EvalOptions;
use crate::vm::generators::Co;
use url::ParsedUrl;

pub(super) use impls::builtins;

/// One attribute of a flake reference or fetcher input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attr {
    String(String),
    Int(u64),
    Bool(bool),
}

/// The attributes of a flake reference, sorted as CppNix keeps them.
pub type Attrs = BTreeMap<String, Attr>;

/// Why a flake reference is refused. CppNix tries the next reading of a
/// reference after a `BadUrl` (a URL, then a path), and reports the rest.
#[derive(Clone, Debug)]
enum FlakeError {
    BadUrl(String),
    Eval(ErrorKind),
}

impl From<ErrorKind> for FlakeError {
    fn from(e: ErrorKind) -> Self {
        FlakeError::Eval(e)
    }
}

impl From<FlakeError> for ErrorKind {
    fn from(e: FlakeError) -> Self {
        match e {
            FlakeError::BadUrl(message) => ErrorKind::Builtin(message),
            FlakeError::Eval(kind) => kind,
        }
    }
}

/// An error CppNix reports as it is (not a `BadURL`).
fn fail(message: String) -> FlakeError {
    FlakeError::Eval(ErrorKind::Builtin(message))
}

/// A flake id, `[a-zA-Z][a-zA-Z0-9_-]*`.
fn is_flake_id(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|c| c.is_ascii_alphabetic())
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// A branch or tag name, `[a-zA-Z0-9@][a-zA-Z0-9_./@+-]*`.
fn is_ref_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'@')
        && bytes.all(|c| c.is_ascii_alphanumeric() || b"_./@+-".contains(&c))
}

/// A full commit hash, 40 hexadecimal digits.
fn is_rev(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// A flake reference: the input's attributes and the `dir` inside it.
struct FlakeRef {
    input: Attrs,
    dir: String,
}

impl FlakeRef {
    /// CppNix's `parseFlakeRef` without a base directory: a flake id
    /// (`nixpkgs/branch`), else a URL, else an absolute path.
    fn parse(text: &str, options: &EvalOptions) -> Result<FlakeRef, FlakeError> {
        let (flake_ref, fragment) = match Self::parse_flake_id(text, options)? {
            Some(parsed) => parsed,
            None => match Self::parse_url(text, options) {
                Ok(parsed) => parsed,
                Err(FlakeError::BadUrl(_)) => Self::parse_path(text, options)?,
                Err(e) => return Err(e),
            },
        };
        if !fragment.is_empty() {
            return Err(fail(format!(
                "unexpected fragment '{fragment}' in flake reference '{text}'"
            )));
        }
        Ok(flake_ref)
    }

    /// `id[/ref-or-rev][#fragment]`, the form of a registry lookup.
    fn parse_flake_id(
        text: &str,
        options: &EvalOptions,
    ) -> Result<Option<(FlakeRef, String)>, FlakeError> {
        let (body, fragment) = match text.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (text, None),
        };
        let (id, rest) = match body.split_once('/') {
            Some((id, rest)) => (id, Some(rest)),
            None => (body, None),
        };
        let fragment_ok = fragment.is_none_or(url::valid_fragment);
        if !is_flake_id(id) || !rest.is_none_or(is_ref_name) || !fragment_ok {
            return Ok(None);
        }
        let url = ParsedUrl::new("flake", Some(""), body);
        let input = schemes::input_from_url(&url, options)?;
        let fragment = url::percent_decode(fragment.unwrap_or_default())?;
        Ok(Some((
            FlakeRef {
                input,
                dir: String::new(),
            },
            fragment,
        )))
    }

    fn parse_url(text: &str, options: &EvalOptions) -> Result<(FlakeRef, String), FlakeError> {
        Self::from_parsed_url(ParsedUrl::parse(text)?, options)
    }

    /// An absolute path, with a query and fragment: the path is taken as
    /// it is (not decoded, not canonicalised).
    fn parse_path(text: &str, options: &EvalOptions) -> Result<(FlakeRef, String), FlakeError> {
        let (path, query_and_fragment) = match text.find(['?', '#']) {
            Some(at) => text.split_at(at),
            None => (text, ""),
        };
        let (query, fragment) = match query_and_fragment.split_once('#') {
            Some((q, f)) => (q, f),
            None => (query_and_fragment, ""),
        };
        if !path.starts_with('/') {
            return Err(FlakeError::BadUrl(format!(
                "flake reference '{text}' is not an absolute path"
            )));
        }
        let mut url = ParsedUrl::new("path", Some(""), path);
        url.query = url::decode_query(query.strip_prefix('?').unwrap_or(query))?;
        url.fragment = url::percent_decode(fragment)?;
        url.url = url.to_url_string();
        Self::from_parsed_url(url, options)
    }

    /// CppNix's `fromParsedURL`: `dir` and the fragment are the flake
    /// reference's, the rest the input's.
    fn from_parsed_url(
        mut url: ParsedUrl,
        options: &EvalOptions,
    ) -> Result<(FlakeRef, String), FlakeError> {
        let dir = url.query.remove("dir").unwrap_or_default();
        let fragment = std::mem::take(&mut url.fragment);
        let input = schemes::input_from_url(&url, options)?;
        Ok((FlakeRef { input, dir }, fragment))
    }

    /// CppNix's `FlakeRef::fromAttrs`.
    fn from_attrs(mut attrs: Attrs, options: &EvalOptions) -> Result<FlakeRef, FlakeError> {
        let dir = schemes::maybe_get_str(&attrs, "dir")?
            .unwrap_or_default()
            .to_string();
        attrs.remove("dir");
        Ok(FlakeRef {
            input: schemes::input_from_attrs(attrs, options)?,
            dir,
        })
    }

    /// CppNix's `FlakeRef::toAttrs`.
    fn into_attrs(self) -> Attrs {
        let mut attrs = self.input;
        if !self.dir.is_empty() {
            attrs.insert("dir".into(), Attr::String(self.dir));
        }
        attrs
    }

    /// CppNix's `FlakeRef::to_string`.
    fn to_url_string(&self) -> Result<String, FlakeError> {
        let mut url = schemes::to_url(&self.input)?;
        if !self.dir.is_empty() {
            url.query
                .entry("dir".into())
                .or_insert_with(|| self.dir.clone());
        }
        Ok(url.to_url_string())
    }
}

#[builtins]
mod impls {
    use super::*;

    /// Parses a flake reference into its attributes:
    /// `parseFlakeRef "github:NixOS/nixpkgs/23.05?dir=lib"` is
    /// `{ dir = "lib"; owner = "NixOS"; ref = "23.05"; repo = "nixpkgs";
    /// type = "github"; }`. Needs the `flakes` experimental feature.
    #[builtin("parseFlakeRef", feature = "flakes")]
    async fn builtin_parse_flake_ref(co: &Co, flake_ref: Value) -> Result<Value, Error> {
        let text = string_without_context(&flake_ref)?;
        let attrs = FlakeRef::parse(&text.to_str_lossy(), &co.context().options)
            .map_err(ErrorKind::from)?
            .into_attrs();
        Ok(Value::Attrs(NixAttrs::from_sorted_unique(
            attrs
                .into_iter()
                .map(|(name, attr)| {
                    let value = match attr {
                        Attr::String(s) => Value::string(s),
                        // CppNix stores the unsigned value in its signed
                        // integer.
                        Attr::Int(n) => Value::Int(n as i64),
                        Attr::Bool(b) => Value::Bool(b),
                    };
                    (NixString::from(name), value)
                })
                .collect(),
        )))
    }

    /// The text of a flake reference given as attributes, the inverse of
    /// `parseFlakeRef`. The attributes are not forced: each must already
    /// be a string, a non-negative integer or a Boolean. Needs the
    /// `flakes` experimental feature.
    #[builtin("flakeRefToString", feature = "flakes")]
    async fn builtin_flake_ref_to_string(co: &Co, attrs: Value) -> Result<Value, Error> {
        let mut converted = Attrs::new();
        for (name, value) in attrs.as_attrs()?.iter() {
            let attr = match value.resolved() {
                Value::Int(n) => Attr::Int(u64::try_from(n).map_err(|_| {
                    ErrorKind::Builtin(format!(
                        "negative value given for flake ref attr {name}: {n}"
                    ))
                })?),
                Value::Bool(b) => Attr::Bool(b),
                Value::String(s) => Attr::String(s.to_string()),
                other => {
                    return Err(ErrorKind::Builtin(format!(
                        "flake reference attribute sets may only contain integers, Booleans, and strings, but attribute '{name}' is {}",
                        other.describe()
                    ))
                    .into());
                }
            };
            converted.insert(name.to_string(), attr);
        }
        let text = FlakeRef::from_attrs(converted, &co.context().options)
            .and_then(|r| r.to_url_string())
            .map_err(ErrorKind::from)?;
        Ok(Value::string(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Renders attributes as `parseFlakeRef`'s result prints.
    fn show(attrs: &Attrs) -> String {
        let fields: Vec<String> = attrs
            .iter()
            .map(|(k, v)| match v {
                Attr::String(s) => format!("{k} = {s:?};"),
                Attr::Int(n) => format!("{k} = {n};"),
                Attr::Bool(b) => format!("{k} = {b};"),
            })
            .collect();
        format!("{{ {} }}", fields.join(" "))
    }

    // `modern-nix nix-instantiate --extra-experimental-features flakes
    // --eval --strict -E 'builtins.parseFlakeRef "<ref>"'` (CppNix 2.26).
    #[rstest]
    #[case::github_ref_dir(
        "github:NixOS/nixpkgs/23.05?dir=lib",
        r#"{ dir = "lib"; owner = "NixOS"; ref = "23.05"; repo = "nixpkgs"; type = "github"; }"#
    )]
    #[case::github_rev_upper("github:NixOS/nixpkgs/A3A3DDA3BACF61E8A39258A0ED9C924EECA8E293", r#"{ owner = "NixOS"; repo = "nixpkgs"; rev = "a3a3dda3bacf61e8a39258a0ed9c924eeca8e293"; type = "github"; }"#)]
    #[case::github_slash_ref(
        "github:a/b/c/d",
        r#"{ owner = "a"; ref = "c/d"; repo = "b"; type = "github"; }"#
    )]
    #[case::github_host_narhash("github:NixOS/nixpkgs?host=example.com&narHash=sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", r#"{ host = "example.com"; narHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; owner = "NixOS"; repo = "nixpkgs"; type = "github"; }"#)]
    #[case::github_first_ref_wins(
        "github:NixOS/nixpkgs?ref=a&ref=b",
        r#"{ owner = "NixOS"; ref = "a"; repo = "nixpkgs"; type = "github"; }"#
    )]
    #[case::github_empty_dir(
        "github:NixOS/nixpkgs/?dir=",
        r#"{ owner = "NixOS"; repo = "nixpkgs"; type = "github"; }"#
    )]
    #[case::sourcehut(
        "sourcehut:~a/b/c?host=git.example.org",
        r#"{ host = "git.example.org"; owner = "~a"; ref = "c"; repo = "b"; type = "sourcehut"; }"#
    )]
    #[case::indirect("nixpkgs", r#"{ id = "nixpkgs"; type = "indirect"; }"#)]
    #[case::indirect_ref(
        "nixpkgs/nixos-23.05",
        r#"{ id = "nixpkgs"; ref = "nixos-23.05"; type = "indirect"; }"#
    )]
    #[case::indirect_url_rev("flake:nixpkgs/a3a3dda3bacf61e8a39258a0ed9c924eeca8e293", r#"{ id = "nixpkgs"; rev = "a3a3dda3bacf61e8a39258a0ed9c924eeca8e293"; type = "indirect"; }"#)]
    #[case::git_https("git+https://github.com/NixOS/patchelf?ref=master&rev=f34751b88bd07d7f44f5cd3200fb4122bf916c7e", r#"{ ref = "master"; rev = "f34751b88bd07d7f44f5cd3200fb4122bf916c7e"; type = "git"; url = "https://github.com/NixOS/patchelf"; }"#)]
    #[case::git_bools("git+https://example.org/repo?shallow=1&submodules=true&allRefs=1", r#"{ allRefs = true; shallow = true; submodules = false; type = "git"; url = "https://example.org/repo"; }"#)]
    #[case::git_keeps_other_params(
        "git+https://example.org/repo?lastModified=x",
        r#"{ type = "git"; url = "https://example.org/repo?lastModified=x"; }"#
    )]
    #[case::git_decoded_ref(
        "git+https://example.org/a%20b?ref=a%2Fb",
        r#"{ ref = "a/b"; type = "git"; url = "https://example.org/a%20b"; }"#
    )]
    #[case::git_file(
        "git+file:///tmp/repo",
        r#"{ type = "git"; url = "file:///tmp/repo"; }"#
    )]
    #[case::hg(
        "hg+https://example.org/repo?ref=x",
        r#"{ ref = "x"; type = "hg"; url = "https://example.org/repo"; }"#
    )]
    #[case::path_url("path:/tmp?lastModified=5&narHash=sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", r#"{ lastModified = 5; narHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; path = "/tmp"; type = "path"; }"#)]
    #[case::path_url_raw("path:/tmp/../x//y/", r#"{ path = "/tmp/../x//y/"; type = "path"; }"#)]
    #[case::path_relative_url("path:tmp", r#"{ path = "tmp"; type = "path"; }"#)]
    #[case::bare_path_dir(
        "/tmp/../x?dir=a/b#",
        r#"{ dir = "a/b"; path = "/tmp/../x"; type = "path"; }"#
    )]
    #[case::bare_path_not_decoded(
        "/a%20b?rev=x#",
        r#"{ path = "/a%20b"; rev = "x"; type = "path"; }"#
    )]
    #[case::bare_path_space("/a b", r#"{ path = "/a b"; type = "path"; }"#)]
    #[case::tarball_by_extension(
        "https://github.com/NixOS/patchelf/archive/master.tar.gz",
        r#"{ type = "tarball"; url = "https://github.com/NixOS/patchelf/archive/master.tar.gz"; }"#
    )]
    #[case::tarball_plain_https(
        "https://example.org/x",
        r#"{ type = "tarball"; url = "https://example.org/x"; }"#
    )]
    #[case::tarball_narhash(
        "tarball+https://example.org/x?narHash=foo",
        r#"{ narHash = "foo"; type = "tarball"; url = "https://example.org/x"; }"#
    )]
    #[case::file(
        "file+https://example.org/x",
        r#"{ type = "file"; url = "https://example.org/x"; }"#
    )]
    #[case::git_file_without_slashes(
        "git+file:/tmp/r",
        r#"{ type = "git"; url = "file:/tmp/r"; }"#
    )]
    #[case::git_plain(
        "git://example.org/repo",
        r#"{ type = "git"; url = "git://example.org/repo"; }"#
    )]
    #[case::hg_keeps_other_params(
        "hg+ssh://example.org/repo?rev=abc&x=1",
        r#"{ rev = "abc"; type = "hg"; url = "ssh://example.org/repo?x=1"; }"#
    )]
    #[case::tarball_drops_its_params("https://example.org/x.tar.gz?narHash=sha256-47DEQpj8HBSa%2B/TImW%2B5JCeuQeRkm5NMpJWZG3hSuFU%3D&foo=bar", r#"{ narHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; type = "tarball"; url = "https://example.org/x.tar.gz?foo=bar"; }"#)]
    #[case::git_lfs_stays_in_url(
        "git+https://example.org/r?lfs=1&exportIgnore=1",
        r#"{ exportIgnore = true; type = "git"; url = "https://example.org/r?lfs=1"; }"#
    )]
    fn parses(#[case] text: &str, #[case] expected: &str) {
        let attrs =
            FlakeRef::parse(text, &EvalOptions::default()).expect("a valid flake reference");
        assert_eq!(show(&attrs.into_attrs()), expected);
    }

    // The messages of the same command.
    #[rstest]
    #[case::ref_and_rev(
        "github:NixOS/nixpkgs?ref=foo&rev=a3a3dda3bacf61e8a39258a0ed9c924eeca8e293",
        "flake reference 'github:NixOS/nixpkgs?ref=foo&rev=a3a3dda3bacf61e8a39258a0ed9c924eeca8e293' is not an absolute path"
    )]
    #[case::github_one_part("github:a", "flake reference 'github:a' is not an absolute path")]
    #[case::relative("./.", "flake reference './.' is not an absolute path")]
    #[case::empty("", "flake reference '' is not an absolute path")]
    #[case::query_on_id(
        "nixpkgs?dir=x",
        "flake reference 'nixpkgs?dir=x' is not an absolute path"
    )]
    #[case::unsupported("foo:bar", "input 'foo:bar' is unsupported")]
    #[case::fragment(
        "nixpkgs#a%20b",
        "unexpected fragment 'a b' in flake reference 'nixpkgs#a%20b'"
    )]
    #[case::path_fragment("/tmp#x", "unexpected fragment 'x' in flake reference '/tmp#x'")]
    #[case::bad_rev(
        "github:NixOS/nixpkgs?rev=abc",
        "hash 'abc' has wrong length for hash algorithm 'sha1'"
    )]
    #[case::id_too_long("nixpkgs/a/b/c", "GitHub URL 'flake://nixpkgs/a/b/c' is invalid")]
    #[case::id_not_a_rev(
        "nixpkgs/a3a3dda3bacf61e8a39258a0ed9c924eeca8e293/x",
        "in flake URL 'flake://nixpkgs/a3a3dda3bacf61e8a39258a0ed9c924eeca8e293/x', 'x' is not a commit hash"
    )]
    #[case::path_param(
        "path:/tmp?foo=1",
        "path URL 'path:/tmp?foo=1' has unsupported parameter 'foo'"
    )]
    #[case::bare_path_param(
        "/tmp?foo=1",
        "path URL 'path:///tmp?foo=1' has unsupported parameter 'foo'"
    )]
    #[case::path_bad_int(
        "path:/tmp?lastModified=x",
        "path URL 'path:/tmp?lastModified=x' has invalid parameter 'lastModified'"
    )]
    #[case::signed_git_needs_feature(
        "git+https://example.org/r?verifyCommit=1",
        "experimental Nix feature 'verified-fetches' is disabled; add '--extra-experimental-features verified-fetches' to enable it"
    )]
    fn refuses(#[case] text: &str, #[case] message: &str) {
        let err = FlakeRef::parse(text, &EvalOptions::default())
            .err()
            .map(|e| ErrorKind::from(e).to_string());
        assert_eq!(err.as_deref(), Some(message));
    }

    fn attrs(entries: &[(&str, Attr)]) -> Attrs {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn s(text: &str) -> Attr {
        Attr::String(text.into())
    }

    // `... -E 'builtins.flakeRefToString { … }'`.
    #[rstest]
    #[case::github(attrs(&[("type", s("github")), ("owner", s("NixOS")), ("repo", s("nixpkgs")), ("ref", s("23.05")), ("dir", s("lib"))]), "github:NixOS/nixpkgs/23.05?dir=lib")]
    #[case::github_rev_narhash(attrs(&[("type", s("github")), ("owner", s("NixOS")), ("repo", s("nixpkgs")), ("rev", s("a3a3dda3bacf61e8a39258a0ed9c924eeca8e293")), ("narHash", s("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="))]), "github:NixOS/nixpkgs/a3a3dda3bacf61e8a39258a0ed9c924eeca8e293?narHash=sha256-47DEQpj8HBSa%2B/TImW%2B5JCeuQeRkm5NMpJWZG3hSuFU%3D")]
    #[case::github_drops_host(attrs(&[("type", s("github")), ("owner", s("NixOS")), ("repo", s("nixpkgs")), ("host", s("example.com"))]), "github:NixOS/nixpkgs")]
    #[case::github_encoded_ref(attrs(&[("type", s("github")), ("owner", s("NixOS")), ("repo", s("x")), ("ref", s("a b"))]), "github:NixOS/x/a%20b")]
    #[case::indirect(attrs(&[("type", s("indirect")), ("id", s("nixpkgs"))]), "flake:nixpkgs")]
    #[case::indirect_ref_rev(attrs(&[("type", s("indirect")), ("id", s("nixpkgs")), ("ref", s("x")), ("rev", s("a3a3dda3bacf61e8a39258a0ed9c924eeca8e293"))]), "flake:nixpkgs/x/a3a3dda3bacf61e8a39258a0ed9c924eeca8e293")]
    #[case::git(attrs(&[("type", s("git")), ("url", s("https://example.org/repo")), ("ref", s("master")), ("shallow", Attr::Bool(true)), ("submodules", Attr::Bool(false))]), "git+https://example.org/repo?ref=master&shallow=1")]
    #[case::git_scp(attrs(&[("type", s("git")), ("url", s("git@github.com:a/b"))]), "git+ssh://git@github.com/a/b")]
    #[case::git_local(attrs(&[("type", s("git")), ("url", s("/tmp/x"))]), "git+file:///tmp/x")]
    #[case::path(attrs(&[("type", s("path")), ("path", s("/tmp")), ("lastModified", Attr::Int(5))]), "path:/tmp?lastModified=5")]
    #[case::path_dir(attrs(&[("type", s("path")), ("path", s("/x")), ("narHash", s("x")), ("dir", s("d"))]), "path:/x?dir=d&narHash=x")]
    #[case::path_space(attrs(&[("type", s("path")), ("path", s("/a b"))]), "path:/a%20b")]
    #[case::tarball(attrs(&[("type", s("tarball")), ("url", s("https://example.org/x.tar.gz"))]), "https://example.org/x.tar.gz")]
    #[case::file(attrs(&[("type", s("file")), ("url", s("https://example.org/x"))]), "https://example.org/x")]
    #[case::hg(attrs(&[("type", s("hg")), ("url", s("https://example.org/r"))]), "hg+https://example.org/r")]
    #[case::sourcehut(attrs(&[("type", s("sourcehut")), ("owner", s("~a")), ("repo", s("b"))]), "sourcehut:~a/b")]
    #[case::path_rev_not_parsed(attrs(&[("type", s("path")), ("path", s("rel")), ("revCount", Attr::Int(3)), ("rev", s("x"))]), "path:rel?rev=x&revCount=3")]
    #[case::git_upper_rev(attrs(&[("type", s("git")), ("url", s("https://example.org/r")), ("rev", s("A3A3DDA3BACF61E8A39258A0ED9C924EECA8E293")), ("allRefs", Attr::Bool(true))]), "git+https://example.org/r?rev=a3a3dda3bacf61e8a39258a0ed9c924eeca8e293")]
    #[case::git_export_ignore(attrs(&[("type", s("git")), ("url", s("https://example.org/r")), ("exportIgnore", Attr::Bool(true))]), "git+https://example.org/r?exportIgnore=1")]
    fn prints(#[case] attrs: Attrs, #[case] expected: &str) {
        let text = FlakeRef::from_attrs(attrs, &EvalOptions::default())
            .and_then(|r| r.to_url_string())
            .map_err(|e| ErrorKind::from(e).to_string());
        assert_eq!(text, Ok(expected.to_string()));
    }

    #[rstest]
    #[case::missing_repo(attrs(&[("type", s("github")), ("owner", s("NixOS"))]), "input attribute 'repo' is missing")]
    #[case::repo_not_a_string(attrs(&[("type", s("github")), ("owner", s("NixOS")), ("repo", Attr::Int(1))]), r#"input attribute 'repo' is not a string {"owner":"NixOS","repo":1,"type":"github"}"#)]
    #[case::unknown_type(attrs(&[("type", s("foo"))]), r#"cannot show unsupported input '{"type":"foo"}'"#)]
    #[case::no_type(attrs(&[]), "'type' attribute to specify input scheme is required but not provided")]
    #[case::type_not_a_string(attrs(&[("type", Attr::Int(1))]), r#"input attribute 'type' is not a string {"type":1}"#)]
    #[case::unknown_attr(attrs(&[("type", s("github")), ("owner", s("NixOS")), ("repo", s("x")), ("foo", s("bar"))]), "input attribute 'foo' not supported by scheme 'github'")]
    #[case::path_shallow(attrs(&[("type", s("path")), ("path", s("/x")), ("shallow", Attr::Bool(true))]), "input attribute 'shallow' not supported by scheme 'path'")]
    #[case::bad_url(attrs(&[("type", s("git")), ("url", s("https://example.org/a b?x=1"))]), "'https://example.org/a b?x=1' is not a valid URL")]
    #[case::bad_flake_id(attrs(&[("type", s("indirect")), ("id", s("1x"))]), "'1x' is not a valid flake ID")]
    #[case::narhash_sha1(attrs(&[("type", s("github")), ("owner", s("a")), ("repo", s("b")), ("narHash", s("sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk="))]), "narHash must use SHA-256")]
    #[case::bad_rev(attrs(&[("type", s("github")), ("owner", s("a")), ("repo", s("b")), ("rev", s("abc"))]), "hash 'abc' has wrong length for hash algorithm 'sha1'")]
    #[case::git_lfs(attrs(&[("type", s("git")), ("url", s("https://example.org/r")), ("lfs", Attr::Bool(true))]), "input attribute 'lfs' not supported by scheme 'git'")]
    #[case::dir_not_a_string(attrs(&[("type", s("path")), ("path", s("/x")), ("dir", Attr::Int(1))]), r#"input attribute 'dir' is not a string {"dir":1,"path":"/x","type":"path"}"#)]
    fn cannot_print(#[case] attrs: Attrs, #[case] message: &str) {
        let err = FlakeRef::from_attrs(attrs, &EvalOptions::default())
            .and_then(|r| r.to_url_string())
            .err()
            .map(|e| ErrorKind::from(e).to_string());
        assert_eq!(err.as_deref(), Some(message));
    }
}
