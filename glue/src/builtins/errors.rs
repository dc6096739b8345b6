//! Why a store builtin failed, in CppNix's words where CppNix has them
//! (2.26's, as the language suite's expectations are newer than 2.8).

use nix_compat::derivation::parser;
use nix_compat::store_path::{BuildStorePathError, MAX_NAME_LEN, StorePath};
use tvix_eval::ErrorKind;

use crate::nix_hash::HashError;
use crate::tvix_store_io::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DerivationError {
    #[error("invalid derivation name: {0}. Please pass a different 'name'.")]
    InvalidName(String),
    #[error(
        "derivation names are allowed to end in '.drv' only if they produce a single derivation file"
    )]
    NameEndsInDrv,
    #[error("required attribute '{0}' missing")]
    MissingAttribute(&'static str),
    #[error("duplicate derivation output '{0}'")]
    DuplicateOutput(String),
    /// An output called `drvPath` would clash with the attribute.
    #[error("invalid derivation output name 'drvPath'")]
    OutputNamedDrvPath,
    #[error("derivation cannot have an empty set of outputs")]
    NoOutputs,
    #[error("invalid value '{0}' for 'outputHashMode' attribute")]
    InvalidHashMode(String),
    #[error("multiple outputs are not supported in fixed-output derivations")]
    MultipleFixedOutputs,
    #[error("text-hashed derivation outputs must use sha256, not '{0}'")]
    TextNotSha256(String),
    #[error(transparent)]
    Hash(#[from] HashError),
    /// tvix's derivations hold UTF-8 where CppNix holds bytes: the
    /// builder, the system, arguments and attribute names.
    #[error("{what} '{value}' of a derivation must be UTF-8")]
    NotUtf8 { what: &'static str, value: String },
    #[error("path '{path}' is not a valid store path: {reason}")]
    InvalidStorePath { path: String, reason: String },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("reading the derivation '{path}': {source}")]
    ReadDerivation {
        path: StorePath,
        source: parser::Error,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("unsupported argument '{0}' to 'builtins.path'")]
    UnsupportedArgument(String),
    #[error("missing required 'path' attribute in the first argument to 'builtins.path'")]
    MissingPath,
    #[error("path '{0}' is not in the Nix store")]
    NotInStore(String),
    #[error("'{0}' is not allowed in pure evaluation mode")]
    PureEvaluation(&'static str),
    #[error("store path mismatch in (possibly filtered) path added from '{0}'")]
    StorePathMismatch(String),
    #[error(
        "files created by builtins.toFile may not reference derivations, but {name} references {element}"
    )]
    ToFileReferencesDerivation { name: String, element: String },
    #[error("path '{path}' is not a valid store path: {reason}")]
    InvalidStorePath { path: String, reason: String },
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Derivation(#[from] DerivationError),
    #[error("{0}")]
    Store(StoreError),
}

/// Why a fetcher refused its arguments or its result, in CppNix 2.26's
/// words (2.34's where the language suite expects those).
#[derive(Debug, thiserror::Error)]
pub enum FetchArgError {
    #[error("unsupported argument '{name}' to '{who}'")]
    UnsupportedArgument { name: String, who: &'static str },
    #[error("'url' argument required")]
    UrlRequired,
    #[error("invalid store path name when fetching URL '{url}': {reason}. {resolution}")]
    InvalidName {
        url: String,
        reason: String,
        resolution: String,
    },
    #[error("in pure evaluation mode, '{0}' requires a 'sha256' argument")]
    PureWithoutHash(&'static str),
    #[error(
        "hash mismatch in file downloaded from '{url}':\n  specified: {specified}\n  got:       {got}"
    )]
    HashMismatch {
        url: String,
        specified: String,
        got: String,
    },
    #[error("unexpected argument 'type'")]
    UnexpectedType,
    #[error("argument 'type' is missing in call to '{0}'")]
    MissingType(&'static str),
    #[error("negative value given for '{who}' argument '{name}': {value}")]
    NegativeValue {
        who: &'static str,
        name: String,
        value: i64,
    },
    #[error(
        "fetchTree argument '{name}' is {actual} while a string, Boolean or integer is expected"
    )]
    WrongAttrType { name: String, actual: String },
    #[error("attribute 'name' isn\u{2019}t supported in call to '{0}'")]
    NameNotSupported(&'static str),
    #[error("passing a string argument to '{0}' requires the 'flakes' experimental feature")]
    StringNeedsFlakes(&'static str),
    #[error("in pure evaluation mode, '{who}' will not fetch unlocked input '{input}'")]
    PureUnlocked { who: &'static str, input: String },
    #[error("NAR hash mismatch in input '{input}', expected '{expected}' but got '{got}'")]
    NarHashMismatch {
        input: String,
        expected: String,
        got: String,
    },
    /// Inputs tvix cannot fetch (forges, flake registries, paths).
    #[error("fetching inputs of type '{0}' is not supported")]
    UnsupportedInputType(String),
    #[error("fetching Mercurial repositories is not supported")]
    Mercurial,
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl From<FetchArgError> for tvix_eval::Error {
    fn from(e: FetchArgError) -> Self {
        ErrorKind::Builtin(e.to_string()).into()
    }
}

impl From<StoreError> for ImportError {
    /// A refused name gets CppNix's message.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Import(import) => match *import {
                tvix_store::import::ImportError::InvalidName { name, source } => {
                    let (path, reason) = refused_path(&name, &source);
                    ImportError::InvalidStorePath { path, reason }
                }
                other => ImportError::Store(StoreError::Import(Box::new(other))),
            },
            other => ImportError::Store(other),
        }
    }
}

impl From<DerivationError> for tvix_eval::Error {
    fn from(e: DerivationError) -> Self {
        ErrorKind::Builtin(e.to_string()).into()
    }
}

impl From<ImportError> for tvix_eval::Error {
    fn from(e: ImportError) -> Self {
        ErrorKind::Builtin(e.to_string()).into()
    }
}

/// Why `name` is not a valid store path name, as CppNix 2.26's
/// `checkName` says it; `None` if it is one.
pub fn check_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("name must not be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "name '{name}' must be no longer than {MAX_NAME_LEN} characters"
        ));
    }
    // `.` and `..` alone, or as the first dash-separated component.
    for dots in ["..", "."] {
        if name == dots {
            return Some(format!("name '{name}' is not valid"));
        }
        if name
            .strip_prefix(dots)
            .is_some_and(|rest| rest.starts_with('-'))
        {
            return Some(format!(
                "name '{name}' is not valid: first dash-separated component must not be '{dots}'"
            ));
        }
    }
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+-._?=".contains(*c)))
        .map(|c| format!("name '{name}' contains illegal character '{c}'"))
}

/// CppNix's complaint about a store path it cannot make because of its
/// name: the would-be path (`<digest>-<name>` when the digest is known)
/// and why the name is refused.
pub fn refused_path(name: &str, error: &BuildStorePathError) -> (String, String) {
    let path = match error {
        BuildStorePathError::InvalidName(e) => e.path().unwrap_or(name),
        _ => name,
    };
    let reason = check_name(name).unwrap_or_else(|| error.to_string());
    (path.to_string(), reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Made with `../shared/tools/modern-nix nix-instantiate --eval -E
    /// '(builtins.derivationStrict { name = NAME; builder = "b"; system =
    /// "s"; }).out'` (the message after "invalid derivation name: ").
    #[rstest]
    #[case::plain("hello-1.0", None)]
    #[case::leading_dot(".a", None)]
    #[case::leading_dots("..a", None)]
    #[case::every_allowed_character("aZ09+-._?=", None)]
    #[case::empty("", Some("name must not be empty"))]
    #[case::dot(".", Some("name '.' is not valid"))]
    #[case::dotdot("..", Some("name '..' is not valid"))]
    #[case::dot_dash(
        ".-",
        Some("name '.-' is not valid: first dash-separated component must not be '.'")
    )]
    #[case::dotdot_dash(
        "..-x",
        Some("name '..-x' is not valid: first dash-separated component must not be '..'")
    )]
    #[case::tilde("~jiggle~", Some("name '~jiggle~' contains illegal character '~'"))]
    fn names(#[case] name: &str, #[case] error: Option<&str>) {
        assert_eq!(check_name(name).as_deref(), error);
    }

    #[test]
    fn too_long() {
        let name = "x".repeat(212);
        assert_eq!(
            check_name(&name),
            Some(format!(
                "name '{name}' must be no longer than 211 characters"
            ))
        );
    }
}
