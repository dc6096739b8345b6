//! tvix-eval: the Nix language.
//!
//! Source text is parsed by `rnix`, compiled to bytecode by `compiler`
//! (static scope resolution, explicit thunks) and run by the stack-based
//! `vm`, whose frame stack replaces native recursion. Values live in
//! `value`; `builtins` holds the builtins. See `docs/eval.md` for the
//! design.
//!
//! Embedding: `Evaluator::builder()` takes file access (`io::EvalIO`),
//! extra builtins (which replace built-in ones of the same name), options
//! and a sink for traces and warnings; `eval_file`/`eval_expr` return the
//! value, and `print` renders it as `nix-instantiate` does.
//!
//! This crate must never know about stores: store-backed I/O and the
//! store builtins are injected by `tvix-glue`.

// The code `#[builtins]` generates names this crate `::tvix_eval`, as it
// does in other crates.
extern crate self as tvix_eval;

pub mod builtins;
pub mod chunk;
mod compiler;
mod derivations;
pub mod errors;
pub mod io;
pub mod source;
pub mod store_path;
mod syntax;
pub mod value;
pub mod vm;

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use builtins::BuiltinDef;
pub use errors::{Diagnostic, Error, ErrorKind};
pub use source::SourceMap;
pub use value::Value;
pub use vm::{DiagnosticSink, EvalOptions, LintLevel, Lints, SearchPathEntry};

use io::EvalIO;
pub use value::NixAttrs;
use value::{NixContext, NixString, Thunk, ThunkState};
use vm::generators::{Co, GenFuture};
use vm::{Context, Vm};

/// How a value is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// `nix-instantiate --eval`'s Nix syntax.
    #[default]
    Nix,
    /// `--json`: as `builtins.toJSON`.
    Json,
    /// `--xml`, with source positions unless `--no-location`.
    Xml { locations: bool },
}

/// An automatic argument (`--arg NAME EXPR` or `--argstr NAME STR`).
#[derive(Clone, Debug)]
pub enum AutoArg {
    Expr(String),
    Str(String),
}

/// What to do with the value of a file or expression.
#[derive(Clone, Debug, Default)]
pub struct EvalRequest {
    /// Force the whole value (`--strict`).
    pub strict: bool,
    /// Arguments for a top-level function with formals.
    pub auto_args: Vec<(String, AutoArg)>,
    /// `-A`: a dot-separated attribute path to select.
    pub attr_path: Option<String>,
    /// Everything in the value will be forced (it is printed with
    /// `--strict` or as JSON), so cheap expressions may be computed
    /// before they are needed: nothing can tell.
    pub speculate: bool,
}

/// Builds an `Evaluator`; see the crate documentation.
pub struct EvaluatorBuilder {
    options: EvalOptions,
    io: Rc<dyn EvalIO>,
    builtins: Vec<BuiltinDef>,
    interrupt: Option<Arc<AtomicBool>>,
    diagnostics: Option<DiagnosticSink>,
}

impl EvaluatorBuilder {
    pub fn options(mut self, options: EvalOptions) -> Self {
        self.options = options;
        self
    }

    /// File access; `io::HostIO` by default.
    pub fn io(mut self, io: Rc<dyn EvalIO>) -> Self {
        self.io = io;
        self
    }

    /// Adds builtins; one with the name of an existing builtin replaces
    /// it (everywhere: in `builtins`, as `__name` and, for the top-level
    /// ones, unprefixed).
    pub fn add_builtins(mut self, defs: impl IntoIterator<Item = BuiltinDef>) -> Self {
        for def in defs {
            self.builtins.retain(|b| b.name != def.name);
            self.builtins.push(def);
        }
        self
    }

    /// A flag that, once set, makes the evaluation fail with "evaluation
    /// interrupted" at the next check.
    pub fn interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// Where traces and warnings go as they happen; without a sink they
    /// are collected (see `Evaluator::take_diagnostics`).
    pub fn on_diagnostic(mut self, sink: DiagnosticSink) -> Self {
        self.diagnostics = Some(sink);
        self
    }

    pub fn build(mut self) -> Evaluator {
        if self.options.pure {
            self.io = Rc::new(io::PureEvalIO(self.io));
        }
        let collected: Rc<RefCell<Vec<Diagnostic>>> = Rc::default();
        let sink = self.diagnostics.unwrap_or_else(|| {
            let collected = collected.clone();
            Rc::new(move |d: &Diagnostic, _: &SourceMap| collected.borrow_mut().push(d.clone()))
        });
        let globals = vm::globals::build(self.builtins, &self.options, self.io.as_ref());
        let ctx = Context::new(
            SourceMap::default(),
            globals.scope,
            self.options,
            self.interrupt,
            self.io,
            sink,
        );
        value::print::set_sources(&ctx.sources);
        let evaluator = Evaluator {
            ctx: Rc::new(ctx),
            builtins_set: globals.builtins_set,
            collected,
        };
        evaluator.install_nix_builtins();
        evaluator
    }
}

/// One evaluation: shares sources, the import cache and options between
/// the files and expressions it evaluates.
pub struct Evaluator {
    ctx: Rc<Context>,
    /// The thunk holding the `builtins` set, which holds itself
    /// (`builtins.builtins`); the cycle is broken on drop.
    builtins_set: Thunk,
    collected: Rc<RefCell<Vec<Diagnostic>>>,
}

impl Drop for Evaluator {
    fn drop(&mut self) {
        self.builtins_set.replace(ThunkState::Blank);
    }
}

impl Evaluator {
    pub fn builder() -> EvaluatorBuilder {
        EvaluatorBuilder {
            options: EvalOptions::default(),
            io: Rc::new(io::HostIO),
            builtins: builtins::pure_builtins(),
            interrupt: None,
            diagnostics: None,
        }
    }

    /// An evaluator with host file access and the pure builtins.
    pub fn new(options: EvalOptions, interrupt: Option<Arc<AtomicBool>>) -> Self {
        let mut builder = Self::builder().options(options);
        builder.interrupt = interrupt;
        builder.build()
    }

    pub fn sources(&self) -> &SourceMap {
        &self.ctx.sources
    }

    /// The traces and warnings collected so far (when no sink was given
    /// to the builder).
    pub fn take_diagnostics(&self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.collected.borrow_mut())
    }

    /// Compiles the builtins written in Nix (`derivation`) into the
    /// global scope, as thunks of their files.
    fn install_nix_builtins(&self) {
        for (name, text) in builtins::NIX_BUILTINS {
            let Ok(value) =
                self.ctx
                    .compile_source(text, &format!("«builtin {name}»"), Path::new("/"))
            else {
                continue;
            };
            vm::globals::install(&self.ctx.globals, name, value);
        }
    }

    /// Evaluates a file: its value, called with the automatic arguments
    /// if it is a function with formals, the attribute path selected, and
    /// forced (deeply if `strict`).
    pub fn eval_file(&self, path: &Path, request: &EvalRequest) -> Result<Value, Error> {
        self.ctx.set_speculation(request.speculate);
        let root = self.ctx.import(path)?;
        self.finish(root, request)
    }

    /// Evaluates an expression (`-E`) with relative paths resolved against
    /// `dir`, as `eval_file` does.
    pub fn eval_expr(&self, text: &str, dir: &Path, request: &EvalRequest) -> Result<Value, Error> {
        self.ctx.set_speculation(request.speculate);
        let root = self.ctx.compile_source(text, "«string»", dir)?;
        self.finish(root, request)
    }

    /// Evaluates an expression with the attributes of `scope` bound as
    /// variables around it (shadowing builtins), as the REPL does with its
    /// bindings.
    pub fn eval_expr_in_scope(
        &self,
        text: &str,
        dir: &Path,
        scope: &NixAttrs,
        request: &EvalRequest,
    ) -> Result<Value, Error> {
        self.ctx.set_speculation(request.speculate);
        let root = self.ctx.compile_scoped(text, "«string»", dir, scope)?;
        self.finish(root, request)
    }

    /// The names bound in the global scope (`builtins`, `map`, `__add`, …).
    pub fn global_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.ctx.globals.keys().cloned().collect();
        names.sort();
        names
    }

    /// Evaluates source text read from elsewhere (standard input), named
    /// `name` in messages, as `eval_file` does.
    pub fn eval_source(
        &self,
        text: &str,
        name: &str,
        dir: &Path,
        request: &EvalRequest,
    ) -> Result<Value, Error> {
        self.ctx.set_speculation(request.speculate);
        let root = self.ctx.compile_source(text, name, dir)?;
        self.finish(root, request)
    }

    /// Parses and compiles without evaluating.
    pub fn check(&self, text: &str, name: &str, dir: &Path) -> Result<(), Error> {
        self.ctx.compile_source(text, name, dir).map(|_| ())
    }

    /// `nix-instantiate --parse`: checks the expression as `check` does,
    /// and prints its syntax tree as CppNix shows it.
    pub fn parse_to_string(&self, text: &str, name: &str, dir: &Path) -> Result<String, Error> {
        Ok(format!("{}\n", self.ctx.show_source(text, name, dir)?))
    }

    /// rnix's syntax tree of `text`, for debugging (`--display-ast`).
    pub fn syntax_tree(text: &str) -> String {
        format!("{:#?}\n", rnix::Root::parse(text).syntax())
    }

    /// Looks a name up in the search path (`nix-instantiate --find-file`).
    pub fn find_file(&self, name: &str) -> Result<std::path::PathBuf, Error> {
        match self.ctx.find_file(&self.ctx.search_path_entries(), name)? {
            Value::Path(p) => Ok(p.to_path_buf()),
            _ => Err(ErrorKind::NotInSearchPath(name.to_string()).into()),
        }
    }

    /// Renders a value as `nix-instantiate --eval` prints it. JSON may
    /// still have to evaluate (`__toString`, `outPath`, unforced parts).
    pub fn print(&self, value: &Value, format: OutputFormat) -> Result<String, Error> {
        match format {
            OutputFormat::Nix => Ok(value::print::print_value(value)),
            OutputFormat::Xml { locations } => Ok(value::xml::to_xml(
                value,
                locations.then_some(&self.ctx.sources),
            )),
            OutputFormat::Json => {
                let value = value.clone();
                let json = self.run(move |co| {
                    Box::pin(async move {
                        let mut context = NixContext::new();
                        let out = builtins::to_json_string(&co, value, &mut context).await?;
                        Ok(Value::String(NixString::from(out)))
                    })
                })?;
                Ok(json.as_string()?.to_string())
            }
        }
    }

    /// The automatic arguments of a request, as a set.
    fn auto_args(&self, request: &EvalRequest) -> Result<NixAttrs, Error> {
        let mut args = Vec::new();
        let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
        for (name, arg) in &request.auto_args {
            let value = match arg {
                AutoArg::Str(s) => Value::string(s.as_str()),
                AutoArg::Expr(e) => self.ctx.compile_source(e, "«string»", &cwd)?,
            };
            args.push((NixString::from(name.as_str()), value));
        }
        Ok(NixAttrs::from_entries_last_wins(args))
    }

    /// The `drvPath`s of the derivations a value is or holds, as
    /// `nix-instantiate` (without `--eval`) finds them (see
    /// `derivations`); functions are called with the request's
    /// automatic arguments.
    pub fn derivation_paths(
        &self,
        value: &Value,
        request: &EvalRequest,
    ) -> Result<Vec<String>, Error> {
        let auto_args = self.auto_args(request)?;
        let value = value.clone();
        let paths = self.run(move |co| {
            Box::pin(async move {
                let paths = derivations::drv_paths(&co, value, &auto_args).await?;
                Ok(Value::list(paths.into_iter().map(Value::String).collect()))
            })
        })?;
        Ok(paths
            .as_list()?
            .iter()
            .map(|p| p.resolved().as_string().map(|s| s.to_string()))
            .collect::<Result<_, _>>()?)
    }

    fn finish(&self, root: Value, request: &EvalRequest) -> Result<Value, Error> {
        let auto_args = self.auto_args(request)?;
        let request = request.clone();
        self.run(move |co| {
            Box::pin(async move {
                let mut v = auto_call(&co, root, &auto_args).await?;
                if let Some(path) = &request.attr_path {
                    for part in path.split('.').filter(|p| !p.is_empty()) {
                        let attrs = co.force(v).await?.as_attrs()?;
                        v = attrs.get(part.as_bytes()).cloned().ok_or_else(|| {
                            ErrorKind::Builtin(format!(
                                "attribute '{part}' in selection path '{path}' not found"
                            ))
                        })?;
                    }
                    v = auto_call(&co, v, &auto_args).await?;
                }
                if request.strict {
                    co.deep_force(v).await
                } else {
                    co.force(v).await
                }
            })
        })
    }

    /// Runs a generator on a fresh VM.
    fn run(&self, make: impl FnOnce(Co) -> GenFuture) -> Result<Value, Error> {
        let span = source::Span {
            file: self.ctx.sources.add("«top»", ""),
            start: 0,
            end: 0,
        };
        Vm::new(self.ctx.clone()).run(make, span)
    }
}

/// Calls a top-level function with formals with the automatic arguments,
/// as nix-instantiate does; other values are returned forced.
async fn auto_call(co: &Co, v: Value, args: &NixAttrs) -> Result<Value, Error> {
    let v = co.force(v).await?;
    let Value::Closure(c) = &v else {
        return Ok(v);
    };
    let Some(formals) = &c.lambda.formals else {
        return Ok(v);
    };
    let passed: Vec<(NixString, Value)> = args
        .iter()
        .filter(|(k, _)| formals.ellipsis || formals.contains(k.as_bytes()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    co.call_forced(
        v.clone(),
        Value::Attrs(NixAttrs::from_entries_last_wins(passed)),
    )
    .await
}
