//! Tokens of packetdrill's language, each with its line and column. The
//! language is free-form (newlines are blanks); `//` and `/* */` are
//! comments; `%{ … }%` is a code block and a back-quoted string a shell
//! command.

use crate::ast::Pos;
use crate::error::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Decimal digits only (an optional minus).
    Int(i64),
    /// `0x…`.
    Hex(u64),
    /// A number with a fraction, kept as written.
    Float(String),
    /// Letters, digits and `_`, not all digits.
    Word(String),
    /// `"…"`, unquoted.
    Str(String),
    /// `` `…` ``, unquoted.
    Shell(String),
    /// `%{ … }%`.
    Code,
    /// `--name=value` (only before the first event).
    Opt(String, String),
    Ellipsis,
    Punct(char),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// The token as written (a cookie `0102…` is not the number 102…).
    pub raw: String,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
    line: u32,
    col: u32,
}

impl Cursor<'_> {
    fn peek(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek(0)?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> String {
        let start = self.i;
        while self.peek(0).is_some_and(&f) {
            self.bump();
        }
        String::from_utf8_lossy(self.s.get(start..self.i).unwrap_or(&[])).into_owned()
    }
    /// Skip to `end` (consumed); false at end of input.
    fn skip_past(&mut self, end: &[u8]) -> bool {
        while self.peek(0).is_some() {
            if self.s.get(self.i..self.i + end.len()) == Some(end) {
                for _ in 0..end.len() {
                    self.bump();
                }
                return true;
            }
            self.bump();
        }
        false
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

pub fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut c = Cursor {
        s: src.as_bytes(),
        i: 0,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    let mut at_line_start = true;
    while let Some(ch) = c.peek(0) {
        let pos = c.pos();
        if ch == b'\n' {
            at_line_start = true;
            c.bump();
            continue;
        }
        if ch.is_ascii_whitespace() {
            c.bump();
            continue;
        }
        let line_start = std::mem::replace(&mut at_line_start, false);
        let start = c.i;
        let tok = match ch {
            b'/' if c.peek(1) == Some(b'/') => {
                c.take_while(|b| b != b'\n');
                at_line_start = line_start;
                continue;
            }
            b'/' if c.peek(1) == Some(b'*') => {
                if !c.skip_past(b"*/") {
                    return Err(ParseError::new(pos, "a /* comment is never closed"));
                }
                at_line_start = line_start;
                continue;
            }
            b'%' if c.peek(1) == Some(b'{') => {
                if !c.skip_past(b"}%") {
                    return Err(ParseError::new(
                        pos,
                        "a %{ code block is never closed by }%",
                    ));
                }
                Tok::Code
            }
            b'-' if line_start && c.peek(1) == Some(b'-') => option(&mut c, pos)?,
            b'"' | b'`' => quoted(&mut c, ch, pos)?,
            b'.' if c.peek(1) == Some(b'.') && c.peek(2) == Some(b'.') => {
                c.bump();
                c.bump();
                c.bump();
                Tok::Ellipsis
            }
            b'.' if c.peek(1).is_some_and(|b| b.is_ascii_digit()) => number(&mut c, pos)?,
            b'-' if c.peek(1).is_some_and(|b| b.is_ascii_digit() || b == b'.') => {
                number(&mut c, pos)?
            }
            _ if is_word(ch) => number_or_word(&mut c, pos)?,
            _ => {
                c.bump();
                Tok::Punct(char::from(ch))
            }
        };
        let raw = String::from_utf8_lossy(c.s.get(start..c.i).unwrap_or(&[])).into_owned();
        out.push(Token { tok, pos, raw });
    }
    Ok(out)
}

fn option(c: &mut Cursor<'_>, pos: Pos) -> Result<Tok, ParseError> {
    c.bump();
    c.bump();
    let name = c.take_while(|b| is_word(b) || b == b'-');
    if name.is_empty() {
        return Err(ParseError::new(
            pos,
            "`--` must be followed by an option name",
        ));
    }
    let value = if c.peek(0) == Some(b'=') {
        c.bump();
        c.take_while(|b| !b.is_ascii_whitespace())
    } else {
        String::new()
    };
    Ok(Tok::Opt(name, value))
}

fn quoted(c: &mut Cursor<'_>, q: u8, pos: Pos) -> Result<Tok, ParseError> {
    c.bump();
    let mut bytes = Vec::new();
    loop {
        match c.bump() {
            None => {
                let what = if q == b'"' {
                    "string"
                } else {
                    "back-quoted command"
                };
                return Err(ParseError::new(pos, format!("this {what} is never closed")));
            }
            Some(b'\\') => {
                if let Some(n) = c.bump() {
                    bytes.push(match n {
                        b'n' => b'\n',
                        b't' => b'\t',
                        other => other,
                    });
                }
            }
            Some(b) if b == q => break,
            Some(b) => bytes.push(b),
        }
    }
    let s = String::from_utf8_lossy(&bytes).into_owned();
    Ok(if q == b'"' {
        Tok::Str(s)
    } else {
        Tok::Shell(s)
    })
}

fn number(c: &mut Cursor<'_>, pos: Pos) -> Result<Tok, ParseError> {
    let mut s = String::new();
    if c.peek(0) == Some(b'-') {
        c.bump();
        s.push('-');
    }
    s.push_str(&c.take_while(|b| b.is_ascii_digit()));
    // A fraction, but not the start of `...`.
    if c.peek(0) == Some(b'.') && c.peek(1).is_some_and(|b| b.is_ascii_digit()) {
        c.bump();
        s.push('.');
        s.push_str(&c.take_while(|b| b.is_ascii_digit()));
        return Ok(Tok::Float(s));
    }
    if c.peek(0).is_some_and(is_word) {
        return Err(ParseError::new(pos, format!("`{s}…` is not a number")));
    }
    s.parse()
        .map(Tok::Int)
        .map_err(|_| ParseError::new(pos, format!("{s} is out of range")))
}

fn number_or_word(c: &mut Cursor<'_>, pos: Pos) -> Result<Tok, ParseError> {
    if c.peek(0) == Some(b'0') && matches!(c.peek(1), Some(b'x' | b'X')) {
        c.bump();
        c.bump();
        let digits = c.take_while(|b| b.is_ascii_hexdigit());
        return u64::from_str_radix(&digits, 16)
            .map(Tok::Hex)
            .map_err(|_| ParseError::new(pos, format!("0x{digits} is not a hexadecimal number")));
    }
    let start = c.i;
    let word = c.take_while(is_word);
    if word.bytes().all(|b| b.is_ascii_digit()) {
        // Back up: a decimal number (perhaps with a fraction).
        c.i = start;
        c.col = pos.col;
        return number(c, pos);
    }
    Ok(Tok::Word(word))
}
