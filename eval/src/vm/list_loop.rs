//! Loops over a list that call a Nix function per element (`foldl'`,
//! `filter`, `concatMap`, `any`, `all`) or per comparison (`sort`), or that force
//! each element and its name (`listToAttrs`), run by the VM as a frame of
//! their own.
//!
//! As generators, these builtins would make a round trip through their
//! future for every element: post the call, be polled with its result,
//! post the next. In a `Frame::ListLoop` the VM calls the function
//! itself and reads the result off its stack; the builtin asks once.

use super::{Frame, Vm};
use crate::errors::{Error, ErrorKind, TracePrint};

/// The context of a `listToAttrs` element that lacks a name or value.
const PAIR: &str = "in a {name=...; value=...;} pair";
use crate::source::Span;
use crate::value::{Entry, NixAttrs, NixList, Value};

/// What a loop does with each element and the function's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopKind {
    /// `foldl'`: call `f acc x`; the forced result is the next `acc`.
    Fold,
    /// `filter`: keep `x` if `f x` is true.
    Filter,
    /// `any`: stop with true at the first `x` for which `f x` is true.
    Any,
    /// `all`: stop with false at the first `x` for which `f x` is false.
    All,
    /// `sort`: a stable merge sort calling `f b a` to learn whether `b`
    /// goes before `a`.
    Sort,
    /// `concatMap`: append the elements of the list `f x`.
    ConcatMap,
    /// `listToAttrs`: no function; force each element to a set and its
    /// `name` to a string, and collect the `value`s (the first of a name
    /// wins).
    ListToAttrs,
}

/// A list loop in progress.
pub(super) struct ListLoop {
    kind: LoopKind,
    function: Value,
    /// `Fold`: the accumulator.
    acc: Value,
    list: NixList,
    /// The index of the next element to call the function on.
    next: usize,
    /// `Filter`, `ConcatMap`: the elements kept so far.
    kept: Vec<Value>,
    /// `Sort`: the merge.
    sort: MergeSort,
    /// `ListToAttrs`: the entries so far, and the forced element whose
    /// name is being forced.
    entries: Vec<Entry>,
    item: Option<NixAttrs>,
    /// Whether the result for the element before `next` is on top of the
    /// stack (being forced, or forced).
    calling: bool,
    span: Span,
}

impl Vm {
    /// Pushes a frame that runs a list loop and then leaves its result on
    /// the stack: the last accumulator (unforced only for an empty list),
    /// the kept elements, or the Boolean.
    pub(super) fn start_list_loop(
        &mut self,
        kind: LoopKind,
        function: Value,
        init: Value,
        list: NixList,
        span: Span,
    ) {
        self.frames.push(Frame::ListLoop(Box::new(ListLoop {
            kind,
            function,
            acc: init,
            next: 0,
            kept: Vec::new(),
            sort: match kind {
                LoopKind::Sort => MergeSort::new(&list),
                _ => MergeSort::default(),
            },
            list,
            entries: Vec::new(),
            item: None,
            calling: false,
            span,
        })));
    }

    /// Runs the list loop on top of the frame stack until a call or a
    /// force pushes frames, or the loop is done.
    pub(super) fn continue_list_loop(&mut self) -> Result<(), Error> {
        loop {
            let Some(Frame::ListLoop(state)) = self.frames.last_mut() else {
                return Ok(());
            };
            let span = state.span;
            let error = |k: ErrorKind| Error::new(k, Some(span));
            let context = |k: ErrorKind, text: &'static str| Error::from(k).context(text);
            if state.calling {
                if self.stack.last().is_some_and(Value::needs_force) {
                    return self.force_top(span).map_err(error);
                }
                state.calling = false;
                let result = self.stack.pop().unwrap_or_default().into_resolved();
                match state.kind {
                    LoopKind::Fold => state.acc = result,
                    LoopKind::ConcatMap => {
                        let list = result.into_list().map_err(|k| {
                            context(k, "while evaluating the return value of the function passed to builtins.concatMap")
                        })?;
                        state.kept.extend(list.iter().cloned());
                    }
                    LoopKind::ListToAttrs => match state.item.take() {
                        None => {
                            let item = result.into_attrs().map_err(|k| {
                                context(k, "while evaluating an element of the list passed to builtins.listToAttrs")
                            })?;
                            let name = item.get(b"name").cloned().ok_or_else(|| {
                                context(ErrorKind::missing_attribute("name"), PAIR)
                            })?;
                            state.item = Some(item);
                            self.force_for_loop(name, span)?;
                            continue;
                        }
                        Some(item) => {
                            let name = result.into_nix_string().map_err(|k| {
                                let at = item.position(b"name");
                                let mut e = Error::new(k, at);
                                e.add_trace(
                                    "while evaluating the `name` attribute of an element of the list passed to builtins.listToAttrs",
                                    at,
                                    TracePrint::Default,
                                );
                                e
                            })?;
                            let value = item.get(b"value").cloned().ok_or_else(|| {
                                context(ErrorKind::missing_attribute("value"), PAIR)
                            })?;
                            let pos = item.position(b"value").into();
                            state
                                .entries
                                .push(Entry::new(name.into_without_context(), value, pos));
                        }
                    },
                    kind => {
                        let truth = result.as_bool().map_err(|k| {
                            context(k, match kind {
                                LoopKind::Filter => "while evaluating the return value of the filtering function passed to builtins.filter",
                                LoopKind::Any => "while evaluating the return value of the function passed to builtins.any",
                                LoopKind::All => "while evaluating the return value of the function passed to builtins.all",
                                _ => "while evaluating the return value of the sorting function passed to builtins.sort",
                            })
                        })?;
                        match kind {
                            LoopKind::Filter if truth => {
                                if let Some(x) = state.list.get(state.next - 1) {
                                    state.kept.push(x.clone());
                                }
                            }
                            LoopKind::Any | LoopKind::All if truth == (kind == LoopKind::Any) => {
                                self.finish_list_loop(Value::Bool(truth));
                                return Ok(());
                            }
                            LoopKind::Sort => state.sort.take(truth),
                            _ => {}
                        }
                    }
                }
            }
            let next = match state.kind {
                LoopKind::Sort => state.sort.next_pair(),
                _ => state
                    .list
                    .get(state.next)
                    .cloned()
                    .map(|x| (x, Value::Null)),
            };
            let Some((x, y)) = next else {
                let result = match state.kind {
                    LoopKind::Fold => std::mem::take(&mut state.acc),
                    LoopKind::Filter | LoopKind::ConcatMap => {
                        Value::list(std::mem::take(&mut state.kept))
                    }
                    LoopKind::Any => Value::Bool(false),
                    LoopKind::All => Value::Bool(true),
                    LoopKind::Sort => Value::list(state.sort.sorted(&state.list)),
                    LoopKind::ListToAttrs => Value::Attrs(NixAttrs::from_entries_first_wins(
                        std::mem::take(&mut state.entries),
                    )),
                };
                self.finish_list_loop(result);
                return Ok(());
            };
            state.next += 1;
            if state.kind == LoopKind::ListToAttrs {
                self.force_for_loop(x, span)?;
                continue;
            }
            state.calling = true;
            self.stack.push(state.function.clone());
            let args = match state.kind {
                LoopKind::Fold => {
                    self.stack.push(std::mem::take(&mut state.acc));
                    self.stack.push(x);
                    2
                }
                LoopKind::Sort => {
                    self.stack.push(x);
                    self.stack.push(y);
                    2
                }
                _ => {
                    self.stack.push(x);
                    1
                }
            };
            let frames = self.frames.len();
            self.call_n(args, span).map_err(error)?;
            if self.frames.len() != frames {
                return Ok(());
            }
        }
    }

    /// Pushes `v` to be forced for the list loop on top of the frame
    /// stack; its `calling` step takes the forced value.
    fn force_for_loop(&mut self, v: Value, span: Span) -> Result<(), Error> {
        if let Some(Frame::ListLoop(state)) = self.frames.last_mut() {
            state.calling = true;
        }
        self.stack.push(v);
        self.force_top(span).map_err(|k| Error::new(k, Some(span)))
    }

    fn finish_list_loop(&mut self, result: Value) {
        self.frames.pop();
        self.stack.push(result);
    }
}

/// A stable bottom-up merge sort of a list's indices that asks for one
/// comparison at a time. Merging moves indices, not values: no reference
/// count is touched per move, and each element is cloned into the result
/// once.
#[derive(Default)]
pub(super) struct MergeSort {
    /// The elements as the comparator gets them: evaluated ones as their
    /// values, looked through once here. Thunks are scattered over the
    /// heap, and reading one per comparison costs more than comparing.
    keys: Vec<Value>,
    /// The runs of the current pass.
    order: Vec<usize>,
    /// The merged runs of the current pass.
    merged: Vec<usize>,
    /// The length of the runs being merged.
    width: usize,
    /// Where the two runs being merged start in `order`.
    start: usize,
    /// The next index of `order` in the left run (`i`) and the right (`j`).
    i: usize,
    j: usize,
}

impl MergeSort {
    fn new(list: &[Value]) -> Self {
        let len = list.len();
        MergeSort {
            keys: list.iter().map(Value::resolved).collect(),
            order: (0..len).collect(),
            merged: Vec::with_capacity(len),
            width: 1,
            start: 0,
            i: 0,
            j: len.min(1),
        }
    }

    /// The keys whose order decides the next step, right one first (the
    /// comparator says whether it is strictly less); `None` once sorted.
    fn next_pair(&mut self) -> Option<(Value, Value)> {
        let len = self.order.len();
        loop {
            if self.width >= len {
                return None;
            }
            let mid = (self.start + self.width).min(len);
            let end = (self.start + 2 * self.width).min(len);
            if self.i < mid && self.j < end {
                let (right, left) = (self.order[self.j], self.order[self.i]);
                return Some((self.keys[right].clone(), self.keys[left].clone()));
            }
            // A run is used up: the rest of the other follows as it is.
            self.merged.extend_from_slice(&self.order[self.i..mid]);
            self.merged.extend_from_slice(&self.order[self.j..end]);
            self.start = end;
            if self.start >= len {
                std::mem::swap(&mut self.order, &mut self.merged);
                self.merged.clear();
                self.width *= 2;
                self.start = 0;
            }
            self.i = self.start;
            self.j = (self.start + self.width).min(len);
        }
    }

    /// Takes the right element if it is strictly less, else the left one,
    /// which keeps the sort stable.
    fn take(&mut self, right_is_less: bool) {
        if right_is_less {
            self.merged.push(self.order[self.j]);
            self.j += 1;
        } else {
            self.merged.push(self.order[self.i]);
            self.i += 1;
        }
    }

    /// The list's elements in sorted order.
    fn sorted(&self, list: &[Value]) -> Vec<Value> {
        self.order.iter().map(|&i| list[i].clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Runs the merge with integer keys compared by `<`, as the builtin
    /// does with a comparator, and returns the sorted pairs.
    fn sort(items: &[(i64, i64)]) -> Vec<(i64, i64)> {
        let list: Vec<Value> = items.iter().map(|(k, _)| Value::Int(*k)).collect();
        let mut merge = MergeSort::new(&list);
        while let Some((right, left)) = merge.next_pair() {
            let (Value::Int(r), Value::Int(l)) = (right, left) else {
                return Vec::new();
            };
            merge.take(r < l);
        }
        merge.order.iter().map(|&i| items[i]).collect()
    }

    #[rstest]
    #[case::empty(&[], &[])]
    #[case::one(&[(1, 0)], &[(1, 0)])]
    #[case::reversed(&[(3, 0), (2, 0), (1, 0)], &[(1, 0), (2, 0), (3, 0)])]
    #[case::stable(&[(2, 0), (1, 0), (2, 1), (1, 1), (2, 2)], &[(1, 0), (1, 1), (2, 0), (2, 1), (2, 2)])]
    #[case::odd_length(&[(5, 0), (4, 0), (3, 0), (2, 0), (1, 0), (0, 0), (6, 0)], &[(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0)])]
    fn merge_sort(#[case] items: &[(i64, i64)], #[case] expected: &[(i64, i64)]) {
        assert_eq!(sort(items), expected);
    }
}
