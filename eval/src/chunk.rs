//! Bytecode: the instruction set, chunks and compiled lambdas.
//!
//! The VM is a stack machine. Each frame owns a window of the value stack
//! starting at its *base*; `GetLocal(i)` reads slot `base + i`. The compiler
//! tracks the exact stack height at every instruction, so a slot index is
//! known statically. Operands that must be in weak head normal form are
//! forced by an explicit `Force` emitted by the compiler; every other
//! instruction can rely on that and never forces anything itself.

use std::rc::Rc;

use crate::source::{Pos, Span};
use crate::value::Value;

/// Index into a chunk's constant table.
pub type ConstIdx = u32;
/// A stack slot relative to the frame's base.
pub type Slot = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Push a constant.
    Constant(ConstIdx),
    Pop,
    GetLocal(Slot),
    GetUpvalue(u32),
    /// Force the value on top of the stack to weak head normal form.
    Force,

    /// Arithmetic or comparison on the two forced operands on top.
    Binary(BinOp),
    Negate,
    Not,
    /// `++`
    Concat,
    /// `//`
    Update,
    /// `e // { … }` with a set literal: pop `n` (name, value) pairs as
    /// `Attrs` does and the forced set under them; push the update,
    /// without building the literal's set.
    UpdateAttrs(u32, u32),

    /// Type-check the (forced) top of the stack as a Boolean, leaving it.
    AssertBool,
    /// Unconditional forward jump by the given number of instructions.
    Jump(u32),
    /// Pop a Boolean; jump forward if it is false.
    JumpIfFalse(u32),
    /// Pop a Boolean; jump forward if it is true.
    JumpIfTrue(u32),
    /// Raise "assertion failed"; the constant holds the condition's text.
    AssertFail(ConstIdx),
    /// After a failed `assert a == b`: pop `b` and `a` (evaluated again)
    /// and raise the error that says why they differ, as CppNix does. The
    /// constant holds the condition's text; the next instruction is the
    /// `AssertFail`, whose span is the assertion's, and which runs if no
    /// difference is found.
    AssertEqFail(ConstIdx),

    /// Pop `n` (name, value) pairs and build a set; a null name skips the
    /// pair (dynamic attributes evaluating to null). The entries' positions
    /// are the `n` starting at the second operand in `Chunk::positions`.
    Attrs(u32, u32),
    /// Pop `n` values and build a list.
    List(u32),
    /// Pop a name (forced string) and a forced set; push the attribute.
    Select,
    /// Pop a name and a forced value; if the value is a set holding the
    /// name, push the attribute; otherwise jump forward (pushing nothing).
    SelectOrJump(u32),
    /// Pop a name and a forced value; push whether it is a set with it.
    HasAttr,
    /// Pop `n` forced values, coerce each to a string and push the
    /// concatenation.
    Interpolate(u32),
    /// Turn the string on top into a path (path literals with `${}`).
    ToPath,
    /// Pop `n` arguments and the forced function under them; apply the
    /// function to them in turn (`f a b c` is one `Call(3)`).
    Call(u32),

    /// Push a closure over the indexed lambda, capturing upvalues.
    MakeClosure(u32),
    /// Push a suspended thunk over the indexed lambda.
    MakeThunk(u32),
    /// Start computing, at once, an expression in a lazy position that may
    /// need no thunk (see `compiler::Compiler::compile_speculation`):
    /// remember the stack height to fall back to.
    SpecBegin,
    /// Speculation step: if the top is an evaluated set whose attribute
    /// named by the constant is evaluated, replace the top by its value.
    /// Otherwise drop everything pushed since `SpecBegin` and jump forward
    /// to the `MakeThunk` that computes the expression lazily instead.
    SpecSelect(ConstIdx, u32),
    /// Speculation step: if the top two values are evaluated integers and
    /// the operation on them cannot fail, replace them by its result;
    /// otherwise fall back as `SpecSelect` does.
    SpecInt(BinOp, u32),
    /// Push a blank thunk, to be filled by `FillThunk`/`FillValue`.
    AllocThunk,
    /// Fill the blank thunk in a slot with code, capturing upvalues now.
    FillThunk(Slot, u32),
    /// Pop a value and make the blank thunk in a slot evaluate to it.
    FillValue(Slot),
    /// With the forced `__overrides` set of a `rec` set on top: if it has
    /// the attribute named by the constant, make the thunk in the slot
    /// evaluate to that attribute instead.
    OverrideSlot(ConstIdx, Slot),
    /// Drop `n` slots below the top value (end of a `let`/`with` scope).
    CloseScope(u32),
    /// Pop `n` `with` namespaces (innermost first) and push the attribute
    /// named by the constant from the first one that has it.
    ResolveWith(ConstIdx, u32),

    /// Force-checked argument of a lambda with formals: pop the forced
    /// argument set, validate it against the formals, store it in slot 0.
    CheckFormals,
    /// Push the named attribute of the argument set; it must be present.
    SelectFormal(ConstIdx),
    /// Push the named attribute of the argument set, or a blank thunk.
    SelectFormalOrBlank(ConstIdx),
    /// Jump forward unless the slot holds a blank thunk.
    JumpIfNotBlank(Slot, u32),

    Return,
}

/// The arithmetic and comparison operators: applied to forced operands by
/// `Op::Binary`, and to evaluated integers, speculatively, by `Op::SpecInt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Less,
    LessEq,
    More,
    MoreEq,
    Equal,
    NotEqual,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        !matches!(self, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div)
    }
}

/// Where a closure or thunk takes an upvalue from, at creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    Local(Slot),
    Upvalue(u32),
}

#[derive(Default)]
pub struct Chunk {
    pub code: Vec<Op>,
    /// One span per instruction, for error messages.
    pub spans: Vec<Span>,
    pub constants: Vec<Value>,
    /// Lambdas for `MakeClosure`, `MakeThunk` and `FillThunk`.
    pub lambdas: Vec<Rc<Lambda>>,
    /// Where the attributes of the set literals were defined (see
    /// `Op::Attrs`).
    pub positions: Vec<Pos>,
}

/// One formal parameter.
pub struct Formal {
    pub name: String,
    pub has_default: bool,
    pub span: Span,
}

/// The formal parameters of `{ a, b ? 1, ... }: …`.
pub struct Formals {
    /// Sorted names, with whether each has a default and where it is.
    pub names: Vec<Formal>,
    pub ellipsis: bool,
}

impl Formals {
    pub fn contains(&self, name: &[u8]) -> bool {
        self.names
            .binary_search_by(|f| f.name.as_bytes().cmp(name))
            .is_ok()
    }
}

/// What a compiled body is, for messages and `<LAMBDA>` vs `<CODE>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LambdaKind {
    Function,
    Thunk,
    /// The top level of a file.
    File,
}

pub struct Lambda {
    pub name: Option<String>,
    /// The argument's name (`x:` or `args@{ … }`), for `--xml`.
    pub arg_name: Option<String>,
    pub kind: LambdaKind,
    pub chunk: Chunk,
    pub captures: Vec<Capture>,
    pub formals: Option<Formals>,
    pub span: Span,
}

impl Lambda {
    /// For a curried function `a: b: …`, whose body does nothing but make
    /// the closure of the next lambda: that lambda. Applying such a
    /// function to several arguments at once skips building (and then
    /// calling) the closure in between: the next lambda's upvalues can be
    /// captured straight from this one's upvalues and argument, the only
    /// slot such a body has.
    pub fn curried_inner(&self) -> Option<&Rc<Lambda>> {
        match (self.chunk.code.as_slice(), &self.formals) {
            ([Op::MakeClosure(i), Op::Return], None) => self.chunk.lambdas.get(*i as usize),
            _ => None,
        }
    }

    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| "anonymous lambda".into())
    }
}

impl Lambda {
    /// A listing of the bytecode of this lambda and of every lambda it
    /// makes (`--dump-bytecode`): per instruction its index, where in the
    /// source it comes from, and the instruction; constants are shown
    /// where they are pushed.
    pub fn disassemble(&self, sources: &crate::source::SourceMap) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        // Lambdas still to list, with the path of indices that leads to
        // them (`0.2` is the third lambda of the first).
        let mut work: Vec<(&Lambda, String)> = vec![(self, "0".to_string())];
        while let Some((lambda, path)) = work.pop() {
            let loc = sources.location(lambda.span);
            let _ = writeln!(
                out,
                "=== {:?} {path} {} at {}:{}:{} ({} captures)",
                lambda.kind,
                lambda.name.as_deref().unwrap_or("<anonymous>"),
                loc.file,
                loc.line,
                loc.column,
                lambda.captures.len()
            );
            for (i, op) in lambda.chunk.code.iter().enumerate() {
                let at = lambda
                    .chunk
                    .spans
                    .get(i)
                    .map(|s| sources.location(*s))
                    .map(|l| format!("{}:{}", l.line, l.column))
                    .unwrap_or_default();
                let _ = write!(out, "{i:>5} {at:>9}  {op:?}");
                if let Op::Constant(c) = op
                    && let Some(v) = lambda.chunk.constants.get(*c as usize)
                {
                    let _ = write!(out, "  ; {}", crate::value::print::print_diagnostic(v));
                }
                out.push('\n');
            }
            for (i, inner) in lambda.chunk.lambdas.iter().enumerate().rev() {
                work.push((inner, format!("{path}.{i}")));
            }
        }
        out
    }
}
