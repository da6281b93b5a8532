//! The parser: tokens to a [`Script`]. It follows packetdrill's grammar
//! (syntax.md); a construct the runners do not take parses into
//! [`Action::Unsupported`], so the report can name it with its line.

use crate::ast::*;
use crate::error::ParseError;
use crate::lex::{Tok, Token, lex};

/// Parse a whole script.
pub fn parse(src: &str) -> Result<Script, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser { toks, i: 0 };
    let mut options = Vec::new();
    while let Some(Tok::Opt(name, value)) = p.peek() {
        options.push((name.clone(), value.clone()));
        p.i += 1;
    }
    let mut events = Vec::new();
    // A command before the first event (packetdrill's init_command) runs first.
    if let Some(Tok::Shell(cmd)) = p.peek().cloned() {
        events.push(Event {
            pos: p.pos(),
            time: Time::At(0),
            action: Action::Shell(cmd),
        });
        p.i += 1;
    }
    while p.peek().is_some() {
        events.push(p.event()?);
    }
    Ok(Script { options, events })
}

pub(crate) struct Parser {
    toks: Vec<Token>,
    i: usize,
}

pub(crate) const SYSCALLS: &[&str] = &[
    "socket",
    "setsockopt",
    "getsockopt",
    "bind",
    "listen",
    "accept",
    "connect",
    "read",
    "write",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "close",
    "shutdown",
    "fcntl",
];

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }
    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.i + k).map(|t| &t.tok)
    }
    fn pos(&self) -> Pos {
        self.toks
            .get(self.i)
            .or_else(|| self.toks.last())
            .map(|t| t.pos)
            .unwrap_or_default()
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError::new(self.pos(), msg))
    }
    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }
    fn eat_punct(&mut self, c: char) -> bool {
        let yes = self.is_punct(c);
        if yes {
            self.i += 1;
        }
        yes
    }
    fn expect_punct(&mut self, c: char, what: &str) -> Result<(), ParseError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            self.err(format!("expected `{c}` {what}, found {}", self.found()))
        }
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }
    fn found(&self) -> String {
        match self.peek() {
            None => "the end of the script".into(),
            Some(t) => format!("`{}`", show(t)),
        }
    }
    pub(crate) fn integer(&mut self, what: &str) -> Result<i64, ParseError> {
        match self.peek() {
            Some(Tok::Int(n)) => {
                let n = *n;
                self.i += 1;
                Ok(n)
            }
            Some(Tok::Hex(n)) => {
                let n = i64::try_from(*n).unwrap_or(i64::MAX);
                self.i += 1;
                Ok(n)
            }
            _ => self.err(format!(
                "expected {what} (a number), found {}",
                self.found()
            )),
        }
    }
    pub(crate) fn bounded(&mut self, what: &str, max: u64) -> Result<u64, ParseError> {
        let pos = self.pos();
        let n = self.integer(what)?;
        u64::try_from(n)
            .ok()
            .filter(|v| *v <= max)
            .ok_or_else(|| ParseError::new(pos, format!("{what} {n} is out of range 0..={max}")))
    }

    fn event(&mut self) -> Result<Event, ParseError> {
        let pos = self.pos();
        if let Some(Tok::Opt(..)) = self.peek() {
            return self.err("script options (`--name=value`) belong before the first event");
        }
        let time = self.time()?;
        let action = self.action()?;
        Ok(Event { pos, time, action })
    }

    /// A time in seconds as µs: `0`, `.1`, `1.25`.
    fn seconds(&mut self) -> Result<i64, ParseError> {
        let pos = self.pos();
        let text = match self.next().map(|t| t.tok) {
            Some(Tok::Int(n)) => n.to_string(),
            Some(Tok::Float(f)) => f,
            _ => return Err(ParseError::new(pos, "expected a time in seconds")),
        };
        let secs: f64 = text
            .parse()
            .map_err(|_| ParseError::new(pos, format!("`{text}` is not a time")))?;
        if !(0.0..1.0e6).contains(&secs) {
            return Err(ParseError::new(
                pos,
                format!("time {text} s is out of range"),
            ));
        }
        Ok((secs * 1e6).round() as i64)
    }

    fn time(&mut self) -> Result<Time, ParseError> {
        if self.eat_punct('*') {
            return Ok(Time::Any);
        }
        let relative = self.eat_punct('+');
        if !matches!(self.peek(), Some(Tok::Int(_) | Tok::Float(_))) {
            return self.err(format!(
                "expected an event time (`0.1`, `+0.1` or `*`), found {}",
                self.found()
            ));
        }
        let lo = self.seconds()?;
        if !self.eat_punct('~') {
            return Ok(if relative {
                Time::After(lo)
            } else {
                Time::At(lo)
            });
        }
        if relative && !self.eat_punct('+') {
            return self.err("a relative range is written `+lo~+hi`");
        }
        let hi = self.seconds()?;
        if hi < lo {
            return self.err("the range ends before it starts");
        }
        Ok(Time::Range { lo, hi, relative })
    }

    fn action(&mut self) -> Result<Action, ParseError> {
        let pos = self.pos();
        match self.peek().cloned() {
            Some(Tok::Punct('<')) => self.packet(Dir::In),
            Some(Tok::Punct('>')) => self.packet(Dir::Out),
            Some(Tok::Shell(cmd)) => {
                self.i += 1;
                Ok(Action::Shell(cmd))
            }
            Some(Tok::Code) => {
                self.i += 1;
                Ok(Action::Unsupported(
                    "a %{ … }% assertion block (Python code)".into(),
                ))
            }
            Some(Tok::Ellipsis) | Some(Tok::Word(_)) => self.syscall(),
            Some(Tok::Opt(..)) => Err(ParseError::new(
                pos,
                "script options (`--name=value`) belong before the first event",
            )),
            _ => self.err(format!(
                "expected a packet (`<` or `>`), a system call or a `command`, found {}",
                self.found()
            )),
        }
    }

    fn packet(&mut self, dir: Dir) -> Result<Action, ParseError> {
        let dir_pos = self.pos();
        self.i += 1;
        if self.is_word("udp") || self.is_word("icmp") {
            let what = if self.is_word("udp") { "UDP" } else { "ICMP" };
            self.skip_packet_rest();
            return Ok(Action::Unsupported(format!("an {what} packet")));
        }
        let ip = if self.is_punct('[') {
            // `[seq]` before `icmp` quotes a segment: still ICMP.
            if matches!(self.peek_at(1), Some(Tok::Int(_))) {
                self.skip_packet_rest();
                return Ok(Action::Unsupported("an ICMP packet".into()));
            }
            self.ip_info()?
        } else {
            IpInfo::default()
        };
        let (flags, flags_text) = self.flags()?;
        let (start, end) = self.seq()?;
        let mut pkt = Packet {
            dir,
            ip,
            flags,
            flags_text,
            start,
            end,
            ack: None,
            win: None,
            urg: None,
            options: Options::None,
        };
        self.packet_fields(&mut pkt)?;
        if dir == Dir::In && pkt.win.is_none() {
            return Err(ParseError::new(
                dir_pos,
                "an inbound packet needs `win N`: the window to inject",
            ));
        }
        Ok(Action::Packet(pkt))
    }

    /// Skip the rest of an unsupported packet: it ends with its line.
    fn skip_packet_rest(&mut self) {
        let line = self.pos().line;
        while self.toks.get(self.i).is_some_and(|t| t.pos.line == line) {
            self.i += 1;
        }
    }

    fn ip_info(&mut self) -> Result<IpInfo, ParseError> {
        self.expect_punct('[', "")?;
        let mut ip = IpInfo::default();
        loop {
            let pos = self.pos();
            let Some(Tok::Word(w)) = self.next().map(|t| t.tok) else {
                return Err(ParseError::new(
                    pos,
                    "expected an ECN mark, `tos N` or `ttl N` in [ ]",
                ));
            };
            let mark = match w.as_str() {
                "noecn" => Some(EcnMark::NoEcn),
                "ect0" => Some(EcnMark::Ect0),
                "ect1" => Some(EcnMark::Ect1),
                "ect01" => Some(EcnMark::Ect01),
                "ce" => Some(EcnMark::Ce),
                _ => None,
            };
            match (mark, w.as_str()) {
                (Some(m), _) => ip.ecn = Some(m),
                (None, "tos") => ip.tos = Some(self.bounded("tos", 255)? as u8),
                (None, "ttl") => ip.ttl = Some(self.bounded("ttl", 255)? as u8),
                _ => {
                    return Err(ParseError::new(
                        pos,
                        format!("unknown IP field `{w}` (ect0, ect1, ect01, ce, noecn, tos, ttl)"),
                    ));
                }
            }
            self.eat_punct(',');
            if self.eat_punct(']') {
                return Ok(ip);
            }
        }
    }

    fn flags(&mut self) -> Result<(u16, String), ParseError> {
        let pos = self.pos();
        let mut text = String::new();
        if self.eat_punct('-') {
            return Ok((0, "-".into()));
        }
        if let Some(Tok::Word(w)) = self.peek() {
            text = w.clone();
            self.i += 1;
        }
        if self.eat_punct('.') {
            text.push('.');
        }
        if text.is_empty() {
            return Err(ParseError::new(
                pos,
                format!(
                    "expected TCP flags (S . F R P U E W), found {}",
                    self.found()
                ),
            ));
        }
        let mut bits = 0u16;
        for ch in text.chars() {
            bits |= crate::packet::flag_bit(ch).ok_or_else(|| {
                ParseError::new(pos, format!("`{ch}` is not a TCP flag (S . F R P U E W)"))
            })?;
        }
        Ok((bits, text))
    }

    fn seq(&mut self) -> Result<(u32, u32), ParseError> {
        let pos = self.pos();
        let start = self.bounded("the start sequence number", u64::from(u32::MAX))? as u32;
        self.expect_punct(':', "between start and end (`start:end(len)`)")?;
        let end = self.bounded("the end sequence number", u64::from(u32::MAX))? as u32;
        self.expect_punct('(', "before the length (`start:end(len)`)")?;
        let len = self.bounded("the length", 65535)? as u32;
        self.expect_punct(')', "after the length")?;
        if end.wrapping_sub(start) != len {
            return Err(ParseError::new(
                pos,
                format!(
                    "bad sequence arithmetic {start}:{end}({len}): end - start is {}, not {len}",
                    i64::from(end) - i64::from(start)
                ),
            ));
        }
        Ok((start, end))
    }

    fn packet_fields(&mut self, pkt: &mut Packet) -> Result<(), ParseError> {
        loop {
            if self.is_word("ack") {
                self.i += 1;
                pkt.ack = Some(self.bounded("ack", u64::from(u32::MAX))? as u32);
            } else if self.is_word("win") {
                self.i += 1;
                pkt.win = Some(self.bounded("win", u64::from(u32::MAX))? as u32);
            } else if self.is_word("urg") {
                self.i += 1;
                pkt.urg = Some(self.bounded("urg", 65535)? as u16);
            } else if self.is_punct('<') {
                pkt.options = self.tcp_options()?;
            } else {
                return Ok(());
            }
        }
    }

    fn tcp_options(&mut self) -> Result<Options, ParseError> {
        let open = self.pos();
        self.i += 1;
        if self.peek() == Some(&Tok::Ellipsis) {
            self.i += 1;
            if !self.eat_punct('>') {
                return Err(ParseError::new(open, "`<...` is not closed by `>`"));
            }
            return Ok(Options::Any);
        }
        let mut list = Vec::new();
        loop {
            list.push(self.tcp_option()?);
            if self.eat_punct('>') {
                return Ok(Options::List(list));
            }
            if !self.eat_punct(',') {
                return Err(ParseError::new(
                    open,
                    format!(
                        "this option list `<` is not closed by `>` (found {})",
                        self.found()
                    ),
                ));
            }
        }
    }

    fn tcp_option(&mut self) -> Result<TcpOpt, ParseError> {
        let pos = self.pos();
        let Some(Tok::Word(w)) = self.peek().cloned() else {
            return self.err(format!("expected a TCP option, found {}", self.found()));
        };
        self.i += 1;
        Ok(match w.as_str() {
            "nop" => TcpOpt::Nop,
            "eol" => TcpOpt::Eol,
            "mss" => TcpOpt::Mss(self.bounded("mss", 65535)? as u16),
            "wscale" => TcpOpt::Wscale(self.bounded("wscale", 255)? as u8),
            "sackOK" => TcpOpt::SackOk,
            "sack" => {
                let mut blocks = Vec::new();
                while matches!(self.peek(), Some(Tok::Int(_))) {
                    let l = self.bounded("a SACK block's start", u64::from(u32::MAX))? as u32;
                    self.expect_punct(':', "in a SACK block (`left:right`)")?;
                    let r = self.bounded("a SACK block's end", u64::from(u32::MAX))? as u32;
                    blocks.push((l, r));
                }
                if blocks.is_empty() || blocks.len() > 4 {
                    return Err(ParseError::new(
                        pos,
                        "`sack` takes one to four blocks `left:right`",
                    ));
                }
                TcpOpt::Sack(blocks)
            }
            "TS" => {
                if !self.is_word("val") {
                    return self.err("expected `val` after `TS` (`TS val N ecr N`)");
                }
                self.i += 1;
                let val = self.bounded("TS val", u64::from(u32::MAX))? as u32;
                if !self.is_word("ecr") {
                    return self.err("expected `ecr` after the TS value (`TS val N ecr N`)");
                }
                self.i += 1;
                let ecr = self.bounded("TS ecr", u64::from(u32::MAX))? as u32;
                TcpOpt::Ts { val, ecr }
            }
            "FO" | "FOEXP" => TcpOpt::FastOpen {
                cookie: self.cookie()?,
                exp: w == "FOEXP",
            },
            other => {
                return Err(ParseError::new(
                    pos,
                    format!(
                        "unknown TCP option `{other}` (nop, eol, mss, wscale, sackOK, sack, TS, FO, FOEXP)"
                    ),
                ));
            }
        })
    }

    /// A Fast Open cookie in hex, or none (a request).
    fn cookie(&mut self) -> Result<Vec<u8>, ParseError> {
        let pos = self.pos();
        let text = match self.toks.get(self.i) {
            Some(t)
                if matches!(&t.tok, Tok::Word(_) | Tok::Int(_))
                    && t.raw.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                t.raw.clone()
            }
            _ => return Ok(Vec::new()),
        };
        self.i += 1;
        if text.len() % 2 != 0 || text.len() < 8 || text.len() > 32 {
            return Err(ParseError::new(
                pos,
                format!("a Fast Open cookie is 4 to 16 bytes in hex; `{text}` is not"),
            ));
        }
        Ok((0..text.len() / 2)
            .filter_map(|k| u8::from_str_radix(text.get(2 * k..2 * k + 2)?, 16).ok())
            .collect())
    }

    fn syscall(&mut self) -> Result<Action, ParseError> {
        let mut end = None;
        if self.peek() == Some(&Tok::Ellipsis) {
            self.i += 1;
            end = Some(self.seconds()?);
        }
        let pos = self.pos();
        let Some(Tok::Word(name)) = self.next().map(|t| t.tok) else {
            return Err(ParseError::new(pos, "expected a system call's name"));
        };
        if !SYSCALLS.contains(&name.as_str()) {
            return Ok(self.unsupported_call(&name));
        }
        self.expect_punct('(', &format!("after `{name}`"))?;
        let mut args = Vec::new();
        if !self.eat_punct(')') {
            args = self.expr_list(')')?;
        }
        self.expect_punct('=', &format!("after {name}(…): the expected result"))?;
        let ret = self.expr()?;
        let mut errno = None;
        if let Some(Tok::Word(w)) = self.peek()
            && w.starts_with('E')
            && w.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            errno = Some(w.clone());
            self.i += 1;
        }
        if self.is_punct('(') {
            self.skip_note()?;
        }
        Ok(Action::Syscall(Syscall {
            name,
            args,
            ret,
            errno,
            end,
        }))
    }

    /// A call this runner does not make: named, and skipped to its line's end.
    fn unsupported_call(&mut self, name: &str) -> Action {
        let line = self
            .toks
            .get(self.i.saturating_sub(1))
            .map_or(0, |t| t.pos.line);
        while self.toks.get(self.i).is_some_and(|t| t.pos.line == line) {
            self.i += 1;
        }
        Action::Unsupported(match name {
            "sendmsg" | "recvmsg" => format!("`{name}` (messages with control data)"),
            "ioctl" => "`ioctl`".into(),
            n if n.starts_with("epoll") => format!("`{n}` (epoll)"),
            n => format!("the system call `{n}`"),
        })
    }

    /// `(Operation now in progress)`: words, skipped to the closing `)`.
    fn skip_note(&mut self) -> Result<(), ParseError> {
        let pos = self.pos();
        let mut depth = 0usize;
        while let Some(t) = self.next() {
            match t.tok {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        Err(ParseError::new(pos, "this note `(` is never closed"))
    }

    fn expr_list(&mut self, close: char) -> Result<Vec<Expr>, ParseError> {
        let mut v = vec![self.expr()?];
        loop {
            if self.eat_punct(close) {
                return Ok(v);
            }
            self.expect_punct(',', &format!("or `{close}` in this list"))?;
            v.push(self.expr()?);
        }
    }

    pub(crate) fn expr(&mut self) -> Result<Expr, ParseError> {
        let first = self.primary()?;
        if !self.is_punct('|') {
            return Ok(first);
        }
        let mut parts = vec![first];
        while self.eat_punct('|') {
            parts.push(self.primary()?);
        }
        Ok(Expr::Or(parts))
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let pos = self.pos();
        match self.next().map(|t| t.tok) {
            Some(Tok::Ellipsis) => Ok(Expr::Any),
            Some(Tok::Int(n)) => Ok(Expr::Int(n)),
            Some(Tok::Hex(n)) => Ok(Expr::Int(i64::try_from(n).unwrap_or(i64::MAX))),
            Some(Tok::Str(s)) => {
                if self.peek() == Some(&Tok::Ellipsis) {
                    self.i += 1;
                }
                Ok(Expr::Str(s))
            }
            Some(Tok::Word(w)) => {
                if self.eat_punct('(') {
                    let args = if self.eat_punct(')') {
                        Vec::new()
                    } else {
                        self.expr_list(')')?
                    };
                    Ok(Expr::Call(w, args))
                } else {
                    Ok(Expr::Word(w))
                }
            }
            Some(Tok::Punct('[')) => {
                if self.eat_punct(']') {
                    Ok(Expr::Array(Vec::new()))
                } else {
                    Ok(Expr::Array(self.expr_list(']')?))
                }
            }
            Some(Tok::Punct('{')) => self.fields(),
            _ => {
                self.i = self.i.saturating_sub(1);
                Err(ParseError::new(
                    pos,
                    format!("expected an argument or a result, found {}", self.found()),
                ))
            }
        }
    }

    fn fields(&mut self) -> Result<Expr, ParseError> {
        let mut fields = Vec::new();
        if self.eat_punct('}') {
            return Ok(Expr::Struct(fields));
        }
        loop {
            let name = match (self.peek().cloned(), self.peek_at(1)) {
                (Some(Tok::Word(w)), Some(Tok::Punct('='))) => {
                    self.i += 2;
                    w
                }
                _ => String::new(),
            };
            fields.push((name, self.expr()?));
            if self.eat_punct('}') {
                return Ok(Expr::Struct(fields));
            }
            self.expect_punct(',', "or `}` in this structure")?;
        }
    }
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Int(n) => n.to_string(),
        Tok::Hex(n) => format!("0x{n:x}"),
        Tok::Float(f) => f.clone(),
        Tok::Word(w) => w.clone(),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::Shell(s) => format!("`{s}`"),
        Tok::Code => "%{ … }%".into(),
        Tok::Opt(n, v) => format!("--{n}={v}"),
        Tok::Ellipsis => "...".into(),
        Tok::Punct(c) => c.to_string(),
    }
}
