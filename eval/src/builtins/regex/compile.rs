//! From pattern text to NFA, the way libstdc++'s `std::regex` compiles a
//! POSIX extended (`std::regex::extended`) pattern, because that NFA *is*
//! CppNix's semantics: which match and which captures `match` and `split`
//! report follow from its shape (see `exec.rs`).
//!
//! With the scanner of `scan.rs`, it mirrors libstdc++'s `_Scanner` and
//! `_Compiler`, including what they reject (an escaped ordinary character
//! such as `\d` or `\}`, `{` that does not start a valid interval, `a)`,
//! `[a-z-0]`), what they accept beyond POSIX (empty alternatives, `()`,
//! `a**`) and how many NFA states they make: more than 100 000 is
//! `_GLIBCXX_REGEX_STATE_LIMIT`, which CppNix reports as "memory limit
//! exceeded". The parser keeps its own stack, so deep nesting never
//! recurses natively.
//!
//! Alongside the NFA it builds the same language as a `regex-syntax` HIR,
//! from which the executor's DFAs are made.

use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, Look, Repetition};

use super::classes::{self, ByteSet};
use super::scan::{Scanner, Token};

/// libstdc++'s `_GLIBCXX_REGEX_STATE_LIMIT`.
const STATE_LIMIT: usize = 100_000;

/// Why a pattern was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CompileError {
    /// Any syntax error (`std::regex_error` other than `error_space`).
    Invalid,
    /// The NFA would exceed `STATE_LIMIT` states (`error_space`).
    TooBig,
}

pub(super) type StateId = u32;
pub(super) const NONE: StateId = StateId::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// Removed from the final NFA; only counts towards the state limit.
    Dummy,
    /// Consumes one byte of the set with this index.
    Match(u32),
    /// Tries `alt`, then `next`, keeping the longer match.
    Alternative,
    /// A greedy loop or option: `alt` enters the body, `next` leaves.
    Repeat,
    GroupStart(u32),
    GroupEnd(u32),
    LineBegin,
    LineEnd,
    Accept,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct State {
    pub(super) op: Op,
    pub(super) next: StateId,
    pub(super) alt: StateId,
}

impl State {
    fn has_alt(&self) -> bool {
        matches!(self.op, Op::Alternative | Op::Repeat)
    }
}

/// A compiled pattern: the NFA (start state 0, dummies removed), the byte
/// sets its matchers use, and its language as a HIR.
pub(super) struct Program {
    pub(super) states: Vec<State>,
    pub(super) sets: Vec<ByteSet>,
    /// Capture groups, not counting group 0 (the whole match).
    pub(super) groups: usize,
    pub(super) hir: Hir,
    /// Nesting depth of `hir`, which bounds the recursion of the crates
    /// that compile it.
    pub(super) hir_depth: usize,
}

/// `_M_cur_int_value(10)`: an `int`, overflow being an error.
fn count_value(digits: &[u8]) -> Result<i64, CompileError> {
    digits
        .iter()
        .try_fold(0i32, |v, d| {
            v.checked_mul(10)?.checked_add(i32::from(d - b'0'))
        })
        .map(i64::from)
        .ok_or(CompileError::Invalid)
}

/// A fragment of the NFA under construction (libstdc++'s `_StateSeq`) and
/// the same fragment as HIR.
struct Seq {
    start: StateId,
    end: StateId,
    hir: Hir,
    depth: usize,
}

/// A parenthesised group being parsed (or the whole pattern).
struct Open {
    /// The group's `GroupStart` state and number; `None` at top level.
    group: Option<(StateId, u32)>,
    /// The alternatives before the current one, combined.
    disjunction: Option<Seq>,
    /// Their HIRs, for one flat alternation.
    alternatives: Vec<Hir>,
    /// The terms of the current alternative.
    terms: Vec<Seq>,
}

impl Open {
    fn new(group: Option<(StateId, u32)>) -> Self {
        Open {
            group,
            disjunction: None,
            alternatives: Vec::new(),
            terms: Vec::new(),
        }
    }
}

struct Compiler<'a> {
    scanner: Scanner<'a>,
    states: Vec<State>,
    sets: Vec<ByteSet>,
    groups: u32,
}

impl Compiler<'_> {
    fn insert(&mut self, op: Op, next: StateId, alt: StateId) -> Result<StateId, CompileError> {
        if self.states.len() >= STATE_LIMIT {
            return Err(CompileError::TooBig);
        }
        self.states.push(State { op, next, alt });
        Ok((self.states.len() - 1) as StateId)
    }

    fn insert_op(&mut self, op: Op) -> Result<StateId, CompileError> {
        self.insert(op, NONE, NONE)
    }

    fn state_mut(&mut self, id: StateId) -> Option<&mut State> {
        self.states.get_mut(id as usize)
    }

    /// `_StateSeq::_M_append`: `seq` continues with `start..end`.
    fn append(&mut self, seq: &mut Seq, start: StateId, end: StateId) {
        if let Some(s) = self.state_mut(seq.end) {
            s.next = start;
        }
        seq.end = end;
    }

    /// `_StateSeq::_M_clone`: copies the states reachable from `start`
    /// (not following `next` out of `end`). Like libstdc++, a state pushed
    /// twice before it is copied is copied twice; only the state count,
    /// which the limit sees, can tell.
    fn clone_seq(
        &mut self,
        start: StateId,
        end: StateId,
    ) -> Result<(StateId, StateId), CompileError> {
        let mut map = std::collections::HashMap::new();
        let mut stack = vec![start];
        while let Some(u) = stack.pop() {
            let Some(&dup) = self.states.get(u as usize) else {
                continue;
            };
            let id = self.insert(dup.op, dup.next, dup.alt)?;
            map.insert(u, id);
            if dup.has_alt() && dup.alt != NONE && !map.contains_key(&dup.alt) {
                stack.push(dup.alt);
            }
            if u != end && dup.next != NONE && !map.contains_key(&dup.next) {
                stack.push(dup.next);
            }
        }
        for &new in map.values() {
            let Some(s) = self.states.get(new as usize).copied() else {
                continue;
            };
            let next = map.get(&s.next).copied().unwrap_or(s.next);
            let alt = if s.has_alt() {
                map.get(&s.alt).copied().unwrap_or(s.alt)
            } else {
                s.alt
            };
            if let Some(s) = self.state_mut(new) {
                s.next = next;
                s.alt = alt;
            }
        }
        match (map.get(&start), map.get(&end)) {
            (Some(&s), Some(&e)) => Ok((s, e)),
            _ => Err(CompileError::Invalid),
        }
    }

    fn matcher(&mut self, set: ByteSet) -> Result<Seq, CompileError> {
        let index = self.sets.len() as u32;
        self.sets.push(set);
        let id = self.insert_op(Op::Match(index))?;
        let hir = if set.len() == 1 {
            Hir::literal(set.ranges().first().map(|r| vec![r.0]).unwrap_or_default())
        } else {
            let ranges = set
                .ranges()
                .into_iter()
                .map(|(lo, hi)| ClassBytesRange::new(lo, hi));
            Hir::class(Class::Bytes(ClassBytes::new(ranges)))
        };
        Ok(Seq {
            start: id,
            end: id,
            hir,
            depth: 1,
        })
    }

    fn assertion(&mut self, op: Op, look: Look) -> Result<Seq, CompileError> {
        let id = self.insert_op(op)?;
        Ok(Seq {
            start: id,
            end: id,
            hir: Hir::look(look),
            depth: 1,
        })
    }

    /// `_M_insert_bracket_matcher`, after the opening token.
    fn bracket(&mut self, negated: bool) -> Result<Seq, CompileError> {
        enum Last {
            None,
            Char(u8),
            Class,
        }
        let mut set = ByteSet::default();
        let mut last = match self.scanner.eat_char()? {
            Some(c) => Last::Char(c),
            None if self.scanner.eat(&Token::BracketDash)? => Last::Char(b'-'),
            None => Last::None,
        };
        loop {
            if self.scanner.eat(&Token::BracketClose)? {
                break;
            }
            // A pending single character joins the set unless a `-` makes
            // it the start of a range.
            let flush = |set: &mut ByteSet, last: &Last| {
                if let Last::Char(c) = last {
                    set.insert(*c);
                }
            };
            match self.scanner.token.clone() {
                Token::CollatingSymbol(name) => {
                    self.scanner.advance()?;
                    let c = classes::collating_element(&name).ok_or(CompileError::Invalid)?;
                    flush(&mut set, &last);
                    last = Last::Char(c);
                }
                Token::EquivalenceClass(name) => {
                    self.scanner.advance()?;
                    flush(&mut set, &last);
                    last = Last::Class;
                    let equivalent =
                        classes::equivalence_class(&name).ok_or(CompileError::Invalid)?;
                    set.insert_where(|b| equivalent.contains(b));
                }
                Token::CharClass(name) => {
                    self.scanner.advance()?;
                    flush(&mut set, &last);
                    last = Last::Class;
                    let class = classes::class_by_name(&name).ok_or(CompileError::Invalid)?;
                    set.insert_where(class);
                }
                Token::Char(c) => {
                    self.scanner.advance()?;
                    flush(&mut set, &last);
                    last = Last::Char(c);
                }
                Token::BracketDash => {
                    self.scanner.advance()?;
                    if self.scanner.eat(&Token::BracketClose)? {
                        // `-]`: a literal dash at the end.
                        flush(&mut set, &last);
                        last = Last::Char(b'-');
                        break;
                    }
                    let Last::Char(lo) = last else {
                        // After a class or a range, POSIX allows no dash.
                        return Err(CompileError::Invalid);
                    };
                    let hi = match self.scanner.eat_char()? {
                        Some(hi) => hi,
                        None if self.scanner.eat(&Token::BracketDash)? => b'-',
                        None => return Err(CompileError::Invalid),
                    };
                    let range = classes::range(lo, hi).ok_or(CompileError::Invalid)?;
                    set.insert_where(|b| range.contains(b));
                    last = Last::None;
                }
                _ => return Err(CompileError::Invalid),
            }
        }
        if let Last::Char(c) = last {
            set.insert(c);
        }
        self.matcher(if negated { set.complement() } else { set })
    }

    /// `_M_quantifier`, repeatedly, on the atom just parsed.
    fn quantifiers(&mut self, mut e: Seq) -> Result<Seq, CompileError> {
        loop {
            let (min, max) = match self.scanner.token {
                Token::Star => {
                    self.scanner.advance()?;
                    let r = self.insert(Op::Repeat, NONE, e.start)?;
                    self.append(&mut e, r, r);
                    e.start = r;
                    (0, None)
                }
                Token::Plus => {
                    self.scanner.advance()?;
                    let r = self.insert(Op::Repeat, NONE, e.start)?;
                    self.append(&mut e, r, r);
                    (1, None)
                }
                Token::Opt => {
                    self.scanner.advance()?;
                    let end = self.insert_op(Op::Dummy)?;
                    let r = self.insert(Op::Repeat, end, e.start)?;
                    self.append(&mut e, end, end);
                    e.start = r;
                    (0, Some(1))
                }
                Token::IntervalOpen => {
                    self.scanner.advance()?;
                    let (e2, min, max) = self.interval(e)?;
                    e = e2;
                    (min, max)
                }
                _ => return Ok(e),
            };
            let sub = std::mem::replace(&mut e.hir, Hir::empty());
            e.hir = Hir::repetition(Repetition {
                min,
                max,
                greedy: true,
                sub: Box::new(sub),
            });
            e.depth += 1;
        }
    }

    /// `{n}`, `{n,}`, `{n,m}` after the `{`: `n` copies of the atom, then
    /// a loop over one more, or `m - n` optional ones.
    fn interval(&mut self, r: Seq) -> Result<(Seq, u32, Option<u32>), CompileError> {
        let min_digits = self.scanner.eat_count()?.ok_or(CompileError::Invalid)?;
        let dummy = self.insert_op(Op::Dummy)?;
        let mut e = Seq {
            start: dummy,
            end: dummy,
            hir: r.hir,
            depth: r.depth,
        };
        let min = count_value(&min_digits)?;
        let mut extra = 0;
        let mut infinite = false;
        if self.scanner.eat(&Token::Comma)? {
            match self.scanner.eat_count()? {
                Some(max_digits) => extra = count_value(&max_digits)? - min,
                None => infinite = true,
            }
        }
        if !self.scanner.eat(&Token::IntervalClose)? {
            return Err(CompileError::Invalid);
        }
        for _ in 0..min {
            let (s, t) = self.clone_seq(r.start, r.end)?;
            self.append(&mut e, s, t);
        }
        let max = if infinite {
            let (s, t) = self.clone_seq(r.start, r.end)?;
            let rep = self.insert(Op::Repeat, NONE, s)?;
            if let Some(state) = self.state_mut(t) {
                state.next = rep;
            }
            self.append(&mut e, rep, rep);
            None
        } else {
            if extra < 0 {
                return Err(CompileError::Invalid);
            }
            let end = self.insert_op(Op::Dummy)?;
            for _ in 0..extra {
                let (s, t) = self.clone_seq(r.start, r.end)?;
                // "More" is `alt` and "less" is `next`, as for `?`.
                let rep = self.insert(Op::Repeat, end, s)?;
                self.append(&mut e, rep, t);
            }
            self.append(&mut e, end, end);
            Some(min + extra)
        };
        // Both counts fit an `int`, so in a `u32`.
        let min = u32::try_from(min).map_err(|_| CompileError::Invalid)?;
        let max = max
            .map(|m| u32::try_from(m).map_err(|_| CompileError::Invalid))
            .transpose()?;
        Ok((e, min, max))
    }

    /// Ends the current alternative of `open` (`_M_alternative` inserts a
    /// dummy after its terms) and joins it to the ones before
    /// (`_M_disjunction`).
    fn end_alternative(&mut self, open: &mut Open) -> Result<(), CompileError> {
        let dummy = self.insert_op(Op::Dummy)?;
        let terms = std::mem::take(&mut open.terms);
        let depth = terms.iter().map(|t| t.depth).max().unwrap_or(0) + 1;
        let mut hirs = Vec::with_capacity(terms.len());
        let mut alt: Option<Seq> = None;
        for t in terms {
            hirs.push(t.hir);
            match &mut alt {
                None => {
                    alt = Some(Seq {
                        start: t.start,
                        end: t.end,
                        hir: Hir::empty(),
                        depth,
                    })
                }
                Some(seq) => self.append(seq, t.start, t.end),
            }
        }
        let mut alt = alt.unwrap_or(Seq {
            start: dummy,
            end: dummy,
            hir: Hir::empty(),
            depth,
        });
        if alt.start != dummy {
            self.append(&mut alt, dummy, dummy);
        }
        open.alternatives.push(Hir::concat(hirs));
        open.disjunction = Some(match open.disjunction.take() {
            None => alt,
            Some(mut first) => {
                let end = self.insert_op(Op::Dummy)?;
                self.append(&mut first, end, end);
                self.append(&mut alt, end, end);
                let fork = self.insert(Op::Alternative, alt.start, first.start)?;
                Seq {
                    start: fork,
                    end,
                    hir: Hir::empty(),
                    depth: first.depth.max(alt.depth),
                }
            }
        });
        Ok(())
    }

    /// The alternatives of `open` as one fragment.
    fn finish_disjunction(&mut self, mut open: Open) -> Result<Seq, CompileError> {
        self.end_alternative(&mut open)?;
        let mut seq = open.disjunction.ok_or(CompileError::Invalid)?;
        seq.hir = Hir::alternation(open.alternatives);
        seq.depth += 1;
        Ok(seq)
    }

    fn compile(mut self) -> Result<Program, CompileError> {
        let whole = self.insert_op(Op::GroupStart(0))?;
        self.groups = 1;
        let mut stack = vec![Open::new(None)];
        loop {
            let Some(open) = stack.last_mut() else {
                return Err(CompileError::Invalid);
            };
            // `_M_term`: an assertion, or an atom and its quantifiers.
            let atom = match self.scanner.token.clone() {
                Token::LineBegin | Token::LineEnd => {
                    let begin = self.scanner.token == Token::LineBegin;
                    self.scanner.advance()?;
                    let seq = if begin {
                        self.assertion(Op::LineBegin, Look::Start)?
                    } else {
                        self.assertion(Op::LineEnd, Look::End)?
                    };
                    open.terms.push(seq);
                    continue;
                }
                Token::AnyChar => {
                    self.scanner.advance()?;
                    Some(self.matcher(ByteSet::single(0).complement())?)
                }
                Token::Char(c) => {
                    self.scanner.advance()?;
                    Some(self.matcher(ByteSet::single(c))?)
                }
                Token::BracketOpen | Token::BracketOpenNegated => {
                    let negated = self.scanner.token == Token::BracketOpenNegated;
                    self.scanner.advance()?;
                    Some(self.bracket(negated)?)
                }
                Token::GroupOpen => {
                    self.scanner.advance()?;
                    let number = self.groups;
                    self.groups += 1;
                    let start = self.insert_op(Op::GroupStart(number))?;
                    stack.push(Open::new(Some((start, number))));
                    continue;
                }
                _ => None,
            };
            if let Some(atom) = atom {
                let term = self.quantifiers(atom)?;
                if let Some(open) = stack.last_mut() {
                    open.terms.push(term);
                }
                continue;
            }
            // Not a term: the alternative ends.
            let Some(mut open) = stack.pop() else {
                return Err(CompileError::Invalid);
            };
            if self.scanner.eat(&Token::Or)? {
                self.end_alternative(&mut open)?;
                stack.push(open);
                continue;
            }
            let group = open.group;
            let inner = self.finish_disjunction(open)?;
            match group {
                Some((start, number)) => {
                    if !self.scanner.eat(&Token::GroupClose)? {
                        return Err(CompileError::Invalid);
                    }
                    let mut seq = Seq {
                        start,
                        end: start,
                        // The DFAs need no captures.
                        hir: inner.hir,
                        depth: inner.depth,
                    };
                    self.append(&mut seq, inner.start, inner.end);
                    let end = self.insert_op(Op::GroupEnd(number))?;
                    self.append(&mut seq, end, end);
                    let term = self.quantifiers(seq)?;
                    match stack.last_mut() {
                        Some(parent) => parent.terms.push(term),
                        None => return Err(CompileError::Invalid),
                    }
                }
                None => {
                    if self.scanner.token != Token::Eof {
                        return Err(CompileError::Invalid);
                    }
                    let mut seq = Seq {
                        start: whole,
                        end: whole,
                        hir: inner.hir,
                        depth: inner.depth,
                    };
                    self.append(&mut seq, inner.start, inner.end);
                    let end = self.insert_op(Op::GroupEnd(0))?;
                    self.append(&mut seq, end, end);
                    let accept = self.insert_op(Op::Accept)?;
                    self.append(&mut seq, accept, accept);
                    return Ok(self.finish(seq));
                }
            }
        }
    }

    /// `_M_eliminate_dummy`: every edge into a dummy goes where it leads.
    fn finish(mut self, whole: Seq) -> Program {
        let skip = |states: &[State], mut id: StateId| {
            // A chain of dummies is never longer than the NFA.
            for _ in 0..states.len() {
                match states.get(id as usize) {
                    Some(s) if s.op == Op::Dummy => id = s.next,
                    _ => break,
                }
            }
            id
        };
        for i in 0..self.states.len() {
            let s = self.states[i];
            let next = skip(&self.states, s.next);
            let alt = if s.has_alt() {
                skip(&self.states, s.alt)
            } else {
                s.alt
            };
            self.states[i].next = next;
            self.states[i].alt = alt;
        }
        Program {
            states: self.states,
            sets: self.sets,
            groups: self.groups as usize - 1,
            hir: whole.hir,
            hir_depth: whole.depth,
        }
    }
}

/// Compiles a POSIX extended pattern as libstdc++ does.
pub(super) fn compile(pattern: &[u8]) -> Result<Program, CompileError> {
    Compiler {
        scanner: Scanner::new(pattern)?,
        states: Vec::new(),
        sets: Vec::new(),
        groups: 0,
    }
    .compile()
}
