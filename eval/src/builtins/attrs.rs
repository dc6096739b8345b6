//! Attribute-set builtins: `attrNames`, `getAttr`, `mapAttrs`,
//! `removeAttrs`, `intersectAttrs`, ….

use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind, ResultExt};
use crate::value::{NixAttrs, NixString, Thunk, Value};
use crate::vm::generators::Co;

pub(super) use impls::builtins;

#[builtins]
mod impls {
    use super::*;

    /// The names of a set's attributes, sorted.
    #[builtin("attrNames")]
    async fn builtin_attr_names(co: &Co, set: Value) -> Result<Value, Error> {
        let set = set
            .as_attrs()
            .context("while evaluating the argument passed to builtins.attrNames")?;
        Ok(Value::list(
            set.keys().map(|k| Value::String(k.clone())).collect(),
        ))
    }

    /// The values of a set's attributes, in the order of their names.
    #[builtin("attrValues")]
    async fn builtin_attr_values(co: &Co, set: Value) -> Result<Value, Error> {
        let set = set
            .as_attrs()
            .context("while evaluating the argument passed to builtins.attrValues")?;
        Ok(Value::list(set.values().cloned().collect()))
    }

    /// Whether a set has an attribute (`s ? name`).
    #[builtin("hasAttr")]
    async fn builtin_has_attr(co: &Co, name: Value, set: Value) -> Result<Value, Error> {
        let name = name
            .as_string()
            .context("while evaluating the first argument passed to builtins.hasAttr")?;
        let set = set
            .as_attrs()
            .context("while evaluating the second argument passed to builtins.hasAttr")?;
        Ok(Value::Bool(set.contains(name.as_bytes())))
    }

    /// An attribute of a set (`s.name`).
    #[builtin("getAttr")]
    async fn builtin_get_attr(co: &Co, name: Value, set: Value) -> Result<Value, Error> {
        let name = name
            .as_string()
            .context("while evaluating the first argument passed to builtins.getAttr")?;
        match set
            .as_attrs()
            .context("while evaluating the second argument passed to builtins.getAttr")?
            .get(name.as_bytes())
        {
            Some(v) => co.force(v.clone()).await,
            None => Err(Error::from(ErrorKind::missing_attribute(name.to_string()))
                .context("in the attribute set under consideration")),
        }
    }

    /// A set without the attributes a list names.
    #[builtin("removeAttrs")]
    async fn builtin_remove_attrs(co: &Co, set: Value, names: Value) -> Result<Value, Error> {
        let set = set
            .as_attrs()
            .context("while evaluating the first argument passed to builtins.removeAttrs")?;
        let names = names
            .as_list()
            .context("while evaluating the second argument passed to builtins.removeAttrs")?;
        let mut remove = Vec::with_capacity(names.len());
        for n in names.iter() {
            remove.push(super::super::force_string(co, n.clone()).await?);
        }
        remove.sort();
        Ok(Value::Attrs(
            set.filter(|k| remove.binary_search(k).is_err()),
        ))
    }

    /// The attributes of `e2` whose names `e1` also has.
    #[builtin("intersectAttrs")]
    async fn builtin_intersect_attrs(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        let a = a
            .as_attrs()
            .context("while evaluating the first argument passed to builtins.intersectAttrs")?;
        let b = b
            .as_attrs()
            .context("while evaluating the second argument passed to builtins.intersectAttrs")?;
        Ok(Value::Attrs(b.intersect(&a)))
    }

    /// Applies `f name value` to every attribute, lazily.
    #[builtin("mapAttrs")]
    async fn builtin_map_attrs(co: &Co, #[lazy] f: Value, set: Value) -> Result<Value, Error> {
        let set = set
            .as_attrs()
            .context("while evaluating the second argument passed to builtins.mapAttrs")?;
        let entries: Vec<(NixString, Value)> = set
            .iter()
            .map(|(k, v)| {
                let partial = Value::Thunk(Thunk::apply(f.clone(), Value::String(k.clone())));
                (k.clone(), Value::Thunk(Thunk::apply(partial, v.clone())))
            })
            .collect();
        Ok(Value::Attrs(NixAttrs::from_sorted_unique(entries)))
    }
}
