//! The checks CppNix's parser makes as it reduces the grammar, in its
//! order, over a tree rnix accepted:
//! - repeated attributes (through `attrs.rs`, binding by binding) and
//!   dynamic attributes in `inherit`;
//! - dynamic attributes in `let` (once the whole `let` is read);
//! - repeated formals, and formals repeating the `@` name;
//! - the pipe operators: only with the experimental feature, and never
//!   `|>` and `<|` together without parentheses;
//! - a `(` closed by something else, which rnix takes as a `)`, an
//!   indented string as an attribute name, and a lambda as an operand
//!   without parentheses, all of which rnix accepts;
//! - NUL characters in string literals;
//! - the "cursed `or`" warning: `f or` (a call of `f` with the variable
//!   `or`) used as an argument, list element or `or` default.
//!
//! Bison reduces bottom-up, left to right: a node's checks come after
//! those of its children and of the nodes before it, which is the order
//! in which a preorder walk leaves the nodes. The walk does not recurse.

use std::collections::HashMap;

use rnix::ast::{self, BinOpKind};
use rnix::{SyntaxKind, SyntaxNode, SyntaxToken, WalkEvent};
use rowan::TextSize;
use rowan::ast::AstNode;

use super::attrs::AttrsDef;
use super::{Options, Source, errors, strings};
use crate::errors::{Diagnostic, Error, ErrorKind};
use SyntaxKind::*;

/// Checks the nodes that end before `limit` (all of them without one):
/// when the text has a syntax error, bison never gets past it.
pub(super) fn check(
    root: &rnix::Root,
    src: &Source,
    options: &Options,
    limit: Option<TextSize>,
) -> Result<(), Error> {
    // The bindings read so far of each set or `let` being read.
    let mut sets: Vec<(SyntaxNode, AttrsDef)> = Vec::new();
    for event in root.syntax().preorder() {
        let node = match event {
            WalkEvent::Enter(node) => {
                match node.kind() {
                    NODE_ATTR_SET | NODE_LET_IN | NODE_LEGACY_LET => {
                        sets.push((node, AttrsDef::new(false)));
                    }
                    // Bison fails on a misplaced lambda before it reads
                    // the body.
                    NODE_LAMBDA if limit.is_none_or(|l| node.text_range().start() < l) => {
                        if let Some(lambda) = ast::Lambda::cast(node) {
                            check_placement(&lambda, src)?;
                        }
                    }
                    _ => {}
                }
                continue;
            }
            WalkEvent::Leave(node) => node,
        };
        if limit.is_some_and(|limit| node.text_range().end() > limit) {
            continue;
        }
        match node.kind() {
            NODE_INHERIT | NODE_ATTRPATH_VALUE => {
                if let Some((set, def)) = sets.last_mut()
                    && node.parent().as_ref() == Some(set)
                    && let Some(entry) = ast::Entry::cast(node)
                {
                    def.add_entry(&entry, src)?;
                }
            }
            NODE_ATTR_SET | NODE_LEGACY_LET => {
                sets.pop();
            }
            NODE_LET_IN => {
                if let Some((_, def)) = sets.pop()
                    && !def.dynamics.is_empty()
                {
                    return Err(Error::new(
                        ErrorKind::DynamicAttrInLet,
                        Some(src.span_at(node.text_range().start().into())),
                    ));
                }
            }
            NODE_LAMBDA => {
                if let Some(lambda) = ast::Lambda::cast(node) {
                    check_formals(&lambda, root, src)?;
                }
            }
            NODE_BIN_OP => {
                if let Some(op) = ast::BinOp::cast(node) {
                    check_pipe(&op, src, options)?;
                }
            }
            NODE_PAREN => check_closed(&node, root, src)?,
            NODE_STRING => check_string(&node, root, src)?,
            NODE_APPLY if is_cursed_or(&node) && is_cursed_use(&node) => {
                warn_cursed_or(&node, src, options);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The formals of a lambda: CppNix sorts them and reports the repeated
/// name that sorts first (names sort in the order they first appear in
/// the file), at its second occurrence; then a formal that repeats the
/// `@` name, at the lambda.
fn check_formals(lambda: &ast::Lambda, root: &rnix::Root, src: &Source) -> Result<(), Error> {
    let Some(ast::Param::Pattern(pattern)) = lambda.param() else {
        return Ok(());
    };
    let formals: Vec<(String, rowan::TextRange)> = pattern
        .pat_entries()
        .filter_map(|e| e.ident())
        .map(|i| (i.syntax().text().to_string(), i.syntax().text_range()))
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut repeated: Vec<(&str, rowan::TextRange)> = Vec::new();
    for (name, range) in &formals {
        let count = seen.entry(name).or_default();
        *count += 1;
        if *count == 2 {
            repeated.push((name, *range));
        }
    }
    if !repeated.is_empty() {
        let order = first_appearances(root);
        if let Some((name, range)) = repeated
            .into_iter()
            .min_by_key(|(name, range)| (order.get(*name).copied(), range.start()))
        {
            return Err(Error::new(
                ErrorKind::DuplicateFormal(name.to_string()),
                Some(src.span(range)),
            ));
        }
    }
    if let Some(bind) = pattern.pat_bind().and_then(|b| b.ident()) {
        let bind = bind.syntax().text().to_string();
        if formals.iter().any(|(name, _)| *name == bind) {
            return Err(Error::new(
                ErrorKind::DuplicateFormal(bind),
                Some(src.span_at(lambda.syntax().text_range().start().into())),
            ));
        }
    }
    Ok(())
}

/// rnix reads a lambda wherever an operand may stand (`[ x: x ]`,
/// `f x: x`, `-x: x`); in CppNix's grammar it is an operand only in
/// parentheses, so bison fails at the token that makes it a lambda. Where
/// bison still sees a set (`f { a }: a`), it fails at the token after the
/// first name, which cannot follow an attribute, or at the `:` after
/// `{ }`.
fn check_placement(lambda: &ast::Lambda, src: &Source) -> Result<(), Error> {
    let node = lambda.syntax();
    let operand = node.parent().is_some_and(|p| {
        matches!(
            p.kind(),
            NODE_LIST | NODE_APPLY | NODE_SELECT | NODE_BIN_OP | NODE_UNARY_OP | NODE_HAS_ATTR
        )
    });
    if !operand {
        return Ok(());
    }
    let tokens: Vec<SyntaxToken> = node
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| !t.kind().is_trivia())
        .take(3)
        .collect();
    let (found, expected) = match tokens.as_slice() {
        [open, first, ..] if open.kind() == TOKEN_L_BRACE => match first.kind() {
            TOKEN_IDENT => match tokens.get(2) {
                Some(after) => (after.clone(), vec!["'.'", "'='"]),
                None => return Ok(()),
            },
            TOKEN_ELLIPSIS => (first.clone(), vec!["'inherit'"]),
            _ => match lambda.token_colon() {
                Some(colon) => {
                    let at = colon.text_range().start();
                    let at_sign = node
                        .descendants_with_tokens()
                        .filter_map(|e| e.into_token())
                        .find(|t| t.kind() == TOKEN_AT && t.text_range().start() < at);
                    (at_sign.unwrap_or(colon), errors::closer_of(node))
                }
                None => return Ok(()),
            },
        },
        // `x: …` or `x@{ … }: …`
        [_, next, ..] => (next.clone(), errors::closer_of(node)),
        _ => return Ok(()),
    };
    Err(errors::unexpected(
        src,
        found.text_range().start(),
        Some(&found),
        expected,
    ))
}

/// The rank of each identifier by where it first appears.
fn first_appearances(root: &rnix::Root) -> HashMap<String, usize> {
    let mut order = HashMap::new();
    for element in root.syntax().descendants_with_tokens() {
        if let Some(t) = element.as_token()
            && t.kind() == TOKEN_IDENT
        {
            let next = order.len();
            order.entry(t.text().to_string()).or_insert(next);
        }
    }
    order
}

fn check_pipe(op: &ast::BinOp, src: &Source, options: &Options) -> Result<(), Error> {
    let Some(kind @ (BinOpKind::PipeLeft | BinOpKind::PipeRight)) = op.operator() else {
        return Ok(());
    };
    let operator = op
        .syntax()
        .children_with_tokens()
        .filter_map(|c| c.into_token())
        .find(|t| matches!(t.kind(), TOKEN_PIPE_LEFT | TOKEN_PIPE_RIGHT));
    let Some(operator) = operator else {
        return Ok(());
    };
    if !options.pipe_operators {
        return Err(Error::new(
            ErrorKind::MissingExperimentalFeature("pipe-operators"),
            Some(src.span(operator.text_range())),
        ));
    }
    // rnix reads `a |> f <| b` as `(a |> f) <| b` and `f <| a |> g` as
    // `f <| (a |> g)`; CppNix allows neither.
    if kind == BinOpKind::PipeLeft {
        let mixed = [op.lhs(), op.rhs()]
            .into_iter()
            .flatten()
            .find_map(|e| match e {
                ast::Expr::BinOp(inner) if inner.operator() == Some(BinOpKind::PipeRight) => {
                    Some(inner)
                }
                _ => None,
            });
        if let Some(inner) = mixed {
            // The operator bison meets second.
            let second = if inner.syntax().text_range().start() == op.syntax().text_range().start()
            {
                operator
            } else {
                let found = inner
                    .syntax()
                    .children_with_tokens()
                    .filter_map(|c| c.into_token())
                    .find(|t| t.kind() == TOKEN_PIPE_RIGHT);
                found.unwrap_or(operator)
            };
            return Err(errors::unexpected_after(op.syntax(), &second, src));
        }
    }
    Ok(())
}

/// rnix takes whatever follows the expression in parentheses as the
/// closing parenthesis.
fn check_closed(paren: &SyntaxNode, root: &rnix::Root, src: &Source) -> Result<(), Error> {
    let tokens: Vec<SyntaxToken> = paren
        .children_with_tokens()
        .filter_map(|c| c.into_token())
        .filter(|t| !t.kind().is_trivia())
        .collect();
    match tokens.as_slice() {
        [_, .., last] if last.kind() != TOKEN_R_PAREN => {
            Err(errors::unexpected_closing(root, last, "')'", src))
        }
        _ => Ok(()),
    }
}

/// A string: CppNix's lexer refuses a NUL in it, and CppNix only takes
/// a `"…"` string as an attribute name, where rnix also takes an indented
/// one.
fn check_string(string: &SyntaxNode, root: &rnix::Root, src: &Source) -> Result<(), Error> {
    if let Some((text, at)) = ast::Str::cast(string.clone()).and_then(|s| strings::nul_token(&s)) {
        return Err(Error::new(
            ErrorKind::NulInString(text.replace('\0', "␀")),
            Some(src.span_at(at.into())),
        ));
    }
    let in_attrs = string
        .parent()
        .is_some_and(|p| matches!(p.kind(), NODE_ATTRPATH | NODE_INHERIT));
    match string.first_token() {
        Some(open) if in_attrs && open.text() == "''" => {
            let at = open.text_range().start();
            let expected = errors::attr_expected(root.syntax(), at);
            Err(errors::unexpected(src, at, Some(&open), expected))
        }
        _ => Ok(()),
    }
}

/// `e or` with no `.` before the `or`: a call of `e` with the variable
/// `or`.
fn is_cursed_or(apply: &SyntaxNode) -> bool {
    let argument = ast::Apply::cast(apply.clone()).and_then(|a| a.argument());
    matches!(argument, Some(ast::Expr::Ident(i)) if i.syntax().text() == "or")
}

/// Whether a cursed `or` call is an argument, a list element or the
/// default of a selection: there, treating `or` as an identifier will
/// change its meaning.
fn is_cursed_use(node: &SyntaxNode) -> bool {
    let Some(parent) = node.parent() else {
        return false;
    };
    match parent.kind() {
        NODE_LIST => true,
        NODE_APPLY => ast::Apply::cast(parent)
            .and_then(|a| a.argument())
            .is_some_and(|arg| arg.syntax() == node),
        NODE_SELECT => ast::Select::cast(parent)
            .and_then(|s| s.default_expr())
            .is_some_and(|d| d.syntax() == node),
        _ => false,
    }
}

fn warn_cursed_or(node: &SyntaxNode, src: &Source, options: &Options) {
    let range = node.text_range();
    let text = src
        .text
        .get(usize::from(range.start())..usize::from(range.end()))
        .unwrap_or("");
    let message = format!(
        "at {}: This expression uses `or` as an identifier in a way that will change in a future Nix release.\n\
         Wrap this entire expression in parentheses to preserve its current meaning:\n    \
         ({text})\n\
         Give feedback at https://github.com/NixOS/nix/pull/11121",
        src.position(range.start().into()),
    );
    (options.report)(Diagnostic::Warning {
        message,
        span: None,
    });
}
