//! List builtins: `map`, `filter`, `foldl'`, `sort`, `genList`,
//! `genericClosure`, …

use std::collections::BTreeSet;

use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind};
use crate::value::{NixAttrs, NixList, NixString, Thunk, Value};
use crate::vm::LoopKind;
use crate::vm::generators::{Co, Shortcut};
use crate::vm::ops::{OrderedKey, nix_eq};

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

/// Forces a value that must be callable, as CppNix's `forceFunction`: a
/// function or a set with `__functor`.
async fn force_function(co: &Co, f: Value) -> Result<Value, Error> {
    let f = co.force(f).await?;
    match &f {
        Value::Attrs(a) if a.contains(b"__functor") => Ok(f),
        _ if f.is_function() => Ok(f),
        _ => Err(ErrorKind::type_error("a function", &f).into()),
    }
}

async fn truthy(co: &Co, f: &Value, x: Value) -> Result<bool, Error> {
    Ok(co.call_forced(f.clone(), x).await?.as_bool()?)
}

/// A required attribute of `genericClosure`'s argument or of an item.
fn required(attrs: &NixAttrs, name: &str) -> Result<Value, Error> {
    attrs
        .get(name.as_bytes())
        .cloned()
        .ok_or_else(|| ErrorKind::AttributeMissing(name.into()).into())
}

#[builtins]
mod impls {
    use super::*;

    /// Applies `f` to every element of a list, lazily: `map f [ x y ]` is
    /// `[ (f x) (f y) ]`. As in CppNix, `f` is forced only if the list is
    /// not empty.
    #[builtin("map")]
    async fn builtin_map(co: &Co, #[lazy] f: Value, xs: Value) -> Result<Value, Error> {
        let xs = xs.as_list()?;
        if xs.is_empty() {
            return Ok(Value::List(xs));
        }
        let f = force_function(co, f).await?;
        Ok(Value::list(
            xs.iter()
                .map(|x| Value::Thunk(Thunk::apply(f.clone(), x.clone())))
                .collect(),
        ))
    }

    /// The elements `x` of a list for which `f x` is true.
    #[builtin("filter")]
    async fn builtin_filter(co: &Co, #[lazy] f: Value, xs: Value) -> Result<Value, Error> {
        let xs = xs.as_list()?;
        if xs.is_empty() {
            return Ok(Value::List(xs));
        }
        let f = force_function(co, f).await?;
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
        let op = force_function(co, op).await?;
        let xs = co.force(xs).await?.as_list()?;
        if xs.is_empty() {
            return co.force(nul).await;
        }
        let acc = co.list_loop(LoopKind::Fold, op, nul, xs).await?;
        co.force(acc).await
    }

    /// The number of elements of a list.
    #[builtin("length", fast = length_now)]
    async fn builtin_length(co: &Co, xs: Value) -> Result<Value, Error> {
        Ok(Value::Int(xs.as_list()?.len() as i64))
    }

    /// The first element of a list.
    #[builtin("head")]
    async fn builtin_head(co: &Co, xs: Value) -> Result<Value, Error> {
        match xs.as_list()?.first() {
            Some(x) => co.force(x.clone()).await,
            None => {
                Err(ErrorKind::Builtin("'builtins.head' called on an empty list".into()).into())
            }
        }
    }

    /// A list without its first element.
    #[builtin("tail")]
    async fn builtin_tail(co: &Co, xs: Value) -> Result<Value, Error> {
        let xs = xs.as_list()?;
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
        let n = n.as_int()?;
        let xs = co.force(xs).await?.as_list()?;
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
        for y in xs.as_list()?.iter() {
            if nix_eq(co, x.clone(), y.clone()).await? {
                return Ok(Value::Bool(true));
            }
        }
        Ok(Value::Bool(false))
    }

    /// Concatenates a list of lists.
    #[builtin("concatLists")]
    async fn builtin_concat_lists(co: &Co, xss: Value) -> Result<Value, Error> {
        let xss = xss.as_list()?;
        let mut lists = Vec::with_capacity(xss.len());
        for xs in xss.iter() {
            lists.push(co.force(xs.clone()).await?.as_list()?);
        }
        Ok(Value::list(concat(&lists)))
    }

    /// `concatLists (map f xs)`; `f` is forced first, even for an empty
    /// list.
    #[builtin("concatMap")]
    async fn builtin_concat_map(co: &Co, f: Value, xs: Value) -> Result<Value, Error> {
        let f = force_function(co, f).await?;
        let xs = xs.as_list()?;
        if xs.is_empty() {
            return Ok(Value::List(xs));
        }
        let mut lists = Vec::with_capacity(xs.len());
        for x in xs.iter() {
            lists.push(co.call_forced(f.clone(), x.clone()).await?.as_list()?);
        }
        Ok(Value::list(concat(&lists)))
    }

    /// `[ (f 0) (f 1) … (f (n - 1)) ]`, lazily.
    #[builtin("genList")]
    async fn builtin_gen_list(co: &Co, #[lazy] f: Value, n: Value) -> Result<Value, Error> {
        let n = n.as_int()?;
        if n < 0 {
            return Err(ErrorKind::Builtin(format!("cannot create list of size {n}")).into());
        }
        let f = force_function(co, f).await?;
        Ok(Value::list(
            (0..n)
                .map(|i| Value::Thunk(Thunk::apply(f.clone(), Value::Int(i))))
                .collect(),
        ))
    }

    /// Whether `f x` is true for every element `x` of a list.
    #[builtin("all")]
    async fn builtin_all(co: &Co, f: Value, xs: Value) -> Result<Value, Error> {
        let f = force_function(co, f).await?;
        co.list_loop(LoopKind::All, f, Value::Null, xs.as_list()?)
            .await
    }

    /// Whether `f x` is true for some element `x` of a list.
    #[builtin("any")]
    async fn builtin_any(co: &Co, f: Value, xs: Value) -> Result<Value, Error> {
        let f = force_function(co, f).await?;
        co.list_loop(LoopKind::Any, f, Value::Null, xs.as_list()?)
            .await
    }

    /// Sorts a list with a comparator (`a: b: a < b`), stably. As in
    /// CppNix, a list that is not empty has its comparator forced, then
    /// every element, even when no comparison is needed.
    #[builtin("sort")]
    async fn builtin_sort(co: &Co, #[lazy] cmp: Value, xs: Value) -> Result<Value, Error> {
        let xs = xs.as_list()?;
        if xs.is_empty() {
            return Ok(Value::List(xs));
        }
        let cmp = force_function(co, cmp).await?;
        for x in xs.iter() {
            co.force(x.clone()).await?;
        }
        co.list_loop(LoopKind::Sort, cmp, Value::Null, xs).await
    }

    /// Splits a list into `{ right = …; wrong = …; }` by a predicate. As in
    /// CppNix, the predicate is forced first, and each element before it
    /// is tested.
    #[builtin("partition")]
    async fn builtin_partition(co: &Co, f: Value, xs: Value) -> Result<Value, Error> {
        let f = force_function(co, f).await?;
        let xs = xs.as_list()?;
        let (mut right, mut wrong) = (Vec::new(), Vec::new());
        for x in xs.iter() {
            co.force(x.clone()).await?;
            if truthy(co, &f, x.clone()).await? {
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
    async fn builtin_group_by(co: &Co, f: Value, xs: Value) -> Result<Value, Error> {
        let f = force_function(co, f).await?;
        let xs = xs.as_list()?;
        let mut groups: std::collections::BTreeMap<NixString, Vec<Value>> = Default::default();
        for x in xs.iter() {
            let key = co.call_forced(f.clone(), x.clone()).await?.as_string()?;
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
        let args = args.as_attrs()?;
        let start = required(&args, "startSet")?;
        let start = co.force(start).await?.as_list()?;
        let mut work: std::collections::VecDeque<Value> = start.iter().cloned().collect();
        if work.is_empty() {
            return Ok(Value::List(start));
        }
        let operator = co.force(required(&args, "operator")?).await?;
        // Keys are forced deeply once they are compared, so the thunks in
        // the set no longer change. CppNix forces them only as far as its
        // comparisons go; like it, a lone first key is not looked into
        // until a second one arrives.
        #[allow(clippy::mutable_key_type)]
        let mut seen: BTreeSet<OrderedKey> = BTreeSet::new();
        let mut out = Vec::new();
        while let Some(item) = work.pop_front() {
            let attrs = co.force(item).await?.as_attrs()?;
            let mut key = co.force(required(&attrs, "key")?).await?;
            if let Some(first) = seen.first() {
                if seen.len() == 1 {
                    co.deep_force(first.value().clone()).await?;
                }
                key = co.deep_force(key).await?;
            }
            let key = OrderedKey::new(key, seen.first().map(|k| k.value()))?;
            if !seen.insert(key) {
                continue;
            }
            out.push(Value::Attrs(attrs.clone()));
            let next = co
                .call_forced(operator.clone(), Value::Attrs(attrs))
                .await?
                .as_list()?;
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
            xs.as_list()?,
        )
        .await
    }

    /// The values of the attribute `name` in the sets of a list that have
    /// it.
    #[builtin("catAttrs")]
    async fn builtin_cat_attrs(co: &Co, name: Value, xs: Value) -> Result<Value, Error> {
        let name = name.as_string()?;
        let mut out = Vec::new();
        for x in xs.as_list()?.iter() {
            if let Some(v) = co.force(x.clone()).await?.as_attrs()?.get(name.as_bytes()) {
                out.push(v.clone());
            }
        }
        Ok(Value::list(out))
    }

    /// Merges a list of sets: each name maps to `f name [ values… ]`,
    /// lazily; `f` itself is forced first, as CppNix does.
    #[builtin("zipAttrsWith")]
    async fn builtin_zip_attrs_with(co: &Co, f: Value, sets: Value) -> Result<Value, Error> {
        let f = force_function(co, f).await?;
        let sets = sets.as_list()?;
        let mut groups: std::collections::BTreeMap<NixString, Vec<Value>> = Default::default();
        for s in sets.iter() {
            for (k, v) in co.force(s.clone()).await?.as_attrs()?.iter() {
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
