//! Latency percentiles (nearest rank on sorted samples).

/// The `p`-th quantile (0..=1) of `samples` in the samples' unit; 0 if empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    assert!((0.0..=1.0).contains(&p), "quantile {p} outside 0..=1");
    debug_assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "samples must be sorted");
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50 and p99 of nanosecond samples, in microseconds.
pub fn p50_p99_us(mut samples_ns: Vec<u64>) -> (f64, f64) {
    samples_ns.sort_unstable();
    (percentile(&samples_ns, 0.50) as f64 / 1e3, percentile(&samples_ns, 0.99) as f64 / 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let cases: &[(&[u64], f64, u64)] = &[(&[], 0.5, 0), (&[7], 0.99, 7), (&[1, 2, 3, 4], 0.5, 2), (&[1, 2, 3, 4], 0.99, 4), (&[1, 2, 3, 4], 0.0, 1)];
        for &(samples, p, want) in cases {
            assert_eq!(percentile(samples, p), want, "p{p} of {samples:?}");
        }
    }
}
