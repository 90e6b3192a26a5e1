//! What each subscriber counts, merged into one report.

use hdrhistogram::Histogram;

/// One subscriber's counts.
pub struct Tally {
    /// The next publication number expected.
    expected: u64,
    /// Publications received (duplicates included).
    pub received: u64,
    /// Publication numbers skipped over.
    pub lost: u64,
    /// Publications received again, or out of order.
    pub duplicates: u64,
    /// Latency in microseconds, of every received publication.
    pub latency: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            expected: 0,
            received: 0,
            lost: 0,
            duplicates: 0,
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
        }
    }
}

impl Tally {
    /// Publication `n`, sent at `sent_ns`, arrived at `now_ns`.
    pub fn record(&mut self, n: u64, sent_ns: u64, now_ns: u64) {
        self.received += 1;
        if n >= self.expected {
            self.lost += n - self.expected;
            self.expected = n + 1;
        } else {
            self.duplicates += 1;
        }
        let _ = self.latency.record((now_ns.saturating_sub(sent_ns) / 1000).max(1));
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &Tally) {
        self.received += other.received;
        self.lost += other.lost;
        self.duplicates += other.duplicates;
        let _ = self.latency.add(&other.latency);
    }

    /// Publications never received at all, of `published`: those after the last one received count too.
    pub fn missing_at_end(&self, published: u64) -> u64 {
        published.saturating_sub(self.expected)
    }
}
