//! Files and the environment, through `EvalIO`: `readFile`, `readDir`,
//! `readFileType`, `pathExists`, `toPath`, `findFile`, `getEnv`.

use std::path::PathBuf;

use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind, ResultExt};
use crate::value::{NixAttrs, NixString, Value, normalise_path};
use crate::vm::generators::Co;
use crate::vm::ops::{self, Coercion};

pub(super) use impls::builtins;

/// Turns a string or path argument into an absolute, normalised path
/// (CppNix's `coerceToPath`); also for builtins from other crates.
pub async fn coerce_to_path(co: &Co, v: Value) -> Result<PathBuf, Error> {
    match co.force(v).await? {
        Value::Path(p) => Ok(p.to_path_buf()),
        other => {
            let s = ops::coerce_to_string(co, other, Coercion::Interpolation).await?;
            let text = s.to_string();
            if !text.starts_with('/') {
                return Err(ErrorKind::NotAnAbsolutePath(text).into());
            }
            Ok(normalise_path(std::path::Path::new(&text)))
        }
    }
}

/// An I/O error of the evaluator's file access, naming the path.
pub(crate) fn io_error(path: &std::path::Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            ErrorKind::PathDoesNotExist(path.display().to_string()).into()
        }
        std::io::ErrorKind::PermissionDenied => ErrorKind::Restricted(e.to_string()).into(),
        _ => ErrorKind::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
        .into(),
    }
}

#[builtins]
mod impls {
    use super::*;

    /// Whether a path exists. A string ending in `/` or `/.` names a
    /// directory, so it exists only as one.
    #[builtin("pathExists")]
    async fn builtin_path_exists(co: &Co, p: Value) -> Result<Value, Error> {
        let must_be_dir = matches!(&p, Value::String(s)
            if s.as_bytes().ends_with(b"/") || s.as_bytes().ends_with(b"/."));
        let path = coerce_to_path(co, p).await?;
        let io = co.context().io();
        // A broken symlink exists; a directory is looked for through it.
        // Any failure, a refused access included, means "no", as in
        // CppNix.
        let exists = if must_be_dir {
            io.canonicalize(&path)
                .and_then(|real| io.file_type(&real))
                .is_ok_and(|t| t == crate::io::FileType::Directory)
        } else {
            io.file_type(&path).is_ok()
        };
        Ok(Value::Bool(exists))
    }

    /// The contents of a file as a string.
    #[builtin("readFile")]
    async fn builtin_read_file(co: &Co, p: Value) -> Result<Value, Error> {
        let path = coerce_to_path(co, p).await?;
        let bytes = co
            .context()
            .io()
            .read_to_end(&path)
            .map_err(|e| io_error(&path, e))?;
        if bytes.contains(&0) {
            return Err(
                ErrorKind::NulInString(String::from_utf8_lossy(&bytes).replace('\0', "␀")).into(),
            );
        }
        Ok(Value::String(NixString::from(bytes)))
    }

    /// The entries of a directory: a set from name to `"regular"`,
    /// `"directory"`, `"symlink"` or `"unknown"`.
    #[builtin("readDir")]
    async fn builtin_read_dir(co: &Co, p: Value) -> Result<Value, Error> {
        let path = coerce_to_path(co, p).await?;
        let io = co.context().io();
        let real = io.canonicalize(&path).map_err(|e| io_error(&path, e))?;
        if io.file_type(&real).map_err(|e| io_error(&path, e))? != crate::io::FileType::Directory {
            return Err(
                ErrorKind::Builtin(format!("'{}' is not a directory", real.display())).into(),
            );
        }
        let entries = io.read_dir(&real).map_err(|e| io_error(&path, e))?;
        Ok(Value::Attrs(NixAttrs::from_entries_last_wins(
            entries
                .into_iter()
                .map(|(name, t)| (NixString::from(name), Value::string(t.as_str())))
                .collect(),
        )))
    }

    /// The type of the file at a path (`"regular"`, `"directory"`,
    /// `"symlink"` or `"unknown"`), without following a final symlink.
    #[builtin("readFileType")]
    async fn builtin_read_file_type(co: &Co, p: Value) -> Result<Value, Error> {
        let path = coerce_to_path(co, p).await?;
        let t = co
            .context()
            .io()
            .file_type(&path)
            .map_err(|e| io_error(&path, e))?;
        Ok(Value::string(t.as_str()))
    }

    /// The string form of a path (deprecated in CppNix).
    #[builtin("toPath")]
    async fn builtin_to_path(co: &Co, #[lazy] p: Value) -> Result<Value, Error> {
        let path = coerce_to_path(co, p)
            .await
            .context("while evaluating the first argument passed to builtins.toPath")?;
        Ok(Value::string(path.to_string_lossy().into_owned()))
    }

    /// Looks `name` up in a search path (a list of `{ prefix; path; }`),
    /// as `<name>` does with `builtins.nixPath`.
    #[builtin("findFile")]
    async fn builtin_find_file(co: &Co, search_path: Value, name: Value) -> Result<Value, Error> {
        let name = name.as_string()?.to_string();
        let mut entries = Vec::new();
        for entry in search_path.as_list()?.iter() {
            let entry = co.force(entry.clone()).await?.as_attrs()?;
            let prefix = match entry.get(b"prefix") {
                Some(p) => super::super::force_string(co, p.clone()).await?.to_string(),
                None => String::new(),
            };
            let path = entry
                .get(b"path")
                .cloned()
                .ok_or_else(|| ErrorKind::missing_attribute("path"))?;
            // A path is taken as it is, not copied to the store.
            let path = match co.force(path).await? {
                Value::Path(p) => p.to_path_buf(),
                other => PathBuf::from(
                    ops::coerce_to_string(co, other, Coercion::Interpolation)
                        .await?
                        .to_string(),
                ),
            };
            entries.push((prefix, path));
        }
        Ok(co.context().find_file(&entries, &name)?)
    }

    /// The value of an environment variable, or `""` if it is unset.
    #[builtin("getEnv")]
    async fn builtin_get_env(co: &Co, name: Value) -> Result<Value, Error> {
        let name = name
            .as_string()
            .context("while evaluating the first argument passed to builtins.getEnv")?;
        Ok(Value::string(co.context().getenv(&name.to_string())))
    }
}
