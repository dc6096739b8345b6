//! Attribute-set builtins: `attrNames`, `getAttr`, `mapAttrs`, …

use super::builtin;
use crate::errors::{Error, ErrorKind};
use crate::value::{NixAttrs, NixString, Thunk, Value};
use crate::vm::generators::{BuiltinFn, Co};

pub(super) const BUILTINS: [(&str, usize, BuiltinFn); 7] = [
    ("attrNames", 1, attr_names),
    ("attrValues", 1, attr_values),
    ("hasAttr", 2, has_attr),
    ("getAttr", 2, get_attr),
    ("removeAttrs", 2, remove_attrs),
    ("intersectAttrs", 2, intersect_attrs),
    ("mapAttrs", 2, map_attrs),
];

async fn attrs(co: &Co, v: Value) -> Result<NixAttrs, Error> {
    Ok(co.force(v).await?.as_attrs()?)
}

builtin!(attr_names, co, [set], {
    let set = attrs(co, set).await?;
    Ok(Value::list(
        set.keys().map(|k| Value::String(k.clone())).collect(),
    ))
});

builtin!(attr_values, co, [set], {
    let set = attrs(co, set).await?;
    Ok(Value::list(set.values().cloned().collect()))
});

builtin!(has_attr, co, [name, set], {
    let name = super::force_string(co, name).await?;
    Ok(Value::Bool(attrs(co, set).await?.contains(name.as_bytes())))
});

builtin!(get_attr, co, [name, set], {
    let name = super::force_string(co, name).await?;
    match attrs(co, set).await?.get(name.as_bytes()) {
        Some(v) => co.force(v.clone()).await,
        None => Err(ErrorKind::AttributeMissing(name.to_string()).into()),
    }
});

builtin!(remove_attrs, co, [set, names], {
    let set = attrs(co, set).await?;
    let names = co.force(names).await?.as_list()?;
    let mut remove = std::collections::HashSet::new();
    for n in names.iter() {
        remove.insert(super::force_string(co, n.clone()).await?.without_context());
    }
    Ok(Value::Attrs(NixAttrs::from_entries_last_wins(
        set.iter()
            .filter(|(k, _)| !remove.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )))
});

builtin!(intersect_attrs, co, [a, b], {
    let a = attrs(co, a).await?;
    let b = attrs(co, b).await?;
    Ok(Value::Attrs(NixAttrs::from_entries_last_wins(
        b.iter()
            .filter(|(k, _)| a.contains(k.as_bytes()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )))
});

builtin!(map_attrs, co, [f, set], {
    let set = attrs(co, set).await?;
    let entries: Vec<(NixString, Value)> = set
        .iter()
        .map(|(k, v)| {
            let partial = Value::Thunk(Thunk::apply(f.clone(), Value::String(k.clone())));
            (k.clone(), Value::Thunk(Thunk::apply(partial, v.clone())))
        })
        .collect();
    Ok(Value::Attrs(NixAttrs::from_entries_last_wins(entries)))
});
