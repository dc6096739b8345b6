//! The compiler: rnix syntax tree → bytecode.
//!
//! Names are resolved statically. A name bound by `let`, `rec`, a lambda
//! argument or a formal is a stack slot of the function being compiled; a
//! name of an enclosing function becomes an upvalue, captured when the
//! closure or thunk is created. Only when no static binding and no builtin
//! has the name is it looked up at run time in the enclosing `with`
//! namespaces, as CppNix does (`with` never shadows a static binding).
//!
//! Laziness is explicit: expressions in lazy positions (bindings, list
//! elements, arguments) become thunks unless evaluating them is trivially
//! cheap and cannot fail (constants, variable references, lambdas). See
//! `bindings.rs` for `let`, `rec` and attribute sets.

mod bindings;
mod scope;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rnix::ast::{self, AstToken, HasEntry as _, InterpolPart};
use rowan::ast::AstNode;

use crate::chunk::{BinOp, Capture, Formal, Formals, Lambda, LambdaKind, Op};
use crate::errors::{Diagnostic, Error, ErrorKind, Lint};
use crate::source::{FileId, Span, literal_bytes};
use crate::syntax::attrs::AttrName;
use crate::syntax::{self, Source};
use crate::value::{NixAttrs, NixString, Value};
use crate::vm::{LintLevel, Lints};
use scope::{FnCtx, Local, LocalName};

/// Names visible everywhere: `builtins`, `true`, `map`, …
pub type Globals = HashMap<String, Value>;

/// What to compile, and the environment it is compiled in.
pub struct Unit<'a> {
    pub text: &'a str,
    pub file: FileId,
    /// The name positions give (`__curPos`, `unsafeGetAttrPos`).
    pub name: &'a str,
    /// The directory relative paths are resolved against.
    pub dir: &'a Path,
    /// Resolves `~/` paths.
    pub home: Option<&'a Path>,
    pub globals: &'a Globals,
    pub lints: Lints,
    /// Whether cheap expressions in lazy positions are computed at once
    /// (see `Compiler::is_speculable`); that is only invisible when every
    /// value printed will be forced, since the printer shows which values
    /// are still thunks.
    pub speculate: bool,
    /// Names bound around the whole file, shadowing the globals
    /// (`scopedImport`). The returned lambda then captures them as
    /// `Capture::Local(i)`, `i` indexing this list.
    pub scope: &'a [String],
    /// The experimental feature `pipe-operators` is enabled.
    pub pipe_operators: bool,
    /// Receives the warnings of lints and of the parser.
    pub report: &'a dyn Fn(Diagnostic),
}

/// Compiles one file (or `-E` expression) into a lambda of no arguments.
pub fn compile(unit: &Unit) -> Result<Rc<Lambda>, Error> {
    let (text, file) = (unit.text, unit.file);
    let src = Source {
        file,
        name: unit.name,
        text,
    };
    let options = syntax::Options {
        pipe_operators: unit.pipe_operators,
        report: unit.report,
    };
    let root = syntax::parse(&src, &options)?;
    let expr = root.expr().ok_or_else(|| {
        Error::new(
            ErrorKind::Parse("syntax error, unexpected end of file".into()),
            Some(span_at(file, 0, 0)),
        )
    })?;
    let mut c = Compiler {
        file,
        file_name: unit.name.to_string(),
        text,
        dir: unit.dir.to_path_buf(),
        home: unit.home.map(Path::to_path_buf),
        globals: unit.globals,
        lints: unit.lints,
        speculate: unit.speculate,
        report: unit.report,
        quiet: false,
        strings: HashMap::new(),
        ctxs: vec![FnCtx::new()],
    };
    let span = c.span(expr.syntax());
    if !unit.scope.is_empty() {
        // The scope's names are the slots of an enclosing function that
        // never runs; the file's body is a thunk capturing them.
        for (slot, name) in unit.scope.iter().enumerate() {
            c.declare(LocalName::Ident(name.clone()), slot as u32);
        }
        c.ctx().height = unit.scope.len() as u32;
        let idx = c.compile_thunk(span, |c| c.compile(&expr))?;
        let outer = c.ctxs.pop().unwrap_or_else(FnCtx::new);
        return outer
            .chunk
            .lambdas
            .get(idx as usize)
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::Parse("empty file".into()), Some(span)));
    }
    c.compile(&expr)?;
    c.ctx().emit(Op::Return, span);
    let ctx = c.ctxs.pop().unwrap_or_else(FnCtx::new);
    Ok(Rc::new(Lambda {
        name: None,
        arg_name: None,
        kind: LambdaKind::File,
        chunk: ctx.chunk,
        captures: ctx.captures,
        formals: None,
        span,
    }))
}

fn span_at(file: FileId, start: u32, end: u32) -> Span {
    Span { file, start, end }
}

/// How compiled code reaches a statically resolved name.
#[derive(Clone, Copy)]
enum Access {
    Local(u32),
    Upvalue(u32),
}

struct Compiler<'g> {
    file: FileId,
    file_name: String,
    text: &'g str,
    dir: PathBuf,
    home: Option<PathBuf>,
    globals: &'g Globals,
    lints: Lints,
    speculate: bool,
    report: &'g dyn Fn(Diagnostic),
    /// Set while code already compiled is compiled again (the operands of
    /// a failed `assert a == b`), whose warnings were reported once.
    quiet: bool,
    /// String constants by text (see `intern`).
    strings: HashMap<Box<[u8]>, NixString>,
    /// The functions being compiled, innermost last.
    ctxs: Vec<FnCtx>,
}

type CResult = Result<(), Error>;

impl Compiler<'_> {
    fn ctx(&mut self) -> &mut FnCtx {
        let last = self.ctxs.len() - 1;
        &mut self.ctxs[last]
    }

    fn source(&self) -> Source<'_> {
        Source {
            file: self.file,
            name: &self.file_name,
            text: self.text,
        }
    }

    fn span(&self, node: &rnix::SyntaxNode) -> Span {
        Span::new(self.file, node.text_range())
    }

    fn error(&self, kind: ErrorKind, node: &rnix::SyntaxNode) -> Error {
        Error::new(kind, Some(self.span(node)))
    }

    fn constant(&mut self, value: Value, span: Span) {
        let idx = self.const_index(value);
        self.ctx().emit(Op::Constant(idx), span);
    }

    fn const_index(&mut self, value: Value) -> u32 {
        let value = self.intern(value);
        let ctx = self.ctx();
        ctx.chunk.constants.push(value);
        (ctx.chunk.constants.len() - 1) as u32
    }

    /// The one copy of a string constant in this file: the names a set
    /// literal binds and the names selected from it are then the same
    /// string, which set lookups and `//` recognise without comparing
    /// bytes.
    fn intern(&mut self, value: Value) -> Value {
        match value {
            Value::String(s) if !s.has_context() => {
                Value::String(self.strings.entry(s.as_bytes().into()).or_insert(s).clone())
            }
            other => other,
        }
    }

    fn emit(&mut self, op: Op, span: Span) -> usize {
        self.ctx().emit(op, span)
    }

    fn declare(&mut self, name: LocalName, slot: u32) {
        self.ctx().locals.push(Local { name, slot });
    }

    /// Ends a scope opened at `height` with `locals` declared names: drops
    /// its slots from under the result value.
    fn close_scope(&mut self, locals: usize, height: u32, span: Span) {
        let ctx = self.ctx();
        ctx.locals.truncate(locals);
        let n = ctx.height - height - 1;
        if n > 0 {
            ctx.emit(Op::CloseScope(n), span);
        }
    }

    // --- name resolution -------------------------------------------------

    fn resolve_static(&self, name: &str) -> Option<(usize, u32)> {
        self.ctxs
            .iter()
            .enumerate()
            .rev()
            .find_map(|(level, ctx)| ctx.lookup_local(name).map(|s| (level, s)))
    }

    /// Makes slot `slot` of function `def_level` reachable from `level`,
    /// adding upvalue captures to every function in between.
    fn access(&mut self, level: usize, def_level: usize, slot: u32) -> Access {
        if level == def_level {
            return Access::Local(slot);
        }
        let outer = self.access(level - 1, def_level, slot);
        let capture = match outer {
            Access::Local(s) => Capture::Local(s),
            Access::Upvalue(i) => Capture::Upvalue(i),
        };
        Access::Upvalue(self.ctxs[level].capture(capture))
    }

    fn emit_access(&mut self, access: Access, span: Span) {
        match access {
            Access::Local(s) => self.emit(Op::GetLocal(s), span),
            Access::Upvalue(i) => self.emit(Op::GetUpvalue(i), span),
        };
    }

    /// Whether loading `name` is a plain slot/constant read.
    fn is_static(&self, name: &str) -> bool {
        self.resolve_static(name).is_some() || self.globals.contains_key(name)
    }

    /// Pushes the value of a variable (unforced).
    fn emit_load(&mut self, name: &str, node: &rnix::SyntaxNode) -> CResult {
        self.emit_load_at(name, self.span(node))
    }

    fn emit_load_at(&mut self, name: &str, span: Span) -> CResult {
        let level = self.ctxs.len() - 1;
        if let Some((def_level, slot)) = self.resolve_static(name) {
            let access = self.access(level, def_level, slot);
            self.emit_access(access, span);
            return Ok(());
        }
        if let Some(v) = self.globals.get(name) {
            self.constant(v.clone(), span);
            return Ok(());
        }
        let withs: Vec<(usize, u32)> = self
            .ctxs
            .iter()
            .enumerate()
            .rev()
            .flat_map(|(level, ctx)| {
                ctx.locals
                    .iter()
                    .rev()
                    .filter(|l| l.name == LocalName::With)
                    .map(move |l| (level, l.slot))
            })
            .collect();
        if withs.is_empty() {
            return Err(Error::new(
                ErrorKind::UndefinedVariable(name.to_string()),
                Some(span),
            ));
        }
        for (def_level, slot) in &withs {
            let access = self.access(level, *def_level, *slot);
            self.emit_access(access, span);
        }
        let name_idx = self.const_index(Value::string(name));
        self.emit(Op::ResolveWith(name_idx, withs.len() as u32), span);
        Ok(())
    }

    // --- laziness --------------------------------------------------------

    /// Whether `expr` can be evaluated eagerly where Nix is lazy: it must
    /// be cheap, unable to fail and unable to diverge.
    fn is_direct(&self, expr: &ast::Expr) -> bool {
        match expr {
            ast::Expr::Literal(_) | ast::Expr::Lambda(_) | ast::Expr::CurPos(_) => true,
            ast::Expr::Ident(i) => i.ident_token().is_some_and(|t| self.is_static(t.text())),
            ast::Expr::Str(s) => s.parts().all(|p| matches!(p, InterpolPart::Literal(_))),
            ast::Expr::PathAbs(_) | ast::Expr::PathRel(_) | ast::Expr::PathHome(_) => {
                expr.syntax().children().next().is_none()
            }
            ast::Expr::Paren(p) => p.expr().is_some_and(|e| self.is_direct(&e)),
            _ => false,
        }
    }

    /// Compiles `expr` in a lazy position: directly if that is safe,
    /// otherwise as a thunk.
    fn compile_lazy(&mut self, expr: &ast::Expr) -> CResult {
        if self.is_direct(expr) {
            return self.compile(expr);
        }
        let span = self.span(expr.syntax());
        let speculation = self.speculate && self.is_speculable(expr);
        let mut fallbacks = Vec::new();
        if speculation {
            let height = self.ctx().height;
            self.emit(Op::SpecBegin, span);
            self.compile_speculation(expr, &mut fallbacks)?;
            self.emit(Op::Jump(1), span);
            self.ctx().height = height;
        }
        for at in fallbacks {
            self.ctx().patch_jump(at);
        }
        let idx = self.compile_thunk(span, |c| c.compile(expr))?;
        self.emit(Op::MakeThunk(idx), span);
        Ok(())
    }

    /// Whether `expr`, in a lazy position, can be tried at once before
    /// falling back to a thunk: integer arithmetic and comparisons,
    /// attribute selections with static names, and conditionals on
    /// comparisons, over variables and integer literals (`n - 1`,
    /// `acc.count + 1`, `if i > m then i else m`). Once its variables
    /// and the attributes it selects are evaluated, such an expression
    /// cannot fail, diverge or force anything, so computing it early is
    /// invisible but for the thunk it saves; until then the speculation
    /// gives up (see `Op::SpecBegin`).
    fn is_speculable(&self, expr: &ast::Expr) -> bool {
        match expr {
            ast::Expr::Paren(p) => p.expr().is_some_and(|e| self.is_speculable(&e)),
            ast::Expr::Select(_) | ast::Expr::BinOp(_) | ast::Expr::IfElse(_) => {
                self.is_speculable_operand(expr)
            }
            _ => false,
        }
    }

    fn is_speculable_operand(&self, expr: &ast::Expr) -> bool {
        match expr {
            ast::Expr::Paren(p) => p.expr().is_some_and(|e| self.is_speculable_operand(&e)),
            ast::Expr::Ident(i) => i
                .ident_token()
                .is_some_and(|t| self.resolve_static(t.text()).is_some()),
            ast::Expr::Literal(l) => matches!(l.kind(), ast::LiteralKind::Integer(_)),
            ast::Expr::Select(s) => {
                s.default_expr().is_none()
                    && s.expr().is_some_and(|e| self.is_speculable_operand(&e))
                    && s.attrpath().is_some_and(|p| {
                        p.attrs().all(|a| syntax::attrs::static_name(&a).is_some())
                    })
            }
            ast::Expr::BinOp(b) => {
                b.operator().and_then(bin_op).is_some()
                    && b.lhs().is_some_and(|e| self.is_speculable_operand(&e))
                    && b.rhs().is_some_and(|e| self.is_speculable_operand(&e))
            }
            // The condition must be a comparison, so that it yields a
            // Boolean whenever it succeeds.
            ast::Expr::IfElse(i) => {
                i.condition().is_some_and(|c| {
                    matches!(strip_parens(&c), ast::Expr::BinOp(b) if b.operator().and_then(bin_op).is_some_and(BinOp::is_comparison))
                        && self.is_speculable_operand(&c)
                }) && i.body().is_some_and(|e| self.is_speculable_operand(&e))
                    && i.else_body().is_some_and(|e| self.is_speculable_operand(&e))
            }
            _ => false,
        }
    }

    /// Compiles the speculative form of an expression `is_speculable`
    /// accepted; every step that can give up is added to `fallbacks`, to
    /// be pointed at the thunk.
    fn compile_speculation(&mut self, expr: &ast::Expr, fallbacks: &mut Vec<usize>) -> CResult {
        let node = expr.syntax();
        let span = self.span(node);
        match expr {
            ast::Expr::Paren(p) => {
                self.compile_speculation(&child(p.expr(), node, self)?, fallbacks)
            }
            ast::Expr::Ident(_) | ast::Expr::Literal(_) => self.compile(expr),
            ast::Expr::Select(s) => {
                self.compile_speculation(&child(s.expr(), node, self)?, fallbacks)?;
                for attr in child(s.attrpath(), node, self)?.attrs() {
                    let name = syntax::attrs::static_name(&attr).unwrap_or_default();
                    let idx = self.const_index(Value::string(name));
                    fallbacks.push(self.emit(Op::SpecSelect(idx, 0), span));
                }
                Ok(())
            }
            ast::Expr::BinOp(b) => {
                self.compile_speculation(&child(b.lhs(), node, self)?, fallbacks)?;
                self.compile_speculation(&child(b.rhs(), node, self)?, fallbacks)?;
                let op = b.operator().and_then(bin_op).unwrap_or(BinOp::Add);
                fallbacks.push(self.emit(Op::SpecInt(op, 0), span));
                Ok(())
            }
            ast::Expr::IfElse(i) => {
                self.compile_speculation(&child(i.condition(), node, self)?, fallbacks)?;
                let to_else = self.emit(Op::JumpIfFalse(0), span);
                self.compile_speculation(&child(i.body(), node, self)?, fallbacks)?;
                let to_end = self.emit(Op::Jump(0), span);
                self.ctx().height -= 1;
                self.ctx().patch_jump(to_else);
                self.compile_speculation(&child(i.else_body(), node, self)?, fallbacks)?;
                self.ctx().patch_jump(to_end);
                Ok(())
            }
            _ => Err(self.error(ErrorKind::Parse("not speculable".into()), node)),
        }
    }

    /// Compiles a body of no arguments (thunk) and returns its lambda index.
    fn compile_thunk(
        &mut self,
        span: Span,
        body: impl FnOnce(&mut Self) -> CResult,
    ) -> Result<u32, Error> {
        self.ctxs.push(FnCtx::new());
        let result = body(self);
        self.ctx().emit(Op::Return, span);
        let ctx = self.ctxs.pop().unwrap_or_else(FnCtx::new);
        result?;
        let lambda = Lambda {
            name: None,
            arg_name: None,
            kind: LambdaKind::Thunk,
            chunk: ctx.chunk,
            captures: ctx.captures,
            formals: None,
            span,
        };
        let outer = self.ctx();
        outer.chunk.lambdas.push(Rc::new(lambda));
        Ok((outer.chunk.lambdas.len() - 1) as u32)
    }

    // --- expressions -----------------------------------------------------

    /// Compiles `expr`, leaving exactly one (possibly unforced) value.
    fn compile(&mut self, expr: &ast::Expr) -> CResult {
        let node = expr.syntax();
        let span = self.span(node);
        match expr {
            ast::Expr::Paren(p) => self.compile(&child(p.expr(), node, self)?),
            ast::Expr::Root(r) => self.compile(&child(r.expr(), node, self)?),
            ast::Expr::Literal(l) => self.compile_literal(l),
            ast::Expr::Str(s) => self.compile_string(s),
            ast::Expr::Ident(i) => {
                let name = ident_name(i);
                self.emit_load(&name, node)
            }
            ast::Expr::List(l) => {
                let mut n = 0;
                for item in l.items() {
                    self.compile_lazy(&item)?;
                    n += 1;
                }
                self.emit(Op::List(n), span);
                Ok(())
            }
            ast::Expr::BinOp(b) => self.compile_binop(b),
            ast::Expr::UnaryOp(u) => {
                let operand = child(u.expr(), node, self)?;
                self.compile_forced(&operand)?;
                match u.operator() {
                    Some(ast::UnaryOpKind::Invert) => self.emit(Op::Not, span),
                    _ => self.emit(Op::Negate, span),
                };
                Ok(())
            }
            ast::Expr::IfElse(i) => {
                self.compile_forced(&child(i.condition(), node, self)?)?;
                let to_else = self.emit(Op::JumpIfFalse(0), span);
                self.compile(&child(i.body(), node, self)?)?;
                let to_end = self.emit(Op::Jump(0), span);
                self.ctx().height -= 1;
                self.ctx().patch_jump(to_else);
                self.compile(&child(i.else_body(), node, self)?)?;
                self.ctx().patch_jump(to_end);
                Ok(())
            }
            ast::Expr::Assert(a) => {
                let cond = child(a.condition(), node, self)?;
                self.compile_forced(&cond)?;
                let ok = self.emit(Op::JumpIfTrue(0), span);
                // CppNix quotes the condition as it shows expressions.
                let paths = syntax::print::Paths {
                    dir: &self.dir,
                    home: self.home.as_deref(),
                };
                let shown = syntax::print::show_expr(&cond, &self.source(), paths);
                let text = self.const_index(Value::string(shown));
                if let ast::Expr::BinOp(eq) = strip_parens(&cond)
                    && eq.operator() == Some(ast::BinOpKind::Equal)
                {
                    // CppNix evaluates both sides again to say why they
                    // differ; only a failing assertion runs this.
                    let height = self.ctx().height;
                    let quiet = std::mem::replace(&mut self.quiet, true);
                    let operands = [eq.lhs(), eq.rhs()].map(|e| child(e, eq.syntax(), self));
                    for operand in operands {
                        self.compile(&operand?)?;
                    }
                    self.quiet = quiet;
                    let op_span = eq
                        .syntax()
                        .children_with_tokens()
                        .filter_map(|t| t.into_token())
                        .find(|t| t.kind() == rnix::SyntaxKind::TOKEN_EQUAL)
                        .map_or(span, |t| Span::new(self.file, t.text_range()));
                    self.emit(Op::AssertEqFail(text), op_span);
                    self.ctx().height = height;
                }
                self.emit(Op::AssertFail(text), span);
                self.ctx().patch_jump(ok);
                self.compile(&child(a.body(), node, self)?)
            }
            ast::Expr::With(w) => {
                let height = self.ctx().height;
                let locals = self.ctx().locals.len();
                self.compile_lazy(&child(w.namespace(), node, self)?)?;
                self.declare(LocalName::With, height);
                self.compile(&child(w.body(), node, self)?)?;
                self.close_scope(locals, height, span);
                Ok(())
            }
            ast::Expr::Apply(a) => {
                // `f a b c` is one call with three arguments, so that a
                // curried closure or a builtin can take them all at once
                // instead of building each partial application.
                let mut args = vec![child(a.argument(), node, self)?];
                let mut function = child(a.lambda(), node, self)?;
                while let ast::Expr::Apply(inner) = &function {
                    let inner_node = inner.syntax();
                    args.push(child(inner.argument(), inner_node, self)?);
                    function = child(inner.lambda(), inner_node, self)?;
                }
                self.compile_call(&function, &args, span)
            }
            ast::Expr::Select(s) => self.compile_select(s),
            ast::Expr::HasAttr(h) => self.compile_has_attr(h),
            ast::Expr::Lambda(l) => self.compile_lambda(l, None),
            ast::Expr::LetIn(l) => self.compile_let(l),
            ast::Expr::LegacyLet(l) => {
                let def = self.collect_entries(l.entries(), true)?;
                self.compile_attrs_def(&def, span)?;
                self.emit(Op::Force, span);
                self.constant(Value::string("body"), span);
                self.emit(Op::Select, span);
                Ok(())
            }
            ast::Expr::AttrSet(a) => {
                let def = self.collect_entries(a.entries(), a.rec_token().is_some())?;
                self.compile_attrs_def(&def, span)
            }
            ast::Expr::PathAbs(_) | ast::Expr::PathRel(_) | ast::Expr::PathHome(_) => {
                self.compile_path(expr)
            }
            // `<name>` is `__findFile __nixPath "name"`, with both names
            // resolved like any other variable, so a `let` can rebind them.
            ast::Expr::PathSearch(p) => {
                let name = p
                    .content()
                    .map(|c| c.text().to_string())
                    .unwrap_or_default();
                let name = name
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string();
                self.emit_load_at("__findFile", span)?;
                self.emit(Op::Force, span);
                self.emit_load_at("__nixPath", span)?;
                self.constant(Value::string(name), span);
                self.emit(Op::Call(2), span);
                Ok(())
            }
            ast::Expr::CurPos(_) => {
                let loc = self.cur_pos(node);
                self.constant(loc, span);
                Ok(())
            }
            ast::Expr::Error(_) => Err(self.error(ErrorKind::Parse("syntax error".into()), node)),
        }
    }

    /// Compiles `expr` and forces it.
    fn compile_forced(&mut self, expr: &ast::Expr) -> CResult {
        self.compile(expr)?;
        if !leaves_value(expr) {
            self.emit(Op::Force, self.span(expr.syntax()));
        }
        Ok(())
    }

    /// `__curPos`: `{ file; line; column; }` of the expression, or `null`
    /// in code that has no file (`-E`, standard input), as in CppNix.
    fn cur_pos(&self, node: &rnix::SyntaxNode) -> Value {
        if self.file_name.starts_with('«') {
            return Value::Null;
        }
        // The text is not at hand here; positions are computed from the
        // node's own root.
        let root = node
            .ancestors()
            .last()
            .map(|n| n.text().to_string())
            .unwrap_or_default();
        let offset = usize::from(node.text_range().start());
        let before = root.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
        Value::Attrs(NixAttrs::from_sorted_unique(vec![
            (NixString::from("column"), Value::Int(column as i64)),
            (
                NixString::from("file"),
                Value::string(self.file_name.as_str()),
            ),
            (NixString::from("line"), Value::Int(line as i64)),
        ]))
    }

    fn compile_literal(&mut self, l: &ast::Literal) -> CResult {
        let node = l.syntax();
        let span = self.span(node);
        let value = match l.kind() {
            ast::LiteralKind::Integer(i) => match i.value() {
                Ok(v) => Value::Int(v),
                Err(_) => {
                    return Err(self.error(
                        ErrorKind::Parse(format!("invalid integer '{}'", i.syntax().text())),
                        node,
                    ));
                }
            },
            ast::LiteralKind::Float(f) => match f.value() {
                Ok(v) => Value::Float(v),
                Err(_) => {
                    return Err(self.error(
                        ErrorKind::Parse(format!("invalid float '{}'", f.syntax().text())),
                        node,
                    ));
                }
            },
            ast::LiteralKind::Uri(u) => {
                let text = u.syntax().text().to_string();
                let level = self.lints.url_literals;
                self.lint(
                    level,
                    Lint::Url {
                        text: text.clone(),
                        fatal: level == LintLevel::Fatal,
                    },
                    span,
                )?;
                Value::string(text)
            }
        };
        self.constant(value, span);
        Ok(())
    }

    fn compile_string(&mut self, s: &ast::Str) -> CResult {
        let span = self.span(s.syntax());
        let parts = syntax::strings::parts(s);
        if parts.iter().all(|p| matches!(p, InterpolPart::Literal(_))) {
            let text: String = parts
                .into_iter()
                .map(|p| match p {
                    InterpolPart::Literal(t) => t,
                    InterpolPart::Interpolation(_) => String::new(),
                })
                .collect();
            self.constant(Value::String(literal_bytes(&text).into()), span);
            return Ok(());
        }
        let n = self.compile_interpolation_parts(parts, span)?;
        self.emit(Op::Interpolate(n), span);
        Ok(())
    }

    fn compile_interpolation_parts(
        &mut self,
        parts: Vec<InterpolPart<String>>,
        span: Span,
    ) -> Result<u32, Error> {
        let mut n = 0;
        for part in parts {
            match part {
                InterpolPart::Literal(text) => {
                    self.constant(Value::String(literal_bytes(&text).into()), span)
                }
                InterpolPart::Interpolation(i) => {
                    let e = child(i.expr(), i.syntax(), self)?;
                    self.compile_forced(&e)?;
                }
            }
            n += 1;
        }
        Ok(n)
    }

    fn compile_path(&mut self, expr: &ast::Expr) -> CResult {
        let node = expr.syntax();
        let span = self.span(node);
        let parts = match expr {
            ast::Expr::PathAbs(p) => p.parts(),
            ast::Expr::PathRel(p) => p.parts(),
            ast::Expr::PathHome(p) => p.parts(),
            _ => Vec::new(),
        };
        self.lint_path(expr, span)?;
        let mut strings: Vec<InterpolPart<String>> = Vec::new();
        for (i, part) in parts.into_iter().enumerate() {
            match part {
                InterpolPart::Literal(lit) => {
                    let text = lit.text().to_string();
                    let text = if i == 0 {
                        self.absolute_path_text(&text, node)?
                    } else {
                        text
                    };
                    strings.push(InterpolPart::Literal(text));
                }
                InterpolPart::Interpolation(x) => strings.push(InterpolPart::Interpolation(x)),
            }
        }
        if let [InterpolPart::Literal(text)] = strings.as_slice() {
            let path = crate::value::normalise_path(Path::new(text));
            self.constant(Value::Path(path.into()), span);
            return Ok(());
        }
        let n = self.compile_interpolation_parts(strings, span)?;
        self.emit(Op::Interpolate(n), span);
        self.emit(Op::ToPath, span);
        Ok(())
    }

    /// Reports a lint at `level`: a warning on stderr, or a fatal error.
    fn lint(&self, level: LintLevel, lint: Lint, span: Span) -> CResult {
        match level {
            LintLevel::Allow => Ok(()),
            LintLevel::Warn if self.quiet => Ok(()),
            LintLevel::Warn => {
                (self.report)(Diagnostic::Warning {
                    message: lint.to_string(),
                    span: Some(span),
                });
                Ok(())
            }
            LintLevel::Fatal => Err(Error::new(ErrorKind::Lint(lint), Some(span))),
        }
    }

    fn lint_path(&self, expr: &ast::Expr, span: Span) -> CResult {
        let text = expr.syntax().text().to_string();
        match expr {
            ast::Expr::PathAbs(_) => {
                self.lint(self.lints.absolute_paths, Lint::AbsolutePath(text), span)
            }
            ast::Expr::PathHome(_) => {
                self.lint(self.lints.absolute_paths, Lint::HomePath(text), span)
            }
            ast::Expr::PathRel(_) if !text.starts_with("./") && !text.starts_with("../") => {
                self.lint(self.lints.short_paths, Lint::ShortPath(text), span)
            }
            _ => Ok(()),
        }
    }

    /// Makes the first literal part of a path absolute, keeping a trailing
    /// slash (`./a/${b}`).
    fn absolute_path_text(&self, text: &str, node: &rnix::SyntaxNode) -> Result<String, Error> {
        if let Some(rest) = text.strip_prefix("~/") {
            let home = self.home.as_ref().ok_or_else(|| {
                self.error(
                    ErrorKind::Builtin("the home directory is unknown (HOME is not set)".into()),
                    node,
                )
            })?;
            return Ok(format!("{}/{}", home.display(), rest));
        }
        if text.starts_with('/') {
            return Ok(text.to_string());
        }
        Ok(format!("{}/{}", self.dir.display(), text))
    }

    fn compile_binop(&mut self, b: &ast::BinOp) -> CResult {
        use ast::BinOpKind as K;
        let node = b.syntax();
        let span = self.span(node);
        let lhs = child(b.lhs(), node, self)?;
        let rhs = child(b.rhs(), node, self)?;
        let op = b
            .operator()
            .ok_or_else(|| self.error(ErrorKind::Parse("missing operator".into()), node))?;
        // Errors point where CppNix's do: at the operand a logical
        // operator or `+` finds wrong, else at the operator.
        let span = node
            .children_with_tokens()
            .filter_map(|t| t.into_token())
            .find(|t| ast::BinOpKind::from_kind(t.kind()).is_some())
            .map_or(span, |t| Span::new(self.file, t.text_range()));
        let (lhs_span, rhs_span) = (self.span(lhs.syntax()), self.span(rhs.syntax()));
        match op {
            K::And | K::Or | K::Implication => {
                self.compile_forced(&lhs)?;
                self.emit(Op::AssertBool, lhs_span);
                let short = match op {
                    K::Or => self.emit(Op::JumpIfTrue(0), span),
                    _ => self.emit(Op::JumpIfFalse(0), span),
                };
                self.compile_forced(&rhs)?;
                self.emit(Op::AssertBool, rhs_span);
                let end = self.emit(Op::Jump(0), span);
                self.ctx().height -= 1;
                self.ctx().patch_jump(short);
                self.constant(Value::Bool(op != K::And), span);
                self.ctx().patch_jump(end);
                Ok(())
            }
            // Without the feature the parser has refused them.
            K::PipeRight => self.compile_call(&rhs, &[lhs], span),
            K::PipeLeft => self.compile_call(&lhs, &[rhs], span),
            K::Update if matches!(strip_parens(&rhs), ast::Expr::AttrSet(ref a) if a.rec_token().is_none()) =>
            {
                self.compile_forced(&lhs)?;
                self.compile(&rhs)?;
                // A literal's code ends with the `Attrs` that packs it,
                // unless an `inherit (e)` scope is closed after it.
                let ctx = self.ctx();
                if let Some(last) = ctx.chunk.code.last_mut()
                    && let Op::Attrs(n, positions) = *last
                {
                    *last = Op::UpdateAttrs(n, positions);
                    ctx.height -= 1;
                } else {
                    self.emit(Op::Update, span);
                }
                Ok(())
            }
            _ => {
                self.compile_forced(&lhs)?;
                self.compile_forced(&rhs)?;
                // The logical operators were compiled above; the rest map to
                // `BinOp`s.
                let (op, span) = match op {
                    K::Concat => (Op::Concat, span),
                    K::Update => (Op::Update, span),
                    K::Add => (Op::Binary(BinOp::Add), rhs_span),
                    _ => (Op::Binary(bin_op(op).unwrap_or(BinOp::MoreEq)), span),
                };
                self.emit(op, span);
                Ok(())
            }
        }
    }

    /// Calls `function` with `args`, given last first.
    fn compile_call(&mut self, function: &ast::Expr, args: &[ast::Expr], span: Span) -> CResult {
        self.compile_forced(function)?;
        for arg in args.iter().rev() {
            self.compile_lazy(arg)?;
        }
        self.emit(Op::Call(args.len() as u32), span);
        Ok(())
    }

    /// Pushes an attribute name: a constant, or a forced dynamic key.
    fn compile_attr_key(&mut self, attr: &ast::Attr) -> CResult {
        let span = self.span(attr.syntax());
        match syntax::attrs::attr_name(attr) {
            Some(AttrName::Static(name)) => {
                self.constant(Value::string(name), span);
                Ok(())
            }
            Some(AttrName::Dynamic(e)) => self.compile_forced(&e),
            None => Err(self.error(
                ErrorKind::Parse("syntax error, invalid attribute name".into()),
                attr.syntax(),
            )),
        }
    }

    fn compile_select(&mut self, s: &ast::Select) -> CResult {
        let node = s.syntax();
        let span = self.span(node);
        let mut attrs: Vec<ast::Attr> = child(s.attrpath(), node, self)?.attrs().collect();
        let expr = child(s.expr(), node, self)?;
        // `builtins.foldl'` is a constant: no set lookup at run time. The
        // builtins set holds only values, so nothing needs forcing either.
        let builtin = self.global_builtin(&expr, attrs.first());
        match builtin {
            Some(value) => {
                self.constant(value, span);
                attrs.remove(0);
            }
            None => self.compile_forced(&expr)?,
        }
        if attrs.is_empty() {
            return Ok(());
        }
        let start = self.ctx().height - 1;
        match s.default_expr() {
            None => {
                for (i, attr) in attrs.iter().enumerate() {
                    if i > 0 {
                        self.emit(Op::Force, span);
                    }
                    self.compile_attr_key(attr)?;
                    // Errors name the selection, as CppNix's do.
                    self.emit(Op::Select, span);
                }
            }
            Some(default) => {
                let mut misses = Vec::new();
                for (i, attr) in attrs.iter().enumerate() {
                    if i > 0 {
                        self.emit(Op::Force, span);
                    }
                    self.compile_attr_key(attr)?;
                    misses.push(self.emit(Op::SelectOrJump(0), span));
                }
                let end = self.emit(Op::Jump(0), span);
                self.ctx().height = start;
                for m in misses {
                    self.ctx().patch_jump(m);
                }
                self.compile(&default)?;
                self.ctx().patch_jump(end);
            }
        }
        Ok(())
    }

    /// The builtin `builtins.<attr>` names, when `expr` is the global
    /// `builtins` (no local binding shadows it; `with` never does) and it
    /// has a static attribute of that name.
    fn global_builtin(&self, expr: &ast::Expr, attr: Option<&ast::Attr>) -> Option<Value> {
        let ast::Expr::Ident(ident) = expr else {
            return None;
        };
        let name = ident_name(ident);
        if name != "builtins" || self.resolve_static(&name).is_some() {
            return None;
        }
        let Some(Value::Attrs(builtins)) = self.globals.get(&name) else {
            return None;
        };
        let attr = syntax::attrs::static_name(attr?)?;
        builtins.get(attr.as_bytes()).cloned()
    }

    fn compile_has_attr(&mut self, h: &ast::HasAttr) -> CResult {
        let node = h.syntax();
        let span = self.span(node);
        let attrs: Vec<ast::Attr> = child(h.attrpath(), node, self)?.attrs().collect();
        self.compile_forced(&child(h.expr(), node, self)?)?;
        let start = self.ctx().height - 1;
        let mut misses = Vec::new();
        let last = attrs.len().saturating_sub(1);
        for (i, attr) in attrs.iter().enumerate() {
            self.compile_attr_key(attr)?;
            if i == last {
                self.emit(Op::HasAttr, span);
            } else {
                misses.push(self.emit(Op::SelectOrJump(0), span));
                self.emit(Op::Force, span);
            }
        }
        let end = self.emit(Op::Jump(0), span);
        self.ctx().height = start;
        for m in misses {
            self.ctx().patch_jump(m);
        }
        self.constant(Value::Bool(false), span);
        self.ctx().patch_jump(end);
        Ok(())
    }

    /// Compiles a lambda and pushes the closure.
    fn compile_lambda(&mut self, l: &ast::Lambda, name: Option<String>) -> CResult {
        let node = l.syntax();
        let span = self.span(node);
        let lambda = self.compile_lambda_body(l, name)?;
        let ctx = self.ctx();
        ctx.chunk.lambdas.push(Rc::new(lambda));
        let idx = (ctx.chunk.lambdas.len() - 1) as u32;
        self.emit(Op::MakeClosure(idx), span);
        Ok(())
    }

    fn compile_lambda_body(
        &mut self,
        l: &ast::Lambda,
        name: Option<String>,
    ) -> Result<Lambda, Error> {
        let node = l.syntax();
        let span = self.span(node);
        let mut ctx = FnCtx::new();
        // The VM pushes the argument as slot 0 before running the body.
        ctx.height = 1;
        self.ctxs.push(ctx);
        let result = self.compile_lambda_inner(l);
        let ctx = self.ctxs.pop().unwrap_or_else(FnCtx::new);
        let formals = result?;
        let arg_name = match l.param() {
            Some(ast::Param::IdentParam(p)) => p.ident().map(|i| ident_name(&i)),
            Some(ast::Param::Pattern(p)) => {
                p.pat_bind().and_then(|b| b.ident()).map(|i| ident_name(&i))
            }
            None => None,
        };
        Ok(Lambda {
            name,
            arg_name,
            kind: LambdaKind::Function,
            chunk: ctx.chunk,
            captures: ctx.captures,
            formals,
            span,
        })
    }

    fn compile_lambda_inner(&mut self, l: &ast::Lambda) -> Result<Option<Formals>, Error> {
        let node = l.syntax();
        let span = self.span(node);
        let param = child(l.param(), node, self)?;
        let formals = match param {
            ast::Param::IdentParam(p) => {
                let ident = child(p.ident(), p.syntax(), self)?;
                self.declare(LocalName::Ident(ident_name(&ident)), 0);
                None
            }
            ast::Param::Pattern(p) => Some(self.compile_pattern(&p)?),
        };
        let body = child(l.body(), node, self)?;
        self.compile(&body)?;
        self.emit(Op::Return, span);
        Ok(formals)
    }

    /// Destructures the argument set into one slot per formal. Formals are
    /// bound like a `rec`: defaults may refer to each other.
    fn compile_pattern(&mut self, p: &ast::Pattern) -> Result<Formals, Error> {
        let span = self.span(p.syntax());
        let entries: Vec<ast::PatEntry> = p.pat_entries().collect();
        let mut names = Vec::new();
        let mut sorted = Vec::new();
        for e in &entries {
            let ident = child(e.ident(), e.syntax(), self)?;
            let name = ident_name(&ident);
            names.push((name.clone(), e.default().is_some()));
            sorted.push(Formal {
                name,
                has_default: e.default().is_some(),
                span: self.span(ident.syntax()),
            });
        }
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let formals = Formals {
            names: sorted,
            ellipsis: p.ellipsis_token().is_some(),
        };
        if let Some(bind) = p.pat_bind().and_then(|b| b.ident()) {
            self.declare(LocalName::Ident(ident_name(&bind)), 0);
        }
        self.emit(Op::GetLocal(0), span);
        self.emit(Op::Force, span);
        self.emit(Op::CheckFormals, span);
        let mut slots = Vec::new();
        for (name, has_default) in &names {
            let idx = self.const_index(Value::string(name.clone()));
            slots.push(self.ctx().height);
            if *has_default {
                self.emit(Op::SelectFormalOrBlank(idx), span);
            } else {
                self.emit(Op::SelectFormal(idx), span);
            }
        }
        for ((name, _), slot) in names.iter().zip(&slots) {
            self.declare(LocalName::Ident(name.clone()), *slot);
        }
        for (e, slot) in entries.iter().zip(&slots) {
            if let Some(default) = e.default() {
                let dspan = self.span(default.syntax());
                let skip = self.emit(Op::JumpIfNotBlank(*slot, 0), dspan);
                self.fill_slot(*slot, &default, None)?;
                self.ctx().patch_jump(skip);
            }
        }
        Ok(formals)
    }

    /// Fills the blank thunk in `slot` with the value of `expr`.
    fn fill_slot(&mut self, slot: u32, expr: &ast::Expr, name: Option<String>) -> CResult {
        let span = self.span(expr.syntax());
        if let ast::Expr::Lambda(l) = strip_parens(expr) {
            self.compile_lambda(&l, name)?;
            self.emit(Op::FillValue(slot), span);
            return Ok(());
        }
        let idx = self.compile_thunk(span, |c| c.compile(expr))?;
        self.emit(Op::FillThunk(slot, idx), span);
        Ok(())
    }
}

/// Whether the code for `expr` always leaves a value, never a thunk, so
/// forcing it would be a no-op: literals, lambdas, lists, and operators
/// (whose instructions push their results).
fn leaves_value(expr: &ast::Expr) -> bool {
    match expr {
        ast::Expr::Literal(_)
        | ast::Expr::Str(_)
        | ast::Expr::Lambda(_)
        | ast::Expr::List(_)
        | ast::Expr::UnaryOp(_) => true,
        // The pipe operators are calls, whose result may be a thunk.
        ast::Expr::BinOp(b) => !matches!(
            b.operator(),
            Some(ast::BinOpKind::PipeLeft | ast::BinOpKind::PipeRight)
        ),
        ast::Expr::Paren(p) => p.expr().is_some_and(|e| leaves_value(&e)),
        _ => false,
    }
}

/// The [BinOp] of an arithmetic or comparison operator.
fn bin_op(op: ast::BinOpKind) -> Option<BinOp> {
    use ast::BinOpKind as K;
    Some(match op {
        K::Add => BinOp::Add,
        K::Sub => BinOp::Sub,
        K::Mul => BinOp::Mul,
        K::Div => BinOp::Div,
        K::Less => BinOp::Less,
        K::LessOrEq => BinOp::LessEq,
        K::More => BinOp::More,
        K::MoreOrEq => BinOp::MoreEq,
        K::Equal => BinOp::Equal,
        K::NotEqual => BinOp::NotEqual,
        _ => return None,
    })
}

fn strip_parens(expr: &ast::Expr) -> ast::Expr {
    match expr {
        ast::Expr::Paren(p) => p
            .expr()
            .map(|e| strip_parens(&e))
            .unwrap_or_else(|| expr.clone()),
        e => e.clone(),
    }
}

fn ident_name(i: &ast::Ident) -> String {
    i.syntax().text().to_string()
}

/// A required child node; rnix makes every child optional to represent
/// broken input, which a successful parse never produces.
fn child<T>(node: Option<T>, parent: &rnix::SyntaxNode, c: &Compiler) -> Result<T, Error> {
    node.ok_or_else(|| c.error(ErrorKind::Parse("incomplete expression".into()), parent))
}
