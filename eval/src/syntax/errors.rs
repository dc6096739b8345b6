//! rnix's syntax errors, worded as CppNix's bison parser words them:
//! `syntax error, unexpected ';', expecting ')'`.
//!
//! Bison names the token it did not expect and, when there are at most
//! four, the tokens it would have taken in the state where it noticed
//! the error. That state is not always where rnix noticed it: bison first
//! makes the reductions its tables allow, so after a complete expression
//! the tokens listed are those that close the construct around it (`)`,
//! `then`, `;`, end of file, …). The context is read here from rnix's
//! error and the tree around it. Token names are CppNix 2.34's.

use rnix::{NodeOrToken, SyntaxKind, SyntaxNode, SyntaxToken};
use rowan::TextSize;
use rowan::ast::AstNode as _;

use super::Source;
use crate::errors::{Error, ErrorKind};
use SyntaxKind::*;

/// What bison lists after an attribute-path dot.
const ATTR: &[&str] = &["identifier", "'or'", "'${'", "'\"'"];

/// The error of rnix's first syntax error.
pub(super) fn syntax_error(err: &rnix::ParseError, root: &rnix::Root, src: &Source) -> Error {
    use rnix::ParseError as P;
    let root = root.syntax();
    let end = TextSize::of(src.text);
    let (at, expected): (TextSize, Vec<&'static str>) = match err {
        P::UnexpectedExtra(r) => (r.start(), after_expression(root, r.start(), "end of file")),
        P::UnexpectedWanted(_, r, wanted) => {
            let at = r.start();
            match token_at(root, at) {
                // rnix stops a string at its end with an error token.
                Some(t) if t.kind() == TOKEN_ERROR && is_string_body(&t) => {
                    return unexpected(src, end, None, in_string(&t));
                }
                _ => (at, wanted_here(root, at, wanted)),
            }
        }
        P::UnexpectedEOFWanted(wanted) => (end, wanted_here(root, end, wanted)),
        P::UnexpectedEOF => (end, at_end_of_file(root)),
        P::UnexpectedDoubleBind(r) => (r.start(), vec!["':'"]),
        P::DuplicatedArgs(r, name) => {
            return Error::new(ErrorKind::DuplicateFormal(name.clone()), Some(src.span(*r)));
        }
        P::RecursionLimitExceeded => {
            return Error::new(
                ErrorKind::Parse("expression nested too deeply".into()),
                Some(src.span_at(end.into())),
            );
        }
        P::Unexpected(r) => (r.start(), Vec::new()),
        _ => (end, Vec::new()),
    };
    let token = if at >= end { None } else { token_at(root, at) };
    if let Some(t) = &token {
        // rnix ends a path with a slash in an error token; CppNix's lexer
        // rejects it.
        if t.kind() == TOKEN_ERROR && t.text().ends_with('/') {
            return Error::new(
                ErrorKind::Parse("path has a trailing slash".into()),
                Some(src.span(t.text_range())),
            );
        }
        // CppNix reads an unterminated `/*` as `/` and `*`: after an
        // expression, a division missing its operand.
        if t.kind() == TOKEN_ERROR && t.text().starts_with("/*") {
            let start = t.text_range().start();
            return if operand_may_start(err) && !expression_wanted(err) {
                let star = rowan::TextRange::at(start + TextSize::from(1), TextSize::from(1));
                unexpected_named("'*'", src.span(star), Vec::new())
            } else {
                let slash = rowan::TextRange::at(start, TextSize::from(1));
                unexpected_named("'/'", src.span(slash), expected)
            };
        }
        // Where an operand may start, `let` starts a `let { … }` for
        // bison, which then expects the `{`.
        if t.kind() == TOKEN_LET && operand_may_start(err) {
            let next = t.next_token().and_then(next_significant);
            if next.as_ref().is_none_or(|n| n.kind() != TOKEN_L_BRACE) {
                let at = next.as_ref().map_or(end, |n| n.text_range().start());
                return unexpected(src, at, next.as_ref(), vec!["'{'"]);
            }
        }
        // `{ ...` can only be a formal set: bison expects its `}`.
        if t.kind() == TOKEN_ELLIPSIS
            && preceding_token(root, at).is_some_and(|p| p.kind() == TOKEN_L_BRACE)
            && let Some(next) = t.next_token().and_then(next_significant)
        {
            return unexpected(src, next.text_range().start(), Some(&next), vec!["'}'"]);
        }
    }
    unexpected(src, at, token.as_ref(), expected)
}

/// Whether rnix wanted an expression to start.
fn expression_wanted(err: &rnix::ParseError) -> bool {
    matches!(err, rnix::ParseError::UnexpectedWanted(_, _, wanted) if wanted.as_ref() == EXPRESSION_START)
}

/// What rnix wants where an expression must start.
const EXPRESSION_START: &[SyntaxKind] = &[
    TOKEN_L_PAREN,
    TOKEN_REC,
    TOKEN_L_BRACE,
    TOKEN_L_BRACK,
    TOKEN_STRING_START,
    TOKEN_IDENT,
];

/// Whether rnix's error is at a token where an operand may start: after
/// a complete expression (where an argument may follow) or where an
/// expression must start.
fn operand_may_start(err: &rnix::ParseError) -> bool {
    use rnix::ParseError as P;
    match err {
        P::UnexpectedExtra(_) => true,
        P::UnexpectedWanted(_, _, wanted) => {
            wanted.as_ref() == EXPRESSION_START
                || matches!(
                    wanted.as_ref(),
                    [TOKEN_SEMICOLON]
                        | [TOKEN_R_PAREN]
                        | [TOKEN_THEN]
                        | [TOKEN_ELSE]
                        | [TOKEN_INTERPOL_END]
                )
        }
        _ => false,
    }
}

/// `token` or the first token after it that is not whitespace or a
/// comment.
fn next_significant(token: SyntaxToken) -> Option<SyntaxToken> {
    let mut token = Some(token);
    while let Some(t) = token {
        if !t.kind().is_trivia() {
            return Some(t);
        }
        token = t.next_token();
    }
    None
}

/// "syntax error, unexpected X, expecting A or B".
pub(super) fn unexpected(
    src: &Source,
    at: TextSize,
    token: Option<&SyntaxToken>,
    expected: Vec<&str>,
) -> Error {
    let (name, span) = match token {
        Some(t) => (describe(t), src.span(t.text_range())),
        None => ("end of file".into(), src.span_at(at.into())),
    };
    unexpected_named(&name, span, expected)
}

fn unexpected_named(name: &str, span: crate::source::Span, expected: Vec<&str>) -> Error {
    let mut message = format!("syntax error, unexpected {name}");
    if !expected.is_empty() {
        message.push_str(", expecting ");
        message.push_str(&expected.join(" or "));
    }
    Error::new(ErrorKind::Parse(message), Some(span))
}

/// The token starting at `at`.
fn token_at(root: &SyntaxNode, at: TextSize) -> Option<SyntaxToken> {
    root.token_at_offset(at).right_biased()
}

/// Bison's name of a token.
fn describe(t: &SyntaxToken) -> String {
    let text = t.text();
    match t.kind() {
        TOKEN_IDENT => "identifier".into(),
        TOKEN_INTEGER => "integer".into(),
        TOKEN_FLOAT => "floating-point literal".into(),
        TOKEN_PATH_ABS | TOKEN_PATH_REL => "path".into(),
        TOKEN_PATH_HOME => "'~/…' path".into(),
        TOKEN_PATH_SEARCH => "'<…>' path".into(),
        TOKEN_URI => "URI".into(),
        TOKEN_STRING_START if text == "''" => "start of an indented string".into(),
        TOKEN_STRING_END if text == "''" => "end of an indented string".into(),
        TOKEN_STRING_CONTENT => "string".into(),
        TOKEN_ERROR => "invalid token".into(),
        _ => format!("'{text}'"),
    }
}

fn is_string_body(t: &SyntaxToken) -> bool {
    string_of(t).is_some()
}

/// The string `t` is in, maybe inside an error node, or an interpolation
/// it opens or closes.
fn string_of(t: &SyntaxToken) -> Option<SyntaxNode> {
    t.parent_ancestors()
        .find(|a| !matches!(a.kind(), NODE_ERROR | NODE_INTERPOL))
        .filter(|a| a.kind() == NODE_STRING)
}

/// What bison expects at the end of a file that ends inside a string.
fn in_string(t: &SyntaxToken) -> Vec<&'static str> {
    let indented = string_of(t)
        .and_then(|p| p.first_token())
        .is_some_and(|first| first.text() == "''");
    if indented {
        vec!["indented string", "'${'", "end of an indented string"]
    } else {
        vec!["'\"'"]
    }
}

/// What bison expects where rnix wanted `wanted` at `at`.
fn wanted_here(root: &SyntaxNode, at: TextSize, wanted: &[SyntaxKind]) -> Vec<&'static str> {
    match wanted {
        [TOKEN_IDENT, TOKEN_OR, TOKEN_CUR_POS] => attr_expected(root, at),
        [TOKEN_ASSIGN] => vec!["'.'", "'='"],
        [TOKEN_SEMICOLON] => after_expression(root, at, "';'"),
        [TOKEN_R_PAREN] => after_expression(root, at, "')'"),
        [TOKEN_THEN] => after_expression(root, at, "'then'"),
        [TOKEN_ELSE] => after_expression(root, at, "'else'"),
        [TOKEN_INTERPOL_END] => after_expression(root, at, "'}'"),
        [TOKEN_COLON] => match preceding_token(root, at).and_then(|t| t.parent()) {
            // `x@{ … }` can only be followed by `:`.
            Some(p)
                if p.kind() == NODE_PATTERN
                    && p.first_token().is_some_and(|t| t.kind() == TOKEN_IDENT) =>
            {
                vec!["':'"]
            }
            _ => vec!["':'", "'@'"],
        },
        [TOKEN_R_BRACE] => match preceding_token(root, at) {
            Some(t) if t.kind() == TOKEN_ELLIPSIS => vec!["'}'"],
            _ => after_expression(root, at, "'}' or ','"),
        },
        [TOKEN_R_BRACE, TOKEN_ELLIPSIS, TOKEN_IDENT] => vec!["identifier", "'...'", "'}'"],
        [TOKEN_IDENT] => vec!["identifier"],
        [TOKEN_L_BRACE] => vec!["'{'"],
        [TOKEN_STRING_END, TOKEN_STRING_CONTENT, TOKEN_INTERPOL_START] => {
            preceding_token(root, at).map_or(Vec::new(), |t| in_string(&t))
        }
        _ => Vec::new(),
    }
}

/// After an attribute-path dot, or at the start of a binding, where
/// what may follow depends on the kind of set. Bison lists nothing in
/// `inherit`.
pub(super) fn attr_expected(root: &SyntaxNode, at: TextSize) -> Vec<&'static str> {
    match preceding_token(root, at) {
        Some(t) if matches!(t.kind(), TOKEN_DOT | TOKEN_QUESTION) => ATTR.to_vec(),
        Some(t)
            if t.kind() != TOKEN_SEMICOLON
                && t.parent_ancestors().any(|a| a.kind() == NODE_INHERIT) =>
        {
            Vec::new()
        }
        Some(t) => match bindings_around(&t) {
            Some(set) => binding_start(&set),
            None => Vec::new(),
        },
        None => Vec::new(),
    }
}

/// What bison expects where a binding may start: after the `{` of a
/// set, the `let`, or a binding's `;`. Bison has reduced the bindings so
/// far, and only `inherit` (which may follow any bindings) or the end of
/// the set remain.
fn binding_start(set: &SyntaxNode) -> Vec<&'static str> {
    match set.kind() {
        NODE_LET_IN => vec!["'in'", "'inherit'"],
        NODE_ATTR_SET if set.first_token().is_some_and(|t| t.kind() != TOKEN_REC) => {
            vec!["'inherit'"]
        }
        _ => vec!["'inherit'", "'}'"],
    }
}

/// The set or `let` whose bindings `token` is in or ends.
fn bindings_around(token: &SyntaxToken) -> Option<SyntaxNode> {
    let mut node = token.parent()?;
    loop {
        match node.kind() {
            NODE_ATTR_SET | NODE_LET_IN | NODE_LEGACY_LET => {
                let closes = matches!(token.kind(), TOKEN_R_BRACE | TOKEN_IN)
                    && token.parent().as_ref() == Some(&node);
                return (!closes).then_some(node);
            }
            NODE_ATTRPATH_VALUE | NODE_INHERIT | NODE_ERROR | NODE_ATTRPATH => {}
            _ => return None,
        }
        node = node.parent()?;
    }
}

/// The last token before `at` that is not whitespace or a comment.
fn preceding_token(root: &SyntaxNode, at: TextSize) -> Option<SyntaxToken> {
    // `last_token` would stop at an empty last node.
    let mut token = if at >= root.text_range().end() {
        root.token_at_offset(at).left_biased()
    } else {
        token_at(root, at)?.prev_token()
    };
    while let Some(t) = token {
        if !t.kind().is_trivia() && t.kind() != TOKEN_ERROR {
            return Some(t);
        }
        token = t.prev_token();
    }
    None
}

/// What bison expects after a complete expression that ends before `at`
/// and is closed by `closer`: only `closer`, unless the expression ends
/// with a comparison and the token at `at` is one of the same kind, which
/// CppNix's grammar does not chain (bison then lists nothing).
fn after_expression(root: &SyntaxNode, at: TextSize, closer: &'static str) -> Vec<&'static str> {
    let Some(prev) = preceding_token(root, at) else {
        return vec![closer];
    };
    if let Some(found) = token_at(root, at)
        && let Some(class) = comparison_class(found.kind())
    {
        let end = prev.text_range().end();
        let mut node = prev.parent();
        while let Some(n) = node {
            if n.text_range().end() != end {
                break;
            }
            let op = n.children_with_tokens().find_map(|c| match c {
                NodeOrToken::Token(t) if comparison_class(t.kind()).is_some() => Some(t.kind()),
                _ => None,
            });
            if n.kind() == NODE_BIN_OP && op.and_then(comparison_class) == Some(class) {
                return Vec::new();
            }
            node = n.parent();
        }
    }
    vec![closer]
}

/// CppNix's non-associative operator groups.
fn comparison_class(kind: SyntaxKind) -> Option<u8> {
    match kind {
        TOKEN_EQUAL | TOKEN_NOT_EQUAL => Some(0),
        TOKEN_LESS | TOKEN_LESS_OR_EQ | TOKEN_MORE | TOKEN_MORE_OR_EQ => Some(1),
        _ => None,
    }
}

/// Tokens after which an expression must follow.
fn needs_expression(kind: SyntaxKind) -> bool {
    matches!(
        kind,
        TOKEN_L_PAREN
            | TOKEN_ASSIGN
            | TOKEN_COLON
            | TOKEN_IN
            | TOKEN_THEN
            | TOKEN_ELSE
            | TOKEN_IF
            | TOKEN_WITH
            | TOKEN_ASSERT
            | TOKEN_INTERPOL_START
            | TOKEN_OR
            | TOKEN_ADD
            | TOKEN_SUB
            | TOKEN_MUL
            | TOKEN_DIV
            | TOKEN_CONCAT
            | TOKEN_UPDATE
            | TOKEN_AND_AND
            | TOKEN_OR_OR
            | TOKEN_IMPLICATION
            | TOKEN_EQUAL
            | TOKEN_NOT_EQUAL
            | TOKEN_LESS
            | TOKEN_LESS_OR_EQ
            | TOKEN_MORE
            | TOKEN_MORE_OR_EQ
            | TOKEN_INVERT
            | TOKEN_PIPE_LEFT
            | TOKEN_PIPE_RIGHT
            | TOKEN_SEMICOLON
    )
}

/// What bison expects where rnix found the file ended early without
/// saying what it wanted: the closing token of the innermost unfinished
/// construct, if an expression is not what is missing.
fn at_end_of_file(root: &SyntaxNode) -> Vec<&'static str> {
    let Some(last) = preceding_token(root, root.text_range().end()) else {
        return Vec::new();
    };
    if let Some(set) = bindings_around(&last)
        && (last.kind() == TOKEN_SEMICOLON || last.parent().as_ref() == Some(&set))
    {
        return binding_start(&set);
    }
    if needs_expression(last.kind()) {
        return Vec::new();
    }
    if last.kind() == TOKEN_QUESTION {
        let in_formals = last.parent().is_some_and(|p| p.kind() == NODE_PAT_ENTRY);
        return if in_formals {
            Vec::new()
        } else {
            ATTR.to_vec()
        };
    }
    let closed = |n: &SyntaxNode, kind| {
        n.children_with_tokens()
            .any(|c| c.as_token().is_some_and(|t| t.kind() == kind))
    };
    let mut node = last.parent();
    while let Some(n) = node {
        match n.kind() {
            NODE_PAREN if !closed(&n, TOKEN_R_PAREN) => return vec!["')'"],
            NODE_PATTERN if !closed(&n, TOKEN_R_BRACE) => return vec!["'}'", "','"],
            NODE_LIST if !closed(&n, TOKEN_R_BRACK) => return Vec::new(),
            NODE_ATTR_SET | NODE_LEGACY_LET if !closed(&n, TOKEN_R_BRACE) => return Vec::new(),
            NODE_LET_IN if !closed(&n, TOKEN_IN) => return Vec::new(),
            _ => {}
        }
        node = n.parent();
    }
    Vec::new()
}

/// `token` where the expression before it should have been closed by
/// `closer` (a `(` that rnix closed with something else).
pub(super) fn unexpected_closing(
    root: &rnix::Root,
    token: &SyntaxToken,
    closer: &'static str,
    src: &Source,
) -> Error {
    let at = token.text_range().start();
    let expected = after_expression(root.syntax(), at, closer);
    unexpected(src, at, Some(token), expected)
}

/// `token` right after the complete expression `node`, where bison
/// expects what closes the construct around `node`.
pub(super) fn unexpected_after(node: &SyntaxNode, token: &SyntaxToken, src: &Source) -> Error {
    unexpected(
        src,
        token.text_range().start(),
        Some(token),
        closer_of(node),
    )
}

/// What closes the innermost construct that `node` ends: bison reduces
/// through applications, operators, lambdas and the last parts of `if`,
/// `with`, `assert` and `let` to the state that waits for it.
pub(super) fn closer_of(node: &SyntaxNode) -> Vec<&'static str> {
    let mut child = node.clone();
    while let Some(parent) = child.parent() {
        let index = parent.children().position(|c| c == child);
        match (parent.kind(), index) {
            (NODE_ROOT, _) => return vec!["end of file"],
            (NODE_PAREN | NODE_INHERIT_FROM, _) => return vec!["')'"],
            (NODE_IF_ELSE, Some(0)) => return vec!["'then'"],
            (NODE_IF_ELSE, Some(1)) => return vec!["'else'"],
            (NODE_WITH | NODE_ASSERT, Some(0)) | (NODE_ATTRPATH_VALUE, _) => return vec!["';'"],
            (NODE_INTERPOL | NODE_DYNAMIC, _) => return vec!["'}'"],
            (NODE_PAT_ENTRY, _) => return vec!["'}'", "','"],
            (NODE_LIST, _) => return Vec::new(),
            _ => {}
        }
        child = parent;
    }
    vec!["end of file"]
}
