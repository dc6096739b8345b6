//! Why `assert a == b` failed: CppNix 2.34's `assertEqValues`, run only
//! after the assertion failed, on both sides evaluated again. It walks the
//! two values as `==` does and reports the first difference, with a trace
//! of the attributes and list elements that lead to it.

use super::generators::Co;
use super::ops::is_derivation;
use crate::errors::{Error, ErrorKind, NotEqual, TracePrint};
use crate::source::Span;
use crate::value::Value;
use crate::value::print::print_error_value;

/// How the walk reached a pair of values, for the trace.
enum Step {
    /// An attribute of both sets, with its position in each.
    Attr {
        name: String,
        left: Option<Span>,
        right: Option<Span>,
    },
    Element(usize),
    /// The `outPath`s of two derivations.
    OutPath,
}

/// The error saying where `a` and `b` differ, or `Ok` if they do not
/// (functions, which `==` finds unequal only when not the same value,
/// and values whose forcing differs between runs). `at` is the `==`.
pub async fn not_equal(co: &Co, a: Value, b: Value, at: Span) -> Result<(), Error> {
    // Each pair with the index in `steps` of the step that reached it.
    let mut steps: Vec<(Step, Option<usize>)> = Vec::new();
    let mut work = vec![(a, b, None, true)];
    while let Some((a, b, step, top)) = work.pop() {
        if !top && super::ops::same_object(&a, &b) {
            continue;
        }
        let a = co.force(a).await?;
        let b = co.force(b).await?;
        let found = match difference(&a, &b) {
            Some(found) => found,
            None => match (&a, &b) {
                (Value::List(x), Value::List(y)) => {
                    for (i, (p, q)) in x.iter().zip(y.iter()).enumerate().rev() {
                        steps.push((Step::Element(i), step));
                        work.push((p.clone(), q.clone(), Some(steps.len() - 1), false));
                    }
                    continue;
                }
                (Value::Attrs(x), Value::Attrs(y)) => {
                    if is_derivation(co, x).await?
                        && is_derivation(co, y).await?
                        && let (Some(p), Some(q)) = (x.get(b"outPath"), y.get(b"outPath"))
                    {
                        steps.push((Step::OutPath, step));
                        work.push((p.clone(), q.clone(), Some(steps.len() - 1), false));
                        continue;
                    }
                    match attr_difference(&a, &b) {
                        Some(found) => found,
                        None => {
                            for (l, r) in x.entries().zip(y.entries()).rev() {
                                let name = l.name.to_string();
                                let (left, right) = (l.pos.span(), r.pos.span());
                                steps.push((Step::Attr { name, left, right }, step));
                                let (p, q) = (l.value.clone(), r.value.clone());
                                work.push((p, q, Some(steps.len() - 1), false));
                            }
                            continue;
                        }
                    }
                }
                _ => continue,
            },
        };
        let mut error = Error::from(ErrorKind::NotEqual(Box::new(found)));
        let mut at_step = step;
        while let Some((step, parent)) = at_step.and_then(|i| steps.get(i)) {
            match step {
                Step::Attr { name, left, right } => {
                    if right.is_some() {
                        error.add_trace("where right hand side is", *right, TracePrint::Default);
                    }
                    if left.is_some() {
                        error.add_trace("where left hand side is", *left, TracePrint::Default);
                    }
                    let text = format!("while comparing attribute '{name}'");
                    error.add_trace(text, Some(at), TracePrint::Default);
                }
                Step::Element(i) => {
                    let text = format!("while comparing list element {i}");
                    error.add_trace(text, Some(at), TracePrint::Default);
                }
                Step::OutPath => error.add_trace(
                    "while comparing a derivation by its 'outPath' attribute",
                    Some(at),
                    TracePrint::Default,
                ),
            }
            at_step = *parent;
        }
        return Err(error);
    }
    Ok(())
}

/// How two forced values differ by themselves, or `None` if they are
/// equal so far (lists and sets are then compared element by element).
fn difference(a: &Value, b: &Value) -> Option<NotEqual> {
    let typed = |v: &Value| (v.describe(), print_error_value(v));
    match (a, b) {
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            (super::ops::shallow_eq(a, b) == Some(false)).then(|| NotEqual::Numbers {
                left: typed(a),
                right: typed(b),
            })
        }
        _ if std::mem::discriminant(a) != std::mem::discriminant(b) => Some(NotEqual::Types {
            left: typed(a),
            right: typed(b),
        }),
        (Value::Bool(x), Value::Bool(y)) => (x != y).then_some(NotEqual::Booleans(*x, *y)),
        (Value::String(x), Value::String(y)) => {
            (x != y).then(|| NotEqual::Strings(print_error_value(a), print_error_value(b)))
        }
        (Value::Path(x), Value::Path(y)) => {
            (x != y).then(|| NotEqual::Paths(print_error_value(a), print_error_value(b)))
        }
        (Value::List(x), Value::List(y)) => (x.len() != y.len()).then(|| NotEqual::ListLengths {
            left_len: x.len(),
            right_len: y.len(),
            left: print_error_value(a),
            right: print_error_value(b),
        }),
        (Value::Closure(_) | Value::Builtin(_), _) => Some(NotEqual::Functions),
        _ => None,
    }
}

/// How the names of two sets differ, if they do.
fn attr_difference(a: &Value, b: &Value) -> Option<NotEqual> {
    let (Value::Attrs(x), Value::Attrs(y)) = (a, b) else {
        return None;
    };
    let (left, right) = (print_error_value(a), print_error_value(b));
    if x.len() != y.len() {
        return Some(NotEqual::AttrCount(left, right));
    }
    let (l, r) = x.keys().zip(y.keys()).find(|(l, r)| l != r)?;
    Some(if !y.contains(l.as_bytes()) {
        NotEqual::AttrOnlyLeft {
            name: l.to_string(),
            left,
            right,
        }
    } else {
        NotEqual::AttrOnlyRight {
            name: r.to_string(),
            left,
            right,
        }
    })
}
