//! A run's round-trip times summed up as ping and tcping do: min, avg, max
//! and mdev (ping's: the square root of the mean square minus the square of
//! the mean), plus the median and the 90th percentile (nearest rank).

/// The summary of some RTTs, in µs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RttSummary {
    pub min_us: f64,
    pub avg_us: f64,
    pub max_us: f64,
    pub mdev_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
}

/// The nearest-rank percentile `p` (0–100) of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, n.max(1)) - 1)
        .copied()
        .unwrap_or(0.0)
}

/// `None` for no values.
pub fn summarize(values_us: &[f64]) -> Option<RttSummary> {
    if values_us.is_empty() {
        return None;
    }
    let mut v = values_us.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let avg = v.iter().sum::<f64>() / n;
    let sq = v.iter().map(|x| x * x).sum::<f64>() / n;
    Some(RttSummary {
        min_us: *v.first()?,
        avg_us: avg,
        max_us: *v.last()?,
        mdev_us: (sq - avg * avg).max(0.0).sqrt(),
        p50_us: percentile(&v, 50.0),
        p90_us: percentile(&v, 90.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_ping() {
        let s = summarize(&[100.0, 200.0, 300.0, 400.0]).unwrap_or_else(|| unreachable!());
        assert_eq!((s.min_us, s.avg_us, s.max_us), (100.0, 250.0, 400.0));
        // sqrt((1+4+9+16)/4 * 1e4 - 250^2) = sqrt(75000 - 62500)
        assert!((s.mdev_us - 12500f64.sqrt()).abs() < 1e-9);
        assert_eq!((s.p50_us, s.p90_us), (200.0, 400.0));
        assert_eq!(summarize(&[]), None);
        let one = summarize(&[7.0]).unwrap_or_else(|| unreachable!());
        assert_eq!((one.p50_us, one.p90_us, one.mdev_us), (7.0, 7.0, 0.0));
    }
}
