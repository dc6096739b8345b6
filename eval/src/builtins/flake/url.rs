//! URLs as CppNix's fetchers parse and print them (`parseURL`,
//! `ParsedURL::to_string`, `percentEncode`, `decodeQuery`): the syntax of
//! its URL regular expression, checked by hand, and its encoding rules.

use std::collections::BTreeMap;

use super::FlakeError;

/// The characters of a host name or user besides the unreserved ones and
/// `%XX`.
const SUB_DELIMS: &[u8] = b"!$&'\"()*+,;=";

/// Kept as they are when a path is encoded.
const ALLOWED_IN_PATH: &[u8] = b":@/";
/// Kept as they are when a query is encoded.
const ALLOWED_IN_QUERY: &[u8] = b":@/?";

/// A URL taken apart, its path and query values percent-decoded.
#[derive(Clone, Debug)]
pub(super) struct ParsedUrl {
    /// The text it was parsed from, for messages.
    pub url: String,
    pub scheme: String,
    /// What follows `//`, if the URL has it.
    pub authority: Option<String>,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub fragment: String,
}

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~".contains(&c)
}

/// A character of a path segment (`pchar`), `%` standing for `%XX`.
fn pchar(c: u8) -> bool {
    unreserved(c) || SUB_DELIMS.contains(&c) || b":@%".contains(&c)
}

/// Whether every `%` in `s` starts `%XX`.
fn percent_escapes_valid(s: &[u8]) -> bool {
    s.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || matches!((s.get(i + 1), s.get(i + 2)), (Some(a), Some(b))
                if a.is_ascii_hexdigit() && b.is_ascii_hexdigit())
    })
}

/// Whether `s` may follow `#` in a URL.
pub(super) fn valid_fragment(s: &str) -> bool {
    s.bytes().all(|c| pchar(c) || b"/? \"^".contains(&c)) && percent_escapes_valid(s.as_bytes())
}

fn valid_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|c| c.is_ascii_lowercase())
        && bytes.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+.-".contains(&c))
}

/// `[user@]host[:port]`, the host a bracketed IPv6 address or a name.
fn valid_authority(s: &str) -> bool {
    let (user, host) = match s.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, s),
    };
    let user_ok = user.is_none_or(|u| {
        u.bytes()
            .all(|c| unreserved(c) || SUB_DELIMS.contains(&c) || b":%".contains(&c))
    });
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        _ => (host, None),
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !inner.is_empty() && inner.bytes().all(|c| c.is_ascii_hexdigit() || c == b':')
    } else {
        host.bytes()
            .all(|c| unreserved(c) || SUB_DELIMS.contains(&c) || c == b'%')
            || (port.is_none() && host.bytes().all(|c| c.is_ascii_hexdigit() || c == b':'))
    };
    user_ok && host_ok && percent_escapes_valid(s.as_bytes())
}

/// CppNix's `percentDecode`.
pub(super) fn percent_decode(s: &str) -> Result<String, FlakeError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        if c == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| FlakeError::BadUrl(format!("invalid URI parameter '{s}'")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// CppNix's `percentEncode`: unreserved characters and `keep` as they
/// are, everything else as `%XX`.
pub(super) fn percent_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.bytes() {
        if unreserved(c) || keep.contains(&c) {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// CppNix's `decodeQuery`: `name=value` pairs separated by `&`, values
/// decoded, the first of repeated names kept, pairs without `=` dropped.
pub(super) fn decode_query(query: &str) -> Result<BTreeMap<String, String>, FlakeError> {
    let mut out = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if let Some((name, value)) = pair.split_once('=') {
            let value = percent_decode(value)?;
            out.entry(name.to_string()).or_insert(value);
        }
    }
    Ok(out)
}

/// CppNix's `encodeQuery`.
pub(super) fn encode_query(query: &BTreeMap<String, String>) -> String {
    query
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode(k, ALLOWED_IN_QUERY),
                percent_encode(v, ALLOWED_IN_QUERY)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl ParsedUrl {
    /// CppNix's `parseURL`.
    pub fn parse(url: &str) -> Result<ParsedUrl, FlakeError> {
        let invalid = || FlakeError::BadUrl(format!("'{url}' is not a valid URL"));
        let (scheme, rest) = url.split_once(':').ok_or_else(invalid)?;
        if !valid_scheme(scheme) {
            return Err(invalid());
        }
        let (rest, fragment) = match rest.split_once('#') {
            Some((r, f)) => (r, Some(f)),
            None => (rest, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.strip_prefix("//") {
            Some(after) => {
                let end = after.find('/').unwrap_or(after.len());
                let (authority, path) = after.split_at(end);
                if !valid_authority(authority) {
                    return Err(invalid());
                }
                (Some(authority.to_string()), path)
            }
            None => (None, rest),
        };
        let path_ok = path.bytes().all(|c| pchar(c) || c == b'/');
        let query_ok = query.is_none_or(|q| q.bytes().all(|c| pchar(c) || b"/? \"".contains(&c)));
        let fragment_ok = fragment.is_none_or(valid_fragment);
        let escapes_ok = [Some(path), query]
            .into_iter()
            .flatten()
            .all(|part| percent_escapes_valid(part.as_bytes()));
        if !(path_ok && query_ok && fragment_ok && escapes_ok) {
            return Err(invalid());
        }
        let file_transport = transport(scheme) == "file";
        if let Some(authority) = authority.as_deref().filter(|a| !a.is_empty())
            && file_transport
        {
            return Err(FlakeError::BadUrl(format!(
                "file:// URL '{url}' has unexpected authority '{authority}'"
            )));
        }
        let mut path = percent_decode(path)?;
        if file_transport && path.is_empty() {
            path = "/".into();
        }
        Ok(ParsedUrl {
            url: url.to_string(),
            scheme: scheme.to_string(),
            authority,
            path,
            query: decode_query(query.unwrap_or_default())?,
            fragment: percent_decode(fragment.unwrap_or_default())?,
        })
    }

    /// A URL made of parts, as CppNix builds them for flake ids.
    pub fn new(scheme: &str, authority: Option<&str>, path: &str) -> Self {
        let mut url = ParsedUrl {
            url: String::new(),
            scheme: scheme.into(),
            authority: authority.map(String::from),
            path: path.into(),
            query: BTreeMap::new(),
            fragment: String::new(),
        };
        url.url = url.to_url_string();
        url
    }

    /// CppNix's `ParsedURL::to_string`.
    pub fn to_url_string(&self) -> String {
        let mut out = format!("{}:", self.scheme);
        if let Some(authority) = &self.authority {
            out.push_str("//");
            out.push_str(authority);
        }
        out.push_str(&percent_encode(&self.path, ALLOWED_IN_PATH));
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&encode_query(&self.query));
        }
        if !self.fragment.is_empty() {
            out.push('#');
            out.push_str(&percent_encode(&self.fragment, b""));
        }
        out
    }
}

/// The transport of a scheme: `https` in `git+https` (CppNix's
/// `parseUrlScheme`).
pub(super) fn transport(scheme: &str) -> &str {
    scheme.split_once('+').map_or(scheme, |(_, t)| t)
}

/// The application of a scheme: `git` in `git+https`.
pub(super) fn application(scheme: &str) -> Option<&str> {
    scheme.split_once('+').map(|(a, _)| a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("https://example.org/a%20b?x=1&y=a%2Fb#frag", "https", Some("example.org"), "/a b", &[("x", "1"), ("y", "a/b")], "frag")]
    #[case::no_authority("github:NixOS/nixpkgs", "github", None, "NixOS/nixpkgs", &[], "")]
    #[case::user_and_port("ssh://git@example.org:22/r", "ssh", Some("git@example.org:22"), "/r", &[], "")]
    #[case::first_of_repeated("a:b?ref=x&ref=y&novalue", "a", None, "b", &[("ref", "x")], "")]
    #[case::file_without_path("file://", "file", Some(""), "/", &[], "")]
    fn parses(
        #[case] url: &str,
        #[case] scheme: &str,
        #[case] authority: Option<&str>,
        #[case] path: &str,
        #[case] query: &[(&str, &str)],
        #[case] fragment: &str,
    ) {
        let parsed = ParsedUrl::parse(url).expect("a valid URL");
        let query: BTreeMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            (
                parsed.scheme.as_str(),
                parsed.authority.as_deref(),
                parsed.path.as_str(),
                &parsed.query,
                parsed.fragment.as_str()
            ),
            (scheme, authority, path, &query, fragment)
        );
    }

    #[rstest]
    #[case::space_in_path("https://example.org/a b?x=1")]
    #[case::no_scheme("nixpkgs?dir=x")]
    #[case::upper_case_scheme("HTTPS://example.org")]
    #[case::bad_escape("https://example.org/%zz")]
    #[case::file_authority("file://host/x")]
    fn rejects(#[case] url: &str) {
        let message = match ParsedUrl::parse(url) {
            Err(FlakeError::BadUrl(message)) => message,
            other => format!("{other:?}"),
        };
        let expected = if url.starts_with("file:") {
            format!("file:// URL '{url}' has unexpected authority 'host'")
        } else {
            format!("'{url}' is not a valid URL")
        };
        assert_eq!(message, expected);
    }

    // `percentEncode` as CppNix's `ParsedURL::to_string` applies it.
    #[rstest]
    #[case::path("/a b/c@d:e", ALLOWED_IN_PATH, "/a%20b/c@d:e")]
    #[case::sri_in_query("sha256-47DEQ+/Fs=", ALLOWED_IN_QUERY, "sha256-47DEQ%2B/Fs%3D")]
    fn encodes(#[case] s: &str, #[case] keep: &[u8], #[case] expected: &str) {
        assert_eq!(percent_encode(s, keep), expected);
    }
}
