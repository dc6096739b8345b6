//! The embedding API: builtins from outside the crate (with state, and
//! replacing built-in ones), file access through `EvalIO`, diagnostics.

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;

use rstest::rstest;
use tvix_eval::builtins::Co;
use tvix_eval::io::{EvalIO, PureIO};
use tvix_eval::{Diagnostic, Error, EvalRequest, Evaluator, EvaluatorBuilder, OutputFormat, Value};
use tvix_eval_builtin_macros::builtins;

/// Builtins with state, as a store-backed crate defines them.
#[builtins(state = Rc<Cell<i64>>)]
mod counting {
    use super::*;

    /// Counts its calls and returns the count plus its argument.
    #[builtin("count")]
    async fn builtin_count(state: Rc<Cell<i64>>, co: &Co, n: Value) -> Result<Value, Error> {
        state.set(state.get() + 1);
        Ok(Value::Int(state.get() + n.as_int()?))
    }

    /// Replaces the built-in `toFile`, which needs a store.
    #[builtin("toFile")]
    async fn builtin_to_file(
        state: Rc<Cell<i64>>,
        co: &Co,
        name: Value,
        #[lazy] _contents: Value,
    ) -> Result<Value, Error> {
        Ok(Value::string(format!(
            "/nix/store/fake-{}",
            name.as_string()?
        )))
    }
}

fn eval_with(builder: EvaluatorBuilder, expr: &str) -> Result<String, String> {
    let evaluator = builder.build();
    let request = EvalRequest {
        strict: true,
        ..EvalRequest::default()
    };
    evaluator
        .eval_expr(expr, Path::new("/"), &request)
        .and_then(|v| evaluator.print(&v, OutputFormat::Nix))
        .map_err(|e| e.kind.to_string())
}

#[rstest]
#[case::new_builtin_with_state("[ (builtins.count 10) (builtins.count 10) ]", "[ 11 12 ]")]
#[case::replaced_everywhere(
    r#"[ (builtins.toFile "a" "x") (__toFile "b" "y") ]"#,
    r#"[ "/nix/store/fake-a" "/nix/store/fake-b" ]"#
)]
#[case::arity_from_parameters("builtins.typeOf (builtins.toFile \"a\")", "\"lambda\"")]
fn external_builtins(#[case] expr: &str, #[case] expected: &str) {
    let builder = Evaluator::builder().add_builtins(counting::builtins(Rc::new(Cell::new(0))));
    assert_eq!(eval_with(builder, expr).as_deref(), Ok(expected));
}

#[rstest]
#[case::to_file(
    r#"builtins.toFile "a" "x""#,
    "'builtins.toFile' needs a store, and this evaluator has none (tvix-glue provides one)"
)]
#[case::derivation(
    r#"(derivation { name = "a"; builder = "b"; system = "c"; }).outPath"#,
    "'builtins.derivationStrict' needs a store, and this evaluator has none (tvix-glue provides one)"
)]
fn store_builtins_need_a_store(#[case] expr: &str, #[case] message: &str) {
    assert_eq!(
        eval_with(Evaluator::builder(), expr).err().as_deref(),
        Some(message)
    );
}

#[rstest]
#[case::read_file("builtins.readFile /etc/hostname")]
#[case::path_exists_is_false("assert builtins.pathExists /etc; 1")]
#[case::import("import /etc/hostname")]
fn pure_io_refuses_the_host(#[case] expr: &str) {
    let io: Rc<dyn EvalIO> = Rc::new(PureIO);
    assert!(eval_with(Evaluator::builder().io(io), expr).is_err());
}

/// A thunk whose forcing failed fails again with the same error, without
/// being evaluated again (CppNix memoises errors since 2.34): the trace
/// inside it is printed once.
#[test]
fn failed_thunks_are_not_evaluated_again() {
    let evaluator = Evaluator::builder().build();
    let expr = r#"let x = builtins.trace "t" (throw "e"); in [ (builtins.tryEval x).success (builtins.tryEval x).success ]"#;
    let request = EvalRequest {
        strict: true,
        ..EvalRequest::default()
    };
    let printed = evaluator
        .eval_expr(expr, Path::new("/"), &request)
        .and_then(|v| evaluator.print(&v, OutputFormat::Nix))
        .map_err(|e| e.kind.to_string());
    assert_eq!(
        (printed.as_deref(), evaluator.take_diagnostics()),
        (Ok("[ false false ]"), vec![Diagnostic::Trace("t".into())])
    );
}
