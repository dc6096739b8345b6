//! Compile-time view of the stack: which names live in which slots.
//!
//! Every function body (and every thunk body, which is a function of no
//! arguments) gets a `FnCtx`. Its `height` mirrors the VM's stack height at
//! the instruction being emitted, so a local's slot is simply the height at
//! which it was pushed, even when a `let` appears in the middle of an
//! expression with temporaries below it.

use crate::chunk::{Capture, Chunk, Op, Slot};
use crate::source::Span;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum LocalName {
    Ident(String),
    /// The namespace of a `with`; found by dynamic lookups only.
    With,
}

pub(super) struct Local {
    pub name: LocalName,
    pub slot: Slot,
}

pub(super) struct FnCtx {
    pub chunk: Chunk,
    pub captures: Vec<Capture>,
    pub locals: Vec<Local>,
    pub height: u32,
}

impl FnCtx {
    pub fn new() -> Self {
        FnCtx {
            chunk: Chunk::default(),
            captures: Vec::new(),
            locals: Vec::new(),
            height: 0,
        }
    }

    pub fn lookup_local(&self, name: &str) -> Option<Slot> {
        self.locals.iter().rev().find_map(|l| match &l.name {
            LocalName::Ident(n) if n == name => Some(l.slot),
            _ => None,
        })
    }

    /// The upvalue index for a capture, adding it if new.
    pub fn capture(&mut self, capture: Capture) -> u32 {
        let index = match self.captures.iter().position(|c| *c == capture) {
            Some(i) => i,
            None => {
                self.captures.push(capture);
                self.captures.len() - 1
            }
        };
        index as u32
    }

    /// Appends an instruction, keeping `height` in step with the VM.
    pub fn emit(&mut self, op: Op, span: Span) -> usize {
        let h = self.height as i64;
        let new = match op {
            Op::Constant(_)
            | Op::GetLocal(_)
            | Op::GetUpvalue(_)
            | Op::MakeClosure(_)
            | Op::MakeThunk(_)
            | Op::AllocThunk
            | Op::SelectFormal(_)
            | Op::SelectFormalOrBlank(_) => h + 1,
            Op::Pop
            | Op::Binary(_)
            | Op::AssertEqFail(_)
            | Op::Concat
            | Op::Update
            | Op::JumpIfFalse(_)
            | Op::JumpIfTrue(_)
            | Op::Select
            | Op::SelectOrJump(_)
            | Op::HasAttr
            | Op::FillValue(_)
            | Op::CheckFormals
            | Op::Return => h - 1,
            Op::Force
            | Op::Negate
            | Op::Not
            | Op::AssertBool
            | Op::Jump(_)
            | Op::AssertFail(_)
            | Op::ToPath
            | Op::FillThunk(..)
            | Op::OverrideSlot(..)
            | Op::JumpIfNotBlank(..)
            | Op::SpecBegin
            | Op::SpecSelect(..) => h,
            Op::Attrs(n, _) => h - 2 * n as i64 + 1,
            Op::UpdateAttrs(n, _) => h - 2 * n as i64,
            Op::List(n) | Op::Interpolate(n) | Op::ResolveWith(_, n) => h - n as i64 + 1,
            Op::CloseScope(n) | Op::Call(n) => h - n as i64,
            Op::SpecInt(..) => h - 1,
        };
        self.height = u32::try_from(new).unwrap_or(0);
        self.chunk.code.push(op);
        self.chunk.spans.push(span);
        self.chunk.code.len() - 1
    }

    /// Points the jump at `at` to the next instruction to be emitted.
    pub fn patch_jump(&mut self, at: usize) {
        let offset = (self.chunk.code.len() - at - 1) as u32;
        if let Some(op) = self.chunk.code.get_mut(at) {
            *op = match *op {
                Op::Jump(_) => Op::Jump(offset),
                Op::JumpIfFalse(_) => Op::JumpIfFalse(offset),
                Op::JumpIfTrue(_) => Op::JumpIfTrue(offset),
                Op::SelectOrJump(_) => Op::SelectOrJump(offset),
                Op::JumpIfNotBlank(slot, _) => Op::JumpIfNotBlank(slot, offset),
                Op::SpecSelect(name, _) => Op::SpecSelect(name, offset),
                Op::SpecInt(int_op, _) => Op::SpecInt(int_op, offset),
                other => other,
            };
        }
    }
}
