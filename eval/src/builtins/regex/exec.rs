//! Running a compiled pattern with the semantics of libstdc++'s DFS
//! executor, which is what CppNix's `match` and `split` report.
//!
//! That executor is a backtracker over the NFA of `compile.rs` that is
//! *almost* POSIX leftmost-longest: at an alternative it tries both sides
//! and keeps the longer match (the first path found wins a tie, which
//! decides the captures), but a greedy loop that found any match does not
//! try fewer iterations, so `split "a?(abc)?" "abc"` matches just `a`. A
//! loop may also run its body twice more at the same position, so
//! `match "(a|)*" "aa"` captures the final empty iteration. `exec` follows
//! it step for step, on its own stack, so that these quirks come out the
//! same; plain leftmost-longest (or the `regex` crate's leftmost-first)
//! would differ.
//!
//! Where libstdc++ takes time exponential in the length of the string
//! (`(a|a)*`) or tries a match at every position (`split "x*y"` is
//! quadratic), this stays polynomial, linear for usual patterns:
//! - exploring a state at a position a second time cannot find a longer
//!   match than the first time, so past a step budget it remembers which
//!   (join state, position) pairs it explored and whether they matched
//!   (only where no loop entry is in effect at that position, as those
//!   change what can be explored: loops nested `d` deep around an empty
//!   match can still take time exponential in `d`, as in libstdc++);
//! - lazy DFAs of the same language (built from the HIR) find the leftmost
//!   position where a match starts and the longest match there, so the
//!   backtracker starts only where a match exists, stops exploring past
//!   the longest possible end, and stops when it has found a match that
//!   long.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use regex_automata::nfa::thompson;
use regex_automata::{Anchored, Input, MatchKind, hybrid, meta};

use super::compile::{NONE, Op, Program, State, StateId};

/// Above this HIR depth the DFAs are not built: their compilers recurse on
/// it. The backtracker alone still gives the same results, only slower.
const MAX_DFA_DEPTH: usize = 100;

/// The most memory each lazy DFA may fill (regex-automata's default is
/// 2 MiB); patterns stay cached, so this bounds what they hold.
const DFA_CACHE_CAPACITY: usize = 1 << 20;

/// One capture group's span, as libstdc++'s `sub_match`: the start is set
/// on entering the group and the end and `matched` on leaving it.
#[derive(Clone, Copy, Debug)]
struct Sub {
    start: usize,
    end: usize,
    matched: bool,
}

const UNSET: Sub = Sub {
    start: 0,
    end: 0,
    matched: false,
};

/// The spans of a match: group 0 (the whole match), then each group,
/// `None` where it did not take part.
pub(super) type Captures = Vec<Option<(usize, usize)>>;

/// libstdc++'s `match_flag_type` bits that CppNix's calls reach.
#[derive(Clone, Copy, Default)]
struct Flags {
    /// `match_prev_avail`: the search start is not the string start, so
    /// `^` does not match there.
    prev_avail: bool,
    /// `match_not_null`: an empty match does not count.
    not_null: bool,
}

/// `_Match_mode`: whole string (`regex_match`) or a prefix of what
/// follows the start (`regex_search`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exact,
    Prefix,
}

/// What the recursive libstdc++ code does when a recursive call returns:
/// restore what the call changed, or explore another branch.
#[derive(Clone, Copy)]
enum Step {
    RestoreStart(u32, usize),
    RestoreEnd(u32, usize, bool),
    /// The `next` side of an alternative, after its `alt` side.
    AltNext(StateId, usize),
    /// Merges the `alt` side's result back after the `next` side.
    AltMerge(bool),
    /// Undoes a first entry into a loop body at a position.
    RepRestore(StateId, usize, u8),
    /// Undoes a repeated entry at the same position.
    RepDec(StateId),
    /// Leaves a loop, unless its body already led to a match.
    RepLess(StateId, usize),
    /// Records whether exploring this (state, position) found a match.
    Memo(StateId, usize),
}

/// A fast hasher for the memo's (state, position) keys.
#[derive(Default)]
struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

#[derive(Clone, Copy, Default)]
struct Rep {
    run: u32,
    pos: usize,
    count: u8,
}

/// Buffers reused across searches with one pattern.
#[derive(Default)]
struct Scratch {
    stack: Vec<Step>,
    groups: Vec<Sub>,
    best: Vec<Sub>,
    /// Per state: the position and count of the innermost entry into a
    /// loop body (`_M_rep_count`), valid if stamped with the current run
    /// (so that a run cut short leaves nothing to undo).
    reps: Vec<Rep>,
    run: u32,
    /// Positions of the loop entries in effect, innermost last.
    trail: Vec<usize>,
    memo: HashMap<(StateId, usize), bool, BuildHasherDefault<PairHasher>>,
}

/// The DFAs that tell where matches can start and end.
struct Dfas {
    /// Leftmost-first, unanchored: where the leftmost match starts.
    leftmost: meta::Regex,
    /// Every match, anchored: the longest match from a start.
    longest: hybrid::dfa::DFA,
    longest_cache: RefCell<hybrid::dfa::Cache>,
}

impl Dfas {
    fn new(program: &Program) -> Option<Self> {
        if program.hir_depth > MAX_DFA_DEPTH {
            return None;
        }
        let leftmost = meta::Builder::new()
            .configure(
                meta::Config::new()
                    .utf8_empty(false)
                    .hybrid_cache_capacity(DFA_CACHE_CAPACITY),
            )
            .build_from_hir(&program.hir)
            .ok()?;
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .utf8(false)
                    .which_captures(thompson::WhichCaptures::None),
            )
            .build_from_hir(&program.hir)
            .ok()?;
        let longest = hybrid::dfa::Builder::new()
            .configure(
                hybrid::dfa::DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(DFA_CACHE_CAPACITY),
            )
            .build_from_nfa(nfa)
            .ok()?;
        let longest_cache = RefCell::new(longest.create_cache());
        Some(Dfas {
            leftmost,
            longest,
            longest_cache,
        })
    }

    /// The leftmost position at or after `from` where a match starts.
    fn leftmost_start(&self, hay: &[u8], from: usize) -> Option<usize> {
        self.leftmost
            .search(&Input::new(hay).range(from..))
            .map(|m| m.start())
    }

    /// The end of the longest match starting at `at`, `None` if there is
    /// none; the end of `hay` if the DFA cannot tell (it has no reason to
    /// give up, but may).
    fn longest_end(&self, hay: &[u8], at: usize) -> Option<usize> {
        let Ok(mut cache) = self.longest_cache.try_borrow_mut() else {
            return Some(hay.len());
        };
        let input = Input::new(hay).range(at..).anchored(Anchored::Yes);
        match self.longest.try_search_fwd(&mut cache, &input) {
            Ok(m) => m.map(|m| m.offset()),
            Err(_) => Some(hay.len()),
        }
    }
}

/// A pattern ready to run.
pub(super) struct Regex {
    states: Vec<State>,
    sets: Vec<super::classes::ByteSet>,
    groups: usize,
    /// Per state: whether several edges lead to it, so that it can be
    /// explored at the same position along several paths.
    join: Vec<bool>,
    dfas: Option<Dfas>,
    scratch: RefCell<Scratch>,
}

/// One exploration of the backtracker, from one start position.
struct Run<'a> {
    re: &'a Regex,
    hay: &'a [u8],
    begin: usize,
    /// No match can end after this.
    bound: usize,
    mode: Mode,
    flags: Flags,
}

impl Regex {
    pub(super) fn new(program: Program) -> Self {
        let dfas = Dfas::new(&program);
        let mut indegree = vec![0u8; program.states.len()];
        let mut seen = vec![false; program.states.len()];
        let mut todo = vec![0 as StateId];
        if let Some(s) = seen.first_mut() {
            *s = true;
        }
        while let Some(id) = todo.pop() {
            let Some(state) = program.states.get(id as usize) else {
                continue;
            };
            let edges = [
                state.next,
                if matches!(state.op, Op::Alternative | Op::Repeat) {
                    state.alt
                } else {
                    NONE
                },
            ];
            for to in edges.into_iter().filter(|&to| to != NONE) {
                if let Some(d) = indegree.get_mut(to as usize) {
                    *d = d.saturating_add(1);
                }
                if let Some(s) = seen.get_mut(to as usize)
                    && !*s
                {
                    *s = true;
                    todo.push(to);
                }
            }
        }
        Regex {
            join: indegree.into_iter().map(|d| d > 1).collect(),
            groups: program.groups,
            states: program.states,
            sets: program.sets,
            dfas,
            scratch: RefCell::default(),
        }
    }

    /// The size of the NFA, which the cache weighs patterns by.
    pub(super) fn states(&self) -> usize {
        self.states.len()
    }

    /// `std::regex_match`: the captures if the whole of `hay` matches.
    pub(super) fn full_match(&self, hay: &[u8]) -> Option<Captures> {
        let mut out = Vec::with_capacity(self.groups + 1);
        if let Some(dfas) = &self.dfas {
            if dfas.longest_end(hay, 0) != Some(hay.len()) {
                return None;
            }
            if self.groups == 0 {
                out.push(Some((0, hay.len())));
                return Some(out);
            }
        }
        self.run(hay, 0, hay.len(), Mode::Exact, Flags::default(), &mut out)
            .then_some(out)
    }

    /// Calls `each` with the captures of every match
    /// `std::cregex_iterator` visits: after an empty match it first looks
    /// for a non-empty one at the same place, then searches from the next
    /// byte.
    pub(super) fn find_all(&self, hay: &[u8], mut each: impl FnMut(&[Option<(usize, usize)>])) {
        let mut m = Vec::with_capacity(self.groups + 1);
        let mut flags = Flags::default();
        let mut found = self.search(hay, 0, flags, &mut m);
        while found {
            let Some((start, end)) = m.first().copied().flatten() else {
                break;
            };
            each(&m);
            let mut from = end;
            if start == end {
                if from == hay.len() {
                    break;
                }
                let again = Flags {
                    not_null: true,
                    ..flags
                };
                found = self.attempt(hay, from, again, &mut m);
                if found {
                    continue;
                }
                from += 1;
            }
            flags.prev_avail = true;
            found = self.search(hay, from, flags, &mut m);
        }
    }

    /// `std::regex_search` from `from`: the first position with a match,
    /// trying `from` with `flags` and later ones with `match_prev_avail`.
    fn search(&self, hay: &[u8], from: usize, flags: Flags, out: &mut Captures) -> bool {
        let later = Flags {
            prev_avail: true,
            ..flags
        };
        let Some(dfas) = &self.dfas else {
            return (from..=hay.len())
                .any(|at| self.attempt(hay, at, if at == from { flags } else { later }, out));
        };
        let mut at = from;
        // The DFAs see `^` only at 0, as libstdc++ does once
        // `match_prev_avail` is set.
        if !flags.prev_avail && from > 0 {
            if self.attempt(hay, from, flags, out) {
                return true;
            }
            at += 1;
        }
        while at <= hay.len() {
            let Some(start) = dfas.leftmost_start(hay, at) else {
                return false;
            };
            if self.attempt(hay, start, if start == from { flags } else { later }, out) {
                return true;
            }
            at = start + 1;
        }
        false
    }

    /// One start position of `regex_search` (`_M_search_from_first`).
    fn attempt(&self, hay: &[u8], at: usize, flags: Flags, out: &mut Captures) -> bool {
        let bound = match &self.dfas {
            Some(dfas) if flags.prev_avail || at == 0 => match dfas.longest_end(hay, at) {
                // With `match_not_null` an empty match does not count.
                Some(end) if !(flags.not_null && end == at) => end,
                _ => return false,
            },
            _ => hay.len(),
        };
        self.run(hay, at, bound, Mode::Prefix, flags, out)
    }

    /// Runs the backtracker; on a match, leaves its captures in `out`.
    fn run(
        &self,
        hay: &[u8],
        begin: usize,
        bound: usize,
        mode: Mode,
        flags: Flags,
        out: &mut Captures,
    ) -> bool {
        let run = Run {
            re: self,
            hay,
            begin,
            bound: bound.min(hay.len()),
            mode,
            flags,
        };
        match self.scratch.try_borrow_mut() {
            Ok(mut scratch) => run.exec(&mut scratch, out),
            Err(_) => run.exec(&mut Scratch::default(), out),
        }
    }
}

impl Run<'_> {
    /// `_M_main_dispatch` in DFS mode.
    fn exec(&self, s: &mut Scratch, out: &mut Captures) -> bool {
        let re = self.re;
        s.stack.clear();
        s.trail.clear();
        if !s.memo.is_empty() {
            s.memo.clear();
        }
        s.groups.clear();
        s.groups.resize(re.groups + 1, UNSET);
        s.best.clear();
        s.reps.resize(re.states.len(), Rep::default());
        s.run = s.run.wrapping_add(1);
        if s.run == 0 {
            // Stamps are about to repeat: forget them all.
            s.reps.fill(Rep::default());
            s.run = 1;
        }
        let mut best_end: Option<usize> = None;
        let mut has_sol = false;
        // Memoising costs more than it saves on the usual patterns, which
        // explore each state once per position; it starts once the
        // exploration looks ambiguous.
        let budget = 1024 + 8 * (self.bound - self.begin.min(self.bound));
        let mut steps = 0usize;
        let mut memoize = false;

        // The state to explore next, when it is what the recursive code
        // would call last (saving a push and a pop).
        let mut current = Some((0, self.begin));
        'search: loop {
            while let Some((id, pos)) = current.take() {
                let Some(state) = re.states.get(id as usize) else {
                    break;
                };
                steps += 1;
                memoize |= steps > budget;
                // Memo keys leave out the loop entry counts, so only states
                // where no entry is in effect at `pos` qualify.
                if memoize
                    && re.join.get(id as usize) == Some(&true)
                    && s.trail.last().is_none_or(|&p| p < pos)
                {
                    if let Some(&found) = s.memo.get(&(id, pos)) {
                        has_sol = found;
                        break;
                    }
                    s.stack.push(Step::Memo(id, pos));
                }
                current = match state.op {
                    Op::Repeat => {
                        s.stack.push(Step::RepLess(id, pos));
                        self.rep_once_more(s, id, state.alt, pos)
                    }
                    Op::Alternative => {
                        s.stack.push(Step::AltNext(state.next, pos));
                        Some((state.alt, pos))
                    }
                    Op::GroupStart(g) => {
                        if let Some(sub) = s.groups.get_mut(g as usize) {
                            s.stack.push(Step::RestoreStart(g, sub.start));
                            sub.start = pos;
                        }
                        Some((state.next, pos))
                    }
                    Op::GroupEnd(g) => {
                        if let Some(sub) = s.groups.get_mut(g as usize) {
                            s.stack.push(Step::RestoreEnd(g, sub.end, sub.matched));
                            sub.end = pos;
                            sub.matched = true;
                        }
                        Some((state.next, pos))
                    }
                    Op::LineBegin => {
                        (pos == self.begin && !self.flags.prev_avail).then_some((state.next, pos))
                    }
                    Op::LineEnd => (pos == self.hay.len()).then_some((state.next, pos)),
                    Op::Match(set) => {
                        let matches = pos < self.bound
                            && self.hay.get(pos).is_some_and(|&b| {
                                re.sets.get(set as usize).is_some_and(|set| set.contains(b))
                            });
                        matches.then_some((state.next, pos + 1))
                    }
                    Op::Dummy => Some((state.next, pos)),
                    Op::Accept => {
                        has_sol = match self.mode {
                            Mode::Exact => pos == self.hay.len(),
                            Mode::Prefix => true,
                        } && !(self.flags.not_null && pos == self.begin);
                        // POSIX: only a strictly longer match replaces the
                        // one found first.
                        if has_sol && best_end.is_none_or(|e| e < pos) {
                            best_end = Some(pos);
                            s.best.clone_from(&s.groups);
                            // Nothing after can be longer.
                            if self.mode == Mode::Exact || pos == self.bound {
                                break 'search;
                            }
                        }
                        None
                    }
                };
            }
            let Some(step) = s.stack.pop() else {
                break;
            };
            match step {
                Step::RestoreStart(g, start) => {
                    if let Some(sub) = s.groups.get_mut(g as usize) {
                        sub.start = start;
                    }
                }
                Step::RestoreEnd(g, end, matched) => {
                    if let Some(sub) = s.groups.get_mut(g as usize) {
                        sub.end = end;
                        sub.matched = matched;
                    }
                }
                Step::AltNext(next, pos) => {
                    s.stack.push(Step::AltMerge(has_sol));
                    has_sol = false;
                    current = Some((next, pos));
                }
                Step::AltMerge(found) => has_sol |= found,
                Step::RepRestore(id, pos, count) => {
                    if let Some(r) = s.reps.get_mut(id as usize) {
                        r.pos = pos;
                        r.count = count;
                    }
                    s.trail.pop();
                }
                Step::RepDec(id) => {
                    if let Some(r) = s.reps.get_mut(id as usize) {
                        r.count -= 1;
                    }
                }
                Step::RepLess(id, pos) => {
                    if !has_sol {
                        current = re.states.get(id as usize).map(|state| (state.next, pos));
                    }
                }
                Step::Memo(id, pos) => {
                    s.memo.insert((id, pos), has_sol);
                }
            }
        }
        if best_end.is_none() {
            return false;
        }
        out.clear();
        out.extend(
            s.best
                .iter()
                .map(|sub| sub.matched.then_some((sub.start, sub.end))),
        );
        true
    }

    /// `_M_rep_once_more`: enters the loop body (returned), at most twice
    /// in a row at the same position.
    fn rep_once_more(
        &self,
        s: &mut Scratch,
        id: StateId,
        body: StateId,
        pos: usize,
    ) -> Option<(StateId, usize)> {
        let run = s.run;
        let rep = s.reps.get_mut(id as usize)?;
        let (at, count) = if rep.run == run {
            (rep.pos, rep.count)
        } else {
            (0, 0)
        };
        if count == 0 || at != pos {
            *rep = Rep { run, pos, count: 1 };
            s.stack.push(Step::RepRestore(id, at, count));
            s.trail.push(pos);
            Some((body, pos))
        } else if count < 2 {
            rep.count += 1;
            s.stack.push(Step::RepDec(id));
            Some((body, pos))
        } else {
            None
        }
    }
}
