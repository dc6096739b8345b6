//! What an evaluation shares between the VM and builtins: sources,
//! globals, options, the import cache.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::compiler::{Globals, compile};
use crate::errors::{Error, ErrorKind};
use crate::source::SourceMap;
use crate::value::{Thunk, Upvalues, Value};

/// One `-I`/`NIX_PATH` entry: `prefix=path` or a bare directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPathEntry {
    pub prefix: Option<String>,
    pub path: PathBuf,
}

impl SearchPathEntry {
    /// Parses `prefix=path` or `path`.
    pub fn parse(s: &str) -> Self {
        match s.split_once('=') {
            Some((prefix, path)) => SearchPathEntry {
                prefix: Some(prefix.to_string()),
                path: path.into(),
            },
            None => SearchPathEntry {
                prefix: None,
                path: s.into(),
            },
        }
    }
}

/// How a `--lint-*` check reacts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LintLevel {
    #[default]
    Allow,
    Warn,
    Fatal,
}

/// CppNix's literal lints (`--lint-absolute-path-literals` etc.).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lints {
    /// `/abs` and `~/home` path literals.
    pub absolute_paths: LintLevel,
    /// Relative path literals without a leading `./` or `../`.
    pub short_paths: LintLevel,
    /// Unquoted URLs.
    pub url_literals: LintLevel,
}

#[derive(Clone, Debug)]
pub struct EvalOptions {
    pub lints: Lints,
    pub search_path: Vec<SearchPathEntry>,
    /// Resolves `~/` paths.
    pub home: Option<PathBuf>,
    /// Environment seen by `builtins.getEnv`; `None` means the process's.
    pub env: Option<HashMap<String, String>>,
    /// Bound on VM frames, so runaway recursion is an error, not an OOM.
    pub max_frames: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            lints: Lints::default(),
            search_path: Vec::new(),
            home: None,
            env: None,
            max_frames: 1_000_000,
        }
    }
}

pub struct Context {
    pub sources: SourceMap,
    pub globals: Globals,
    pub options: EvalOptions,
    pub interrupt: Option<Arc<AtomicBool>>,
    import_cache: RefCell<HashMap<PathBuf, Value>>,
    /// Whether code is compiled to speculate (see `compiler::compile`).
    speculate: Cell<bool>,
}

impl Context {
    pub fn new(
        sources: SourceMap,
        globals: Globals,
        options: EvalOptions,
        interrupt: Option<Arc<AtomicBool>>,
    ) -> Self {
        Context {
            sources,
            globals,
            options,
            interrupt,
            import_cache: RefCell::default(),
            speculate: Cell::new(false),
        }
    }

    /// Compiles a file (or `dir/default.nix`) into an unforced thunk of its
    /// value; the same file is compiled once per evaluation.
    pub fn import(&self, path: &Path) -> Result<Value, Error> {
        let file = if path.is_dir() {
            path.join("default.nix")
        } else {
            path.to_path_buf()
        };
        if let Some(v) = self.import_cache.borrow().get(&file) {
            return Ok(v.clone());
        }
        let text = std::fs::read_to_string(&file).map_err(|e| {
            Error::new(
                ErrorKind::Io {
                    path: file.display().to_string(),
                    message: e.to_string(),
                },
                None,
            )
        })?;
        let thunk = self.compile_source(
            &text,
            &file.display().to_string(),
            file.parent().unwrap_or(Path::new("/")),
        )?;
        self.import_cache.borrow_mut().insert(file, thunk.clone());
        Ok(thunk)
    }

    /// Compiles source text into an unforced thunk of its value.
    pub fn compile_source(&self, text: &str, name: &str, dir: &Path) -> Result<Value, Error> {
        let id = self.sources.add(name, text);
        let lambda = compile(
            text,
            id,
            dir,
            self.options.home.as_deref(),
            &self.globals,
            self.options.lints,
            self.speculate.get(),
        )?;
        Ok(Value::Thunk(Thunk::suspended(lambda, Upvalues::default())))
    }

    /// Sets whether code compiled from now on speculates: only when every
    /// value printed will be forced (`--strict`, `--json`). Files already
    /// in the import cache keep how they were compiled, which changes
    /// nothing but how a later non-strict request prints unforced values.
    pub fn set_speculation(&self, on: bool) {
        self.speculate.set(on);
    }

    /// Resolves `<name>` against the search path.
    pub fn find_file(&self, name: &str) -> Result<Value, ErrorKind> {
        for entry in &self.options.search_path {
            let candidate = match &entry.prefix {
                None => entry.path.join(name),
                Some(prefix) => {
                    if name == prefix {
                        entry.path.clone()
                    } else if let Some(rest) = name
                        .strip_prefix(prefix.as_str())
                        .and_then(|r| r.strip_prefix('/'))
                    {
                        entry.path.join(rest)
                    } else {
                        continue;
                    }
                }
            };
            if candidate.exists() {
                let abs = if candidate.is_absolute() {
                    candidate
                } else {
                    std::env::current_dir()
                        .map(|d| d.join(&candidate))
                        .unwrap_or(candidate)
                };
                return Ok(Value::Path(crate::value::normalise_path(&abs).into()));
            }
        }
        Err(ErrorKind::NotInSearchPath(name.to_string()))
    }

    pub fn getenv(&self, name: &str) -> String {
        match &self.options.env {
            Some(env) => env.get(name).cloned().unwrap_or_default(),
            None => std::env::var(name).unwrap_or_default(),
        }
    }
}
