//! Lists: immutable, shared vectors of values.

use std::ops::Deref;
use std::rc::Rc;

use super::Value;

#[derive(Clone, Default)]
pub struct NixList(Rc<Vec<Value>>);

impl NixList {
    /// Identity of the storage; used by deep forcing to walk a list once.
    pub fn ptr(&self) -> *const () {
        Rc::as_ptr(&self.0) as *const ()
    }

    pub fn ptr_eq(&self, other: &NixList) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl From<Vec<Value>> for NixList {
    fn from(items: Vec<Value>) -> Self {
        NixList(Rc::new(items))
    }
}

impl Deref for NixList {
    type Target = [Value];

    fn deref(&self) -> &[Value] {
        &self.0
    }
}

/// A list nested a million deep (`[ [ [ … ] ] ]` from `fromJSON`, or a
/// fold that wraps its accumulator) would be freed by a million nested
/// drops; its items are handed to `drop::defer` instead.
impl Drop for NixList {
    fn drop(&mut self) {
        if let Some(items) = Rc::get_mut(&mut self.0)
            && items.iter().any(|v| {
                !matches!(
                    v,
                    Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_)
                )
            })
        {
            super::drop::defer(super::drop::Deferred::Items(std::mem::take(items)));
        }
    }
}
