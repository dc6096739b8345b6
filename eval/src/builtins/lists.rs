//! List builtins: `map`, `filter`, `foldl'`, `sort`, `genList`,
//! `genericClosure`, …

use std::collections::BTreeMap;

use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind, ResultExt};
use crate::value::print::print_error_value;
use crate::value::{NixAttrs, NixList, NixString, Thunk, Value};
use crate::vm::LoopKind;
use crate::vm::generators::{Co, Shortcut};
use crate::vm::ops::{OrderedKey, eq_now, nix_eq};

pub(super) use impls::builtins;

fn length_now(args: &[Value]) -> Option<Shortcut> {
    match args.first()?.resolved() {
        Value::List(xs) => Some(Shortcut::Value(Value::Int(xs.len() as i64))),
        _ => None,
    }
}

fn elem_at_now(args: &[Value]) -> Option<Shortcut> {
    let [xs, n] = args else {
        return None;
    };
    let (Value::List(xs), Value::Int(n)) = (xs.resolved(), n.resolved()) else {
        return None;
    };
    let x = xs.get(usize::try_from(n).ok()?)?;
    (!x.needs_force()).then(|| Shortcut::Value(x.resolved()))
}

/// Whether `f x` is true; `context` says what was called if it is not a
/// Boolean.
async fn truthy(co: &Co, f: &Value, x: Value, context: &'static str) -> Result<bool, Error> {
    co.call_forced(f.clone(), x)
        .await?
        .as_bool()
        .context(context)
}

/// `sort lessThan xs` without calling `lessThan` (CppNix also compares
/// directly then), for evaluated elements that are all integers, all
/// floats but NaN, or all strings: orders in which `<` is total, so a
/// native stable sort gives what the merge of `LoopKind::Sort` gives, and
/// no comparison can fail. `None` for any other list.
fn sort_scalars(xs: &[Value]) -> Option<Vec<Value>> {
    fn sorted_by<K: Clone>(
        xs: &[Value],
        key: impl Fn(&Value) -> Option<K>,
        cmp: impl Fn(&K, &K) -> std::cmp::Ordering,
    ) -> Option<Vec<Value>> {
        let mut keyed = xs
            .iter()
            .map(|x| Some((key(&x.resolved())?, x)))
            .collect::<Option<Vec<_>>>()?;
        keyed.sort_by(|a, b| cmp(&a.0, &b.0));
        Some(keyed.into_iter().map(|(_, x)| x.clone()).collect())
    }
    match xs.first()?.resolved() {
        Value::Int(_) => sorted_by(
            xs,
            |x| match x {
                Value::Int(i) => Some(*i),
                _ => None,
            },
            Ord::cmp,
        ),
        Value::Float(_) => sorted_by(
            xs,
            |x| match x {
                Value::Float(f) if !f.is_nan() => Some(*f),
                _ => None,
            },
            |a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
        ),
        Value::String(_) => sorted_by(
            xs,
            |x| match x {
                Value::String(s) => Some(s.clone()),
                _ => None,
            },
            Ord::cmp,
        ),
        _ => None,
    }
}

/// A required attribute of `genericClosure`'s argument.
fn required(attrs: &NixAttrs, name: &str) -> Result<Value, Error> {
    attrs.get(name.as_bytes()).cloned().ok_or_else(|| {
        Error::from(ErrorKind::missing_attribute(name))
            .context("in the attrset passed as argument to builtins.genericClosure")
    })
}

/// `genericClosure`'s context for an error about an element.
fn element_context(prefix: &str, element: &Value) -> String {
    format!("{prefix} {}", print_error_value(element))
}

#[builtins]
mod impls {
    use super::*;

    /// Applies `f` to every element of a list, lazily: `map f [ x y ]` is
    /// `[ (f x) (f y) ]`. As in CppNix, `f` is forced only if the list is
    /// not empty.
    #[builtin("map")]
    async fn builtin_map(co: &Co, #[lazy] f: Value, xs: Value) -> Result<Value, Error> {
        let xs = xs
            .as_list()
            .context("while evaluating the second argument passed to builtins.map")?;
        if !xs.is_empty() {
            co.force(f.clone())
                .await?
                .as_function()
                .context("while evaluating the first argument passed to builtins.map")?;
        }
        Ok(Value::list(
            xs.iter()
                .map(|x| Value::Thunk(Thunk::apply(f.clone(), x.clone())))
                .collect(),
        ))
    }

    /// The elements `x` of a list for which `f x` is true.
    #[builtin("filter")]
    async fn builtin_filter(co: &Co, #[lazy] f: Value, xs: Value) -> Result<Value, Error> {
        let xs = xs
            .as_list()
            .context("while evaluating the second argument passed to builtins.filter")?;
        if xs.is_empty() {
            return Ok(Value::List(xs));
        }
        let f = co.force(f).await?;
        f.as_function()
            .context("while evaluating the first argument passed to builtins.filter")?;
        co.list_loop(LoopKind::Filter, f, Value::Null, xs).await
    }

    /// Left fold with a strict accumulator: `op (… (op (op nul x0) x1) …) xn`.
    /// As in CppNix, `op` is forced first, then the list, and `nul` only
    /// when it is needed.
    #[builtin("foldl'")]
    async fn builtin_foldl(
        co: &Co,
        op: Value,
        #[lazy] nul: Value,
        #[lazy] xs: Value,
    ) -> Result<Value, Error> {
        op.as_function()
            .context("while evaluating the first argument passed to builtins.foldlStrict")?;
        let xs = co
            .force(xs)
            .await?
            .as_list()
            .context("while evaluating the third argument passed to builtins.foldlStrict")?;
        if xs.is_empty() {
            return co.force(nul).await;
        }
        let acc = co.list_loop(LoopKind::Fold, op, nul, xs).await?;
        co.force(acc).await
    }

    /// The number of elements of a list.
    #[builtin("length", fast = length_now)]
    async fn builtin_length(co: &Co, xs: Value) -> Result<Value, Error> {
        Ok(Value::Int(
            xs.as_list()
                .context("while evaluating the first argument passed to builtins.length")?
                .len() as i64,
        ))
    }

    /// The first element of a list.
    #[builtin("head")]
    async fn builtin_head(co: &Co, xs: Value) -> Result<Value, Error> {
        match xs
            .as_list()
            .context("while evaluating the first argument passed to builtins.head")?
            .first()
        {
            Some(x) => co.force(x.clone()).await,
            None => {
                Err(ErrorKind::Builtin("'builtins.head' called on an empty list".into()).into())
            }
        }
    }

    /// A list without its first element.
    #[builtin("tail")]
    async fn builtin_tail(co: &Co, xs: Value) -> Result<Value, Error> {
        let xs = xs
            .as_list()
            .context("while evaluating the first argument passed to builtins.tail")?;
        if xs.is_empty() {
            return Err(
                ErrorKind::Builtin("'builtins.tail' called on an empty list".into()).into(),
            );
        }
        Ok(Value::list(xs.iter().skip(1).cloned().collect()))
    }

    /// The element of a list at an index (from 0). CppNix forces the index
    /// before the list.
    #[builtin("elemAt", fast = elem_at_now)]
    async fn builtin_elem_at(co: &Co, #[lazy] xs: Value, n: Value) -> Result<Value, Error> {
        let n = n
            .as_int()
            .context("while evaluating the second argument passed to builtins.elemAt")?;
        let xs = co
            .force(xs)
            .await?
            .as_list()
            .context("while evaluating the first argument passed to builtins.elemAt")?;
        match usize::try_from(n).ok().and_then(|i| xs.get(i)) {
            Some(x) => co.force(x.clone()).await,
            None => Err(ErrorKind::Builtin(format!(
                "'builtins.elemAt' called with index {n} on a list of size {}",
                xs.len()
            ))
            .into()),
        }
    }

    /// Whether `x` equals an element of a list.
    #[builtin("elem")]
    async fn builtin_elem(co: &Co, #[lazy] x: Value, xs: Value) -> Result<Value, Error> {
        let xs = xs
            .as_list()
            .context("while evaluating the second argument passed to builtins.elem")?;
        // `x` is forced by the first comparison, as in CppNix; the
        // comparisons of scalars need no coroutine step.
        let x = match xs.is_empty() {
            true => x,
            false => co.force(x).await?,
        };
        for y in xs.iter() {
            let eq = match eq_now(&x, y) {
                Some(eq) => eq,
                None => nix_eq(co, x.clone(), y.clone()).await?,
            };
            if eq {
                return Ok(Value::Bool(true));
            }
        }
        Ok(Value::Bool(false))
    }

    /// Concatenates a list of lists.
    #[builtin("concatLists")]
    async fn builtin_concat_lists(co: &Co, xss: Value) -> Result<Value, Error> {
        let xss = xss
            .as_list()
            .context("while evaluating the first argument passed to builtins.concatLists")?;
        let mut lists = Vec::with_capacity(xss.len());
        for xs in xss.iter() {
            let xs = co.force(xs.clone()).await?;
            lists.push(
                xs.as_list().context(
                    "while evaluating a value of the list passed to builtins.concatLists",
                )?,
            );
        }
        Ok(Value::list(concat(&lists)))
    }

    /// `concatLists (map f xs)`; `f` is forced first, even for an empty
    /// list.
    #[builtin("concatMap")]
    async fn builtin_concat_map(co: &Co, f: Value, #[lazy] xs: Value) -> Result<Value, Error> {
        f.as_function()
            .context("while evaluating the first argument passed to builtins.concatMap")?;
        let xs = co
            .force(xs)
            .await?
            .as_list()
            .context("while evaluating the second argument passed to builtins.concatMap")?;
        co.list_loop(LoopKind::ConcatMap, f, Value::Null, xs).await
    }

    /// `[ (f 0) (f 1) … (f (n - 1)) ]`, lazily.
    #[builtin("genList")]
    async fn builtin_gen_list(co: &Co, #[lazy] f: Value, n: Value) -> Result<Value, Error> {
        let n = n
            .as_int()
            .context("while evaluating the second argument passed to builtins.genList")?;
        if n < 0 {
            return Err(ErrorKind::Builtin(format!("cannot create list of size {n}")).into());
        }
        let f = co.force(f).await?;
        f.as_function()
            .context("while evaluating the first argument passed to builtins.genList")?;
        Ok(Value::list(
            (0..n)
                .map(|i| Value::Thunk(Thunk::apply(f.clone(), Value::Int(i))))
                .collect(),
        ))
    }

    /// Whether `f x` is true for every element `x` of a list.
    #[builtin("all")]
    async fn builtin_all(co: &Co, f: Value, #[lazy] xs: Value) -> Result<Value, Error> {
        f.as_function()
            .context("while evaluating the first argument passed to builtins.all")?;
        let xs = co
            .force(xs)
            .await?
            .as_list()
            .context("while evaluating the second argument passed to builtins.all")?;
        co.list_loop(LoopKind::All, f, Value::Null, xs).await
    }

    /// Whether `f x` is true for some element `x` of a list.
    #[builtin("any")]
    async fn builtin_any(co: &Co, f: Value, #[lazy] xs: Value) -> Result<Value, Error> {
        f.as_function()
            .context("while evaluating the first argument passed to builtins.any")?;
        let xs = co
            .force(xs)
            .await?
            .as_list()
            .context("while evaluating the second argument passed to builtins.any")?;
        co.list_loop(LoopKind::Any, f, Value::Null, xs).await
    }

    /// Sorts a list with a comparator (`a: b: a < b`), stably. As in
    /// CppNix, a list that is not empty has its comparator forced, then
    /// every element, even when no comparison is needed.
    #[builtin("sort")]
    async fn builtin_sort(co: &Co, #[lazy] cmp: Value, xs: Value) -> Result<Value, Error> {
        let xs = xs
            .as_list()
            .context("while evaluating the second argument passed to builtins.sort")?;
        if xs.is_empty() {
            return Ok(Value::List(xs));
        }
        let cmp = co.force(cmp).await?;
        cmp.as_function()
            .context("while evaluating the first argument passed to builtins.sort")?;
        for x in xs.iter() {
            co.force(x.clone()).await?;
        }
        if let Value::Builtin(b) = &cmp
            && b.partial.is_empty()
            && b.name() == "lessThan"
            && let Some(sorted) = sort_scalars(&xs)
        {
            return Ok(Value::list(sorted));
        }
        co.list_loop(LoopKind::Sort, cmp, Value::Null, xs).await
    }

    /// Splits a list into `{ right = …; wrong = …; }` by a predicate. As in
    /// CppNix, the predicate is forced first, and each element before it
    /// is tested.
    #[builtin("partition")]
    async fn builtin_partition(co: &Co, f: Value, #[lazy] xs: Value) -> Result<Value, Error> {
        f.as_function()
            .context("while evaluating the first argument passed to builtins.partition")?;
        let xs = co
            .force(xs)
            .await?
            .as_list()
            .context("while evaluating the second argument passed to builtins.partition")?;
        let (mut right, mut wrong) = (Vec::new(), Vec::new());
        for x in xs.iter() {
            let context = "while evaluating the return value of the partition function passed to builtins.partition";
            co.force(x.clone()).await?;
            if truthy(co, &f, x.clone(), context).await? {
                right.push(x.clone());
            } else {
                wrong.push(x.clone());
            }
        }
        Ok(Value::Attrs(NixAttrs::from_entries_last_wins(vec![
            (NixString::from("right"), Value::list(right)),
            (NixString::from("wrong"), Value::list(wrong)),
        ])))
    }

    /// Groups the elements of a list into a set by the name `f x` gives.
    #[builtin("groupBy")]
    async fn builtin_group_by(co: &Co, f: Value, #[lazy] xs: Value) -> Result<Value, Error> {
        f.as_function()
            .context("while evaluating the first argument passed to builtins.groupBy")?;
        let xs = co
            .force(xs)
            .await?
            .as_list()
            .context("while evaluating the second argument passed to builtins.groupBy")?;
        let mut groups: std::collections::BTreeMap<NixString, Vec<Value>> = Default::default();
        for x in xs.iter() {
            let key = co.call_forced(f.clone(), x.clone()).await?;
            let key = key.as_string().context(
                "while evaluating the return value of the grouping function passed to builtins.groupBy",
            )?;
            groups
                .entry(key.into_without_context())
                .or_default()
                .push(x.clone());
        }
        Ok(Value::Attrs(NixAttrs::from_sorted_unique(
            groups
                .into_iter()
                .map(|(k, v)| (k, Value::list(v)))
                .collect(),
        )))
    }

    /// The closure of `startSet` under `operator`: every item reached,
    /// each `key` once, in the order they were found.
    #[builtin("genericClosure")]
    async fn builtin_generic_closure(co: &Co, args: Value) -> Result<Value, Error> {
        let args = args
            .as_attrs()
            .context("while evaluating the first argument passed to builtins.genericClosure")?;
        let start = required(&args, "startSet")?;
        let start = co.force(start).await?.as_list().context(
            "while evaluating the 'startSet' attribute passed as argument to builtins.genericClosure",
        )?;
        let mut work: std::collections::VecDeque<Value> = start.iter().cloned().collect();
        if work.is_empty() {
            return Ok(Value::List(start));
        }
        let operator = co.force(required(&args, "operator")?).await?;
        operator.as_function().context(
            "while evaluating the 'operator' attribute passed as argument to builtins.genericClosure",
        )?;
        // The keys are forced deeply: the thunks in them no longer change.
        // Each maps to its element, which errors name. As in CppNix, whose
        // ordered set compares nothing until it holds two keys, the first
        // key is forced only when a second one comes.
        #[allow(clippy::mutable_key_type)]
        let mut seen: BTreeMap<OrderedKey, Value> = BTreeMap::new();
        let mut first: Option<(Value, Value)> = None;
        let mut out = Vec::new();
        while let Some(item) = work.pop_front() {
            let item = co.force(item).await?;
            let in_element = || element_context("in genericClosure element", &item);
            let attrs = item.as_attrs().with_context(in_element)?;
            let key = attrs.get(b"key").cloned().ok_or_else(|| {
                Error::from(ErrorKind::missing_attribute("key")).context(in_element())
            })?;
            if out.is_empty() {
                first = Some((key, item.clone()));
            } else {
                if let Some((first_key, first_item)) = first.take() {
                    let first_key = co.deep_force(first_key).await?;
                    seen.insert(OrderedKey::new(first_key, None)?, first_item);
                }
                let key = co.deep_force(key).await?;
                let existing = seen.first_key_value();
                let key = OrderedKey::new(key, existing.map(|(k, _)| k.value())).map_err(|e| {
                    let mut e = e;
                    if let Some((_, other)) = existing {
                        e.add_context(element_context("with element", other));
                    }
                    e.context(element_context("while comparing element", &item))
                })?;
                if seen.contains_key(&key) {
                    continue;
                }
                seen.insert(key, item.clone());
            }
            out.push(item.clone());
            let next = co
                .call_forced(operator.clone(), item.clone())
                .await
                .with_context(|| {
                    element_context("while calling operator on genericClosure element", &item)
                })?;
            let next = next
                .as_list()
                .context("while evaluating the return value of the `operator` passed to builtins.genericClosure")
                .with_context(|| element_context("while calling operator on genericClosure element", &item))?;
            work.extend(next.iter().cloned());
        }
        Ok(Value::list(out))
    }

    /// Builds a set from a list of `{ name = …; value = …; }`; the first
    /// of a name wins.
    #[builtin("listToAttrs")]
    async fn builtin_list_to_attrs(co: &Co, xs: Value) -> Result<Value, Error> {
        co.list_loop(
            LoopKind::ListToAttrs,
            Value::Null,
            Value::Null,
            xs.as_list()
                .context("while evaluating the argument passed to builtins.listToAttrs")?,
        )
        .await
    }

    /// The values of the attribute `name` in the sets of a list that have
    /// it.
    #[builtin("catAttrs")]
    async fn builtin_cat_attrs(co: &Co, name: Value, xs: Value) -> Result<Value, Error> {
        let name = name
            .as_string()
            .context("while evaluating the first argument passed to builtins.catAttrs")?;
        let mut out = Vec::new();
        for x in xs
            .as_list()
            .context("while evaluating the second argument passed to builtins.catAttrs")?
            .iter()
        {
            let x = co.force(x.clone()).await?;
            let x = x.as_attrs().context(
                "while evaluating an element in the list passed as second argument to builtins.catAttrs",
            )?;
            if let Some(v) = x.get(name.as_bytes()) {
                out.push(v.clone());
            }
        }
        Ok(Value::list(out))
    }

    /// Merges a list of sets: each name maps to `f name [ values… ]`,
    /// lazily; `f` itself is forced first, as CppNix does.
    #[builtin("zipAttrsWith")]
    async fn builtin_zip_attrs_with(
        co: &Co,
        f: Value,
        #[lazy] sets: Value,
    ) -> Result<Value, Error> {
        f.as_function()
            .context("while evaluating the first argument passed to builtins.zipAttrsWith")?;
        let sets = co
            .force(sets)
            .await?
            .as_list()
            .context("while evaluating the second argument passed to builtins.zipAttrsWith")?;
        let mut groups: std::collections::BTreeMap<NixString, Vec<Value>> = Default::default();
        for s in sets.iter() {
            let s = co.force(s.clone()).await?;
            let s = s.as_attrs().context(
                "while evaluating a value of the list passed as second argument to builtins.zipAttrsWith",
            )?;
            for (k, v) in s.iter() {
                groups.entry(k.clone()).or_default().push(v.clone());
            }
        }
        let entries = groups
            .into_iter()
            .map(|(k, vs)| {
                let partial = Value::Thunk(Thunk::apply(f.clone(), Value::String(k.clone())));
                (k, Value::Thunk(Thunk::apply(partial, Value::list(vs))))
            })
            .collect();
        Ok(Value::Attrs(NixAttrs::from_sorted_unique(entries)))
    }
}

/// The elements of several lists, in one allocation.
fn concat(lists: &[NixList]) -> Vec<Value> {
    let mut out = Vec::with_capacity(lists.iter().map(|l| l.len()).sum());
    for l in lists {
        out.extend(l.iter().cloned());
    }
    out
}
