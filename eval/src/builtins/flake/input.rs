//! Fetcher inputs as CppNix's `fetchers::Input` reads and prints them,
//! for the embedders that fetch them (tvix-glue's `fetchTree` and
//! `fetchGit`): the same scheme rules as flake references, without the
//! flake-only parts (`dir`, fragments, flake ids, bare paths).

use super::schemes;
use super::url::ParsedUrl;
use crate::errors::ErrorKind;
use crate::vm::EvalOptions;

pub use super::{Attr, Attrs};

/// CppNix's `Input::fromAttrs`: checks the attributes against the scheme
/// `type` names and normalises them (a git URL in scp form becomes
/// `ssh://`). An unknown type is kept as it is.
pub fn from_attrs(attrs: Attrs, options: &EvalOptions) -> Result<Attrs, ErrorKind> {
    Ok(schemes::input_from_attrs(attrs, options)?)
}

/// CppNix's `Input::fromURL`: the input of the first scheme that accepts
/// the URL (`git+file:///repo?ref=main`, `https://…/x.tar.gz`).
pub fn from_url(text: &str, options: &EvalOptions) -> Result<Attrs, ErrorKind> {
    Ok(schemes::input_from_url(&ParsedUrl::parse(text)?, options)?)
}

/// CppNix's `Input::to_string`, as its messages show an input.
pub fn to_url_string(attrs: &Attrs) -> Result<String, ErrorKind> {
    Ok(schemes::to_url(attrs)?.to_url_string())
}

/// CppNix's `fixGitURL`: `user@host:path` is `ssh://user@host/path`, a
/// bare path a `file:` URL.
pub fn fix_git_url(url: &str) -> String {
    schemes::fix_git_url(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn s(text: &str) -> Attr {
        Attr::String(text.into())
    }

    // `modern-nix nix-instantiate --extra-experimental-features flakes
    // --eval -E 'builtins.fetchTree "<url>"'` shows the input it fetches in
    // its "while fetching the input" line.
    #[rstest]
    #[case::relative_file("file:./relative-path.tar.gz", "file:./relative-path.tar.gz")]
    #[case::tarball("https://example.com/x.tar.gz", "https://example.com/x.tar.gz")]
    #[case::git_file("git+file:///tmp/repo?ref=main", "git+file:///tmp/repo?ref=main")]
    #[case::github("github:NixOS/nixpkgs", "github:NixOS/nixpkgs")]
    fn round_trips(#[case] url: &str, #[case] shown: &str) {
        let input = from_url(url, &EvalOptions::default()).expect("a valid input");
        assert_eq!(to_url_string(&input).expect("printable"), shown);
    }

    // `... -E 'builtins.fetchGit { url = "/tmp/fx/repo"; ref = "nope"; }'`
    // shows `git+file:///tmp/fx/repo?exportIgnore=1&ref=nope`.
    #[test]
    fn git_input_with_defaults() {
        let attrs = Attrs::from([
            ("type".to_string(), s("git")),
            ("url".to_string(), s("/tmp/fx/repo")),
            ("ref".to_string(), s("nope")),
            ("exportIgnore".to_string(), Attr::Bool(true)),
        ]);
        let input = from_attrs(attrs, &EvalOptions::default()).expect("a valid input");
        assert_eq!(
            to_url_string(&input).expect("printable"),
            "git+file:///tmp/fx/repo?exportIgnore=1&ref=nope"
        );
    }
}
