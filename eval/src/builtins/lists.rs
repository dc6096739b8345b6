//! List builtins: `map`, `filter`, `foldl'`, `sort`, `genList`, …

use std::rc::Rc;

use super::builtin;
use crate::errors::{Error, ErrorKind};
use crate::value::{NixAttrs, NixList, NixString, Thunk, Value};
use crate::vm::generators::{BuiltinFn, Co, FastFn, Shortcut};
use crate::vm::{LoopKind, ops};

pub(super) const BUILTINS: [(&str, usize, BuiltinFn); 20] = [
    ("map", 2, map),
    ("filter", 2, filter),
    ("foldl'", 3, foldl),
    ("length", 1, length),
    ("head", 1, head),
    ("tail", 1, tail),
    ("elemAt", 2, elem_at),
    ("elem", 2, elem),
    ("concatLists", 1, concat_lists),
    ("concatMap", 2, concat_map),
    ("genList", 2, gen_list),
    ("all", 2, all),
    ("any", 2, any),
    ("sort", 2, sort),
    ("partition", 2, partition),
    ("groupBy", 2, group_by),
    ("genericClosure", 1, generic_closure),
    ("listToAttrs", 1, list_to_attrs),
    ("catAttrs", 2, cat_attrs),
    ("zipAttrsWith", 2, zip_attrs_with),
];

async fn list(co: &Co, v: Value) -> Result<NixList, Error> {
    Ok(co.force(v).await?.as_list()?)
}

async fn truthy(co: &Co, f: &Value, x: Value) -> Result<bool, Error> {
    Ok(co.call_forced(f.clone(), x).await?.as_bool()?)
}

builtin!(map, co, [f, xs], {
    let xs = list(co, xs).await?;
    Ok(Value::list(
        xs.iter()
            .map(|x| Value::Thunk(Thunk::apply(f.clone(), x.clone())))
            .collect(),
    ))
});

builtin!(filter, co, [f, xs], {
    let xs = list(co, xs).await?;
    let f = co.force(f).await?;
    co.list_loop(LoopKind::Filter, f, Value::Null, xs).await
});

builtin!(foldl, co, [op, init, xs], {
    let xs = list(co, xs).await?;
    let op = co.force(op).await?;
    let acc = co.list_loop(LoopKind::Fold, op, init, xs).await?;
    co.force(acc).await
});

/// Fast paths (see `FastFn`).
pub(super) const FAST_PATHS: [(&str, FastFn); 2] =
    [("length", length_now), ("elemAt", elem_at_now)];

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

builtin!(length, co, [xs], {
    Ok(Value::Int(list(co, xs).await?.len() as i64))
});

builtin!(head, co, [xs], {
    let xs = list(co, xs).await?;
    match xs.first() {
        Some(x) => co.force(x.clone()).await,
        None => Err(ErrorKind::Builtin("'builtins.head' called on an empty list".into()).into()),
    }
});

builtin!(tail, co, [xs], {
    let xs = list(co, xs).await?;
    if xs.is_empty() {
        return Err(ErrorKind::Builtin("'builtins.tail' called on an empty list".into()).into());
    }
    Ok(Value::list(xs.iter().skip(1).cloned().collect()))
});

builtin!(elem_at, co, [xs, n], {
    let xs = list(co, xs).await?;
    let n = co.force(n).await?.as_int()?;
    match usize::try_from(n).ok().and_then(|i| xs.get(i)) {
        Some(x) => co.force(x.clone()).await,
        None => Err(ErrorKind::Builtin(format!("list index {n} is out of bounds")).into()),
    }
});

builtin!(elem, co, [x, xs], {
    let xs = list(co, xs).await?;
    for y in xs.iter() {
        if ops::nix_eq(co, x.clone(), y.clone()).await? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
});

builtin!(concat_lists, co, [xss], {
    let xss = list(co, xss).await?;
    let mut out = Vec::new();
    for xs in xss.iter() {
        out.extend(list(co, xs.clone()).await?.iter().cloned());
    }
    Ok(Value::list(out))
});

builtin!(concat_map, co, [f, xs], {
    let xs = list(co, xs).await?;
    let f = co.force(f).await?;
    let mut out = Vec::new();
    for x in xs.iter() {
        let ys = co.call_forced(f.clone(), x.clone()).await?.as_list()?;
        out.extend(ys.iter().cloned());
    }
    Ok(Value::list(out))
});

builtin!(gen_list, co, [f, n], {
    let n = co.force(n).await?.as_int()?;
    if n < 0 {
        return Err(ErrorKind::Builtin(format!("cannot create list of size {n}")).into());
    }
    Ok(Value::list(
        (0..n)
            .map(|i| Value::Thunk(Thunk::apply(f.clone(), Value::Int(i))))
            .collect(),
    ))
});

builtin!(all, co, [f, xs], {
    let xs = list(co, xs).await?;
    let f = co.force(f).await?;
    co.list_loop(LoopKind::All, f, Value::Null, xs).await
});

builtin!(any, co, [f, xs], {
    let xs = list(co, xs).await?;
    let f = co.force(f).await?;
    co.list_loop(LoopKind::Any, f, Value::Null, xs).await
});

builtin!(sort, co, [cmp, xs], {
    let cmp = co.force(cmp).await?;
    if !cmp.is_function() {
        return Err(ErrorKind::type_error("a function", &cmp).into());
    }
    let xs = list(co, xs).await?;
    co.list_loop(LoopKind::Sort, cmp, Value::Null, xs).await
});

builtin!(partition, co, [f, xs], {
    let xs = list(co, xs).await?;
    let f = co.force(f).await?;
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    for x in xs.iter() {
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
});

builtin!(group_by, co, [f, xs], {
    let xs = list(co, xs).await?;
    let f = co.force(f).await?;
    let mut groups: std::collections::BTreeMap<NixString, Vec<Value>> = Default::default();
    for x in xs.iter() {
        let key = co.call_forced(f.clone(), x.clone()).await?.as_string()?;
        groups
            .entry(key.without_context())
            .or_default()
            .push(x.clone());
    }
    Ok(Value::Attrs(NixAttrs::from_entries_last_wins(
        groups
            .into_iter()
            .map(|(k, v)| (k, Value::list(v)))
            .collect(),
    )))
});

builtin!(generic_closure, co, [args], {
    let args = co.force(args).await?.as_attrs()?;
    let start = args
        .get(b"startSet")
        .cloned()
        .ok_or(ErrorKind::AttributeMissing("startSet".into()))?;
    let operator = args
        .get(b"operator")
        .cloned()
        .ok_or(ErrorKind::AttributeMissing("operator".into()))?;
    let operator = co.force(operator).await?;
    let mut work: std::collections::VecDeque<Value> =
        list(co, start).await?.iter().cloned().collect();
    let mut seen: Vec<Value> = Vec::new();
    let mut out = Vec::new();
    while let Some(item) = work.pop_front() {
        let attrs = co.force(item).await?.as_attrs()?;
        let key = attrs
            .get(b"key")
            .cloned()
            .ok_or(ErrorKind::AttributeMissing("key".into()))?;
        let key = co.force(key).await?;
        // CppNix keeps keys in an ordered set: they must be comparable.
        if let Some(first) = seen.first() {
            if let Some(Err(e)) = ops::shallow_less(&key, first) {
                return Err(e.into());
            }
        } else if let Some(Err(e)) = ops::shallow_less(&key, &key) {
            return Err(e.into());
        }
        let mut known = false;
        for k in &seen {
            if ops::nix_eq(co, k.clone(), key.clone()).await? {
                known = true;
                break;
            }
        }
        if known {
            continue;
        }
        seen.push(key);
        out.push(Value::Attrs(attrs.clone()));
        let next = co
            .call_forced(operator.clone(), Value::Attrs(attrs))
            .await?
            .as_list()?;
        work.extend(next.iter().cloned());
    }
    Ok(Value::List(Rc::new(out)))
});

builtin!(list_to_attrs, co, [xs], {
    let xs = list(co, xs).await?;
    co.list_loop(LoopKind::ListToAttrs, Value::Null, Value::Null, xs)
        .await
});

builtin!(cat_attrs, co, [name, xs], {
    let name = super::force_string(co, name).await?;
    let xs = list(co, xs).await?;
    let mut out = Vec::new();
    for x in xs.iter() {
        if let Some(v) = co.force(x.clone()).await?.as_attrs()?.get(name.as_bytes()) {
            out.push(v.clone());
        }
    }
    Ok(Value::list(out))
});

builtin!(zip_attrs_with, co, [f, sets], {
    let sets = list(co, sets).await?;
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
    Ok(Value::Attrs(NixAttrs::from_entries_last_wins(entries)))
});
