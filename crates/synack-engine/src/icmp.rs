//! ICMP destination-unreachable errors about our segments (rule 55):
//! believed only when the sequence number they quote is in flight (RFC
//! 5927 §4.1); in SYN-SENT a hard error ends the open, anything else is a
//! soft error, kept for the user (RFC 1122 §4.2.3.9).

use synack_wire::Unreachable;

use crate::config::Profile;
use crate::conn::Connection;
use crate::input::Disposition;
use crate::out::{Ctx, Event};
use crate::rules::Rule;
use crate::state::State;
use crate::step::{Action, Check, CloseReason, DropReason, IcmpInfo, Note};

/// Whether `reason` ends an open in SYN-SENT. RFC 1122 calls protocol and
/// port unreachable hard; Linux (`tcp_v4_err`) ends the open on every
/// unreachable but fragmentation needed.
fn hard(profile: Profile, reason: Unreachable) -> bool {
    match profile {
        Profile::Rfc => matches!(reason, Unreachable::Protocol | Unreachable::Port),
        Profile::LinuxCompat => !matches!(reason, Unreachable::FragmentationNeeded { .. }),
    }
}

/// Rule 55 on connection `c`.
pub(crate) fn error(c: &mut Connection, ctx: &mut Ctx<'_>, e: &IcmpInfo) -> Disposition {
    let ok = e.quoted_seq.in_closed_open(c.snd_una, c.snd_nxt);
    let check = Some(Check::IcmpInFlight {
        una: c.snd_una,
        seq: e.quoted_seq,
        nxt: c.snd_nxt,
        ok,
    });
    if !ok {
        // A blind attacker guessing the 4-tuple cannot know what is in flight.
        ctx.note(
            c,
            Action::Drop(DropReason::IcmpNotInFlight),
            Rule::IcmpError,
            check,
        );
        return Disposition::Keep;
    }
    if matches!(e.reason, Unreachable::FragmentationNeeded { .. }) {
        ctx.note(
            c,
            Action::Drop(DropReason::IcmpIgnored),
            Rule::IcmpError,
            check,
        );
        return Disposition::Keep;
    }
    if c.state == State::SynSent && hard(ctx.cfg.profile, e.reason) {
        c.state = State::Closed;
        c.clear_timer();
        let why = CloseReason::Unreachable(e.reason);
        ctx.note(c, Action::Delete(why), Rule::IcmpError, check);
        ctx.event(c, Event::Unreachable);
        return Disposition::Delete(why);
    }
    c.soft_error = Some(e.reason);
    ctx.note(
        c,
        Action::Note(Note::IcmpSoftError { reason: e.reason }),
        Rule::IcmpError,
        check,
    );
    Disposition::Keep
}

/// What Linux's `connect()` reports when an ICMP error ends the open
/// (`icmp_err_convert` in net/ipv4/icmp.c; `tests/icmp_errno.rs` in
/// synack-scenario checks it against the kernel).
pub fn linux_errno(reason: Unreachable) -> &'static str {
    match reason {
        Unreachable::Net | Unreachable::NetProhibited => "ENETUNREACH",
        Unreachable::Port => "ECONNREFUSED",
        Unreachable::Protocol => "ENOPROTOOPT",
        Unreachable::FragmentationNeeded { .. } => "EMSGSIZE",
        Unreachable::Host
        | Unreachable::HostProhibited
        | Unreachable::AdminProhibited
        | Unreachable::Other(_) => "EHOSTUNREACH",
    }
}
