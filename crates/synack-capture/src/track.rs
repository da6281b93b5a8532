//! Connection attempts found in a stream of segments: the three steps with
//! their frames, ISNs, options, retransmissions, RSTs and FINs, and the
//! outcome, including zeek's conn_state and history for those who read them.

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::Serialize;
use synack_wire::{SeqNum, TcpFlags, TcpOptions};

/// A TCP segment as captured.
#[derive(Debug, Clone, Copy)]
pub struct Seg {
    pub frame: u64,
    pub ts: f64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub flags: TcpFlags,
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub window: u16,
    pub payload_len: usize,
    /// `None` when the options were cut off by the snap length or malformed.
    pub options: Option<TcpOptions>,
    /// The TCP checksum is wrong (often checksum offload on the capturing
    /// host, so counted, not fatal). False when it could not be checked.
    pub bad_checksum: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Handshake complete (the third ACK was seen), not closed in the capture.
    Established,
    /// Closed with FINs both ways after the handshake.
    Closed,
    /// Reset after the handshake completed.
    ResetAfterEstablishment,
    /// A RST during the handshake (after the SYN-ACK, or from the client).
    ResetDuringHandshake,
    /// The SYN was answered by a RST: nothing listens.
    Refused,
    /// SYN(s) without any answer: filtered, or the host is down.
    NoAnswer,
    /// SYN-ACK seen but the third ACK never was.
    HalfOpen,
    /// Both sides sent SYNs (RFC 9293 Fig. 7).
    SimultaneousOpen,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rst {
    pub frame: u64,
    pub from: &'static str,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SideOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub window_multiplier: Option<u32>,
    pub sack_permitted: bool,
    pub timestamps: bool,
    pub fast_open: bool,
    /// ECE and CWR on the SYN, ECE on the SYN-ACK.
    pub ecn: bool,
    pub window: u16,
}

/// One connection attempt (a SYN, or a SYN-ACK whose SYN was not captured).
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub client: String,
    pub server: String,
    pub outcome: Outcome,
    pub syn_frames: Vec<u64>,
    pub synack_frames: Vec<u64>,
    pub ack_frame: Option<u64>,
    pub client_isn: Option<u32>,
    pub server_isn: Option<u32>,
    pub syn_retransmissions: usize,
    pub synack_retransmissions: usize,
    /// The most recent SYN → the third ACK (tshark's iRTT, except that
    /// tshark ends it at the first pure ACK in either direction).
    pub handshake_rtt_s: Option<f64>,
    /// Last SYN before the first SYN-ACK → that SYN-ACK (client side).
    pub syn_to_synack_s: Option<f64>,
    /// First SYN-ACK → third ACK (server side).
    pub synack_to_ack_s: Option<f64>,
    pub rst: Vec<Rst>,
    pub client_options: Option<SideOptions>,
    pub server_options: Option<SideOptions>,
    pub simultaneous_open: bool,
    /// Segments with a wrong TCP checksum.
    pub bad_checksums: u64,
    pub conn_state: String,
    pub history: String,
    #[serde(skip)]
    c: SocketAddr,
    #[serde(skip)]
    last_syn_ts: Option<f64>,
    #[serde(skip)]
    first_synack_ts: Option<f64>,
    /// The most recent SYN: the handshake that completed started there.
    #[serde(skip)]
    mru_syn_ts: Option<f64>,
    #[serde(skip)]
    fin: [bool; 2],
    #[serde(skip)]
    seen: [bool; 2],
    #[serde(skip)]
    letters: Vec<(char, Option<u32>)>,
}

fn side_options(s: &Seg) -> Option<SideOptions> {
    let o = s.options?;
    Some(SideOptions {
        mss: o.mss,
        window_scale: o.window_scale,
        window_multiplier: o.window_scale.map(|w| 1u32 << w.min(14)),
        sack_permitted: o.sack_permitted,
        timestamps: o.timestamps.is_some(),
        fast_open: o.fast_open.is_some(),
        ecn: s.flags.contains(TcpFlags::ECE),
        window: s.window,
    })
}

impl Attempt {
    fn new(client: SocketAddr, server: SocketAddr) -> Attempt {
        Attempt {
            client: client.to_string(),
            server: server.to_string(),
            outcome: Outcome::NoAnswer,
            syn_frames: Vec::new(),
            synack_frames: Vec::new(),
            ack_frame: None,
            client_isn: None,
            server_isn: None,
            syn_retransmissions: 0,
            synack_retransmissions: 0,
            handshake_rtt_s: None,
            syn_to_synack_s: None,
            synack_to_ack_s: None,
            rst: Vec::new(),
            client_options: None,
            server_options: None,
            simultaneous_open: false,
            bad_checksums: 0,
            conn_state: String::new(),
            history: String::new(),
            c: client,
            last_syn_ts: None,
            first_synack_ts: None,
            mru_syn_ts: None,
            fin: [false, false],
            seen: [false, false],
            letters: Vec::new(),
        }
    }

    /// zeek's history letters: upper case from the originator; s, h, f, r
    /// repeat only with a new sequence number, a and d appear once a side.
    fn letter(&mut self, from_client: bool, l: char, seq: Option<u32>) {
        let c = if from_client {
            l.to_ascii_uppercase()
        } else {
            l
        };
        if self
            .letters
            .iter()
            .any(|(x, s)| *x == c && (seq.is_none() || *s == seq))
        {
            return;
        }
        self.letters.push((c, seq));
        self.history.push(c);
    }

    fn add(&mut self, s: &Seg) {
        let from_client = s.src == self.c;
        self.seen[usize::from(!from_client)] = true;
        let f = s.flags;
        let seq = s.seq.get();
        if s.bad_checksum {
            self.bad_checksums += 1;
            self.letter(from_client, 'c', None);
        }
        if f.syn() && !f.ack() {
            if from_client {
                self.syn_frames.push(s.frame);
                if self.client_isn.is_none() {
                    self.client_isn = Some(seq);
                    self.client_options = side_options(s);
                } else if self.client_isn == Some(seq) {
                    // Also after a SYN-ACK: that one may have been lost.
                    self.syn_retransmissions += 1;
                }
                if self.first_synack_ts.is_none() {
                    self.last_syn_ts = Some(s.ts);
                }
                if self.ack_frame.is_none() {
                    self.mru_syn_ts = Some(s.ts);
                }
            } else {
                self.simultaneous_open = true;
            }
            self.letter(from_client, 's', Some(seq));
        } else if f.syn() && f.ack() {
            if from_client {
                self.simultaneous_open = true;
            } else {
                self.synack_frames.push(s.frame);
                match self.server_isn {
                    None => {
                        self.server_isn = Some(seq);
                        self.server_options = side_options(s);
                        self.first_synack_ts = Some(s.ts);
                        self.syn_to_synack_s = self.last_syn_ts.map(|t| s.ts - t);
                    }
                    Some(isn) if isn == seq => self.synack_retransmissions += 1,
                    Some(_) => {}
                }
            }
            self.letter(from_client, 'h', Some(seq));
        }
        if f.rst() {
            self.rst.push(Rst {
                frame: s.frame,
                from: if from_client { "client" } else { "server" },
            });
            self.letter(from_client, 'r', Some(seq));
        }
        if f.fin() {
            self.fin[usize::from(!from_client)] = true;
            self.letter(from_client, 'f', Some(seq));
        }
        if s.payload_len > 0 {
            self.letter(from_client, 'd', None);
        } else if f.ack() && !f.syn() && !f.rst() && !f.fin() {
            self.letter(from_client, 'a', None);
        }
        // The third step: the client's first ACK of the server's ISN.
        if self.ack_frame.is_none()
            && from_client
            && f.ack()
            && !f.syn()
            && !f.rst()
            && self
                .server_isn
                .is_some_and(|isn| s.ack.get() == isn.wrapping_add(1))
        {
            self.ack_frame = Some(s.frame);
            self.synack_to_ack_s = self.first_synack_ts.map(|t| s.ts - t);
            self.handshake_rtt_s = self.mru_syn_ts.map(|t| s.ts - t);
        }
    }

    fn finish(&mut self) {
        let (c_rst, s_rst) = (
            self.rst.iter().any(|r| r.from == "client"),
            self.rst.iter().any(|r| r.from == "server"),
        );
        let syn = !self.syn_frames.is_empty();
        let synack = !self.synack_frames.is_empty();
        let est = self.ack_frame.is_some();
        self.outcome = if self.simultaneous_open {
            Outcome::SimultaneousOpen
        } else if est {
            match (c_rst || s_rst, self.fin) {
                (true, _) => Outcome::ResetAfterEstablishment,
                (false, [true, true]) => Outcome::Closed,
                _ => Outcome::Established,
            }
        } else if synack {
            if c_rst || s_rst {
                Outcome::ResetDuringHandshake
            } else {
                Outcome::HalfOpen
            }
        } else if s_rst {
            Outcome::Refused
        } else if c_rst {
            Outcome::ResetDuringHandshake
        } else {
            Outcome::NoAnswer
        };
        // zeek's conn_state (base/protocols/conn/main.zeek).
        self.conn_state = match (syn, synack, self.seen[1]) {
            (true, false, false) if c_rst => "RSTOS0",
            (true, false, false) if self.fin[0] => "SH",
            (true, false, false) => "S0",
            (true, false, true) if s_rst => "REJ",
            (false, true, _) if s_rst => "RSTRH",
            (false, true, _) if self.fin[1] => "SHR",
            (_, true, _) => match (c_rst, s_rst, self.fin) {
                (true, _, _) => "RSTO",
                (_, true, _) => "RSTR",
                (_, _, [true, true]) => "SF",
                (_, _, [true, false]) => "S2",
                (_, _, [false, true]) => "S3",
                _ => "S1",
            },
            _ => "OTH",
        }
        .to_string();
    }
}

/// Collects attempts; one pass, state per 4-tuple.
#[derive(Default)]
pub struct Tracker {
    by_pair: HashMap<(SocketAddr, SocketAddr), usize>,
    attempts: Vec<Attempt>,
    /// TCP segments that belonged to no attempt (mid-stream traffic).
    pub unmatched: u64,
}

fn pair(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b { (a, b) } else { (b, a) }
}

impl Tracker {
    pub fn add(&mut self, s: &Seg) {
        let key = pair(s.src, s.dst);
        let f = s.flags;
        let cur = self.by_pair.get(&key).copied();
        let new_attempt = match cur.and_then(|i| self.attempts.get(i)) {
            None => f.syn(),
            // A SYN with a new ISN from the client is a new attempt (port reuse).
            Some(a) => {
                f.syn()
                    && !f.ack()
                    && s.src == a.c
                    && a.client_isn.is_some_and(|isn| isn != s.seq.get())
            }
        };
        if new_attempt {
            let (c, srv) = if f.ack() {
                (s.dst, s.src)
            } else {
                (s.src, s.dst)
            };
            self.attempts.push(Attempt::new(c, srv));
            self.by_pair.insert(key, self.attempts.len() - 1);
        }
        match self
            .by_pair
            .get(&key)
            .and_then(|&i| self.attempts.get_mut(i))
        {
            Some(a) => a.add(s),
            None => self.unmatched += 1,
        }
    }

    /// All attempts in order of their first frame.
    pub fn finish(mut self) -> Vec<Attempt> {
        for a in &mut self.attempts {
            a.finish();
        }
        self.attempts
    }
}
