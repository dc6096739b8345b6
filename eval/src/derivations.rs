//! What `nix-instantiate` (without `--eval`) instantiates: the derivations
//! a value is or holds, found as CppNix's `getDerivations` finds them.
//!
//! A derivation is a set with `type = "derivation"`. A set is searched one
//! level deep, in the order of its names, and deeper only where an
//! attribute holds a set with `recurseForDerivations = true`; a list is
//! searched element by element; functions with formals are called with the
//! automatic arguments first, at every level. Each derivation counts once.
//! The walk keeps its own stack, so deep nesting costs no native stack.

use std::collections::HashSet;

use crate::errors::{Error, ErrorKind};
use crate::value::{NixAttrs, NixString, Value};
use crate::vm::generators::Co;

/// Whether a forced value is a derivation (forcing its `type`).
async fn is_derivation(co: &Co, v: &Value) -> Result<Option<NixAttrs>, Error> {
    let Value::Attrs(a) = v else {
        return Ok(None);
    };
    let Some(t) = a.get(b"type") else {
        return Ok(None);
    };
    Ok(match co.force(t.clone()).await? {
        Value::String(s) if s.as_bytes() == b"derivation" => Some(a.clone()),
        _ => None,
    })
}

/// Where the search goes next: a value to search, or one found in a set,
/// which is searched only if it is a set that asks for it.
enum Visit {
    Search(Value),
    Attribute(Value),
}

/// The `drvPath`s of the derivations in `value`, in CppNix's order.
pub(crate) async fn drv_paths(
    co: &Co,
    value: Value,
    auto_args: &NixAttrs,
) -> Result<Vec<NixString>, Error> {
    let mut out = Vec::new();
    let mut done: HashSet<*const ()> = HashSet::new();
    let mut work = vec![Visit::Search(value)];
    while let Some(visit) = work.pop() {
        let (v, searching) = match visit {
            Visit::Search(v) => (crate::auto_call(co, v, auto_args).await?, true),
            Visit::Attribute(v) => (co.force(v).await?, false),
        };
        if let Some(drv) = is_derivation(co, &v).await? {
            if done.insert(drv.ptr()) {
                let path = drv
                    .get(b"drvPath")
                    .cloned()
                    .ok_or_else(|| ErrorKind::missing_attribute("drvPath"))?;
                out.push(co.force(path).await?.as_string()?);
            }
            continue;
        }
        match v {
            Value::Attrs(a) if searching => {
                for value in a.values().rev() {
                    work.push(Visit::Attribute(value.clone()));
                }
            }
            Value::Attrs(a) => {
                let recurse = match a.get(b"recurseForDerivations") {
                    Some(r) => co.force(r.clone()).await?.as_bool()?,
                    None => false,
                };
                if recurse {
                    work.push(Visit::Search(Value::Attrs(a)));
                }
            }
            Value::List(l) if searching => {
                for item in l.iter().rev() {
                    work.push(Visit::Search(item.clone()));
                }
            }
            // Other values in a set are not looked at.
            _ if !searching => {}
            _ => {
                return Err(ErrorKind::Builtin(
                    "expression does not evaluate to a derivation (or a set or list of those)"
                        .into(),
                )
                .into());
            }
        }
    }
    Ok(out)
}
