//! Durations as people write them: `500ms`, `2s`, `1.5s`, `1m`, `250us`;
//! a bare number is seconds (ping's `-i 0.2`).

use std::time::Duration;

/// Parse a duration; the error says what was wrong with it.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (examples: 500ms, 2s, 1.5s, 1m)"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        u => return Err(format!("{s:?}: unknown unit {u:?} (use us, ms, s, m or h)")),
    };
    let secs = n * scale;
    if !secs.is_finite() || secs > 1e9 {
        return Err(format!("{s:?} is too long"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humane_durations() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("0.2"), Ok(Duration::from_millis(200)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
        assert!(parse("2 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("ms").unwrap_err().contains("not a duration"));
        assert!(parse("-1s").is_err());
        assert!(parse("1e300s").is_err());
    }
}
