//! The input schemes of CppNix's fetchers, as far as flake references
//! need them: which URLs each accepts (`inputFromURL`), which attributes
//! it allows and checks (`allowedAttrs`, `inputFromAttrs`), and the URL it
//! prints (`toURL`). Nothing is fetched.

use std::collections::BTreeMap;

use super::url::{self, ParsedUrl};
use super::{Attr, Attrs, FlakeError, fail, is_flake_id, is_ref_name, is_rev};
use crate::builtins::hash::{git_rev, nar_hash_sri, sha1_rev};
use crate::vm::EvalOptions;

/// The experimental feature signed git fetches need.
const VERIFIED_FETCHES: &str = "verified-fetches";

/// CppNix's input schemes, in the order it tries them (by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    File,
    Git,
    GitHub,
    GitLab,
    Mercurial,
    Indirect,
    Path,
    SourceHut,
    Tarball,
}

impl Scheme {
    const ALL: [Scheme; 9] = [
        Scheme::File,
        Scheme::Git,
        Scheme::GitHub,
        Scheme::GitLab,
        Scheme::Mercurial,
        Scheme::Indirect,
        Scheme::Path,
        Scheme::SourceHut,
        Scheme::Tarball,
    ];

    fn name(self) -> &'static str {
        match self {
            Scheme::File => "file",
            Scheme::Git => "git",
            Scheme::GitHub => "github",
            Scheme::GitLab => "gitlab",
            Scheme::Mercurial => "hg",
            Scheme::Indirect => "indirect",
            Scheme::Path => "path",
            Scheme::SourceHut => "sourcehut",
            Scheme::Tarball => "tarball",
        }
    }

    /// The attributes an input of this scheme may have besides `type`.
    fn allowed_attrs(self) -> &'static [&'static str] {
        match self {
            Scheme::File | Scheme::Tarball => &[
                "url",
                "narHash",
                "name",
                "unpack",
                "rev",
                "revCount",
                "lastModified",
            ],
            Scheme::Git => &[
                "url",
                "ref",
                "rev",
                "shallow",
                "submodules",
                "exportIgnore",
                "lastModified",
                "revCount",
                "narHash",
                "allRefs",
                "name",
                "dirtyRev",
                "dirtyShortRev",
                "verifyCommit",
                "keytype",
                "publicKey",
                "publicKeys",
            ],
            Scheme::GitHub | Scheme::GitLab | Scheme::SourceHut => &[
                "owner",
                "repo",
                "ref",
                "rev",
                "narHash",
                "lastModified",
                "host",
                "treeHash",
            ],
            Scheme::Mercurial => &["url", "ref", "rev", "revCount", "narHash", "name"],
            Scheme::Indirect => &["id", "ref", "rev", "narHash"],
            Scheme::Path => &["path", "rev", "revCount", "lastModified", "narHash"],
        }
    }

    /// The input a URL names, if it is one of this scheme's.
    fn input_from_url(
        self,
        url: &ParsedUrl,
        options: &EvalOptions,
    ) -> Result<Option<Attrs>, FlakeError> {
        match self {
            Scheme::File | Scheme::Tarball => Ok(self.curl_from_url(url)),
            Scheme::Git => git_like_from_url(self, url, "git", options),
            Scheme::Mercurial => git_like_from_url(self, url, "hg", options),
            Scheme::GitHub | Scheme::GitLab | Scheme::SourceHut => self.archive_from_url(url),
            Scheme::Indirect => indirect_from_url(url),
            Scheme::Path => path_from_url(url),
        }
    }

    /// Whether a URL is a download of this scheme (CppNix's
    /// `isValidURL` with `requireTree`, as flake references have it: a
    /// plain http(s) or file URL is a tarball).
    fn curl_from_url(self, url: &ParsedUrl) -> Option<Attrs> {
        let transport = url::transport(&url.scheme);
        if !matches!(transport, "file" | "http" | "https") {
            return None;
        }
        let valid = match url::application(&url.scheme) {
            Some(application) => application == self.name(),
            None => self == Scheme::Tarball,
        };
        if !valid {
            return None;
        }
        let mut attrs = Attrs::new();
        for name in ["narHash", "rev"] {
            if let Some(v) = url.query.get(name) {
                attrs.insert(name.into(), Attr::String(v.clone()));
            }
        }
        for name in ["revCount", "lastModified"] {
            if let Some(n) = url.query.get(name).and_then(|v| v.parse::<u64>().ok()) {
                attrs.insert(name.into(), Attr::Int(n));
            }
        }
        let mut download = url.clone();
        download.scheme = transport.to_string();
        download
            .query
            .retain(|k, _| !self.allowed_attrs().contains(&k.as_str()) && k != "type");
        attrs.insert("type".into(), Attr::String(self.name().into()));
        attrs.insert("url".into(), Attr::String(download.to_url_string()));
        Some(attrs)
    }

    /// `github:owner/repo[/ref-or-rev]?ref=…&rev=…&host=…`.
    fn archive_from_url(self, url: &ParsedUrl) -> Result<Option<Attrs>, FlakeError> {
        if url.scheme != self.name() {
            return Ok(None);
        }
        let bad = |message: String| Err(FlakeError::BadUrl(message));
        let parts: Vec<&str> = url.path.split('/').filter(|p| !p.is_empty()).collect();
        let [owner, repo, ..] = parts.as_slice() else {
            return bad(format!("URL '{}' is invalid", url.url));
        };
        let (mut rev, mut git_ref) = (None, None);
        match parts.as_slice() {
            [_, _] => {}
            [_, _, last] if is_rev(last) => rev = Some(sha1_rev(last)?),
            [_, _, last] if is_ref_name(last) => git_ref = Some(last.to_string()),
            [_, _, last] => {
                return bad(format!(
                    "in URL '{}', '{last}' is not a commit hash or branch/tag name",
                    url.url
                ));
            }
            [_, _, rest @ ..] if !rest.is_empty() => {
                let joined = rest.join("/");
                if !is_ref_name(&joined) {
                    return bad(format!(
                        "in URL '{}', '{joined}' is not a branch/tag name",
                        url.url
                    ));
                }
                git_ref = Some(joined);
            }
            _ => return bad(format!("URL '{}' is invalid", url.url)),
        }
        let mut host = None;
        for (name, value) in &url.query {
            match name.as_str() {
                "rev" => {
                    if rev.is_some() {
                        return bad(format!("URL '{}' contains multiple commit hashes", url.url));
                    }
                    rev = Some(sha1_rev(value)?);
                }
                "ref" => {
                    if !is_ref_name(value) {
                        return bad(format!(
                            "URL '{}' contains an invalid branch/tag name",
                            url.url
                        ));
                    }
                    if git_ref.is_some() {
                        return bad(format!(
                            "URL '{}' contains multiple branch/tag names",
                            url.url
                        ));
                    }
                    git_ref = Some(value.clone());
                }
                "host" => {
                    if value.contains(['/', '?', '#', '@']) {
                        return bad(format!(
                            "URL '{}' contains an invalid instance host",
                            url.url
                        ));
                    }
                    host = Some(value.clone());
                }
                _ => {}
            }
        }
        if let (Some(git_ref), Some(rev)) = (&git_ref, &rev) {
            return bad(format!(
                "URL '{}' contains both a commit hash and a branch/tag name {git_ref} {rev}",
                url.url
            ));
        }
        let mut attrs = Attrs::new();
        attrs.insert("type".into(), Attr::String(self.name().into()));
        attrs.insert("owner".into(), Attr::String(owner.to_string()));
        attrs.insert("repo".into(), Attr::String(repo.to_string()));
        let optional = [
            ("rev", rev),
            ("ref", git_ref),
            ("host", host),
            ("narHash", url.query.get("narHash").cloned()),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                attrs.insert(name.into(), Attr::String(value));
            }
        }
        Ok(Some(attrs))
    }

    /// CppNix's `inputFromAttrs`: checks what the scheme requires and
    /// normalises (a git URL in scp form becomes `ssh://`).
    fn check_attrs(self, mut attrs: Attrs, options: &EvalOptions) -> Result<Attrs, FlakeError> {
        match self {
            Scheme::Indirect => {
                let id = get_str(&attrs, "id")?;
                if !is_flake_id(id) {
                    return Err(FlakeError::BadUrl(format!(
                        "'{id}' is not a valid flake ID"
                    )));
                }
            }
            Scheme::Path => {
                get_str(&attrs, "path")?;
            }
            Scheme::GitHub | Scheme::GitLab | Scheme::SourceHut => {
                get_str(&attrs, "owner")?;
                get_str(&attrs, "repo")?;
            }
            Scheme::Git => {
                let signed = ["verifyCommit", "keytype", "publicKey", "publicKeys"];
                if attrs.keys().any(|k| signed.contains(&k.as_str())) {
                    options.require_feature(VERIFIED_FETCHES)?;
                }
                maybe_get_bool(&attrs, "verifyCommit")?;
                let fixed = fix_git_url(get_str(&attrs, "url")?);
                ParsedUrl::parse(&fixed)?;
                attrs.insert("url".into(), Attr::String(fixed));
                for name in ["shallow", "submodules", "allRefs"] {
                    maybe_get_bool(&attrs, name)?;
                }
            }
            Scheme::Mercurial => {
                if let Some(r) = maybe_get_str(&attrs, "ref")?
                    && !is_ref_name(r)
                {
                    return Err(FlakeError::BadUrl(format!(
                        "invalid Mercurial branch/tag name '{r}'"
                    )));
                }
                ParsedUrl::parse(get_str(&attrs, "url")?)?;
            }
            Scheme::File | Scheme::Tarball => {}
        }
        Ok(attrs)
    }

    /// CppNix's `toURL`.
    fn to_url(self, attrs: &Attrs) -> Result<ParsedUrl, FlakeError> {
        // Only the schemes that know revisions parse `rev`.
        let rev = || -> Result<Option<String>, FlakeError> {
            Ok(maybe_get_str(attrs, "rev")?.map(git_rev).transpose()?)
        };
        let git_ref = maybe_get_str(attrs, "ref")?;
        let nar_hash = maybe_get_str(attrs, "narHash")?;
        Ok(match self {
            Scheme::Indirect => {
                let mut path = get_str(attrs, "id")?.to_string();
                for part in [git_ref.map(str::to_string), rev()?].into_iter().flatten() {
                    path.push('/');
                    path.push_str(&part);
                }
                ParsedUrl::new("flake", None, &path)
            }
            Scheme::Path => {
                let mut url = ParsedUrl::new("path", None, get_str(attrs, "path")?);
                for (name, attr) in attrs {
                    if name != "path" && name != "type" {
                        url.query.insert(name.clone(), attr_text(attr));
                    }
                }
                url
            }
            Scheme::GitHub | Scheme::GitLab | Scheme::SourceHut => {
                let mut path = format!("{}/{}", get_str(attrs, "owner")?, get_str(attrs, "repo")?);
                for part in [git_ref.map(str::to_string), rev()?].into_iter().flatten() {
                    path.push('/');
                    path.push_str(&part);
                }
                let mut url = ParsedUrl::new(self.name(), None, &path);
                if let Some(h) = nar_hash {
                    url.query.insert("narHash".into(), nar_hash_sri(h)?);
                }
                url
            }
            Scheme::Git | Scheme::Mercurial => {
                let mut url = ParsedUrl::parse(get_str(attrs, "url")?)?;
                let prefix = if self == Scheme::Git { "git" } else { "hg" };
                if url.scheme != prefix {
                    url.scheme = format!("{prefix}+{}", url.scheme);
                }
                let mut query = BTreeMap::new();
                if let Some(rev) = rev()? {
                    query.insert("rev", rev);
                }
                if let Some(r) = git_ref {
                    query.insert("ref", r.to_string());
                }
                if self == Scheme::Git {
                    for flag in ["shallow", "submodules", "exportIgnore", "verifyCommit"] {
                        if maybe_get_bool(attrs, flag)? == Some(true) {
                            query.insert(flag, "1".into());
                        }
                    }
                }
                for (k, v) in query {
                    url.query.insert(k.into(), v);
                }
                url
            }
            Scheme::File | Scheme::Tarball => {
                let mut url = ParsedUrl::parse(get_str(attrs, "url")?)?;
                if let Some(h) = nar_hash {
                    url.query.insert("narHash".into(), nar_hash_sri(h)?);
                }
                url
            }
        })
    }
}

/// `git+https://…` (or `hg+…`): the query parameters the scheme knows
/// become attributes, the others stay in the URL.
fn git_like_from_url(
    scheme: Scheme,
    url: &ParsedUrl,
    prefix: &str,
    options: &EvalOptions,
) -> Result<Option<Attrs>, FlakeError> {
    let transport = url.scheme.strip_prefix(prefix).unwrap_or(&url.scheme);
    let transport = match transport.strip_prefix('+') {
        Some(t) if matches!(t, "http" | "https" | "ssh" | "file") => t,
        _ if scheme == Scheme::Git && url.scheme == "git" => "git",
        _ => return Ok(None),
    };
    let mut repo = url.clone();
    repo.scheme = transport.to_string();
    repo.query.clear();
    let mut attrs = Attrs::new();
    attrs.insert("type".into(), Attr::String(scheme.name().into()));
    for (name, value) in &url.query {
        let name = name.as_str();
        let attr = match (scheme, name) {
            (_, "rev" | "ref") => Attr::String(value.clone()),
            (Scheme::Git, "keytype" | "publicKey" | "publicKeys") => Attr::String(value.clone()),
            (
                Scheme::Git,
                "shallow" | "submodules" | "exportIgnore" | "allRefs" | "verifyCommit",
            ) => Attr::Bool(value == "1"),
            _ => {
                repo.query.insert(name.into(), value.clone());
                continue;
            }
        };
        attrs.entry(name.into()).or_insert(attr);
    }
    attrs.insert("url".into(), Attr::String(repo.to_url_string()));
    scheme.check_attrs(attrs, options).map(Some)
}

/// `flake:id[/ref][/rev]`: an entry of the flake registry.
fn indirect_from_url(url: &ParsedUrl) -> Result<Option<Attrs>, FlakeError> {
    if url.scheme != "flake" {
        return Ok(None);
    }
    let bad = |message: String| Err(FlakeError::BadUrl(message));
    let parts: Vec<&str> = url.path.split('/').filter(|p| !p.is_empty()).collect();
    let Some(&id) = parts.first() else {
        return bad(format!("GitHub URL '{}' is invalid", url.url));
    };
    let (mut rev, mut git_ref) = (None, None);
    match parts.as_slice() {
        [_] => {}
        [_, second] if is_rev(second) => rev = Some(sha1_rev(second)?),
        [_, second] if is_ref_name(second) => git_ref = Some(second.to_string()),
        [_, second] => {
            return bad(format!(
                "in flake URL '{}', '{second}' is not a commit hash or branch/tag name",
                url.url
            ));
        }
        [_, second, third] => {
            if !is_ref_name(second) {
                return bad(format!(
                    "in flake URL '{}', '{second}' is not a branch/tag name",
                    url.url
                ));
            }
            git_ref = Some(second.to_string());
            if !is_rev(third) {
                return bad(format!(
                    "in flake URL '{}', '{third}' is not a commit hash",
                    url.url
                ));
            }
            rev = Some(sha1_rev(third)?);
        }
        _ => return bad(format!("GitHub URL '{}' is invalid", url.url)),
    }
    if !is_flake_id(id) {
        return bad(format!("'{id}' is not a valid flake ID"));
    }
    let mut attrs = Attrs::new();
    attrs.insert("type".into(), Attr::String("indirect".into()));
    attrs.insert("id".into(), Attr::String(id.into()));
    if let Some(rev) = rev {
        attrs.insert("rev".into(), Attr::String(rev));
    }
    if let Some(git_ref) = git_ref {
        attrs.insert("ref".into(), Attr::String(git_ref));
    }
    Ok(Some(attrs))
}

/// `path:/some/dir?lastModified=…`.
fn path_from_url(url: &ParsedUrl) -> Result<Option<Attrs>, FlakeError> {
    if url.scheme != "path" {
        return Ok(None);
    }
    if let Some(authority) = url.authority.as_deref().filter(|a| !a.is_empty()) {
        return Err(fail(format!(
            "path URL '{}' should not have an authority ('{authority}')",
            url.url
        )));
    }
    let mut attrs = Attrs::new();
    attrs.insert("type".into(), Attr::String("path".into()));
    attrs.insert("path".into(), Attr::String(url.path.clone()));
    for (name, value) in &url.query {
        let attr = match name.as_str() {
            "rev" | "narHash" => Attr::String(value.clone()),
            "revCount" | "lastModified" => Attr::Int(value.parse().map_err(|_| {
                fail(format!(
                    "path URL '{}' has invalid parameter '{name}'",
                    url.to_url_string()
                ))
            })?),
            _ => {
                return Err(fail(format!(
                    "path URL '{}' has unsupported parameter '{name}'",
                    url.to_url_string()
                )));
            }
        };
        attrs.insert(name.clone(), attr);
    }
    Ok(Some(attrs))
}

/// CppNix's `fixGitURL`: `user@host:path` is `ssh://user@host/path`, a
/// bare path is a `file://` URL.
pub(super) fn fix_git_url(url: &str) -> String {
    if let Some((user, rest)) = url.split_once('@')
        && !user.contains('/')
        && let Some((host, path)) = rest.rsplit_once(':')
    {
        return format!("ssh://{user}@{host}/{path}");
    }
    if url.starts_with("file:") || url.contains("://") {
        url.to_string()
    } else {
        ParsedUrl::new("file", Some(""), url).to_url_string()
    }
}

/// An attribute as a URL query value (CppNix's `attrsToQuery`).
fn attr_text(attr: &Attr) -> String {
    match attr {
        Attr::String(s) => s.clone(),
        Attr::Int(n) => n.to_string(),
        Attr::Bool(b) => if *b { "1" } else { "0" }.into(),
    }
}

/// The attributes as JSON, as CppNix shows them in messages.
fn attrs_json(attrs: &Attrs) -> String {
    let quote = |s: &str| {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    let fields: Vec<String> = attrs
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Attr::String(s) => quote(s),
                Attr::Int(n) => n.to_string(),
                Attr::Bool(b) => b.to_string(),
            };
            format!("{}:{value}", quote(k))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

pub(super) fn maybe_get_str<'a>(
    attrs: &'a Attrs,
    name: &str,
) -> Result<Option<&'a str>, FlakeError> {
    match attrs.get(name) {
        None => Ok(None),
        Some(Attr::String(s)) => Ok(Some(s)),
        Some(_) => Err(fail(format!(
            "input attribute '{name}' is not a string {}",
            attrs_json(attrs)
        ))),
    }
}

fn get_str<'a>(attrs: &'a Attrs, name: &str) -> Result<&'a str, FlakeError> {
    maybe_get_str(attrs, name)?.ok_or_else(|| fail(format!("input attribute '{name}' is missing")))
}

fn maybe_get_bool(attrs: &Attrs, name: &str) -> Result<Option<bool>, FlakeError> {
    match attrs.get(name) {
        None => Ok(None),
        Some(Attr::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(fail(format!("input attribute '{name}' is not a Boolean"))),
    }
}

/// CppNix's `Input::fromURL`: the first scheme that accepts the URL.
pub(super) fn input_from_url(url: &ParsedUrl, options: &EvalOptions) -> Result<Attrs, FlakeError> {
    for scheme in Scheme::ALL {
        if let Some(attrs) = scheme.input_from_url(url, options)? {
            return Ok(attrs);
        }
    }
    Err(fail(format!("input '{}' is unsupported", url.url)))
}

/// The scheme an input's `type` names, `None` if CppNix knows none.
fn scheme_of(attrs: &Attrs) -> Result<Option<Scheme>, FlakeError> {
    let name = maybe_get_str(attrs, "type")?.ok_or_else(|| {
        fail("'type' attribute to specify input scheme is required but not provided".into())
    })?;
    Ok(Scheme::ALL.into_iter().find(|s| s.name() == name))
}

/// CppNix's `Input::fromAttrs`: an input of an unknown type is kept (and
/// fails when printed).
pub(super) fn input_from_attrs(attrs: Attrs, options: &EvalOptions) -> Result<Attrs, FlakeError> {
    let Some(scheme) = scheme_of(&attrs)? else {
        return Ok(attrs);
    };
    let allowed = scheme.allowed_attrs();
    if let Some(name) = attrs
        .keys()
        .find(|k| *k != "type" && !allowed.contains(&k.as_str()))
    {
        return Err(fail(format!(
            "input attribute '{name}' not supported by scheme '{}'",
            scheme.name()
        )));
    }
    scheme.check_attrs(attrs, options)
}

/// CppNix's `Input::toURL`.
pub(super) fn to_url(attrs: &Attrs) -> Result<ParsedUrl, FlakeError> {
    match scheme_of(attrs)? {
        Some(scheme) => scheme.to_url(attrs),
        None => Err(fail(format!(
            "cannot show unsupported input '{}'",
            attrs_json(attrs)
        ))),
    }
}
