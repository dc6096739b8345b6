//! Compilation of bindings: `let`, `rec { }`, plain `{ }` and legacy `let { }`.
//!
//! Bindings are first merged into an `AttrsDef` tree by `syntax::attrs`,
//! which follows CppNix's rules (`a.b = 1; a.c = 2;` builds one nested
//! set); repeated dynamic names are found when the set is built.
//!
//! Recursive scopes (`let`, `rec`) are set up in two phases so that every
//! binding can capture every other one:
//!  1. one slot per binding is pushed: the value itself for constants,
//!     otherwise a blank thunk;
//!  2. each blank thunk is filled with code (or, for lambdas, with the
//!     closure), capturing the now complete set of slots.
//!
//! `inherit x;` reads `x` from the scope *outside* the bindings, so those
//! slots are pushed before any name of the scope is declared.

use rnix::ast::{self, HasEntry as _, InterpolPart};
use rowan::ast::AstNode;

use super::scope::LocalName;
use super::{CResult, Compiler, child};
use crate::chunk::Op;
use crate::errors::Error;
use crate::source::{Pos, Span};
use crate::syntax::attrs::{AttrsDef, Entry};
use crate::value::Value;

/// Only constants may be pushed in phase 1: they refer to no slot.
fn is_constant(expr: &ast::Expr) -> bool {
    match expr {
        ast::Expr::Literal(_) => true,
        ast::Expr::Str(s) => s.parts().all(|p| matches!(p, InterpolPart::Literal(_))),
        ast::Expr::Paren(p) => p.expr().is_some_and(|e| is_constant(&e)),
        _ => false,
    }
}

impl Compiler<'_> {
    /// The merged bindings of a set or `let` (see `syntax::attrs`).
    pub(super) fn collect_entries(
        &self,
        entries: impl Iterator<Item = ast::Entry>,
        rec: bool,
    ) -> Result<AttrsDef, Error> {
        AttrsDef::collect(entries, rec, &self.source())
    }

    /// Compiles a set expression from its definition.
    pub(super) fn compile_attrs_def(&mut self, def: &AttrsDef, span: Span) -> CResult {
        if def.rec {
            let overrides = def.statics.iter().position(|(n, _, _)| n == "__overrides");
            return self.compile_rec_scope(def, span, overrides.is_some(), |c, slots| {
                // `__overrides` is forced when the set is built; each of
                // its attributes that the set binds redirects the binding
                // (so the other bindings see it), and all of them replace
                // or extend the set's attributes.
                let overrides_slot = overrides.map(|i| slots[i]);
                if let Some(slot) = overrides_slot {
                    c.emit(Op::GetLocal(slot), span);
                    c.emit(Op::Force, span);
                    for ((name, _, _), binding) in def.statics.iter().zip(slots) {
                        if *binding != slot {
                            let idx = c.const_index(Value::string(name.clone()));
                            c.emit(Op::OverrideSlot(idx, *binding), span);
                        }
                    }
                    c.emit(Op::Pop, span);
                }
                let mut sorted: Vec<_> = def.statics.iter().zip(slots).collect();
                sorted.sort_by(|a, b| a.0.0.as_bytes().cmp(b.0.0.as_bytes()));
                for ((name, _, espan), slot) in sorted {
                    c.constant(Value::string(name.clone()), *espan);
                    c.emit(Op::GetLocal(*slot), *espan);
                }
                c.compile_dynamic_entries(def, &[])?;
                c.emit_attrs(def, span);
                if let Some(slot) = overrides_slot {
                    c.emit(Op::GetLocal(slot), span);
                    c.emit(Op::Force, span);
                    c.emit(Op::Update, span);
                }
                Ok(())
            });
        }
        let height = self.ctx().height;
        let locals = self.ctx().locals.len();
        let level = self.ctxs.len() - 1;
        let mut from_slots = Vec::new();
        for from in &def.froms {
            from_slots.push(self.ctx().height);
            self.compile_lazy(from)?;
        }
        for (name, entry, espan) in sorted_by_name(&def.statics) {
            self.constant(Value::string(name.clone()), *espan);
            self.compile_entry_lazy(name, entry, *espan, level, &from_slots)?;
        }
        self.compile_dynamic_entries(def, &from_slots)?;
        self.emit_attrs(def, span);
        if !def.froms.is_empty() {
            self.close_scope(locals, height, span);
        }
        Ok(())
    }

    /// Emits the `Attrs` that packs the entries of `def`, pushed before it
    /// as name/value pairs: static ones sorted by name, then dynamic ones.
    fn emit_attrs(&mut self, def: &AttrsDef, span: Span) {
        let positions = sorted_by_name(&def.statics)
            .into_iter()
            .map(|(_, _, s)| *s)
            .chain(def.dynamics.iter().map(|(_, _, s)| *s))
            .map(Pos::from);
        let chunk = &mut self.ctx().chunk;
        let first = chunk.positions.len() as u32;
        chunk.positions.extend(positions);
        let n = (def.statics.len() + def.dynamics.len()) as u32;
        self.emit(Op::Attrs(n, first), span);
    }

    fn compile_dynamic_entries(&mut self, def: &AttrsDef, from_slots: &[u32]) -> CResult {
        let level = self.ctxs.len() - 1;
        for (key, entry, espan) in &def.dynamics {
            self.compile_forced(key)?;
            self.compile_entry_lazy("", entry, *espan, level, from_slots)?;
        }
        Ok(())
    }

    /// Pushes the value of one entry of a non-recursive set, lazily.
    fn compile_entry_lazy(
        &mut self,
        name: &str,
        entry: &Entry,
        span: Span,
        level: usize,
        from_slots: &[u32],
    ) -> CResult {
        match entry {
            Entry::Expr(e) => self.compile_lazy(e),
            Entry::Inherit { from: None } => {
                if self.is_static(name) {
                    self.emit_load_by_name(name, span)
                } else {
                    let idx = self.compile_thunk(span, |c| c.emit_load_by_name(name, span))?;
                    self.emit(Op::MakeThunk(idx), span);
                    Ok(())
                }
            }
            Entry::Inherit { from: Some(i) } => {
                let slot = from_slots.get(*i).copied().unwrap_or(0);
                let idx =
                    self.compile_thunk(span, |c| c.emit_inherited_select(level, slot, name, span))?;
                self.emit(Op::MakeThunk(idx), span);
                Ok(())
            }
            Entry::Nested(def) => {
                let idx = self.compile_thunk(span, |c| c.compile_attrs_def(def, span))?;
                self.emit(Op::MakeThunk(idx), span);
                Ok(())
            }
        }
    }

    fn emit_load_by_name(&mut self, name: &str, span: Span) -> CResult {
        self.emit_load_at(name, span)
    }

    /// `from.name` where `from` sits in `slot` of function `level`.
    fn emit_inherited_select(
        &mut self,
        level: usize,
        slot: u32,
        name: &str,
        span: Span,
    ) -> CResult {
        let here = self.ctxs.len() - 1;
        let access = self.access(here, level, slot);
        self.emit_access(access, span);
        self.emit(Op::Force, span);
        self.constant(Value::string(name), span);
        self.emit(Op::Select, span);
        Ok(())
    }

    pub(super) fn compile_let(&mut self, l: &ast::LetIn) -> CResult {
        let node = l.syntax();
        let span = self.span(node);
        // Dynamic names in `let` were rejected when parsing.
        let def = self.collect_entries(l.entries(), true)?;
        let body = child(l.body(), node, self)?;
        self.compile_rec_scope(&def, span, false, |c, _| c.compile(&body))
    }

    /// Sets up the slots of a recursive scope, runs `finish` with the slot
    /// of each static entry, and closes the scope under its result. With
    /// `all_thunks`, constants get a thunk too, so that `__overrides` can
    /// redirect every binding.
    fn compile_rec_scope(
        &mut self,
        def: &AttrsDef,
        span: Span,
        all_thunks: bool,
        finish: impl FnOnce(&mut Self, &[u32]) -> CResult,
    ) -> CResult {
        let height = self.ctx().height;
        let locals = self.ctx().locals.len();
        let level = self.ctxs.len() - 1;
        let mut slots = vec![0u32; def.statics.len()];

        // Plain inherits read the enclosing scope: push them first.
        for (i, (name, entry, espan)) in def.statics.iter().enumerate() {
            if let Entry::Inherit { from: None } = entry {
                slots[i] = self.ctx().height;
                self.compile_entry_lazy(name, entry, *espan, level, &[])?;
            }
        }
        // Phase 1: a slot per binding.
        let mut from_slots = Vec::new();
        for _ in &def.froms {
            from_slots.push(self.ctx().height);
            self.emit(Op::AllocThunk, span);
        }
        for (i, (_, entry, espan)) in def.statics.iter().enumerate() {
            match entry {
                Entry::Inherit { from: None } => {}
                Entry::Expr(e) if is_constant(e) && !all_thunks => {
                    slots[i] = self.ctx().height;
                    self.compile(e)?;
                }
                _ => {
                    slots[i] = self.ctx().height;
                    self.emit(Op::AllocThunk, *espan);
                }
            }
        }
        for ((name, _, _), slot) in def.statics.iter().zip(&slots) {
            self.declare(LocalName::Ident(name.clone()), *slot);
        }
        // Phase 2: fill the blanks.
        for (from, slot) in def.froms.iter().zip(&from_slots) {
            self.fill_slot(*slot, from, None)?;
        }
        for ((name, entry, espan), slot) in def.statics.iter().zip(&slots) {
            match entry {
                Entry::Inherit { from: None } => {}
                Entry::Expr(e) if is_constant(e) && !all_thunks => {}
                Entry::Expr(e) => self.fill_slot(*slot, e, Some(name.clone()))?,
                Entry::Inherit { from: Some(i) } => {
                    let from_slot = from_slots.get(*i).copied().unwrap_or(0);
                    let idx = self.compile_thunk(*espan, |c| {
                        c.emit_inherited_select(level, from_slot, name, *espan)
                    })?;
                    self.emit(Op::FillThunk(*slot, idx), *espan);
                }
                Entry::Nested(nested) => {
                    let idx =
                        self.compile_thunk(*espan, |c| c.compile_attrs_def(nested, *espan))?;
                    self.emit(Op::FillThunk(*slot, idx), *espan);
                }
            }
        }
        finish(self, &slots)?;
        self.close_scope(locals, height, span);
        Ok(())
    }
}

/// Static entries in the order of their names, so that the `Attrs`
/// instruction receives them sorted and the set is built without sorting
/// (values are lazy, so the order they are pushed in is not observable).
fn sorted_by_name(statics: &[(String, Entry, Span)]) -> Vec<&(String, Entry, Span)> {
    let mut sorted: Vec<_> = statics.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    sorted
}
