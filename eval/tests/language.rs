//! Table tests of language features, evaluated with `--strict` and
//! compared with what `nix-instantiate --eval --strict` prints.

use rstest::rstest;
use tvix_eval::{EvalOptions, EvalRequest, Evaluator, OutputFormat};

fn eval(expr: &str) -> Result<String, String> {
    let evaluator = Evaluator::new(EvalOptions::default(), None);
    let request = EvalRequest {
        strict: true,
        speculate: true,
        ..EvalRequest::default()
    };
    evaluator
        .eval_expr(expr, std::path::Path::new("/"), &request)
        .and_then(|v| evaluator.print(&v, OutputFormat::Nix))
        .map_err(|e| e.kind.to_string())
}

#[rstest]
#[case::nested_paths_merge("{ a.b = 1; a.c = 2; }", "{ a = { b = 1; c = 2; }; }")]
#[case::literal_then_path("{ a = { b = 1; }; a.c = 2; }", "{ a = { b = 1; c = 2; }; }")]
#[case::path_then_literal("{ a.c = 2; a = { b = 1; }; }", "{ a = { b = 1; c = 2; }; }")]
#[case::rec_literal_merge_keeps_rec("{ a = rec { b = c + 1; }; a.c = 2; }.a.b", "3")]
#[case::rec_with_inherit("let x = 5; in rec { inherit x; y = x + 1; }", "{ x = 5; y = 6; }")]
#[case::inherit_from_shared(
    "let s = { a = 1; b = 2; }; in { inherit (s) a b; }",
    "{ a = 1; b = 2; }"
)]
#[case::let_inherit_reads_outer("let x = 1; in let inherit x; y = x; in y", "1")]
#[case::dynamic_key("let k = \"z\"; in { ${k} = 1; a = 2; }", "{ a = 2; z = 1; }")]
#[case::dynamic_null_key_skipped("{ ${null} = 1; a = 2; }", "{ a = 2; }")]
#[case::quoted_static_key("{ \"a b\" = 1; }", "{ \"a b\" = 1; }")]
#[case::let_forward_reference("let a = b + 1; b = 2; in a", "3")]
#[case::let_nested_path("let a.b = 1; a.c = 2; in a", "{ b = 1; c = 2; }")]
#[case::legacy_let("let { x = 1; body = x + 1; }", "2")]
#[case::formals_defaults_see_each_other("({ a, b ? a + 1 }: b) { a = 1; }", "2")]
#[case::formals_at_binding("(args@{ a, ... }: args) { a = 1; b = 2; }", "{ a = 1; b = 2; }")]
#[case::with_does_not_shadow_let("let x = 1; in with { x = 2; }; x", "1")]
#[case::inner_with_wins("with { x = 1; }; with { x = 2; }; x", "2")]
#[case::with_does_not_shadow_builtins("with { true = false; }; true", "true")]
#[case::has_attr_path("{ a.b = 1; } ? a.b", "true")]
#[case::select_or_default("{ a = 1; }.b.c or 5", "5")]
#[case::implication("false -> throw \"no\"", "true")]
#[case::int_float_promotion("1 + 2.5", "3.5")]
#[case::integer_division("7 / 2", "3")]
#[case::list_comparison("[ 1 2 ] < [ 1 3 ]", "true")]
#[case::update_right_wins("{ a = 1; b = 1; } // { b = 2; }", "{ a = 1; b = 2; }")]
#[case::update_literal_dynamic("let k = \"a\"; in { a = 1; } // { ${k} = 2; }", "{ a = 2; }")]
#[case::update_literal_inherit_from(
    "{ a = 1; } // { inherit ({ x = 1; }) x; }",
    "{ a = 1; x = 1; }"
)]
#[case::interpolation("let x = \"b\"; in \"a${x}c\"", "\"abc\"")]
#[case::indented_string("''\n  a\n    b\n''", "\"a\\n  b\\n\"")]
#[case::indented_escapes("''''$ ''' ''\\n''", "\"$ '' \\n\"")]
#[case::functor("{ __functor = self: x: x + 1; } 1", "2")]
#[case::try_eval_throw(
    "builtins.tryEval (throw \"x\")",
    "{ success = false; value = false; }"
)]
#[case::deep_recursion(
    "let f = n: if n == 0 then 0 else 1 + f (n - 1); in f 100000",
    "100000"
)]
#[case::foldl_million(
    "builtins.foldl' builtins.add 0 (builtins.genList (x: 1) 1000000)",
    "1000000"
)]
#[case::repeated("let a = { x = 1; }; in [ a a ]", "[ { x = 1; } «repeated» ]")]
#[case::speculation_missing_attr_stays_lazy("let s = { a = 1; }; f = x: 0; in f (s.b + 1)", "0")]
#[case::speculation_overflow_stays_lazy("let n = 9223372036854775807; f = x: 0; in f (n + 1)", "0")]
#[case::speculation_select_arith_if(
    "let s = { a = { b = 2; }; }; x = 3; in [ (s.a.b * x) (if x > 2 then s.a.b else x) (x - 1) ]",
    "[ 6 2 2 ]"
)]
#[case::curried_call("let f = a: b: c: [ a b c ]; in f 1 2 3", "[ 1 2 3 ]")]
#[case::call_past_a_let("let f = a: let g = b: a + b; in g; in f 1 2", "3")]
#[case::builtin_result_called("(builtins.elemAt [ (a: a + 1) ] 0) 1", "2")]
#[case::sort_is_stable(
    "builtins.sort (a: b: a.k < b.k) [ { k = 2; v = 1; } { k = 1; v = 2; } { k = 2; v = 3; } ]",
    "[ { k = 1; v = 2; } { k = 2; v = 1; } { k = 2; v = 3; } ]"
)]
#[case::list_loops(
    "[ (builtins.any (x: x > 1) [ 1 2 ]) (builtins.all (x: x > 1) [ 1 2 ]) (builtins.filter (x: x != 2) [ 1 2 3 ]) ]",
    "[ true false [ 1 3 ] ]"
)]
#[case::deep_seq_returns_second("builtins.deepSeq { a = 1; } \"ok\"", "\"ok\"")]
fn evaluates(#[case] expr: &str, #[case] expected: &str) {
    assert_eq!(eval(expr).as_deref(), Ok(expected));
}

#[rstest]
// Messages made by `nix-instantiate --eval -E EXPR` (CppNix 2.26), but
// "dynamic attribute" is 2.34's wording (the lang suite's
// eval-fail-dup-dynamic-attrs.err.exp); 2.26 said "attribute".
#[case::duplicate_static("{ a = 1; a = 2; }", "attribute 'a' already defined at «string»:1:3")]
#[case::duplicate_dynamic_vs_static(
    "{ a = 1; ${\"a\" + \"\"} = 2; }",
    "dynamic attribute 'a' already defined at «string»:1:3"
)]
#[case::path_over_non_set("{ a = 1; a.b = 2; }", "attribute 'a' already defined at «string»:1:3")]
#[case::undefined("x", "undefined variable 'x'")]
#[case::infinite_recursion("let x = x + 1; in x", "infinite recursion encountered")]
#[case::overflow(
    "9223372036854775807 + 1",
    "integer overflow in adding 9223372036854775807 + 1"
)]
#[case::division_by_zero("1 / 0", "division by zero")]
#[case::missing_argument(
    "({ a }: a) { }",
    "function 'anonymous lambda' called without required argument 'a'"
)]
#[case::unexpected_argument(
    "({ a }: a) { a = 1; b = 2; }",
    "function 'anonymous lambda' called with unexpected argument 'b'"
)]
#[case::abort_not_catchable(
    "builtins.tryEval (abort \"x\")",
    "evaluation aborted with the following error message: 'x'"
)]
#[case::dynamic_in_let(
    "let ${\"a\" + \"b\"} = 1; in 1",
    "dynamic attributes not allowed in let"
)]
fn fails(#[case] expr: &str, #[case] message: &str) {
    assert_eq!(eval(expr).err().as_deref(), Some(message));
}
