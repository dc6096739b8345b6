//! The attributes of a derivation, turned into its builder, system,
//! arguments and environment as CppNix's `derivationStrict` turns them.
//!
//! Attributes are taken in name order. Without `__structuredAttrs` each
//! becomes an environment variable, coerced as `toString` coerces but with
//! paths copied to the store; with it, each goes into the `__json`
//! variable, written as `builtins.toJSON` writes it. `args`,
//! `__ignoreNulls`, `__contentAddressed` and `__impure` are never passed
//! on. The string context of everything taken is collected: it becomes
//! the derivation's inputs.

use std::collections::BTreeSet;

use bstr::BString;
use nix_compat::derivation::Derivation;
use tvix_eval::builtins::{Co, string_without_context, to_json_string};
use tvix_eval::value::{NixAttrs, NixContext, NixString};
use tvix_eval::vm::ops::{Coercion, coerce_to_string};
use tvix_eval::{Diagnostic, Error, ErrorKind, Value};

use super::errors::DerivationError;

/// How a fixed output's contents are hashed (`outputHashMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HashMode {
    Flat,
    Recursive,
    Text,
}

/// What the attributes say, before outputs and inputs are worked out.
pub(super) struct DerivationAttrs {
    /// Builder, system, arguments and environment; no outputs yet.
    pub derivation: Derivation,
    /// The context of every string taken from the attributes.
    pub context: NixContext,
    /// The output names (`outputs`, by default `out`).
    pub outputs: BTreeSet<String>,
    pub output_hash: Option<String>,
    /// `outputHashAlgo`, empty if not given.
    pub output_hash_algo: String,
    pub hash_mode: Option<HashMode>,
}

/// Attributes CppNix ignores under `__structuredAttrs`, and warns about
/// (each has an `outputChecks.<output>` replacement).
const LEGACY_CHECKS: &[&str] = &[
    "allowedReferences",
    "allowedRequisites",
    "disallowedReferences",
    "disallowedRequisites",
    "maxClosureSize",
    "maxSize",
];

/// The Boolean attribute `name` of the argument, `false` if absent.
async fn flag(co: &Co, attrs: &NixAttrs, name: &str) -> Result<bool, Error> {
    let Some(value) = attrs.get(name.as_bytes()) else {
        return Ok(false);
    };
    let forced = co.force(value.clone()).await;
    forced.and_then(|v| Ok(v.as_bool()?)).map_err(|mut e| {
        e.add_context(format!(
            "while evaluating the `{name}` attribute passed to builtins.derivationStrict"
        ));
        e
    })
}

/// Reads the attributes of the derivation `name`.
pub(super) async fn read_attrs(
    co: &Co,
    name: &str,
    attrs: &NixAttrs,
) -> Result<DerivationAttrs, Error> {
    let structured = flag(co, attrs, "__structuredAttrs").await?;
    let ignore_nulls = flag(co, attrs, "__ignoreNulls").await?;
    let mut reader = Reader {
        co,
        name,
        attrs,
        json: structured.then(|| b"{".to_vec()),
        read: DerivationAttrs {
            derivation: Derivation::default(),
            context: NixContext::new(),
            outputs: BTreeSet::from(["out".to_string()]),
            output_hash: None,
            output_hash_algo: String::new(),
            hash_mode: None,
        },
    };
    for entry in attrs.entries() {
        let key = entry.name.as_bytes();
        if key == b"__ignoreNulls" {
            continue;
        }
        let mut value = entry.value.clone();
        if ignore_nulls {
            value = co.force(value).await?;
            if matches!(value, Value::Null) {
                continue;
            }
        }
        reader
            .attribute(&entry.name, value)
            .await
            .map_err(|mut e| {
                e.add_context(format!(
                    "while evaluating attribute '{}' of derivation '{name}'",
                    entry.name
                ));
                e
            })?;
    }
    let Reader { json, mut read, .. } = reader;
    if let Some(mut json) = json {
        json.push(b'}');
        read.derivation
            .environment
            .insert("__json".into(), BString::from(json));
    }
    Ok(read)
}

/// The state of reading the attributes.
struct Reader<'a> {
    co: &'a Co,
    name: &'a str,
    attrs: &'a NixAttrs,
    /// `__json` so far (the object without its closing brace), under
    /// `__structuredAttrs`.
    json: Option<Vec<u8>>,
    read: DerivationAttrs,
}

impl Reader<'_> {
    async fn attribute(&mut self, key: &NixString, value: Value) -> Result<(), Error> {
        let co = self.co;
        match key.as_bytes() {
            b"__contentAddressed" => {
                if co.force(value).await?.as_bool()? {
                    return Err(ErrorKind::MissingExperimentalFeature("ca-derivations").into());
                }
            }
            b"__impure" => {
                if co.force(value).await?.as_bool()? {
                    return Err(ErrorKind::MissingExperimentalFeature("impure-derivations").into());
                }
            }
            b"args" => {
                let list = co.force(value).await?.as_list()?;
                for item in list.iter() {
                    let arg = self.coerce(item.clone()).await.map_err(|mut e| {
                        e.add_context("while evaluating an element of the argument list");
                        e
                    })?;
                    let arg = utf8("argument", arg.as_bytes())?;
                    self.read.derivation.arguments.push(arg);
                }
            }
            _ if self.json.is_some() => self.structured_attribute(key, value).await?,
            _ => {
                let text = self.coerce(value).await?;
                let key = utf8("attribute name", key.as_bytes())?;
                self.special_attribute(&key, text.as_bytes())?;
                self.read
                    .derivation
                    .environment
                    .insert(key, BString::from(text.as_bytes()));
            }
        }
        Ok(())
    }

    /// An attribute under `__structuredAttrs`: into `__json`, and read
    /// if it says something about the derivation itself.
    async fn structured_attribute(&mut self, key: &NixString, value: Value) -> Result<(), Error> {
        let co = self.co;
        if key.as_bytes() == b"__structuredAttrs" {
            return Ok(());
        }
        let mut ignored = NixContext::new();
        let json_key = to_json_string(co, Value::String(key.clone()), &mut ignored).await?;
        let json_value = to_json_string(co, value.clone(), &mut self.read.context).await?;
        if let Some(json) = self.json.as_mut() {
            if json.len() > 1 {
                json.push(b',');
            }
            json.extend_from_slice(&json_key);
            json.push(b':');
            json.extend_from_slice(&json_value);
        }
        let key = utf8("attribute name", key.as_bytes())?;
        match key.as_str() {
            "builder" => {
                let builder = co.force(value).await?.as_string()?;
                self.add_context(&builder);
                self.read.derivation.builder = utf8("builder", builder.as_bytes())?;
            }
            "outputs" => {
                let list = co.force(value).await?.as_list()?;
                let mut outputs = Vec::with_capacity(list.len());
                for item in list.iter() {
                    let item = co.force(item.clone()).await?.as_string()?;
                    outputs.push(without_context(&item)?);
                }
                self.set_outputs(outputs)?;
            }
            "system" | "outputHash" | "outputHashAlgo" | "outputHashMode" => {
                let text = co.force(value).await?.as_string()?;
                self.special_attribute(&key, without_context(&text)?.as_bytes())?;
            }
            _ if LEGACY_CHECKS.contains(&key.as_str()) => {
                // CppNix shows this warning with the trace that raised it;
                // the renderer indents its lines under `warning:`.
                co.context().report(Diagnostic::Warning {
                    message: format!(
                        "\n… while evaluating derivation '{}'\n\nwarning: 'structuredAttrs' disables the effect of the derivation attribute '{key}'; use 'outputChecks.<output>.{key}' instead",
                        self.name
                    ),
                    span: self.attrs.position(key.as_bytes()),
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads the attributes that say something about the derivation
    /// itself, given as text.
    fn special_attribute(&mut self, key: &str, text: &[u8]) -> Result<(), Error> {
        let read = &mut self.read;
        match key {
            "builder" => read.derivation.builder = utf8("builder", text)?,
            "system" => read.derivation.system = utf8("system", text)?,
            "outputHash" => read.output_hash = Some(String::from_utf8_lossy(text).into_owned()),
            "outputHashAlgo" => read.output_hash_algo = String::from_utf8_lossy(text).into_owned(),
            "outputHashMode" => {
                read.hash_mode = Some(match text {
                    b"flat" => HashMode::Flat,
                    b"recursive" | b"nar" => HashMode::Recursive,
                    b"text" => {
                        let enabled = &self.co.context().options.experimental_features;
                        if !enabled.iter().any(|f| f == "dynamic-derivations") {
                            return Err(ErrorKind::MissingExperimentalFeature(
                                "dynamic-derivations",
                            )
                            .into());
                        }
                        HashMode::Text
                    }
                    // Git hashing is experimental in CppNix, and not in tvix.
                    b"git" => {
                        return Err(ErrorKind::MissingExperimentalFeature("git-hashing").into());
                    }
                    _ => {
                        return Err(DerivationError::InvalidHashMode(
                            String::from_utf8_lossy(text).into_owned(),
                        )
                        .into());
                    }
                })
            }
            "outputs" => {
                let outputs = text
                    .split(|b| b" \t\n\r".contains(b))
                    .filter(|word| !word.is_empty())
                    .map(|word| utf8("output name", word))
                    .collect::<Result<Vec<_>, _>>()?;
                self.set_outputs(outputs)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn set_outputs(&mut self, outputs: Vec<String>) -> Result<(), Error> {
        let mut set = BTreeSet::new();
        for output in outputs {
            if set.contains(&output) {
                return Err(DerivationError::DuplicateOutput(output).into());
            }
            if output == "drvPath" {
                return Err(DerivationError::OutputNamedDrvPath.into());
            }
            set.insert(output);
        }
        if set.is_empty() {
            return Err(DerivationError::NoOutputs.into());
        }
        self.read.outputs = set;
        Ok(())
    }

    /// Coerces an attribute value as CppNix does for the environment and
    /// arguments, keeping its context.
    async fn coerce(&mut self, value: Value) -> Result<NixString, Error> {
        let text = coerce_to_string(self.co, value, Coercion::ToStringCopyingPaths).await?;
        self.add_context(&text);
        Ok(text)
    }

    fn add_context(&mut self, text: &NixString) {
        if let Some(context) = text.context() {
            self.read.context.extend(context.iter().cloned());
        }
    }
}

/// `text` as UTF-8, or the error naming `what` it is.
fn utf8(what: &'static str, text: &[u8]) -> Result<String, Error> {
    String::from_utf8(text.to_vec()).map_err(|_| {
        DerivationError::NotUtf8 {
            what,
            value: String::from_utf8_lossy(text).into_owned(),
        }
        .into()
    })
}

/// The text of a string that must not refer to store paths (CppNix's
/// `forceStringNoCtx`).
pub(super) fn without_context(text: &NixString) -> Result<String, Error> {
    let text = string_without_context(&Value::String(text.clone()))?;
    utf8("string", text.as_bytes())
}
