//! tvix-eval: the Nix language.
//!
//! Source text is parsed by `rnix`, compiled to bytecode by `compiler`
//! (static scope resolution, explicit thunks) and run by the stack-based
//! `vm`, whose frame stack replaces native recursion. Values live in
//! `value`; `builtins` holds the builtins the language needs. See
//! `docs/eval.md` for the design.
//!
//! This crate must never know about stores: store-backed I/O is injected
//! by `tvix-glue`.

mod builtins;
pub mod chunk;
mod compiler;
pub mod errors;
pub mod source;
pub mod value;
pub mod vm;

use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use errors::{Error, ErrorKind};
pub use source::SourceMap;
pub use value::Value;
pub use vm::{EvalOptions, LintLevel, Lints, SearchPathEntry};

use value::{NixAttrs, NixString};
use vm::generators::Co;
use vm::{Context, Vm};

/// How the result is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// `nix-instantiate --eval`'s Nix syntax.
    #[default]
    Nix,
    /// `--json`: as `builtins.toJSON`.
    Json,
    /// `--xml --no-location`.
    Xml,
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
    pub output: OutputFormat,
    /// Arguments for a top-level function with formals.
    pub auto_args: Vec<(String, AutoArg)>,
    /// `-A`: a dot-separated attribute path to select.
    pub attr_path: Option<String>,
}

impl EvalRequest {
    /// Whether every value in the output is forced before it is printed,
    /// so that nothing shows whether it was a thunk.
    fn forces_everything_printed(&self) -> bool {
        self.strict || self.output == OutputFormat::Json
    }
}

/// One evaluation: shares sources, the import cache and options between
/// the files and expressions it evaluates.
pub struct Evaluator {
    ctx: Rc<Context>,
}

impl Evaluator {
    pub fn new(options: EvalOptions, interrupt: Option<Arc<AtomicBool>>) -> Self {
        let ctx = Context::new(
            SourceMap::default(),
            builtins::globals(),
            options,
            interrupt,
        );
        Evaluator { ctx: Rc::new(ctx) }
    }

    pub fn sources(&self) -> &SourceMap {
        &self.ctx.sources
    }

    /// Evaluates a file and prints the result.
    pub fn eval_file(&self, path: &Path, request: &EvalRequest) -> Result<String, Error> {
        self.ctx
            .set_speculation(request.forces_everything_printed());
        let root = self.ctx.import(path)?;
        self.run(root, request)
    }

    /// Evaluates an expression (`-E`) with relative paths resolved against
    /// `dir`, and prints the result.
    pub fn eval_expr(
        &self,
        text: &str,
        dir: &Path,
        request: &EvalRequest,
    ) -> Result<String, Error> {
        self.ctx
            .set_speculation(request.forces_everything_printed());
        let root = self.ctx.compile_source(text, "«string»", dir)?;
        self.run(root, request)
    }

    /// Parses and compiles without evaluating (`nix-instantiate --parse`).
    pub fn check(&self, text: &str, name: &str, dir: &Path) -> Result<(), Error> {
        self.ctx.compile_source(text, name, dir).map(|_| ())
    }

    fn run(&self, root: Value, request: &EvalRequest) -> Result<String, Error> {
        let mut args = Vec::new();
        let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
        for (name, arg) in &request.auto_args {
            let value = match arg {
                AutoArg::Str(s) => Value::string(s.as_str()),
                AutoArg::Expr(e) => self.ctx.compile_source(e, "«string»", &cwd)?,
            };
            args.push((NixString::from(name.as_str()), value));
        }
        let auto_args = NixAttrs::from_entries_last_wins(args);
        let request = request.clone();
        let span = source::Span {
            file: self.ctx.sources.add("«top»", ""),
            start: 0,
            end: 0,
        };
        let mut vm = Vm::new(self.ctx.clone());
        let out = vm.run(
            move |co| {
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
                    let v = if request.strict {
                        co.deep_force(v).await?
                    } else {
                        co.force(v).await?
                    };
                    let text = match request.output {
                        OutputFormat::Nix => value::print::print_value(&v),
                        // Like nix-instantiate, only `--strict` forces deeply;
                        // thunks left unforced print as `<unevaluated />`.
                        OutputFormat::Xml => value::xml::to_xml(&v),
                        OutputFormat::Json => {
                            let mut out = String::new();
                            builtins::to_json_string(&co, v, &mut out).await?;
                            out
                        }
                    };
                    Ok(Value::string(text))
                })
            },
            span,
        )?;
        Ok(out.as_string()?.to_string())
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
