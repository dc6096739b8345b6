//! `derivationStrict`: a derivation's attributes become a `.drv` in the
//! store, and its output paths, as CppNix's `derivationStrict` makes them.
//!
//! 1. The attributes are read in name order ([super::derivation_env]).
//! 2. Their string context becomes the inputs ([super::inputs]).
//! 3. Builder and system must be set, the name must make a store path.
//! 4. The outputs: with `outputHash` the single output `out` is fixed
//!    (its path follows from the hash); otherwise every output's path
//!    follows from the derivation's `hash_derivation_modulo`, computed with
//!    output paths and their variables empty.
//! 5. The `.drv` is written to the store with its inputs as references,
//!    and remembered with its `hash_derivation_modulo` for the derivations
//!    that will depend on it.
//!
//! The result is `{ drvPath; <output> = path; … }`: `drvPath` refers to
//! the whole derivation (context `=`), each output to itself.

use std::collections::BTreeMap;
use std::rc::Rc;

use bstr::BString;
use nix_compat::derivation::{Derivation, Output};
use nix_compat::nixhash::{CAHash, HashAlgo, NixHash};
use nix_compat::store_path::{BuildStorePathError, StorePath, build_ca_path, build_output_path};
use tvix_eval::builtins::Co;
use tvix_eval::value::{ContextElement, NixAttrs, NixString};
use tvix_eval::{Diagnostic, Error, ErrorKind, Value};
use tvix_eval_builtin_macros::builtins;

use super::derivation_env::{DerivationAttrs, HashMode, read_attrs, without_context};
use super::errors::{DerivationError, check_name, refused_path};
use super::inputs::add_inputs;
use crate::TvixStoreIO;
use crate::nix_hash;

/// The fixed output's content address, from `outputHash`,
/// `outputHashAlgo` and `outputHashMode` (flat by default).
fn fixed_output_hash(co: &Co, attrs: &DerivationAttrs, hash: &str) -> Result<CAHash, Error> {
    // An unknown algorithm counts as none given, as in CppNix.
    let algo: Option<HashAlgo> = attrs.output_hash_algo.parse().ok();
    let parsed = nix_hash::parse_allow_empty(hash, algo).map_err(DerivationError::from)?;
    if let Some(warning) = parsed.warning {
        co.context().report(Diagnostic::Warning {
            message: warning,
            span: None,
        });
    }
    Ok(
        match (attrs.hash_mode.unwrap_or(HashMode::Flat), parsed.hash) {
            (HashMode::Flat, hash) => CAHash::Flat(hash),
            (HashMode::Recursive, hash) => CAHash::Nar(hash),
            (HashMode::Text, NixHash::Sha256(digest)) => CAHash::Text(digest),
            (HashMode::Text, other) => {
                return Err(DerivationError::TextNotSha256(other.algo().to_string()).into());
            }
        },
    )
}

/// The path of `output` of the derivation `name`: named `name`, or
/// `name-output` for outputs other than `out`.
fn output_path_name(name: &str, output: &str) -> String {
    if output == "out" {
        name.to_string()
    } else {
        format!("{name}-{output}")
    }
}

/// A store path could not be made for `name`: CppNix's message.
fn invalid_path(name: &str, error: BuildStorePathError) -> DerivationError {
    let (path, reason) = refused_path(name, &error);
    DerivationError::InvalidStorePath { path, reason }
}

/// Fills in the outputs of `derivation` (and their environment variables):
/// the fixed output `out`, or input-addressed outputs.
fn set_outputs(
    io: &TvixStoreIO,
    derivation: &mut Derivation,
    name: &str,
    outputs: &std::collections::BTreeSet<String>,
    fixed: Option<CAHash>,
) -> Result<(), DerivationError> {
    if let Some(ca_hash) = fixed {
        let path = build_ca_path(name, &ca_hash, [] as [&str; 0], false)
            .map_err(|e| invalid_path(name, e))?;
        derivation
            .environment
            .insert("out".into(), BString::from(path.to_absolute_path()));
        derivation.outputs.insert(
            "out".into(),
            Output {
                path: Some(path),
                ca_hash: Some(ca_hash),
            },
        );
        return Ok(());
    }
    // The masked derivation: every output there, without a path yet.
    for output in outputs {
        derivation
            .environment
            .insert(output.clone(), BString::default());
        derivation.outputs.insert(output.clone(), Output::default());
    }
    let hash_derivation_modulo = io.known_paths().borrow().hash_derivation_modulo(derivation);
    let mut paths = BTreeMap::new();
    for output in outputs {
        let path_name = output_path_name(name, output);
        let path = build_output_path(&hash_derivation_modulo, output, &path_name)
            .map_err(|e| invalid_path(&path_name, e))?;
        paths.insert(output.clone(), path);
    }
    for (output, path) in paths {
        derivation
            .environment
            .insert(output.clone(), BString::from(path.to_absolute_path()));
        derivation.outputs.insert(
            output,
            Output {
                path: Some(path),
                ca_hash: None,
            },
        );
    }
    Ok(())
}

/// The value `derivationStrict` returns.
fn result(drv_path: &StorePath, derivation: &Derivation) -> Value {
    let drv_path_text = drv_path.to_absolute_path();
    let mut entries = vec![(
        NixString::from("drvPath"),
        Value::String(NixString::new(
            drv_path_text.as_bytes(),
            [ContextElement::Derivation(drv_path_text.clone())].into(),
        )),
    )];
    for (output, Output { path, .. }) in &derivation.outputs {
        let path = path
            .as_ref()
            .map(StorePath::to_absolute_path)
            .unwrap_or_default();
        let context = [ContextElement::Single {
            derivation: drv_path_text.clone(),
            output: output.clone(),
        }];
        entries.push((
            NixString::from(output.as_str()),
            Value::String(NixString::new(path.as_bytes(), context.into())),
        ));
    }
    Value::Attrs(NixAttrs::from_entries_last_wins(entries))
}

/// Everything after the name: attributes, inputs, outputs, the `.drv`.
async fn instantiate(
    io: &TvixStoreIO,
    co: &Co,
    name: &str,
    attrs: &NixAttrs,
) -> Result<Value, Error> {
    if let Some(reason) = check_name(name) {
        return Err(DerivationError::InvalidName(reason).into());
    }
    let mut read = read_attrs(co, name, attrs).await?;
    let mut derivation = std::mem::take(&mut read.derivation);
    add_inputs(io, &mut derivation, &read.context)?;
    if derivation.builder.is_empty() {
        return Err(DerivationError::MissingAttribute("builder").into());
    }
    if derivation.system.is_empty() {
        return Err(DerivationError::MissingAttribute("system").into());
    }
    let single_out = read.outputs.len() == 1 && read.outputs.contains("out");
    // A name ending in `.drv` is for a derivation that makes a `.drv`.
    if name.ends_with(".drv") && !(read.hash_mode == Some(HashMode::Text) && single_out) {
        return Err(DerivationError::NameEndsInDrv.into());
    }
    let fixed = match &read.output_hash {
        Some(_) if !single_out => return Err(DerivationError::MultipleFixedOutputs.into()),
        Some(hash) => Some(fixed_output_hash(co, &read, hash)?),
        None => None,
    };
    set_outputs(io, &mut derivation, name, &read.outputs, fixed)?;

    let drv_name = format!("{name}.drv");
    let references: Vec<StorePath> = derivation
        .input_sources
        .iter()
        .chain(derivation.input_derivations.keys())
        .cloned()
        .collect();
    let drv_path = io
        .add_text(&drv_name, derivation.to_aterm_bytes(), references)
        .map_err(DerivationError::from)?;
    let value = result(&drv_path, &derivation);
    io.known_paths().borrow_mut().add(drv_path, &derivation);
    Ok(value)
}

#[builtins(state = Rc<TvixStoreIO>)]
pub(super) mod derivation_builtins {
    use super::*;

    /// Instantiates a derivation: writes its `.drv` to the store and
    /// returns `{ drvPath; <output> = path; … }`. `derivation` calls it and
    /// wraps the result.
    #[builtin("derivationStrict")]
    async fn builtin_derivation_strict(
        io: Rc<TvixStoreIO>,
        co: &Co,
        input: Value,
    ) -> Result<Value, Error> {
        let attrs = input.as_attrs().map_err(|kind| {
            let mut e = Error::from(kind);
            e.add_context("while evaluating the argument passed to builtins.derivationStrict");
            e
        })?;
        let Some(name) = attrs.get(b"name").cloned() else {
            let mut e = Error::from(ErrorKind::missing_attribute("name"));
            e.add_context("in the attrset passed as argument to builtins.derivationStrict");
            return Err(e);
        };
        let name = co
            .force(name)
            .await
            .and_then(|name| Ok(name.as_string()?))
            .and_then(|name| without_context(&name))
            .map_err(|mut e| {
                e.add_context(
                    "while evaluating the `name` attribute passed to builtins.derivationStrict",
                );
                e
            })?;
        instantiate(&io, co, &name, &attrs).await.map_err(|mut e| {
            e.add_context(format!("while evaluating derivation '{name}'"));
            e
        })
    }
}
