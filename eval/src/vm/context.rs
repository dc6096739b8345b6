//! What an evaluation shares between the VM and builtins: sources,
//! globals, options, file access, the import cache, the diagnostics sink.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::compiler::{Globals, Unit, compile};
use crate::errors::{Diagnostic, Error, ErrorKind};
use crate::io::EvalIO;
use crate::source::{FileId, SourceMap};
use crate::syntax;
use crate::value::{NixAttrs, NixString, Thunk, Upvalues, Value};

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
    /// CppNix's `max-call-depth`: how deeply nested a value may be when
    /// it is walked as a whole (`deepSeq`, `--strict`, `toJSON`), where
    /// CppNix's walk recurses and stops at this depth. Calls are bounded
    /// by `max_frames`, which can be much larger: tvix's VM does not use
    /// the native stack for them.
    pub max_call_depth: usize,
    /// `--trace-verbose`: `builtins.traceVerbose` prints.
    pub trace_verbose: bool,
    /// `--abort-on-warn`: `builtins.warn` fails instead of warning.
    pub abort_on_warn: bool,
    /// `--pure-eval`: no environment, clock, system or search path.
    pub pure: bool,
    /// `builtins.currentSystem`; the host's when `None`.
    pub system: Option<String>,
    /// CppNix experimental features enabled (`pipe-operators`, …).
    pub experimental_features: Vec<String>,
    /// `--dump-bytecode`: the bytecode of everything compiled goes to the
    /// diagnostics.
    pub dump_bytecode: bool,
    /// `--trace-runtime`: every instruction the VM runs, every code frame
    /// it enters and every builtin it calls goes to the diagnostics.
    pub trace_runtime: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            lints: Lints::default(),
            search_path: Vec::new(),
            home: None,
            env: None,
            max_frames: 1_000_000,
            max_call_depth: 10_000,
            trace_verbose: false,
            abort_on_warn: false,
            pure: false,
            system: None,
            experimental_features: Vec::new(),
            dump_bytecode: false,
            trace_runtime: false,
        }
    }
}

impl EvalOptions {
    /// Whether a CppNix experimental feature is enabled, directly or
    /// through one that implies it (`flakes` implies `fetch-tree`).
    pub fn has_feature(&self, name: &str) -> bool {
        self.experimental_features
            .iter()
            .any(|f| f == name || (name == "fetch-tree" && f == "flakes"))
    }

    /// Fails as CppNix does when code needs a feature that is off.
    pub fn require_feature(&self, name: &'static str) -> Result<(), ErrorKind> {
        if self.has_feature(name) {
            Ok(())
        } else {
            Err(ErrorKind::MissingExperimentalFeature(name))
        }
    }
}

/// Where `<nix/…>` files live: CppNix's built-in "corepkgs".
pub const COREPKGS_DIR: &str = "/__corepkgs__";

/// The built-in files under `COREPKGS_DIR`.
const COREPKGS: &[(&str, &str)] = &[(
    "fetchurl.nix",
    include_str!("../builtins/corepkgs/fetchurl.nix"),
)];

/// Receives traces and warnings as they happen.
pub type DiagnosticSink = Rc<dyn Fn(&Diagnostic, &SourceMap)>;

pub struct Context {
    pub sources: SourceMap,
    pub globals: Globals,
    pub options: EvalOptions,
    pub interrupt: Option<Arc<AtomicBool>>,
    io: Rc<dyn EvalIO>,
    diagnostics: DiagnosticSink,
    import_cache: RefCell<HashMap<PathBuf, Value>>,
    /// Store paths of host paths already interpolated.
    store_paths: RefCell<HashMap<PathBuf, NixString>>,
    /// Whether code is compiled to speculate (see `compiler::compile`).
    speculate: Cell<bool>,
}

impl Context {
    pub fn new(
        sources: SourceMap,
        globals: Globals,
        options: EvalOptions,
        interrupt: Option<Arc<AtomicBool>>,
        io: Rc<dyn EvalIO>,
        diagnostics: DiagnosticSink,
    ) -> Self {
        Context {
            sources,
            globals,
            options,
            interrupt,
            io,
            diagnostics,
            import_cache: RefCell::default(),
            store_paths: RefCell::default(),
            speculate: Cell::new(false),
        }
    }

    pub fn io(&self) -> &dyn EvalIO {
        self.io.as_ref()
    }

    /// Hands a trace or warning to the sink.
    pub fn report(&self, diagnostic: Diagnostic) {
        (self.diagnostics)(&diagnostic, &self.sources);
    }

    fn io_error(path: &Path, e: std::io::Error) -> Error {
        crate::builtins::io_error(path, e)
    }

    /// The text and path of a file to import: a built-in corepkg, or a
    /// file read through `EvalIO` (`dir/default.nix` for a directory).
    /// Symlinks are not resolved: relative paths in the file are relative
    /// to the path it was imported by, as in CppNix.
    fn read_source(&self, path: &Path) -> Result<(PathBuf, String), Error> {
        if let Ok(rest) = path.strip_prefix(COREPKGS_DIR) {
            return COREPKGS
                .iter()
                .find(|(name, _)| Path::new(name) == rest)
                .map(|(_, text)| (path.to_path_buf(), text.to_string()))
                .ok_or_else(|| Self::io_error(path, std::io::ErrorKind::NotFound.into()));
        }
        let is_dir = self
            .io
            .canonicalize(path)
            .and_then(|real| self.io.file_type(&real))
            .is_ok_and(|t| t == crate::io::FileType::Directory);
        let file = if is_dir {
            path.join("default.nix")
        } else {
            path.to_path_buf()
        };
        let bytes = self
            .io
            .read_to_end(&file)
            .map_err(|e| Self::io_error(&file, e))?;
        Ok((file, crate::source::decode_source(bytes)))
    }

    /// Compiles a file into an unforced thunk of its value; the same file
    /// is compiled once per evaluation.
    pub fn import(&self, path: &Path) -> Result<Value, Error> {
        if let Some(v) = self.import_cache.borrow().get(path) {
            return Ok(v.clone());
        }
        let (file, text) = self.read_source(path)?;
        let thunk = self.compile_source(
            &text,
            &file.display().to_string(),
            file.parent().unwrap_or(Path::new("/")),
        )?;
        self.import_cache
            .borrow_mut()
            .insert(path.to_path_buf(), thunk.clone());
        Ok(thunk)
    }

    /// `scopedImport`: compiles a file with the attributes of `scope`
    /// bound around it (shadowing the globals). Not cached: the same file
    /// may be imported with different scopes.
    pub fn scoped_import(&self, path: &Path, scope: &NixAttrs) -> Result<Value, Error> {
        let (file, text) = self.read_source(path)?;
        let name = file.display().to_string();
        self.compile_scoped(&text, &name, file.parent().unwrap_or(Path::new("/")), scope)
    }

    /// Compiles source text into an unforced thunk of its value, with the
    /// attributes of `scope` bound around it (shadowing the globals).
    pub fn compile_scoped(
        &self,
        text: &str,
        name: &str,
        dir: &Path,
        scope: &NixAttrs,
    ) -> Result<Value, Error> {
        let names: Vec<String> = scope.keys().map(|k| k.to_string()).collect();
        let (_, lambda) = self.compile_text(text, name, dir, &names)?;
        // The body captures the scope's names as locals of an enclosing
        // function that is never run: its slots are the scope's values, in
        // the order of `names`.
        let values: Vec<&Value> = scope.values().collect();
        let upvalues = lambda.captures.iter().map(|c| match c {
            crate::chunk::Capture::Local(slot) => values
                .get(*slot as usize)
                .map(|v| (*v).clone())
                .unwrap_or_default(),
            crate::chunk::Capture::Upvalue(_) => Value::Null,
        });
        let upvalues = Upvalues::collect(lambda.captures.len(), upvalues);
        Ok(Value::Thunk(Thunk::suspended(lambda, upvalues)))
    }

    /// Compiles source text into an unforced thunk of its value.
    pub fn compile_source(&self, text: &str, name: &str, dir: &Path) -> Result<Value, Error> {
        let (_, lambda) = self.compile_text(text, name, dir, &[])?;
        Ok(Value::Thunk(Thunk::suspended(lambda, Upvalues::default())))
    }

    /// `nix-instantiate --parse`: compiles the text, for its errors and
    /// warnings, and shows its expression as CppNix does.
    pub fn show_source(&self, text: &str, name: &str, dir: &Path) -> Result<String, Error> {
        let (file, _) = self.compile_text(text, name, dir, &[])?;
        let src = syntax::Source { file, name, text };
        let paths = syntax::print::Paths {
            dir,
            home: self.options.home.as_deref(),
        };
        Ok(syntax::print::show(&syntax::reparse(text), &src, paths))
    }

    /// Adds the text to the sources and compiles it, with `scope` bound
    /// around it (see `Unit::scope`).
    fn compile_text(
        &self,
        text: &str,
        name: &str,
        dir: &Path,
        scope: &[String],
    ) -> Result<(FileId, Rc<crate::chunk::Lambda>), Error> {
        let id = self.sources.add(name, text);
        let lambda = compile(&Unit {
            text,
            file: id,
            name,
            dir,
            home: self.options.home.as_deref(),
            globals: &self.globals,
            lints: self.options.lints,
            speculate: self.speculate.get(),
            scope,
            pipe_operators: self.pipe_operators(),
            report: &|d| self.report(d),
        })?;
        Ok((id, self.compiled(lambda, name)))
    }

    /// A lambda just compiled from the source `name`; with
    /// `--dump-bytecode` its listing goes to the diagnostics (but for the
    /// builtins written in Nix).
    fn compiled(&self, lambda: Rc<crate::chunk::Lambda>, name: &str) -> Rc<crate::chunk::Lambda> {
        if self.options.dump_bytecode && !name.starts_with("«builtin") {
            self.report(Diagnostic::Debug(lambda.disassemble(&self.sources)));
        }
        lambda
    }

    fn pipe_operators(&self) -> bool {
        self.options
            .experimental_features
            .iter()
            .any(|f| f == "pipe-operators")
    }

    /// Sets whether code compiled from now on speculates: only when every
    /// value printed will be forced (`--strict`, `--json`). Files already
    /// in the import cache keep how they were compiled, which changes
    /// nothing but how a later non-strict request prints unforced values.
    pub fn set_speculation(&self, on: bool) {
        self.speculate.set(on);
    }

    /// Resolves `<name>` against search path entries (prefix, path), then
    /// `<nix/…>` against the corepkgs, as CppNix's `findFile` does.
    pub fn find_file(&self, entries: &[(String, PathBuf)], name: &str) -> Result<Value, ErrorKind> {
        if self.options.pure {
            return Err(ErrorKind::Restricted(format!(
                "cannot look up '<{name}>' in pure evaluation mode (use '--impure' to override)"
            )));
        }
        for (prefix, path) in entries {
            let rest = if prefix.is_empty() {
                Some(name)
            } else if name == prefix {
                Some("")
            } else {
                name.strip_prefix(prefix.as_str())
                    .and_then(|r| r.strip_prefix('/'))
            };
            let Some(rest) = rest else { continue };
            let candidate = if rest.is_empty() {
                path.clone()
            } else {
                path.join(rest)
            };
            let candidate = if candidate.is_absolute() {
                candidate
            } else {
                std::env::current_dir()
                    .map(|d| d.join(&candidate))
                    .unwrap_or(candidate)
            };
            let candidate = crate::value::normalise_path(&candidate);
            if self.io.path_exists(&candidate).unwrap_or(false) {
                return Ok(Value::Path(candidate.into()));
            }
        }
        if let Some(rest) = name.strip_prefix("nix/")
            && COREPKGS.iter().any(|(n, _)| *n == rest)
        {
            return Ok(Value::Path(Path::new(COREPKGS_DIR).join(rest).into()));
        }
        Err(ErrorKind::NotInSearchPath(name.to_string()))
    }

    /// The search path as `builtins.nixPath` holds it.
    pub fn search_path_entries(&self) -> Vec<(String, PathBuf)> {
        self.options
            .search_path
            .iter()
            .map(|e| (e.prefix.clone().unwrap_or_default(), e.path.clone()))
            .collect()
    }

    /// The string a path interpolates to: its store path (computed or
    /// imported by `EvalIO`, once per path), with that path as context.
    /// Paths already in the store stay as they are.
    pub fn path_to_store(&self, path: &Path) -> Result<NixString, ErrorKind> {
        if let Some(s) = self.store_paths.borrow().get(path) {
            return Ok(s.clone());
        }
        let store_dir = Path::new(self.io.store_dir());
        let s = if path.starts_with(store_dir) && path != store_dir {
            let store_path: PathBuf = path
                .components()
                .take(store_dir.components().count() + 1)
                .collect();
            NixString::new(
                path.as_os_str().as_encoded_bytes(),
                [crate::value::ContextElement::Plain(
                    store_path.display().to_string(),
                )]
                .into(),
            )
        } else {
            // A `.drv` in the store must be a derivation (CppNix's
            // `copyPathToStore` refuses such names).
            if path.as_os_str().as_encoded_bytes().ends_with(b".drv") {
                return Err(ErrorKind::Builtin(
                    "file names are not allowed to end in '.drv'".into(),
                ));
            }
            if !self.io.path_exists(path).unwrap_or(false) && self.io.file_type(path).is_err() {
                return Err(ErrorKind::PathDoesNotExist(path.display().to_string()));
            }
            let store_path = self.io.import_path(path).map_err(|e| match e.kind() {
                // A file the store cannot hold: the message names it.
                std::io::ErrorKind::Unsupported => ErrorKind::Builtin(e.to_string()),
                _ => ErrorKind::Io {
                    path: path.display().to_string(),
                    message: e.to_string(),
                },
            })?;
            let text = store_path.display().to_string();
            NixString::new(
                text.as_bytes(),
                [crate::value::ContextElement::Plain(text.clone())].into(),
            )
        };
        self.store_paths
            .borrow_mut()
            .insert(path.to_path_buf(), s.clone());
        Ok(s)
    }

    pub fn getenv(&self, name: &str) -> String {
        if self.options.pure {
            return String::new();
        }
        match &self.options.env {
            Some(env) => env.get(name).cloned().unwrap_or_default(),
            None => std::env::var(name).unwrap_or_default(),
        }
    }

    /// `{ file; line; column; }` for a position, as `unsafeGetAttrPos`
    /// gives it; `null` in code that has no file (`-E`, standard input),
    /// as in CppNix.
    pub fn position_value(&self, span: crate::source::Span) -> Value {
        let loc = self.sources.location(span);
        if loc.file.starts_with('«') {
            return Value::Null;
        }
        Value::Attrs(NixAttrs::from_sorted_unique(vec![
            (NixString::from("column"), Value::Int(loc.column as i64)),
            (NixString::from("file"), Value::string(loc.file)),
            (NixString::from("line"), Value::Int(loc.line as i64)),
        ]))
    }
}
