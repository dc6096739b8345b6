//! Builtins that add to the store or refer to it: `path`,
//! `filterSource`, `storePath` and `toFile`.
//!
//! `path` and `filterSource` call their filter, a Nix function, for every
//! entry below the root (with its path and its type: `regular`,
//! `directory`, `symlink` or `unknown`) in NAR order, not entering the
//! directories it rejects, as CppNix's `dumpPath` does. The VM calls the
//! filter (`co.call`), so the walk happens here, through the evaluator's
//! file access, and yields the set of rejected paths; the import then
//! leaves those out.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use nix_compat::nixhash::{CAHash, HashAlgo};
use nix_compat::store_path::{STORE_DIR_WITH_SLASH, StorePath, StorePathRef, build_ca_path};
use tvix_eval::builtins::{Co, coerce_to_path};
use tvix_eval::errors::ResultExt;
use tvix_eval::io::FileType;
use tvix_eval::value::{ContextElement, NixString};
use tvix_eval::{Diagnostic, Error, ErrorKind, Value};
use tvix_eval_builtin_macros::builtins;

use super::derivation_env::without_context;
use super::errors::{ImportError, check_name};
use super::inputs::parse_store_path;
use crate::TvixStoreIO;
use crate::nix_hash;
use crate::tvix_store_io::{Ingestion, StoreError};

/// A store path as a string that refers to it.
pub(super) fn store_path_value(path: &StorePath) -> Value {
    let text = path.to_absolute_path();
    Value::String(NixString::new(
        text.as_bytes(),
        [ContextElement::Plain(text.clone())].into(),
    ))
}

/// What `builtins.path` was asked to add.
struct AddPath {
    path: PathBuf,
    name: String,
    filter: Option<Value>,
    recursive: bool,
    expected: Option<CAHash>,
}

/// Calls `filter` on every entry below `root` in NAR order and returns the
/// paths it rejects (whose contents it never saw).
async fn rejected_paths(co: &Co, filter: &Value, root: &Path) -> Result<HashSet<PathBuf>, Error> {
    let io = co.context().io();
    let mut rejected = HashSet::new();
    if io.file_type(root).map_err(|e| io_error(root, e))? != FileType::Directory {
        return Ok(rejected);
    }
    // Directories being walked: the entries still to look at, reversed.
    let mut stack: Vec<(PathBuf, Entries)> = vec![(root.to_owned(), list(co, root)?)];
    while let Some((dir, entries)) = stack.last_mut() {
        let Some((name, file_type)) = entries.pop() else {
            stack.pop();
            continue;
        };
        let path = dir.join(std::ffi::OsStr::from_bytes(&name));
        let arg = Value::String(NixString::from(path.as_os_str().as_bytes()));
        let partial = co.call(filter.clone(), arg).await?;
        let kept = co
            .call_forced(partial, Value::string(file_type.as_str()))
            .await?
            .as_bool()
            .context("while evaluating the return value of the path filter function")?;
        if !kept {
            rejected.insert(path);
        } else if file_type == FileType::Directory {
            let entries = list(co, &path)?;
            stack.push((path, entries));
        }
    }
    Ok(rejected)
}

/// Names and types of directory entries.
type Entries = Vec<(Vec<u8>, FileType)>;

/// The entries of the directory `dir`, last name first.
fn list(co: &Co, dir: &Path) -> Result<Entries, Error> {
    let mut entries = co
        .context()
        .io()
        .read_dir(dir)
        .map_err(|e| io_error(dir, e))?;
    entries.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(entries)
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    let path = path.display().to_string();
    match e.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::PathDoesNotExist(path),
        _ => ErrorKind::Io {
            path,
            message: e.to_string(),
        },
    }
    .into()
}

/// Adds a path (on the host, or in the store already) to the store as
/// `builtins.path` does.
async fn add_path(io: &TvixStoreIO, co: &Co, add: AddPath) -> Result<Value, Error> {
    if let Some(reason) = check_name(&add.name) {
        return Err(ImportError::InvalidStorePath {
            path: add.name.clone(),
            reason,
        }
        .into());
    }
    // With the expected hash known, a path already in the store is not
    // read again.
    let expected = match &add.expected {
        Some(ca) => Some(
            build_ca_path(&add.name, ca, [] as [&str; 0], false).map_err(|e| {
                ImportError::InvalidStorePath {
                    path: add.name.clone(),
                    reason: e.to_string(),
                }
            })?,
        ),
        None => None,
    };
    if let Some(expected) = &expected
        && io
            .path_info(&expected.as_ref())
            .map_err(ImportError::from)?
            .is_some()
    {
        return Ok(store_path_value(expected));
    }
    check_file_types(co, &add.path, add.recursive)?;
    let ingestion = match (&add.filter, add.recursive) {
        (_, false) => Ingestion::Flat,
        (None, true) => Ingestion::Nar(None),
        (Some(filter), true) => {
            let rejected = rejected_paths(co, filter, &add.path).await?;
            Ingestion::Nar(Some(Arc::new(move |path: &Path| !rejected.contains(path))))
        }
    };
    let source = io
        .store_source(&add.path)
        .map_err(|e| io_error(&add.path, e))?;
    let added = match source {
        // In a store path the store holds: re-added from castore.
        Some((Some(node), references)) => {
            io.import_store_node(&add.path, node, &add.name, ingestion, references)
        }
        Some((None, _)) => {
            return Err(ErrorKind::PathDoesNotExist(add.path.display().to_string()).into());
        }
        None => io.import_host_path(&add.path, &add.name, ingestion),
    }
    .map_err(ImportError::from)?;
    if expected.as_ref().is_some_and(|expected| *expected != added) {
        return Err(ImportError::StorePathMismatch(add.path.display().to_string()).into());
    }
    Ok(store_path_value(&added))
}

/// Sockets, devices and the like cannot be stored: CppNix names the first
/// one it meets. Only the root is checked here; the import names any
/// other. A directory cannot be added by its contents.
fn check_file_types(co: &Co, root: &Path, recursive: bool) -> Result<(), Error> {
    let file_type = co
        .context()
        .io()
        .file_type(root)
        .map_err(|e| io_error(root, e))?;
    match file_type {
        FileType::Unknown => Err(ImportError::Store(StoreError::UnsupportedFileType(
            root.display().to_string(),
        ))
        .into()),
        FileType::Regular => Ok(()),
        _ if recursive => Ok(()),
        // What CppNix says when it reads a directory as a file.
        _ => Err(ErrorKind::Builtin(format!(
            "reading from file '{}': Is a directory",
            root.display()
        ))
        .into()),
    }
}

/// The sha256 CppNix expects in `builtins.path`, as a content address.
fn expected_hash(co: &Co, text: &str, recursive: bool) -> Result<CAHash, Error> {
    let parsed =
        nix_hash::parse_allow_empty(text, Some(HashAlgo::Sha256)).map_err(ImportError::from)?;
    if let Some(warning) = parsed.warning {
        co.context().report(Diagnostic::Warning {
            message: warning,
            span: None,
        });
    }
    Ok(if recursive {
        CAHash::Nar(parsed.hash)
    } else {
        CAHash::Flat(parsed.hash)
    })
}

/// The base name of a path, as a store path name.
fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[builtins(state = Rc<TvixStoreIO>)]
pub(super) mod import_builtins {
    use super::*;

    /// Adds a path to the store: `{ path; name ? baseNameOf path; filter ?
    /// null; recursive ? true; sha256 ? null; }`. With `sha256`, a path
    /// already in the store is not read again, and a mismatch is an error.
    #[builtin("path")]
    async fn builtin_path(io: Rc<TvixStoreIO>, co: &Co, args: Value) -> Result<Value, Error> {
        let args = args.as_attrs()?;
        let mut path = None;
        let mut name = None;
        let mut filter = None;
        let mut recursive = true;
        let mut sha256 = None;
        for entry in args.entries() {
            let value = entry.value.clone();
            match entry.name.as_bytes() {
                b"path" => path = Some(coerce_to_path(co, value).await?),
                b"name" => {
                    let text = co.force(value).await?.as_string()?;
                    name = Some(without_context(&text)?);
                }
                b"filter" => filter = Some(co.force(value).await?),
                b"recursive" => recursive = co.force(value).await?.as_bool()?,
                b"sha256" => {
                    let text = co.force(value).await?.as_string()?;
                    sha256 = Some(without_context(&text)?);
                }
                other => {
                    return Err(ImportError::UnsupportedArgument(
                        String::from_utf8_lossy(other).into_owned(),
                    )
                    .into());
                }
            }
        }
        let path = path.ok_or(ImportError::MissingPath)?;
        let name = name.unwrap_or_else(|| base_name(&path));
        let expected = match sha256 {
            Some(text) => Some(expected_hash(co, &text, recursive)?),
            None => None,
        };
        let add = AddPath {
            path: path.clone(),
            name,
            filter,
            recursive,
            expected,
        };
        add_path(&io, co, add)
            .await
            .map_err(|e| e.context(format!("while adding path '{}'", path.display())))
    }

    /// Adds a path to the store, keeping what `filter path type` accepts.
    #[builtin("filterSource")]
    async fn builtin_filter_source(
        io: Rc<TvixStoreIO>,
        co: &Co,
        #[lazy] filter: Value,
        #[lazy] path: Value,
    ) -> Result<Value, Error> {
        let path = coerce_to_path(co, path).await.context("while evaluating the second argument (the path to filter) passed to 'builtins.filterSource'")?;
        let filter = co.force(filter).await?;
        if !filter.is_function() {
            return Err(Error::from(ErrorKind::type_error("a function", &filter))
                .context("while evaluating the first argument passed to builtins.filterSource"));
        }
        let add = AddPath {
            name: base_name(&path),
            path: path.clone(),
            filter: Some(filter),
            recursive: true,
            expected: None,
        };
        add_path(&io, co, add)
            .await
            .map_err(|e| e.context(format!("while adding path '{}'", path.display())))
    }

    /// The store path a path (or a symlink to one) is in, as a string that
    /// refers to it.
    #[builtin("storePath")]
    async fn builtin_store_path(
        _io: Rc<TvixStoreIO>,
        co: &Co,
        #[lazy] path: Value,
    ) -> Result<Value, Error> {
        if co.context().options.pure {
            return Err(ImportError::PureEvaluation("builtins.storePath").into());
        }
        let mut path = coerce_to_path(co, path)
            .await
            .context("while evaluating the first argument passed to 'builtins.storePath'")?;
        let bytes = path.as_os_str().as_bytes();
        if StorePathRef::from_absolute_path(bytes).is_err() {
            // It may be a symlink into the store.
            if let Ok(real) = co.context().io().canonicalize(&path) {
                path = real;
            }
        }
        let bytes = path.as_os_str().as_bytes();
        if !bytes.starts_with(STORE_DIR_WITH_SLASH.as_bytes()) {
            return Err(ImportError::NotInStore(path.display().to_string()).into());
        }
        let (store_path, _) = StorePathRef::from_absolute_path_full(bytes).map_err(|e| {
            ImportError::InvalidStorePath {
                path: path.display().to_string(),
                reason: e.to_string(),
            }
        })?;
        let context = [ContextElement::Plain(store_path.to_absolute_path())];
        Ok(Value::String(NixString::new(bytes, context.into())))
    }

    /// Writes `contents` to a store file named `name`, which refers to the
    /// store paths `contents` refers to (derivation outputs it may not).
    #[builtin("toFile")]
    async fn builtin_to_file(
        io: Rc<TvixStoreIO>,
        co: &Co,
        name: Value,
        contents: Value,
    ) -> Result<Value, Error> {
        let name = without_context(&name.as_string()?)?;
        let contents = contents.as_string()?;
        let mut references = Vec::new();
        for element in contents.context().into_iter().flatten() {
            match element {
                ContextElement::Plain(path) => {
                    references.push(parse_store_path(path).map_err(ImportError::from)?)
                }
                other => {
                    return Err(ImportError::ToFileReferencesDerivation {
                        name,
                        element: other.encoded(),
                    }
                    .into());
                }
            }
        }
        let path = io
            .add_text(&name, contents.as_bytes().to_vec(), references)
            .map_err(ImportError::from)?;
        // Names nix-compat takes but CppNix 2.26 refuses (`.`, `.-x`).
        if let Some(reason) = check_name(&name) {
            let path = path.to_string();
            return Err(ImportError::InvalidStorePath { path, reason }.into());
        }
        Ok(store_path_value(&path))
    }
}
