//! Table tests of the syntax module. The expected values are CppNix's:
//! `nix-instantiate --parse -E 'with {}; EXPR'` (CppNix 2.26, the `with`
//! stripped) for shown expressions, and the message and position of
//! `nix-instantiate --parse -E 'EXPR'` for errors, with 2.26's token
//! names replaced by the names CppNix 2.34 gives them (`INT_LIT` is
//! `integer`, `INHERIT` is `'inherit'`, …; see the lang suite's
//! parse-fail tests).

use std::cell::RefCell;
use std::path::Path;

use rstest::rstest;

use super::print::{self, Paths};
use super::{Options, Source, end_comments_at_cr, line_column, parse};
use crate::errors::{Diagnostic, Error};
use crate::source::SourceMap;

/// Parses `text` as `-E` text, with the pipe operators if `pipes`; the
/// warnings are returned too.
fn parse_text(text: &str, pipes: bool) -> (Result<String, Error>, Vec<Diagnostic>) {
    let map = SourceMap::default();
    let src = Source {
        file: map.add("«string»", text),
        name: "«string»",
        text,
    };
    let warnings = RefCell::new(Vec::new());
    let report = |d| warnings.borrow_mut().push(d);
    let options = Options {
        pipe_operators: pipes,
        report: &report,
    };
    let paths = Paths {
        dir: Path::new("/dir"),
        home: Some(Path::new("/home")),
    };
    let shown = parse(&src, &options).map(|root| print::show(&root, &src, paths));
    (shown, warnings.into_inner())
}

#[rstest]
#[case::int("007", "7")]
#[case::negative("-1", "(__sub 0 1)")]
#[case::float(
    "[0.5 1.0e100 123456789.0 1.5e-7 100000.0 1.e2]",
    "[ (0.5) (1e+100) (1.23457e+08) (1.5e-07) (100000) (100) ]"
)]
#[case::string_interpolation(r#""a${b}c""#, r#"("a" + b + "c")"#)]
#[case::string_only_interpolation(r#""${b}""#, "(b)")]
#[case::indented_strip("''\n  a\n   ${b}\n  c\n  ''", r#"("a\n " + b + "\nc\n")"#)]
#[case::uri("http://example.org/a?b=c", r#""http://example.org/a?b=c""#)]
#[case::search_path("<a/b>", r#"(__findFile __nixPath "a/b")"#)]
#[case::search_path_applied("<x> y", r#"(__findFile __nixPath "x" y)"#)]
#[case::sub_mul_div("a - b * c / d", "(__sub a (__div (__mul b c) d))")]
#[case::call_of_sub("(a - b) c", "(__sub a b c)")]
#[case::call_of_negation("(-a) b", "(__sub 0 a b)")]
#[case::call_of_call("(f a) b", "(f a b)")]
#[case::nested_call("f (a b)", "(f (a b))")]
#[case::comparisons(
    "[ (a < b) (a > b) (a <= b) (a >= b) ]",
    "[ ((__lessThan a b)) ((__lessThan b a)) ((! (__lessThan b a))) ((! (__lessThan a b))) ]"
)]
#[case::logic("a -> b || c && !d", "(a -> (b || (c && (! d))))")]
#[case::update_concat("a // b ++ c", "(a // (b ++ c))")]
#[case::equality("a == b && c != d", "((a == b) && (c != d))")]
#[case::addition("a + b + c", "((a + b) + c)")]
#[case::select_or("a.b.c or d", "(a).b.c or (d)")]
#[case::has_attr("a ? b.c", "((a) ? b.c)")]
#[case::attr_path_names(
    r#"x."a b".${c}.${"d"}."e${f}".or"#,
    r#"(x)."a b"."${c}".d."${("e" + f)}".or"#
)]
#[case::set_names(r#"{ ${a} = 1; "${b}" = 2; "c${d}" = 3; ${"e"} = 4; "or" = 1; "if" = 2; "a-b" = 3; "" = 5; }"#, r#"{ "" = 5; a-b = 3; e = 4; "if" = 2; or = 1; "${a}" = 1; "${(b)}" = 2; "${("c" + d)}" = 3; }"#)]
#[case::inherits(
    "{ inherit (x) a; inherit (y) b; inherit (x) c; inherit d; e = 1; }",
    "{ inherit d; inherit (x) a; inherit (y) b; inherit (x) c; e = 1; }"
)]
#[case::rec_set("rec { b = a; a = 1; }", "rec { a = 1; b = a; }")]
#[case::merged_keeps_first_rec(
    "{ a = rec { b = 1; }; a.c = 2; }",
    "{ a = rec { b = 1; c = 2; }; }"
)]
#[case::merged_drops_later_rec("{ a.c = 2; a = rec { b = 1; }; }", "{ a = { b = 1; c = 2; }; }")]
#[case::merged_deeply(
    "{ a = { b = { c = 1; }; }; a.b.d = 2; a = { b.e = 3; }; }",
    "{ a = { b = { c = 1; d = 2; e = 3; }; }; }"
)]
#[case::merged_inherit_from(
    "{ a = { inherit (x) b; }; a = { inherit (y) c; }; }",
    "{ a = { inherit (x) b; inherit (y) c; }; }"
)]
#[case::dynamic_path(
    "{ ${a}.b = 1; ${a}.c = 2; }",
    r#"{ "${a}" = { b = 1; }; "${a}" = { c = 2; }; }"#
)]
#[case::legacy_let("let { a = 1; body = a; }", "(rec { a = 1; body = a; }).body")]
#[case::let_inherit("let a = 1; inherit (x) b; in a", "(let inherit (x) b; a = 1; in a)")]
#[case::empty_formals("{ }: 1", "({  }: 1)")]
#[case::formals_bind_after("{ b }@a: 1", "({ b } @ a: 1)")]
#[case::cur_pos("__curPos", "__curPos")]
#[case::with_assert("with a; assert b; c", "(with a; assert b; c)")]
#[case::if_else("if a then b else c", "(if a then b else c)")]
#[case::lambdas("x: y: x y", "(x: (y: (x y)))")]
#[case::list("[ 1 [ 2 ] { } ]", "[ (1) ([ (2) ]) ({ }) ]")]
#[case::cursed_or("[ (f or) ]", "[ ((f or)) ]")]
#[case::or_attribute("a.or or b", "(a).or or (b)")]
#[case::string_escapes(r#""$${b}\${c}\n\t\r\\\"$""#, r#""$\${b}\${c}\n\t\r\\\"$""#)]
#[case::indented_tokens(
    r#"''a''$b'''c''\nd${e}''"#,
    r#"("a" + "$" + "b" + "''" + "c" + "\n" + "d" + e)"#
)]
#[case::formals("c@{ b, a ? 1, ... }: 1", "({ a ? 1, b, ... } @ c: 1)")]
#[case::indented_string_of_string("''${\"y\"}''", r#""y""#)]
#[case::string_of_string(r#""${"y"}""#, r#"("y")"#)]
#[case::pipes("a |> f |> g x", "(g x (f a))")]
// Paths are resolved against /dir, and ~ is /home.
#[case::relative_path("./a/b/../c", "/dir/a/c")]
#[case::bare_relative_path("a/b", "/dir/a/b")]
#[case::home_path("~/a", "/home/a")]
#[case::interpolated_path("./a/${b}/c", r#"(/dir/a/ + b + "/c")"#)]
fn shows(#[case] text: &str, #[case] expected: &str) {
    let (shown, _) = parse_text(text, true);
    assert_eq!(shown.map_err(|e| e.to_string()).as_deref(), Ok(expected));
}

#[rstest]
#[case::binding_start(
    "{ 1 = x; }",
    "syntax error, unexpected integer, expecting 'inherit'",
    "1:3"
)]
#[case::binding_start_rec(
    "rec { 1 = 2; }",
    "syntax error, unexpected integer, expecting 'inherit' or '}'",
    "1:7"
)]
#[case::binding_start_let(
    "let 1 = x; in x",
    "syntax error, unexpected integer, expecting 'in' or 'inherit'",
    "1:5"
)]
#[case::after_binding(
    "{ a = 1; 2 }",
    "syntax error, unexpected integer, expecting 'inherit'",
    "1:10"
)]
#[case::missing_semicolon("{ a = 1 }", "syntax error, unexpected '}', expecting ';'", "1:9")]
#[case::unclosed_paren("(1 ]", "syntax error, unexpected ']', expecting ')'", "1:4")]
#[case::list_item("[ 1 ) ]", "syntax error, unexpected ')'", "1:5")]
#[case::missing_else(
    "if 1 then 2",
    "syntax error, unexpected end of file, expecting 'else'",
    "1:12"
)]
#[case::missing_then(
    "if 1 else 2",
    "syntax error, unexpected 'else', expecting 'then'",
    "1:6"
)]
#[case::eof_after_else("if 1 then 2 else", "syntax error, unexpected end of file", "1:17")]
#[case::with_semicolon(
    "with 1 2",
    "syntax error, unexpected end of file, expecting ';'",
    "1:9"
)]
#[case::interpolation_close(r#""${1 ]""#, "syntax error, unexpected ']', expecting '}'", "1:6")]
#[case::extra_token("x: 1 )", "syntax error, unexpected ')', expecting end of file", "1:6")]
#[case::let_eof(
    "let a = 1;",
    "syntax error, unexpected end of file, expecting 'in' or 'inherit'",
    "1:11"
)]
#[case::after_attr(
    "{ a ... }",
    "syntax error, unexpected '...', expecting '.' or '='",
    "1:5"
)]
#[case::formal_default(
    "{ a, b ? 1 ] }: 1",
    "syntax error, unexpected ']', expecting '}' or ','",
    "1:12"
)]
#[case::after_dot(
    "a.b.",
    r#"syntax error, unexpected end of file, expecting identifier or 'or' or '${' or '"'"#,
    "1:5"
)]
#[case::after_dot_keyword(
    "a.if",
    r#"syntax error, unexpected 'if', expecting identifier or 'or' or '${' or '"'"#,
    "1:3"
)]
#[case::after_question(
    "{ } ? ./foo",
    r#"syntax error, unexpected path, expecting identifier or 'or' or '${' or '"'"#,
    "1:7"
)]
#[case::inherit_from(
    "{ inherit (a b; }",
    "syntax error, unexpected ';', expecting ')'",
    "1:15"
)]
#[case::inherit_attr("{ inherit http://x; }", "syntax error, unexpected URI", "1:11")]
#[case::set_eof(
    "{",
    "syntax error, unexpected end of file, expecting 'inherit'",
    "1:2"
)]
#[case::paren_eof("(", "syntax error, unexpected end of file", "1:2")]
#[case::pattern_end(
    "{ a } 1",
    "syntax error, unexpected integer, expecting ':' or '@'",
    "1:7"
)]
#[case::double_bind("a@{ }@b: 1", "syntax error, unexpected '@', expecting ':'", "1:6")]
#[case::after_comma(
    "{ a, ]",
    "syntax error, unexpected ']', expecting identifier or '...' or '}'",
    "1:6"
)]
#[case::ellipsis_first("{ ..., a }: 1", "syntax error, unexpected ',', expecting '}'", "1:6")]
#[case::non_associative("a == b != c", "syntax error, unexpected '!='", "1:8")]
#[case::non_associative_in_paren("(a < b < c)", "syntax error, unexpected '<'", "1:8")]
#[case::unexpected_operator("&& true", "syntax error, unexpected '&&'", "1:1")]
#[case::unclosed_string(
    r#""abc"#,
    r#"syntax error, unexpected end of file, expecting '"'"#,
    "1:5"
)]
#[case::unclosed_indented_string(
    "''abc",
    "syntax error, unexpected end of file, expecting indented string or '${' or end of an indented string",
    "1:6"
)]
#[case::indented_string_attr("a.''b''", r#"syntax error, unexpected start of an indented string, expecting identifier or 'or' or '${' or '"'"#, "1:3")]
#[case::invalid_token(
    "1 é",
    "syntax error, unexpected invalid token, expecting end of file",
    "1:3"
)]
#[case::trailing_slash("f ./a/", "path has a trailing slash", "1:3")]
#[case::lambda_in_list("[ a: a ]", "syntax error, unexpected ':'", "1:4")]
#[case::lambda_as_argument("f x: x", "syntax error, unexpected ':', expecting end of file", "1:4")]
#[case::formals_as_argument(
    "f { a }: a",
    "syntax error, unexpected '}', expecting '.' or '='",
    "1:7"
)]
#[case::bound_formals_as_argument(
    "f a@{ }: a",
    "syntax error, unexpected '@', expecting end of file",
    "1:4"
)]
#[case::empty_formals_as_argument(
    "f { }: 1",
    "syntax error, unexpected ':', expecting end of file",
    "1:6"
)]
#[case::eof_in_list_in_parens("f ([ (a)", "syntax error, unexpected end of file", "1:9")]
#[case::paren_closed_by_paren(
    "[ (a ? b (c) ]",
    "syntax error, unexpected '(', expecting ')'",
    "1:10"
)]
#[case::let_as_operand("f let + 1", "syntax error, unexpected '+', expecting '{'", "1:7")]
#[case::rec_without_brace("f rec 1", "syntax error, unexpected integer, expecting '{'", "1:7")]
#[case::unterminated_comment("a /* b", "syntax error, unexpected '*'", "1:4")]
#[case::unterminated_comment_first("/* b", "syntax error, unexpected '/'", "1:1")]
#[case::after_inherit(
    "{ inherit a; , }",
    "syntax error, unexpected ',', expecting 'inherit'",
    "1:14"
)]
#[case::dup_attr(
    "{ a = 1; a = 2; }",
    "attribute 'a' already defined at «string»:1:3",
    "1:10"
)]
#[case::dup_attr_path(
    "{ a.b = 1; a.b = 2; }",
    "attribute 'a.b' already defined at «string»:1:3",
    "1:12"
)]
#[case::dup_attr_over_value(
    "{ a = 1; a.b = 2; }",
    "attribute 'a' already defined at «string»:1:3",
    "1:10"
)]
#[case::dup_attr_merged(
    "{ a = { b.c = 1; }; a = { b.c = 2; }; }",
    "attribute 'a.b.c' already defined at «string»:1:9",
    "1:27"
)]
#[case::dup_inherit(
    "{ inherit a; inherit a; }",
    "attribute 'a' already defined at «string»:1:11",
    "1:22"
)]
#[case::dup_inherit_from(
    "{ a = 1; inherit (x) a; }",
    "attribute 'a' already defined at «string»:1:3",
    "1:22"
)]
#[case::dup_in_let(
    "let a = 1; a = 2; in a",
    "attribute 'a' already defined at «string»:1:5",
    "1:12"
)]
#[case::dup_before_syntax_error(
    "{ a = 1; a = 2; } + (",
    "attribute 'a' already defined at «string»:1:3",
    "1:10"
)]
#[case::dup_formal("{ a, b, a }: a", "duplicate formal function argument 'a'", "1:9")]
#[case::dup_formal_sorted("{ b, a, b, a }: 1", "duplicate formal function argument 'b'", "1:9")]
#[case::dup_formal_bind("a@{ a }: a", "duplicate formal function argument 'a'", "1:1")]
#[case::dynamic_let(
    r#"let ${"a" + ""} = 1; in 1"#,
    "dynamic attributes not allowed in let",
    "1:1"
)]
#[case::dynamic_let_string(
    r#"let "${a}" = 1; in 1"#,
    "dynamic attributes not allowed in let",
    "1:1"
)]
#[case::dynamic_inherit(
    "{ inherit ${a}; }",
    "dynamic attributes not allowed in inherit",
    "1:11"
)]
#[case::pipe_disabled(
    "1 |> f",
    "experimental Nix feature 'pipe-operators' is disabled; add '--extra-experimental-features pipe-operators' to enable it",
    "1:3"
)]
fn errors(#[case] text: &str, #[case] message: &str, #[case] position: &str) {
    let (shown, _) = parse_text(text, false);
    let err = shown.expect_err("parses");
    assert_eq!(err.to_string(), message);
    let start = err.span.map_or(0, |s| s.start as usize);
    let (line, column) = line_column(text, start);
    assert_eq!(format!("{line}:{column}"), position);
}

// `nix-instantiate --parse -E 'let or = 1; in EXPR'`
#[rstest]
#[case::list_element("[ (x: x) or ]", &["1:3"])]
#[case::argument("f (x: x) or", &["1:3"])]
#[case::select_default("{ a = 2; }.a or (x: x) or", &["1:17"])]
#[case::function("map or [ ]", &[])]
#[case::parenthesised("f (g or)", &[])]
fn cursed_or(#[case] text: &str, #[case] positions: &[&str]) {
    let (shown, warnings) = parse_text(text, false);
    assert!(shown.is_ok());
    let found: Vec<String> = warnings
        .iter()
        .filter_map(|w| match w {
            Diagnostic::Warning { message, .. } => message
                .strip_prefix("at «string»:")
                .and_then(|m| m.split_once(": This expression uses `or`"))
                .map(|(pos, _)| pos.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(found, positions);
}

#[rstest]
#[case::start("ab\ncd", 0, (1, 1))]
#[case::second_line("ab\ncd", 4, (2, 2))]
#[case::crlf_is_one_line_end("a\r\nb", 3, (2, 1))]
#[case::lone_cr_ends_a_line("a\rb", 2, (2, 1))]
fn line_columns(#[case] text: &str, #[case] offset: usize, #[case] expected: (usize, usize)) {
    assert_eq!(line_column(text, offset), expected);
}

#[rstest]
#[case::no_cr("# a\nb", "# a\nb")]
#[case::comment_cr("# a\rb", "# a\nb")]
#[case::string_cr_kept("\"a\rb\" # c\rd", "\"a\rb\" # c\nd")]
#[case::crlf_kept("# a\r\nb", "# a\r\nb")]
fn comments_end_at_cr(#[case] text: &str, #[case] expected: &str) {
    assert_eq!(end_comments_at_cr(text), expected);
}
