//! `fetchurl` and `fetchTarball`, which CppNix implements as one function
//! (`fetch` in `fetchTree.cc`): a URL, or `{ url; sha256 ? …; name ? …; }`;
//! the download added flat (`fetchurl`, named after the URL) or unpacked
//! (`fetchTarball`, named `source`); with `sha256` the path it must give is
//! known first, so a path the store holds is not fetched again, and a
//! different result is an error. Pure evaluation needs `sha256`. And
//! `fetchMercurial`, which tvix does not do.

use std::rc::Rc;

use nix_compat::nixhash::{CAHash, HashAlgo, NixHash};
use nix_compat::store_path::build_ca_path;
use tvix_eval::builtins::Co;
use tvix_eval::errors::ResultExt;
use tvix_eval::{Diagnostic, Error, Value};
use tvix_eval_builtin_macros::builtins;

use super::derivation_env::without_context;
use super::errors::{FetchArgError, ImportError, check_name};
use super::import::store_path_value;
use crate::TvixStoreIO;
use crate::nix_hash;

/// `fetchurl` or `fetchTarball`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Url,
    Tarball,
}

impl Builtin {
    fn name(self) -> &'static str {
        match self {
            Builtin::Url => "fetchurl",
            Builtin::Tarball => "fetchTarball",
        }
    }
}

/// What the argument asks for.
struct Request {
    url: String,
    expected: Option<NixHash>,
    /// Empty unless given (then named after the URL).
    name: String,
    name_given: bool,
    as_attrs: bool,
}

/// A string argument that must not refer to store paths, evaluated as
/// `what` says.
async fn string_argument(co: &Co, value: Value, what: &'static str) -> Result<String, Error> {
    let forced = co.force(value).await.context(what)?;
    let text = forced.as_string().context(what)?;
    without_context(&text).context(what)
}

/// Reads the argument (forced already) as CppNix does: `name` first (its
/// symbol comes first in CppNix's sets), then the others.
async fn read_request(co: &Co, args: Value, fetcher: Builtin) -> Result<Request, Error> {
    const URL: &str = "while evaluating the url we should fetch";
    let Value::Attrs(attrs) = &args else {
        return Ok(Request {
            url: string_argument(co, args, URL).await?,
            expected: None,
            name: String::new(),
            name_given: false,
            as_attrs: false,
        });
    };
    let mut request = Request {
        url: String::new(),
        expected: None,
        name: String::new(),
        name_given: false,
        as_attrs: true,
    };
    let mut url = None;
    let name_first = attrs.entries().filter(|e| e.name.as_bytes() == b"name");
    let others = attrs.entries().filter(|e| e.name.as_bytes() != b"name");
    for entry in name_first.chain(others) {
        let value = entry.value.clone();
        match entry.name.as_bytes() {
            b"url" => url = Some(string_argument(co, value, URL).await?),
            b"sha256" => {
                let what = "while evaluating the sha256 of the content we should fetch";
                let text = string_argument(co, value, what).await?;
                let parsed = nix_hash::parse_allow_empty(&text, Some(HashAlgo::Sha256))
                    .map_err(FetchArgError::from)?;
                if let Some(warning) = parsed.warning {
                    co.context().report(Diagnostic::Warning {
                        message: warning,
                        span: None,
                    });
                }
                request.expected = Some(parsed.hash);
            }
            b"name" => {
                let what = "while evaluating the name of the content we should fetch";
                request.name = string_argument(co, value, what).await?;
                request.name_given = true;
            }
            other => {
                return Err(FetchArgError::UnsupportedArgument {
                    name: String::from_utf8_lossy(other).into_owned(),
                    who: fetcher.name(),
                }
                .into());
            }
        }
    }
    request.url = url.ok_or(FetchArgError::UrlRequired)?;
    Ok(request)
}

/// CppNix's `baseNameOf` of a URL: its last component, a trailing slash
/// ignored.
fn base_name(url: &str) -> &str {
    let trimmed = url.strip_suffix('/').unwrap_or(url);
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// `channel:NAME`, which `fetchTarball` takes for the channel's tarball.
fn resolve_pseudo_url(url: String) -> String {
    match url.strip_prefix("channel:") {
        Some(channel) => format!("https://nixos.org/channels/{channel}/nixexprs.tar.xz"),
        None => url,
    }
}

/// CppNix's `fetch`.
async fn fetch(io: &TvixStoreIO, co: &Co, args: Value, fetcher: Builtin) -> Result<Value, Error> {
    let mut request = read_request(co, args, fetcher).await?;
    if fetcher == Builtin::Tarball {
        request.url = resolve_pseudo_url(request.url);
        if !request.name_given {
            request.name = "source".into();
        }
    }
    let url = request.url;
    let name = match request.name.as_str() {
        "" => base_name(&url).to_string(),
        given => given.to_string(),
    };
    if let Some(reason) = check_name(&name) {
        let who = fetcher.name();
        let resolution = if request.name_given {
            format!(
                "Please change the value for the 'name' attribute passed to '{who}', so that it can create a valid store path."
            )
        } else if request.as_attrs {
            format!(
                "Please add a valid 'name' attribute to the argument for '{who}', so that it can create a valid store path."
            )
        } else {
            // Two spaces, as in CppNix.
            format!(
                "Please pass an attribute set with 'url' and 'name' attributes to '{who}',  so that it can create a valid store path."
            )
        };
        return Err(FetchArgError::InvalidName {
            url,
            reason,
            resolution,
        }
        .into());
    }
    if co.context().options.pure && request.expected.is_none() {
        return Err(FetchArgError::PureWithoutHash(fetcher.name()).into());
    }
    // Pinned and in the store already: nothing to fetch.
    if let Some(expected) = &request.expected {
        let ca = match fetcher {
            Builtin::Url => CAHash::Flat(expected.clone()),
            Builtin::Tarball => CAHash::Nar(expected.clone()),
        };
        let path = build_ca_path(&name, &ca, [] as [&str; 0], false).map_err(|e| {
            ImportError::InvalidStorePath {
                path: name.clone(),
                reason: e.to_string(),
            }
        })?;
        if io
            .path_info(&path.as_ref())
            .map_err(ImportError::from)?
            .is_some()
        {
            return Ok(store_path_value(&path));
        }
    }
    let (store_path, got) = match fetcher {
        Builtin::Url => {
            let fetched = io.fetch_file(&url, &name)?;
            (fetched.store_path, fetched.sha256)
        }
        Builtin::Tarball => {
            let fetched = io
                .fetch_tarball(&url, &name)
                .map_err(|e| Error::from(e).context(format!("while fetching the input '{url}'")))?;
            (fetched.store_path, fetched.nar_sha256)
        }
    };
    if let Some(expected) = request.expected {
        let got = NixHash::Sha256(got);
        if got != expected {
            return Err(FetchArgError::HashMismatch {
                url,
                specified: expected.to_nix_nixbase32_string(),
                got: got.to_nix_nixbase32_string(),
            }
            .into());
        }
    }
    Ok(store_path_value(&store_path))
}

#[builtins(state = Rc<TvixStoreIO>)]
pub(super) mod fetcher_builtins {
    use super::*;

    /// Downloads a file into the store: `fetchurl url`, or `fetchurl {
    /// url; sha256 ? null; name ? baseNameOf url; }`.
    #[builtin("fetchurl")]
    async fn builtin_fetchurl(io: Rc<TvixStoreIO>, co: &Co, args: Value) -> Result<Value, Error> {
        fetch(&io, co, args, Builtin::Url).await
    }

    /// Downloads a tarball and unpacks it into the store: `fetchTarball
    /// url`, or `fetchTarball { url; sha256 ? null; name ? "source"; }`.
    #[builtin("fetchTarball")]
    async fn builtin_fetch_tarball(
        io: Rc<TvixStoreIO>,
        co: &Co,
        args: Value,
    ) -> Result<Value, Error> {
        fetch(&io, co, args, Builtin::Tarball).await
    }

    /// Would copy a Mercurial revision into the store; tvix does not
    /// read Mercurial repositories.
    #[builtin("fetchMercurial")]
    async fn builtin_fetch_mercurial(
        _io: Rc<TvixStoreIO>,
        co: &Co,
        _args: Value,
    ) -> Result<Value, Error> {
        Err(FetchArgError::Mercurial.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    // `nix-instantiate --eval -E 'baseNameOf "<url>"'`.
    #[rstest]
    #[case::plain("https://example.com/foo.tar.gz", "foo.tar.gz")]
    #[case::trailing_slash("http://127.0.0.1:18731/", "127.0.0.1:18731")]
    #[case::no_slash("foo", "foo")]
    #[case::query("https://example.com/a?b=c/d", "d")]
    fn base_names(#[case] url: &str, #[case] expected: &str) {
        assert_eq!(base_name(url), expected);
    }
}
