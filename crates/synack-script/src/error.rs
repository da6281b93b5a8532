//! Errors: a script that does not parse (with its place), and a run that
//! could not be made (the lab, the device).

use crate::ast::Pos;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {}, column {}: {message}", pos.line, pos.col)]
pub struct ParseError {
    pub pos: Pos,
    pub message: String,
}

impl ParseError {
    pub fn new(pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError {
            pos,
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Net(#[from] synack_net::NetError),
    #[error("{what}: {err}")]
    Io { what: String, err: std::io::Error },
    #[error("emitting a packet: {0}")]
    Emit(#[from] synack_wire::WireError),
    #[error("{0}")]
    Other(String),
}

impl RunError {
    pub fn io(what: impl Into<String>, err: std::io::Error) -> RunError {
        RunError::Io {
            what: what.into(),
            err,
        }
    }
}
