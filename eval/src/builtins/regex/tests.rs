//! Golden values from CppNix 2.26: each expected output is what
//! `modern-nix nix-instantiate --eval --strict -E 'with builtins; EXPR'`
//! prints for the case's expression (for an error, its last `error:`
//! line), unless a comment gives another command.

use std::path::Path;

use rstest::rstest;

use crate::{EvalOptions, EvalRequest, Evaluator, OutputFormat};

fn eval(expr: &str) -> Result<String, String> {
    let evaluator = Evaluator::new(EvalOptions::default(), None);
    let request = EvalRequest {
        strict: true,
        ..EvalRequest::default()
    };
    evaluator
        .eval_expr(&format!("with builtins; {expr}"), Path::new("/"), &request)
        .and_then(|v| evaluator.print(&v, OutputFormat::Nix))
        .map_err(|e| e.kind.to_string())
}

#[rstest]
// match: the whole string, groups in order, `null` for unmatched ones.
#[case::match_whole_string(r#"match "fo*" "foo""#, "[ ]")]
#[case::match_is_anchored(r#"match "fo*" "foobar""#, "null")]
#[case::match_unmatched_group(r#"match "(a)(b)?" "a""#, r#"[ "a" null ]"#)]
#[case::match_group_in_zero_interval(r#"match "(a){0}" """#, "[ null ]")]
#[case::match_empty_group(r#"match "()" """#, r#"[ "" ]"#)]
// split: pieces between matches, each match's groups as a list.
#[case::split_alternative_groups(r#"split "(a)|b" "abc""#, r#"[ "" [ "a" ] "" [ null ] "c" ]"#)]
#[case::split_empty_matches(r#"split "x*" "abc""#, r#"[ "" [ ] "a" [ ] "b" [ ] "c" [ ] "" ]"#)]
#[case::split_empty_pattern(r#"split "" "ab""#, r#"[ "" [ ] "a" [ ] "b" [ ] "" ]"#)]
#[case::split_empty_after_nonempty(
    r#"split "a*" "baaac""#,
    r#"[ "" [ ] "b" [ ] "" [ ] "c" [ ] "" ]"#
)]
#[case::split_no_match(r#"split "a" """#, r#"[ "" ]"#)]
#[case::split_empty_string(r#"split "x*" """#, r#"[ "" [ ] "" ]"#)]
#[case::split_last_group_iteration(r#"split "(.)*" "abc""#, r#"[ "" [ "c" ] "" [ null ] "" ]"#)]
#[case::split_optional_group(r#"split "(x)?y" "yxy""#, r#"[ "" [ null ] "" [ "x" ] "" ]"#)]
// Alternatives: the longest wins, then the first path found to it.
#[case::longest_alternative(r#"split "a|ab" "abc""#, r#"[ "" [ ] "c" ]"#)]
#[case::longest_beats_empty(r#"split "b*|a" "abc""#, r#"[ "" [ ] "" [ ] "" [ ] "c" [ ] "" ]"#)]
#[case::first_path_to_longest(r#"match "(a|ab)(c|bcd)(d*)" "abcd""#, r#"[ "a" "bcd" "" ]"#)]
#[case::first_alternative_first(r#"match "(ab|a)(bc|c)" "abc""#, r#"[ "ab" "c" ]"#)]
#[case::greedy_star_first(r#"match "(.*)(.*)" "ab""#, r#"[ "ab" "" ]"#)]
#[case::bounded_copies(r#"match "(a{1,2}){2}" "aaa""#, r#"[ "a" ]"#)]
// libstdc++'s quirks: a loop that found a match tries no fewer
// iterations, so `a` is matched where `abc` could be.
#[case::loop_stops_at_first_match(
    r#"split "a?(abc)?" "abc""#,
    r#"[ "" [ null ] "" [ null ] "b" [ null ] "c" [ null ] "" ]"#
)]
// A loop body may run empty at the end, and that iteration is captured.
#[case::empty_last_iteration(r#"match "(a|)*" "aa""#, r#"[ "" ]"#)]
#[case::empty_iteration_after_nonempty(r#"match "(a|b*)*" "ab""#, r#"[ "" ]"#)]
#[case::optional_in_loop(r#"match "(a?)*" "a""#, r#"[ "" ]"#)]
#[case::nullable_loop_on_empty(r#"match "(a*)*" """#, r#"[ "" ]"#)]
#[case::nullable_loop_then_group(r#"match "(a*)*(b)" "b""#, r#"[ "" "b" ]"#)]
// A group keeps its last iteration; a nested group keeps its own.
#[case::nested_groups_loop(r#"split "((a)|(b))+" "ab""#, r#"[ "" [ "b" "a" "b" ] "" ]"#)]
#[case::nested_group_not_reset(r#"match "((a)|(aa))*" "aaa""#, r#"[ "a" "a" null ]"#)]
// Anchors.
#[case::caret_only_at_start(r#"split "(^a)" "aaa""#, r#"[ "" [ "a" ] "aa" ]"#)]
#[case::caret_split(r#"split "^" "ab""#, r#"[ "" [ ] "ab" ]"#)]
#[case::dollar_split(r#"split "$" "ab""#, r#"[ "ab" [ ] "" ]"#)]
#[case::caret_in_middle(r#"match "a^b" "ab""#, "null")]
// Bracket expressions.
#[case::bracket_leading_close(r#"match "[]a]+" "]a""#, "[ ]")]
#[case::bracket_negated_leading_close(r#"match "[^]a]+" "bc""#, "[ ]")]
#[case::bracket_backslash_is_literal(r#"match "[\\]+" "\\\\""#, "[ ]")]
#[case::bracket_trailing_dash(r#"match "[a-]+" "a-""#, "[ ]")]
#[case::bracket_dash_range(r#"match "[--0]+" "-0/""#, "[ ]")]
#[case::bracket_open_bracket(r#"match "[a[]+" "a[""#, "[ ]")]
#[case::class_name_case(r#"match "[[:ALPHA:]]" "a""#, "[ ]")]
#[case::class_word(r#"match "[[:w:]]+" "a_1""#, "[ ]")]
#[case::equivalence_class(r#"match "[[=a=]]+" "aA""#, "[ ]")]
#[case::collating_symbol(r#"match "[[.space.]]" " ""#, "[ ]")]
#[case::collating_name(r#"match "[[.hyphen.]]" "-""#, "[ ]")]
// Bytes, not characters.
#[case::dot_is_one_byte(r#"match "." "é""#, "null")]
#[case::dot_dot_is_two_bytes(r#"match ".." "é""#, "[ ]")]
#[case::no_class_for_high_bytes(r#"match "[[:alpha:]]+" "é""#, "null")]
#[case::split_multibyte(r#"split "é" "aéb""#, r#"[ "a" [ ] "b" ]"#)]
// Syntax libstdc++ accepts beyond POSIX.
#[case::empty_alternative(r#"match "a||b" """#, "[ ]")]
#[case::stacked_quantifiers(r#"match "a**" "aa""#, "[ ]")]
#[case::plus_question(r#"match "a+?" "aa""#, "[ ]")]
#[case::lone_close_brace(r#"match "}" "}""#, "[ ]")]
#[case::lone_close_bracket(r#"match "]" "]""#, "[ ]")]
#[case::escaped_dot(r#"match "\\." ".""#, "[ ]")]
#[case::newline_is_literal(r#"split "\n" "a\nb""#, r#"[ "a" [ ] "b" ]"#)]
// Errors.
#[case::unclosed_group(r#"match "(.*" """#, "E:invalid regular expression '(.*'")]
#[case::unopened_group(r#"match "a)" "a)""#, "E:invalid regular expression 'a)'")]
#[case::escaped_ordinary(r#"match "\\d" "1""#, r"E:invalid regular expression '\d'")]
#[case::escaped_brace(r#"match "\\}" "}""#, r"E:invalid regular expression '\}'")]
#[case::brace_not_interval(r#"match "a{" "a{""#, "E:invalid regular expression 'a{'")]
#[case::interval_without_min(r#"match "a{,2}" "aa""#, "E:invalid regular expression 'a{,2}'")]
#[case::interval_reversed(r#"match "a{3,2}" "a""#, "E:invalid regular expression 'a{3,2}'")]
#[case::interval_overflow(
    r#"match "a{2147483648}" "a""#,
    "E:invalid regular expression 'a{2147483648}'"
)]
#[case::leading_star(r#"match "*a" "a""#, "E:invalid regular expression '*a'")]
#[case::quantified_anchor(r#"match "^*" """#, "E:invalid regular expression '^*'")]
#[case::empty_bracket(r#"match "[]" "]""#, "E:invalid regular expression '[]'")]
#[case::dash_after_range(r#"match "[a-z-0]" "a""#, "E:invalid regular expression '[a-z-0]'")]
#[case::reversed_range(r#"match "[z-a]" "a""#, "E:invalid regular expression '[z-a]'")]
#[case::range_from_class(
    r#"match "[[:alpha:]-z]" "a""#,
    "E:invalid regular expression '[[:alpha:]-z]'"
)]
#[case::unknown_class(r#"match "[[:foo:]]" "a""#, "E:invalid regular expression '[[:foo:]]'")]
#[case::digit_collating_name(r#"match "[[.1.]]" "1""#, "E:invalid regular expression '[[.1.]]'")]
// libstdc++ allows 100 000 NFA states; these are the largest counts that
// fit (found by bisection with modern-nix).
#[case::most_states(r#"match "(a|b){12498}" "a""#, "null")]
#[case::too_many_states(
    r#"match "(a|b){12499}" "a""#,
    "E:memory limit exceeded by regular expression '(a|b){12499}'"
)]
#[case::most_states_nullable_copies(r#"match "([ab]*|c){0,9998}" "a""#, r#"[ "" ]"#)]
#[case::too_many_states_nullable_copies(
    r#"match "([ab]*|c){0,9999}" "a""#,
    "E:memory limit exceeded by regular expression '([ab]*|c){0,9999}'"
)]
#[case::split_invalid(r#"split "f(o*o" "1foo2""#, "E:invalid regular expression 'f(o*o'")]
// Strictness: the pattern is forced and compiled before the string.
#[case::match_pattern_first(r#"match (throw "a") (throw "b")"#, "E:a")]
#[case::match_compiles_before_string(
    r#"match "(" (throw "b")"#,
    "E:invalid regular expression '('"
)]
#[case::match_forces_string(r#"match "a" (throw "b")"#, "E:b")]
#[case::split_pattern_first(r#"split (throw "a") (throw "b")"#, "E:a")]
#[case::split_compiles_before_string(
    r#"split "(" (throw "b")"#,
    "E:invalid regular expression '('"
)]
// Contexts. CppNix makes the string with `appendContext "…" { "/nix/store/
// 00000000000000000000000000000000-foo" = { path = true; }; }`; here a
// store path interpolated gives the same context. Pieces and groups lose
// it, except the string returned whole by a split without matches.
#[case::split_without_match_keeps_context(
    r#"let s = "${/nix/store/00000000000000000000000000000000-foo}"; in map hasContext (split "q" s)"#,
    "[ true ]"
)]
#[case::split_pieces_lose_context(
    r#"let s = "${/nix/store/00000000000000000000000000000000-foo}"; in map (x: isString x && hasContext x) (split "(f)" s)"#,
    "[ false false false ]"
)]
#[case::match_groups_lose_context(
    r#"let s = "${/nix/store/00000000000000000000000000000000-foo}"; in map hasContext (match "(.*)-(foo)" s)"#,
    "[ false false ]"
)]
#[case::pattern_with_context(
    r#"match "${/nix/store/00000000000000000000000000000000-foo}" "a""#,
    "E:the string '/nix/store/00000000000000000000000000000000-foo' is not allowed to refer to a store path (such as '00000000000000000000000000000000-foo')"
)]
fn golden(#[case] expr: &str, #[case] expected: &str) {
    let got = match eval(expr) {
        Ok(v) => v,
        Err(e) => format!("E:{e}"),
    };
    assert_eq!(got, expected);
}

/// Long inputs stay linear where libstdc++ backtracks exponentially,
/// quadratically or past its stack (`(a|a)*` on 24 `a`s takes CppNix 2 s,
/// `split "x*y"` over 20 000 `x`s 8 s, `match "(.*)"` over a million bytes
/// overflows its stack).
#[rstest]
#[case::ambiguous_loop(
    r#"match "(a|a)*" (concatStringsSep "" (genList (_: "a") 5000))"#,
    r#"[ "a" ]"#
)]
#[case::split_without_match(
    r#"length (split "x*y" (concatStringsSep "" (genList (_: "x") 100000)))"#,
    "1"
)]
#[case::long_capture(
    r#"stringLength (head (match "(.*)" (concatStringsSep "" (genList (_: "a") 1000000))))"#,
    "1000000"
)]
#[case::many_pieces(
    r#"length (split "(,)" (concatStringsSep "," (genList toString 100000)))"#,
    "199999"
)]
fn long_inputs(#[case] expr: &str, #[case] expected: &str) {
    assert_eq!(eval(expr).as_deref(), Ok(expected));
}

/// A program making ever new patterns keeps a bounded cache.
#[test]
fn cache_is_bounded() {
    for i in 0..2 * super::CACHE_ENTRIES {
        assert!(super::compiled(format!("a{{{i}}}").as_bytes()).is_ok());
    }
    super::CACHE.with_borrow(|c| {
        assert_eq!(c.map.len(), super::CACHE_ENTRIES);
        assert_eq!(c.order.len(), c.map.len());
        assert_eq!(
            c.states,
            c.map.values().map(|re| re.states()).sum::<usize>()
        );
    });
}
