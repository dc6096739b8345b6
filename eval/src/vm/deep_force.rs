//! Deep forcing (`--strict`, `deepSeq`, `trace`, `toXML`) as a frame of
//! its own.
//!
//! A builtin that needs a value forced deeply asks once
//! (`Co::deep_force`, or `Shortcut::ForceThen` from `deepSeq`'s fast
//! path); the VM then walks the value with an explicit work list in a
//! `Frame::DeepForce`, pushing frames only for the thunks that are not
//! evaluated yet. Done as a generator, every nested thunk would cost a
//! round trip through the builtin's future. The same frame forces one
//! value shallowly for `seq`.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use super::{Frame, Vm};
use crate::errors::{Error, ErrorKind, TracePrint};
use crate::source::Span;
use crate::value::{Thunk, Value};

/// A deep force in progress.
pub(super) struct DeepForce {
    /// The value asked for, once forced: what the frame returns.
    root: Option<Value>,
    /// Values still to force and look into, the next one last, with how
    /// deep in the root they are.
    work: Vec<(Value, usize)>,
    /// The depth of the value being forced on top of the stack.
    forcing_depth: usize,
    /// Lists and sets already looked into: shared values are walked once,
    /// and cyclic ones end.
    seen: HashSet<*const (), BuildHasherDefault<AddressHasher>>,
    span: Span,
    /// Whether the value on top of the stack was forced for this frame.
    forcing: bool,
    /// Whether to look into lists and sets (else only the root is forced).
    deep: bool,
    /// What the frame returns instead of the root (`seq a b` returns `b`).
    then: Option<Value>,
}

/// Hashes the address of a list or set for the visited set. Addresses
/// are already unique; SipHash's resistance to chosen keys buys nothing
/// here and costs most of the time of a small `deepSeq`.
#[derive(Default)]
struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        // Allocations are at least 8-aligned: drop the always-zero bits,
        // then spread the rest over the high bits hashbrown looks at.
        self.0 = ((n as u64) >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl DeepForce {
    /// Adds the trace frames that say where in the value forced the
    /// thunk `failed` is, as CppNix's `forceValueDeep` does: the attribute
    /// (at its position) or the list index of each step down to it.
    /// Only run on errors: the walk searches the value anew.
    pub(super) fn add_path(&self, error: &mut Error, failed: &Thunk) {
        let Some(root) = &self.root else { return };
        // Depth-first over the evaluated parts; each entry is a value and
        // the index in `steps` of the step that reached it.
        enum Step {
            Attr(String, Option<Span>),
            Index(usize),
        }
        let mut steps: Vec<(Step, Option<usize>)> = Vec::new();
        let mut seen = HashSet::<*const ()>::new();
        let mut work: Vec<(Value, Option<usize>)> = vec![(root.clone(), None)];
        let mut found = None;
        while let Some((v, step)) = work.pop() {
            let v = match v {
                Value::Thunk(t) if t.ptr_eq(failed) => {
                    found = Some(step);
                    break;
                }
                Value::Thunk(t) => match t.value() {
                    Some(v) => v,
                    None => continue,
                },
                v => v,
            };
            match &v {
                Value::List(l) if seen.insert(l.ptr()) => {
                    for (i, x) in l.iter().enumerate().rev() {
                        steps.push((Step::Index(i), step));
                        work.push((x.clone(), Some(steps.len() - 1)));
                    }
                }
                Value::Attrs(a) if seen.insert(a.ptr()) => {
                    for e in a.entries().rev() {
                        steps.push((Step::Attr(e.name.to_string(), e.pos.span()), step));
                        work.push((e.value.clone(), Some(steps.len() - 1)));
                    }
                }
                _ => {}
            }
        }
        let mut at = found.flatten();
        while let Some((step, parent)) = at.and_then(|i| steps.get(i)) {
            match step {
                Step::Attr(name, pos) => error.add_trace(
                    format!("while evaluating the attribute '{name}'"),
                    *pos,
                    TracePrint::Default,
                ),
                Step::Index(i) => {
                    error.add_context(format!("while evaluating list element at index {i}"))
                }
            }
            at = *parent;
        }
    }
}

impl Vm {
    /// Pushes a frame that forces `value`, deeply if `deep`, and then
    /// leaves `then` on the stack, or else the value forced.
    pub(super) fn start_force(
        &mut self,
        value: Value,
        deep: bool,
        then: Option<Value>,
        span: Span,
    ) {
        // The state of the last finished deep force is reused: a `deepSeq`
        // per step of a fold allocates nothing for its walk.
        let mut state = self.spare_deep_force.take().unwrap_or_else(|| {
            Box::new(DeepForce {
                root: None,
                work: Vec::new(),
                seen: HashSet::default(),
                span,
                forcing: false,
                forcing_depth: 0,
                deep,
                then: None,
            })
        });
        state.work.push((value, 0));
        state.span = span;
        state.deep = deep;
        state.then = then;
        self.frames.push(Frame::DeepForce(state));
    }

    /// Runs the deep force on top of the frame stack until it needs a
    /// thunk evaluated (whose frames it pushes) or is done.
    pub(super) fn continue_deep_force(&mut self) -> Result<(), Error> {
        loop {
            let Some(Frame::DeepForce(state)) = self.frames.last_mut() else {
                return Ok(());
            };
            let next = if state.forcing {
                state.forcing = false;
                self.stack.pop().map(|v| (v, state.forcing_depth))
            } else {
                state.work.pop()
            };
            let Some((v, depth)) = next else {
                self.finish_deep_force();
                return Ok(());
            };
            // Values nested deeper than CppNix's call depth are an error
            // there (its walk recurses); the same bound keeps the answers
            // the same.
            if depth > self.ctx.options.max_call_depth {
                let mut error = Error::new(ErrorKind::StackOverflow, Some(state.span));
                if let Value::Thunk(t) = &v {
                    state.add_path(&mut error, t);
                }
                return Err(error);
            }
            if v.needs_force() {
                state.forcing = true;
                state.forcing_depth = depth;
                let span = state.span;
                self.stack.push(v);
                let frames = self.frames.len();
                if let Err(kind) = self.force_top(span) {
                    let mut error = Error::new(kind, Some(span));
                    if let (Some(Value::Thunk(failed)), Some(Frame::DeepForce(state))) =
                        (self.stack.last(), self.frames.last())
                    {
                        state.add_path(&mut error, failed);
                    }
                    return Err(error);
                }
                if self.frames.len() != frames {
                    return Ok(());
                }
                continue;
            }
            let v = v.into_resolved();
            match &v {
                _ if !state.deep => {}
                Value::List(l) if state.seen.insert(l.ptr()) => {
                    state
                        .work
                        .extend(l.iter().rev().map(|x| (x.clone(), depth + 1)));
                }
                Value::Attrs(a) if state.seen.insert(a.ptr()) => {
                    state
                        .work
                        .extend(a.values().rev().map(|x| (x.clone(), depth + 1)));
                }
                _ => {}
            }
            if state.root.is_none() {
                state.root = Some(v);
            }
        }
    }

    /// Pops the finished deep force, pushes its value and keeps its state
    /// for the next one.
    fn finish_deep_force(&mut self) {
        let Some(Frame::DeepForce(mut state)) = self.frames.pop() else {
            return;
        };
        let result = state.then.take().or_else(|| state.root.take());
        state.root = None;
        self.stack.push(result.unwrap_or_default());
        state.seen.clear();
        state.work.clear();
        self.spare_deep_force = Some(state);
    }
}
