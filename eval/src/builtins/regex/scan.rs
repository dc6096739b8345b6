//! libstdc++'s `_Scanner` for the POSIX extended grammar: the tokens of a
//! pattern, with the same errors (an escaped ordinary character, a bad
//! `[:class:]` or `{` contents) found at the same moment.

use super::compile::CompileError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Token {
    Eof,
    Char(u8),
    LineBegin,
    LineEnd,
    AnyChar,
    Star,
    Plus,
    Opt,
    Or,
    GroupOpen,
    GroupClose,
    BracketOpen,
    BracketOpenNegated,
    BracketClose,
    BracketDash,
    CollatingSymbol(Vec<u8>),
    EquivalenceClass(Vec<u8>),
    CharClass(Vec<u8>),
    IntervalOpen,
    Count(Vec<u8>),
    Comma,
    IntervalClose,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScanState {
    Normal,
    Bracket,
    Brace,
}

/// libstdc++'s `_Scanner` for the extended grammar: one token of
/// lookahead, scanned eagerly (so an error in it surfaces as soon as the
/// token before it is consumed).
pub(super) struct Scanner<'a> {
    input: &'a [u8],
    at: usize,
    state: ScanState,
    at_bracket_start: bool,
    pub(super) token: Token,
}

/// The characters that are special outside brackets, and the only ones a
/// backslash may escape (CppNix is built with `__STRICT_ANSI__`).
const SPECIAL: &[u8] = b".[\\()*+?{|^$";

impl<'a> Scanner<'a> {
    pub(super) fn new(input: &'a [u8]) -> Result<Self, CompileError> {
        let mut s = Scanner {
            input,
            at: 0,
            state: ScanState::Normal,
            at_bracket_start: false,
            token: Token::Eof,
        };
        s.advance()?;
        Ok(s)
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.input.get(self.at).copied();
        self.at += usize::from(b.is_some());
        b
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    pub(super) fn advance(&mut self) -> Result<(), CompileError> {
        let Some(c) = self.next_byte() else {
            self.token = Token::Eof;
            return Ok(());
        };
        self.token = match self.state {
            ScanState::Normal => self.scan_normal(c)?,
            ScanState::Bracket => self.scan_bracket(c)?,
            ScanState::Brace => self.scan_brace(c)?,
        };
        Ok(())
    }

    fn scan_normal(&mut self, c: u8) -> Result<Token, CompileError> {
        // A NUL byte counts as special (libstdc++ looks it up with
        // `strchr`, which finds the terminator) and is then rejected.
        if c != 0 && !SPECIAL.contains(&c) {
            return Ok(Token::Char(c));
        }
        Ok(match c {
            b'\\' => match self.next_byte() {
                Some(e) if e != 0 && SPECIAL.contains(&e) => Token::Char(e),
                _ => return Err(CompileError::Invalid),
            },
            b'(' => Token::GroupOpen,
            b')' => Token::GroupClose,
            b'[' => {
                self.state = ScanState::Bracket;
                self.at_bracket_start = true;
                if self.peek() == Some(b'^') {
                    self.at += 1;
                    Token::BracketOpenNegated
                } else {
                    Token::BracketOpen
                }
            }
            b'{' => {
                self.state = ScanState::Brace;
                Token::IntervalOpen
            }
            b'^' => Token::LineBegin,
            b'$' => Token::LineEnd,
            b'.' => Token::AnyChar,
            b'*' => Token::Star,
            b'+' => Token::Plus,
            b'?' => Token::Opt,
            b'|' => Token::Or,
            _ => return Err(CompileError::Invalid),
        })
    }

    fn scan_bracket(&mut self, c: u8) -> Result<Token, CompileError> {
        let token = match c {
            b'-' => Token::BracketDash,
            b'[' => match self.peek() {
                None => return Err(CompileError::Invalid),
                Some(kind @ (b'.' | b':' | b'=')) => {
                    self.at += 1;
                    let name = self.class_name(kind)?;
                    match kind {
                        b'.' => Token::CollatingSymbol(name),
                        b':' => Token::CharClass(name),
                        _ => Token::EquivalenceClass(name),
                    }
                }
                Some(_) => Token::Char(b'['),
            },
            // `]` first in a bracket (after an optional `^`) is literal.
            b']' if !self.at_bracket_start => {
                self.state = ScanState::Normal;
                Token::BracketClose
            }
            // Backslashes are literal in POSIX brackets.
            c => Token::Char(c),
        };
        self.at_bracket_start = false;
        Ok(token)
    }

    /// The name of `[:name:]` (or `.`, `=`), up to the closing `kind]`.
    fn class_name(&mut self, kind: u8) -> Result<Vec<u8>, CompileError> {
        let rest = self.input.get(self.at..).unwrap_or(&[]);
        let len = rest.iter().position(|&b| b == kind).unwrap_or(rest.len());
        let name = rest.get(..len).unwrap_or(&[]).to_vec();
        self.at += len;
        if self.next_byte() != Some(kind) || self.next_byte() != Some(b']') {
            return Err(CompileError::Invalid);
        }
        Ok(name)
    }

    fn scan_brace(&mut self, c: u8) -> Result<Token, CompileError> {
        Ok(match c {
            b'0'..=b'9' => {
                let mut digits = vec![c];
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    digits.push(d);
                    self.at += 1;
                }
                Token::Count(digits)
            }
            b',' => Token::Comma,
            b'}' => {
                self.state = ScanState::Normal;
                Token::IntervalClose
            }
            _ => return Err(CompileError::Invalid),
        })
    }

    /// Consumes the current token if it is `t`.
    pub(super) fn eat(&mut self, t: &Token) -> Result<bool, CompileError> {
        if &self.token == t {
            self.advance()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Consumes a `Char`, returning its byte.
    pub(super) fn eat_char(&mut self) -> Result<Option<u8>, CompileError> {
        match self.token {
            Token::Char(c) => {
                self.advance()?;
                Ok(Some(c))
            }
            _ => Ok(None),
        }
    }

    /// Consumes a `Count`, returning its digits.
    pub(super) fn eat_count(&mut self) -> Result<Option<Vec<u8>>, CompileError> {
        match &self.token {
            Token::Count(digits) => {
                let digits = digits.clone();
                self.advance()?;
                Ok(Some(digits))
            }
            _ => Ok(None),
        }
    }
}
