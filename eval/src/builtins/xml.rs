//! `toXML`: the XML rendering `nix-instantiate --xml` uses.

use tvix_eval_builtin_macros::builtins;

use crate::errors::Error;
use crate::value::{NixContext, NixString, Value};
use crate::vm::generators::Co;

pub(super) use impls::builtins;

/// The context of every string inside an evaluated value.
fn collect_context(v: &Value, out: &mut NixContext) {
    let mut work = vec![v.clone()];
    while let Some(v) = work.pop() {
        match v.resolved() {
            Value::String(s) => {
                if let Some(c) = s.context() {
                    out.extend(c.iter().cloned());
                }
            }
            Value::List(l) => work.extend(l.iter().cloned()),
            Value::Attrs(a) => work.extend(a.values().cloned()),
            _ => {}
        }
    }
}

#[builtins]
mod impls {
    use super::*;

    /// The XML form of a value (evaluated deeply first), keeping the
    /// context of the strings in it.
    #[builtin("toXML")]
    async fn builtin_to_xml(co: &Co, #[lazy] v: Value) -> Result<Value, Error> {
        let v = co.deep_force(v).await?;
        let mut context = NixContext::new();
        collect_context(&v, &mut context);
        let text = crate::value::xml::to_xml(&v, None);
        Ok(Value::String(NixString::new(text.into_bytes(), context)))
    }
}
