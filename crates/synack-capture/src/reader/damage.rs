//! Why a capture stopped making sense part-way: what the reader saw, kept
//! as a kind (the words are `narrate::damage`'s, in either language), so
//! that everything before the damage is still analysed and the report says
//! what happened.

/// The damage a reading stopped at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The file ends inside a frame's record: a capture cut off (still
    /// being written, or a copy that stopped).
    EndsInsideFrame,
    /// A record claims more bytes than any capture holds
    /// ([`MAX_RECORD`](super::MAX_RECORD)): the bytes there are not a record.
    RecordTooLong,
    /// A pcapng block that does not parse.
    BadBlock,
    /// The bytes stopped coming before the data's own end: a compressed
    /// file cut off, whose decoder found no end marker.
    EndsEarly,
    /// Reading failed: what the system or the decoder said.
    Unreadable(String),
}

impl Damage {
    /// The damage of a read that failed with `e`.
    pub(crate) fn of_io(e: &std::io::Error) -> Damage {
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof => Damage::EndsEarly,
            _ => Damage::Unreadable(e.to_string()),
        }
    }

    /// Its id in JSON (`damaged_at.kind`, docs/analyze-json.md).
    pub fn id(&self) -> &'static str {
        match self {
            Damage::EndsInsideFrame => "ends-inside-frame",
            Damage::RecordTooLong => "record-too-long",
            Damage::BadBlock => "bad-block",
            Damage::EndsEarly => "ends-early",
            Damage::Unreadable(_) => "unreadable",
        }
    }
}

/// A stream whose first read error ends it: the error is kept in `err` and
/// the reading sees the end of the stream there, so the frames before it
/// are read as they would be had the bytes stopped (a cut-off compressed
/// file gives what it decoded, then its decoder's error).
pub(super) struct Noting<'e, R> {
    pub inner: R,
    pub err: &'e std::sync::OnceLock<std::io::Error>,
}

impl<R: std::io::Read> std::io::Read for Noting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.err.get().is_some() {
            return Ok(0);
        }
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = self.err.set(e);
                    return Ok(0);
                }
                done => return done,
            }
        }
    }
}

/// Where a reading that ended at byte `at` stopped, and why: the read
/// error that ended the stream if one did, else `seen` (what the bytes
/// showed), else nothing (a sound end).
pub(super) fn ended(
    at: u64,
    stopped: &std::sync::OnceLock<std::io::Error>,
    seen: Option<Damage>,
) -> Option<(u64, Damage)> {
    stopped.get().map(Damage::of_io).or(seen).map(|d| (at, d))
}
