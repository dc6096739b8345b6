//! String contexts: `hasContext`, `getContext`, `appendContext`,
//! `unsafeDiscardStringContext`, `unsafeDiscardOutputDependency`,
//! `addDrvOutputDependencies`.
//!
//! A context is the set of store paths a string refers to, in CppNix's
//! three kinds (see `ContextElement`). `getContext` and `appendContext`
//! translate it to and from the attribute set form
//! `{ "/nix/store/…" = { path = true; allOutputs = true; outputs = [ … ]; }; }`;
//! they never drop an element, or derivations built from the string would
//! lose inputs.

use std::collections::BTreeMap;
use std::path::Path;

use nix_compat::store_path::StorePathRef;
use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind};
use crate::value::print::write_attr_name;
use crate::value::{ContextElement, NixAttrs, NixContext, NixString, Value, normalise_path};
use crate::vm::generators::Co;
use crate::vm::ops::{self, Coercion};

pub(super) use impls::builtins;

/// The text of a string that must not refer to store paths (CppNix's
/// `forceStringNoCtx`): names of hash algorithms, TOML documents, output
/// names.
pub fn string_without_context(v: &Value) -> Result<NixString, ErrorKind> {
    let s = v.as_string()?;
    let Some(first) = s.context().and_then(first_in_cppnix_order) else {
        return Ok(s);
    };
    Err(ErrorKind::Builtin(format!(
        "the string '{s}' is not allowed to refer to a store path (such as '{}')",
        first.encoded()
    )))
}

/// The element CppNix lists first: its context is ordered by kind (plain
/// paths, then whole derivations, then outputs), then by path.
fn first_in_cppnix_order(context: &NixContext) -> Option<&ContextElement> {
    context.iter().min_by_key(|e| match e {
        ContextElement::Plain(p) => (0, p.as_str(), ""),
        ContextElement::Derivation(p) => (1, p.as_str(), ""),
        ContextElement::Single { derivation, output } => (2, derivation.as_str(), output.as_str()),
    })
}

/// A name the way CppNix's `printIdentifier` shows it in messages: bare
/// if it is an identifier, else as a quoted string.
fn identifier(name: &[u8]) -> String {
    let mut out = String::new();
    write_attr_name(&mut out, name);
    out
}

/// The store path an `appendContext` key names, canonicalised
/// (`/nix//store/x/` is `/nix/store/x`), if it is one.
fn parse_store_path(key: &NixString, store_dir: &str) -> Option<String> {
    let text = std::str::from_utf8(key.as_bytes()).ok()?;
    if !text.starts_with('/') {
        return None;
    }
    let path = normalise_path(Path::new(text));
    let base = path.strip_prefix(store_dir).ok()?;
    let base = base.to_str().filter(|b| !b.contains('/'))?;
    StorePathRef::from_bytes(base.as_bytes()).ok()?;
    Some(path.to_string_lossy().into_owned())
}

/// What `getContext` says about one store path.
#[derive(Default)]
struct PathInfo {
    path: bool,
    all_outputs: bool,
    outputs: Vec<Value>,
}

impl PathInfo {
    fn into_value(self) -> Value {
        let mut entries = Vec::new();
        if self.all_outputs {
            entries.push((NixString::from("allOutputs"), Value::Bool(true)));
        }
        if !self.outputs.is_empty() {
            entries.push((NixString::from("outputs"), Value::list(self.outputs)));
        }
        if self.path {
            entries.push((NixString::from("path"), Value::Bool(true)));
        }
        Value::Attrs(NixAttrs::from_sorted_unique(entries))
    }
}

/// Whether a store path is a derivation's (CppNix's `isDerivation`).
fn is_derivation(path: &str) -> bool {
    path.ends_with(".drv")
}

#[builtins]
mod impls {
    use super::*;

    /// Whether a string has a context (refers to store paths).
    #[builtin("hasContext")]
    async fn builtin_has_context(co: &Co, s: Value) -> Result<Value, Error> {
        Ok(Value::Bool(s.as_string()?.has_context()))
    }

    /// The string without its context.
    #[builtin("unsafeDiscardStringContext")]
    async fn builtin_unsafe_discard_string_context(
        co: &Co,
        #[lazy] s: Value,
    ) -> Result<Value, Error> {
        let s = ops::coerce_to_string(co, s, Coercion::Interpolation).await?;
        Ok(Value::String(s.into_without_context()))
    }

    /// The context of a string as a set from store path to
    /// `{ path = true; }` (the path itself), `{ allOutputs = true; }`
    /// (a derivation with all its outputs) and `{ outputs = [ … ]; }`
    /// (some outputs of a derivation), merged per path.
    #[builtin("getContext")]
    async fn builtin_get_context(co: &Co, s: Value) -> Result<Value, Error> {
        let s = s.as_string()?;
        let mut paths: BTreeMap<&str, PathInfo> = BTreeMap::new();
        for element in s.context().into_iter().flatten() {
            match element {
                ContextElement::Plain(p) => paths.entry(p).or_default().path = true,
                ContextElement::Derivation(p) => paths.entry(p).or_default().all_outputs = true,
                ContextElement::Single { derivation, output } => paths
                    .entry(derivation)
                    .or_default()
                    .outputs
                    .push(Value::string(output.as_str())),
            }
        }
        Ok(Value::Attrs(NixAttrs::from_sorted_unique(
            paths
                .into_iter()
                .map(|(p, info)| (NixString::from(p), info.into_value()))
                .collect(),
        )))
    }

    /// Adds the context described by a set in `getContext`'s form to a
    /// string. Every key must be a store path; `allOutputs` and
    /// non-empty `outputs` only for derivations.
    #[builtin("appendContext")]
    async fn builtin_append_context(co: &Co, s: Value, context: Value) -> Result<Value, Error> {
        let s = s.as_string()?;
        let context = context.as_attrs()?;
        let store_dir = co.context().io().store_dir().to_string();
        let mut added = s.context().cloned().unwrap_or_default();
        for (key, info) in context.iter() {
            let Some(path) = parse_store_path(key, &store_dir) else {
                return Err(ErrorKind::Builtin(format!(
                    "context key '{}' is not a store path",
                    identifier(key.as_bytes())
                ))
                .into());
            };
            let not_a_derivation = |what: &str| -> Error {
                ErrorKind::Builtin(format!(
                    "tried to add {what} context of {}, which is not a derivation, to a string",
                    identifier(key.as_bytes())
                ))
                .into()
            };
            let info = co.force(info.clone()).await?.as_attrs()?;
            if let Some(v) = info.get(b"path")
                && co.force(v.clone()).await?.as_bool()?
            {
                added.insert(ContextElement::Plain(path.clone()));
            }
            if let Some(v) = info.get(b"allOutputs")
                && co.force(v.clone()).await?.as_bool()?
            {
                if !is_derivation(&path) {
                    return Err(not_a_derivation("all-outputs"));
                }
                added.insert(ContextElement::Derivation(path.clone()));
            }
            if let Some(v) = info.get(b"outputs") {
                let outputs = co.force(v.clone()).await?.as_list()?;
                if !outputs.is_empty() && !is_derivation(&path) {
                    return Err(not_a_derivation("derivation output"));
                }
                for output in outputs.iter() {
                    let output = co.force(output.clone()).await?;
                    added.insert(ContextElement::Single {
                        derivation: path.clone(),
                        output: string_without_context(&output)?.to_string(),
                    });
                }
            }
        }
        Ok(Value::String(NixString::new(s.as_bytes(), added)))
    }

    /// The string with every whole-derivation element of its context
    /// (`allOutputs`) turned into a plain reference to the `.drv` file:
    /// depending on the result no longer builds the derivation's outputs.
    #[builtin("unsafeDiscardOutputDependency")]
    async fn builtin_unsafe_discard_output_dependency(
        co: &Co,
        #[lazy] s: Value,
    ) -> Result<Value, Error> {
        let s = ops::coerce_to_string(co, s, Coercion::Interpolation).await?;
        let Some(context) = s.context() else {
            return Ok(Value::String(s));
        };
        let context = context
            .iter()
            .map(|e| match e {
                ContextElement::Derivation(p) => ContextElement::Plain(p.clone()),
                other => other.clone(),
            })
            .collect();
        Ok(Value::String(NixString::new(s.as_bytes(), context)))
    }

    /// The inverse of `unsafeDiscardOutputDependency`: a string whose
    /// context is exactly one `.drv` path gets that derivation with all
    /// its outputs as context instead.
    #[builtin("addDrvOutputDependencies")]
    async fn builtin_add_drv_output_dependencies(
        co: &Co,
        #[lazy] s: Value,
    ) -> Result<Value, Error> {
        let s = ops::coerce_to_string(co, s, Coercion::Interpolation).await?;
        let element = match s.context().map(|c| (c.len(), c.first())) {
            Some((1, Some(element))) => element,
            other => {
                return Err(ErrorKind::Builtin(format!(
                    "context of string '{s}' must have exactly one element, but has {}",
                    other.map_or(0, |(n, _)| n)
                ))
                .into());
            }
        };
        let drv = match element {
            ContextElement::Plain(p) if !is_derivation(p) => {
                return Err(ErrorKind::Builtin(format!("path '{p}' is not a derivation")).into());
            }
            ContextElement::Plain(p) | ContextElement::Derivation(p) => p.clone(),
            ContextElement::Single { output, .. } => {
                return Err(ErrorKind::Builtin(format!(
                    "`addDrvOutputDependencies` can only act on derivations, not on a derivation output such as '{output}'"
                ))
                .into());
            }
        };
        Ok(Value::String(NixString::new(
            s.as_bytes(),
            [ContextElement::Derivation(drv)].into(),
        )))
    }
}
