//! TCP Fast Open (RFC 7413, rule 41). The server's cookie is a keyed hash of
//! the client's address (§4.1.2), so it needs no state; the client keeps the
//! cookie per server address for its next connection.

use core::hash::Hasher;
use core::net::IpAddr;

use siphasher::sip::SipHasher24;
use synack_wire::FastOpenCookie;

/// 8 bytes of SipHash-2-4 over the client's address.
pub(crate) fn cookie(secret: &[u8; 16], client: IpAddr) -> FastOpenCookie {
    let mut h = SipHasher24::new_with_key(secret);
    h.write(b"tfo");
    match client {
        IpAddr::V4(a) => h.write(&a.octets()),
        IpAddr::V6(a) => h.write(&a.octets()),
    }
    FastOpenCookie::new(&h.finish().to_be_bytes()).unwrap_or_default()
}

pub(crate) fn valid(secret: &[u8; 16], client: IpAddr, c: &FastOpenCookie) -> bool {
    !c.is_request() && cookie(secret, client).as_bytes() == c.as_bytes()
}
