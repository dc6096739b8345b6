//! `fetchTree` and `fetchGit`, which CppNix implements as one function
//! (`fetchTree` in `fetchTree.cc`): the argument becomes a fetcher input
//! (tvix-eval's `fetch_input`, the rules flake references follow too),
//! which is checked, fetched and described by the attributes CppNix's
//! `emitTreeAttrs` gives (`outPath`, `narHash`, `rev`, `lastModified`, …).
//!
//! tvix fetches `file` and `tarball` inputs over HTTP(S) and `file://`,
//! and `git` inputs of local repositories; other input types are refused
//! once their arguments have been checked as CppNix checks them.

use std::rc::Rc;

use nix_compat::nixhash::{HashAlgo, NixHash};
use tvix_eval::builtins::fetch_input::{self, Attr, Attrs};
use tvix_eval::builtins::{Co, to_json_string};
use tvix_eval::errors::ResultExt;
use tvix_eval::value::NixString;
use tvix_eval::vm::ops::{Coercion, coerce_to_string};
use tvix_eval::{Diagnostic, Error, ErrorKind, NixAttrs, Value};
use tvix_eval_builtin_macros::builtins;

use super::errors::FetchArgError;
use super::import::store_path_value;
use crate::TvixStoreIO;
use crate::fetchers::{FetchedGit, GitRequest};
use crate::nix_hash;

/// The builtin, for its messages and defaults.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Caller {
    FetchTree,
    FetchGit,
}

impl Caller {
    fn name(self) -> &'static str {
        match self {
            Caller::FetchTree => "fetchTree",
            Caller::FetchGit => "fetchGit",
        }
    }
}

/// What was fetched, as `emitTreeAttrs` describes it.
#[derive(Default)]
struct Tree {
    out_path: Option<Value>,
    nar_sha256: [u8; 32],
    rev: Option<String>,
    rev_count: Option<u64>,
    last_modified: Option<u64>,
    dirty_rev: Option<String>,
}

/// A string or path argument, its text (paths are not copied).
async fn text_of(co: &Co, value: Value) -> Result<String, Error> {
    let text = match co.force(value).await? {
        Value::Path(path) => path.to_string_lossy().into_owned(),
        other => coerce_to_string(co, other, Coercion::Interpolation)
            .await?
            .to_string(),
    };
    Ok(text)
}

/// A string (or path) argument as input attributes: a URL, or for
/// `fetchGit` the repository.
async fn string_input(co: &Co, args: Value, caller: Caller) -> Result<Attrs, Error> {
    let options = &co.context().options;
    let url = text_of(co, args)
        .await
        .context("while evaluating the first argument passed to the fetcher")?;
    if caller == Caller::FetchTree {
        if !options.has_feature("flakes") {
            return Err(FetchArgError::StringNeedsFlakes(caller.name()).into());
        }
        return Ok(fetch_input::from_url(&url, options)?);
    }
    let mut attrs = Attrs::new();
    attrs.insert("type".into(), Attr::String("git".into()));
    attrs.insert("url".into(), Attr::String(fetch_input::fix_git_url(&url)));
    attrs.insert("exportIgnore".into(), Attr::Bool(true));
    Ok(attrs)
}

/// The argument as input attributes, before the scheme checks them.
async fn input_attrs(co: &Co, args: Value, caller: Caller) -> Result<Attrs, Error> {
    let who = caller.name();
    let args = match args {
        Value::Attrs(args) => args,
        other => return string_input(co, other, caller).await,
    };
    let mut attrs = Attrs::new();
    let input_type = match (args.get(b"type"), caller) {
        (Some(_), Caller::FetchGit) => return Err(FetchArgError::UnexpectedType.into()),
        (Some(value), Caller::FetchTree) => {
            let what = "while evaluating the `type` argument passed to 'fetchTree'";
            let text = co.force(value.clone()).await.context(what)?;
            super::derivation_env::without_context(&text.as_string().context(what)?)
                .context(what)?
        }
        (None, Caller::FetchGit) => "git".to_string(),
        (None, Caller::FetchTree) => return Err(FetchArgError::MissingType(who).into()),
    };
    attrs.insert("type".into(), Attr::String(input_type.clone()));
    for entry in args.entries() {
        let name = entry.name.to_string();
        if name == "type" {
            continue;
        }
        let attr = match co.force(entry.value.clone()).await? {
            value @ (Value::Path(_) | Value::String(_)) => {
                let text = text_of(co, value).await?;
                if caller == Caller::FetchGit && name == "url" {
                    Attr::String(fetch_input::fix_git_url(&text))
                } else {
                    Attr::String(text)
                }
            }
            Value::Bool(b) => Attr::Bool(b),
            Value::Int(n) => {
                Attr::Int(u64::try_from(n).map_err(|_| FetchArgError::NegativeValue {
                    who,
                    name: name.clone(),
                    value: n,
                })?)
            }
            // Signed commits' keys, as JSON (CppNix does not fetch them
            // without the feature either).
            other if name == "publicKeys" => {
                co.context().options.require_feature("verified-fetches")?;
                let mut context = Default::default();
                let json = to_json_string(co, other, &mut context).await?;
                Attr::String(String::from_utf8_lossy(&json).into_owned())
            }
            other => {
                return Err(FetchArgError::WrongAttrType {
                    name,
                    actual: other.describe().into_owned(),
                }
                .into());
            }
        };
        attrs.insert(name, attr);
    }
    if caller == Caller::FetchGit && !attrs.contains_key("exportIgnore") {
        let submodules = match attrs.get("submodules") {
            None => false,
            Some(Attr::Bool(b)) => *b,
            Some(_) => {
                return Err(ErrorKind::Builtin(
                    "input attribute 'submodules' is not a Boolean".into(),
                )
                .into());
            }
        };
        if !submodules {
            attrs.insert("exportIgnore".into(), Attr::Bool(true));
        }
    }
    if caller == Caller::FetchTree && input_type == "git" && !attrs.contains_key("shallow") {
        attrs.insert("shallow".into(), Attr::Bool(true));
    }
    if caller == Caller::FetchTree && attrs.contains_key("name") {
        return Err(FetchArgError::NameNotSupported(who).into());
    }
    Ok(attrs)
}

fn string_attr<'a>(attrs: &'a Attrs, name: &str) -> Option<&'a str> {
    match attrs.get(name) {
        Some(Attr::String(s)) => Some(s),
        _ => None,
    }
}

fn bool_attr(attrs: &Attrs, name: &str) -> bool {
    matches!(attrs.get(name), Some(Attr::Bool(true)))
}

/// Whether the input names exactly one tree (CppNix's `isLocked`): a git
/// revision, or a NAR hash for downloads.
fn is_locked(input: &Attrs) -> bool {
    match string_attr(input, "type") {
        Some("file" | "tarball" | "path") => input.contains_key("narHash"),
        _ => input.contains_key("rev"),
    }
}

/// Fetches what `input` (checked already) names.
fn fetch_checked(io: &TvixStoreIO, co: &Co, input: &Attrs) -> Result<Tree, Error> {
    let input_type = string_attr(input, "type").unwrap_or_default();
    let url = string_attr(input, "url").unwrap_or_default();
    match input_type {
        "file" => {
            let fetched = io.fetch_file(url, "source")?;
            let tree = io
                .add_file_as_tree(&fetched, "source")
                .map_err(super::errors::ImportError::from)?;
            Ok(Tree {
                out_path: Some(store_path_value(&tree)),
                nar_sha256: fetched.nar_sha256,
                ..Tree::default()
            })
        }
        "tarball" => {
            let fetched = io.fetch_tarball(url, "source")?;
            Ok(Tree {
                out_path: Some(store_path_value(&fetched.store_path)),
                nar_sha256: fetched.nar_sha256,
                last_modified: Some(fetched.last_modified),
                ..Tree::default()
            })
        }
        "git" => {
            if bool_attr(input, "submodules") {
                return Err(crate::fetchers::FetchError::GitSubmodules.into());
            }
            let request = GitRequest {
                url: url.to_string(),
                reference: string_attr(input, "ref").map(str::to_string),
                rev: string_attr(input, "rev").map(str::to_string),
                shallow: bool_attr(input, "shallow"),
                export_ignore: bool_attr(input, "exportIgnore"),
                name: string_attr(input, "name").unwrap_or("source").to_string(),
            };
            let fetched = io.fetch_git(&request)?;
            if let Some((path, _)) = &fetched.dirty {
                co.context().report(Diagnostic::Warning {
                    message: format!("Git tree '{path}' is dirty"),
                    span: None,
                });
            }
            Ok(git_tree(fetched))
        }
        other => Err(FetchArgError::UnsupportedInputType(other.to_string()).into()),
    }
}

fn git_tree(fetched: FetchedGit) -> Tree {
    let dirty_rev = fetched
        .dirty
        .as_ref()
        .and_then(|(_, head)| head.as_ref())
        .map(|head| head.to_string());
    Tree {
        out_path: Some(store_path_value(&fetched.store_path)),
        nar_sha256: fetched.nar_sha256,
        rev: fetched.rev.map(|rev| rev.to_string()),
        rev_count: fetched.rev_count,
        last_modified: Some(fetched.last_modified),
        dirty_rev,
    }
}

/// `YYYYMMDDHHMMSS` of a time in seconds since the epoch, in UTC.
fn date_string(seconds: u64) -> String {
    let days = seconds / 86400;
    let rest = seconds % 86400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The first seven digits of a revision.
fn short_rev(rev: &str) -> String {
    rev.chars().take(7).collect()
}

/// CppNix's `emitTreeAttrs`: `fetchGit` falls back to a revision of zeroes
/// and a count of 0.
fn tree_attrs(tree: Tree, input: &Attrs, caller: Caller) -> Value {
    let fallback = caller == Caller::FetchGit;
    let mut out: Vec<(NixString, Value)> = Vec::new();
    let mut put = |name: &str, value: Value| out.push((NixString::from(name), value));
    put("outPath", tree.out_path.unwrap_or_default());
    put(
        "narHash",
        Value::string(NixHash::Sha256(tree.nar_sha256).to_sri_string()),
    );
    if string_attr(input, "type") == Some("git") {
        put("submodules", Value::Bool(bool_attr(input, "submodules")));
    }
    let rev = match (tree.rev, fallback) {
        (Some(rev), _) => Some(rev),
        (None, true) => Some("0".repeat(40)),
        (None, false) => None,
    };
    if let Some(rev) = rev {
        put("shortRev", Value::string(short_rev(&rev)));
        put("rev", Value::string(rev));
    }
    match (tree.rev_count, fallback) {
        (Some(count), _) => put("revCount", Value::Int(count as i64)),
        (None, true) => put("revCount", Value::Int(0)),
        (None, false) => {}
    }
    if let Some(head) = tree.dirty_rev {
        put(
            "dirtyShortRev",
            Value::string(format!("{}-dirty", short_rev(&head))),
        );
        put("dirtyRev", Value::string(format!("{head}-dirty")));
    }
    if let Some(time) = tree.last_modified {
        put("lastModified", Value::Int(time as i64));
        put("lastModifiedDate", Value::string(date_string(time)));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Attrs(NixAttrs::from_sorted_unique(out))
}

/// CppNix's `fetchTree`.
async fn fetch_tree(
    io: &TvixStoreIO,
    co: &Co,
    args: Value,
    caller: Caller,
) -> Result<Value, Error> {
    let who = caller.name();
    let attrs = input_attrs(co, args, caller).await?;
    let options = &co.context().options;
    let input = fetch_input::from_attrs(attrs, options)?;
    let shown = fetch_input::to_url_string(&input)?;
    if options.pure && !is_locked(&input) {
        return Err(FetchArgError::PureUnlocked { who, input: shown }.into());
    }
    let while_fetching = format!("while fetching the input '{shown}'");
    let tree = fetch_checked(io, co, &input).map_err(|e| e.context(while_fetching.clone()))?;
    if let Some(expected) = string_attr(&input, "narHash") {
        let expected = nix_hash::parse_allow_empty(expected, Some(HashAlgo::Sha256))
            .map_err(FetchArgError::from)?
            .hash;
        let got = NixHash::Sha256(tree.nar_sha256);
        if expected != got {
            return Err(Error::from(FetchArgError::NarHashMismatch {
                input: shown,
                expected: expected.to_sri_string(),
                got: got.to_sri_string(),
            })
            .context(while_fetching));
        }
    }
    Ok(tree_attrs(tree, &input, caller))
}

#[builtins(state = Rc<TvixStoreIO>)]
pub(super) mod fetch_tree_builtins {
    use super::*;

    /// Fetches a tree into the store and describes it: a `file`, a
    /// `tarball` or a local `git` repository, given as input attributes
    /// (`{ type = "git"; url = …; rev = …; }`) or, with the `flakes`
    /// experimental feature, a URL. Needs `fetch-tree` (or `flakes`).
    #[builtin("fetchTree", feature = "fetch-tree")]
    async fn builtin_fetch_tree(io: Rc<TvixStoreIO>, co: &Co, args: Value) -> Result<Value, Error> {
        fetch_tree(&io, co, args, Caller::FetchTree).await
    }

    /// Copies a revision, or the working tree, of a local git repository
    /// into the store: `fetchGit path`, or `fetchGit { url; ref ? …; rev ?
    /// …; shallow ? false; name ? "source"; }`.
    #[builtin("fetchGit")]
    async fn builtin_fetch_git(io: Rc<TvixStoreIO>, co: &Co, args: Value) -> Result<Value, Error> {
        fetch_tree(&io, co, args, Caller::FetchGit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    // `lastModifiedDate` of `fetchGit` on commits made at these times.
    #[rstest]
    #[case::epoch(0, "19700101000000")]
    #[case::new_year_2020(1_577_836_800, "20200101000000")]
    #[case::february_2021(1_612_325_106, "20210203040506")]
    #[case::leap_day(1_709_208_000, "20240229120000")]
    fn dates(#[case] seconds: u64, #[case] expected: &str) {
        assert_eq!(date_string(seconds), expected);
    }
}
