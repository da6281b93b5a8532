//! Attempts as zeek's conn.log (TSV with the `#fields` header that
//! `zeek-cut` reads): one line per attempt, the columns zeek writes for
//! TCP, from what synack measured. Bytes are the payload seen (zeek counts
//! them from sequence numbers, so the two differ when segments were lost).

use std::fmt::Write as _;

use crate::attempt::Attempt;

const FIELDS: [(&str, &str); 21] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
];

/// zeek's time and interval: seconds with six decimals.
fn time(ns: i64) -> String {
    let (sign, a) = (if ns < 0 { "-" } else { "" }, ns.unsigned_abs());
    format!(
        "{sign}{}.{:06}",
        a / 1_000_000_000,
        a % 1_000_000_000 / 1000
    )
}

/// A date as zeek's `#open` line writes it (UTC), from epoch seconds.
fn date(secs: i64) -> String {
    // Days to a civil date (Howard Hinnant's algorithm).
    let days = secs.div_euclid(86_400);
    let t = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}-{:02}-{:02}-{:02}",
        t / 3600,
        t % 3600 / 60,
        t % 60
    )
}

/// The header, for a log opened at `now` (epoch seconds).
pub fn header(now: i64) -> String {
    let names: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
    let types: Vec<&str> = FIELDS.iter().map(|f| f.1).collect();
    format!(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t{}\n#fields\t{}\n#types\t{}\n",
        date(now),
        names.join("\t"),
        types.join("\t")
    )
}

/// The last line, at `now`.
pub fn footer(now: i64) -> String {
    format!("#close\t{}\n", date(now))
}

/// A connection id in zeek's style ("C" and 17 letters or digits), the
/// same for the same attempt of the same file in every run.
fn uid(file: &str, a: &Attempt) -> String {
    // FNV-1a over what names the attempt.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file
        .bytes()
        .chain(a.first_frame.to_le_bytes())
        .chain(a.client.to_string().into_bytes())
        .chain(a.server.to_string().into_bytes())
    {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = String::from("C");
    for _ in 0..17 {
        let i = usize::try_from(h % 62).unwrap_or(0);
        s.push(char::from(DIGITS.get(i).copied().unwrap_or(b'0')));
        h = (h / 62) ^ h.rotate_left(29);
    }
    s
}

/// One conn.log line (with its newline).
pub fn line(file: &str, a: &Attempt) -> String {
    let (oh, op) = (a.client.ip(), a.client.port());
    let (rh, rp) = (a.server.ip(), a.server.port());
    let dur = time(a.end_time_ns.saturating_sub(a.start_time_ns));
    let history = if a.history.is_empty() {
        "-"
    } else {
        a.history.as_str()
    };
    let mut l = String::new();
    let _ = writeln!(
        l,
        "{}\t{}\t{oh}\t{op}\t{rh}\t{rp}\ttcp\t-\t{dur}\t{}\t{}\t{}\t-\t-\t0\t{history}\t{}\t{}\t{}\t{}\t-",
        time(a.start_time_ns),
        uid(file, a),
        a.payload_bytes[0],
        a.payload_bytes[1],
        a.conn_state,
        a.packets[0],
        a.ip_bytes[0],
        a.packets[1],
        a.ip_bytes[1],
    );
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_read_as_zeek_writes_them() {
        assert_eq!(date(0), "1970-01-01-00-00-00");
        assert_eq!(date(1_764_651_600), "2025-12-02-05-00-00");
        assert_eq!(time(1_258_531_221_486_539_123), "1258531221.486539");
        assert_eq!(time(-1_500_000), "-0.001500");
    }
}
