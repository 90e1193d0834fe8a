//! What X-Ray hands out per rule (a quota and its expiry, a rate, a reporting interval) and
//! what this process reports back (requests, sampled, borrowed), kept in atomics so the
//! request path never locks.

use std::sync::atomic::{AtomicU64, Ordering};

use super::api::SamplingTargetDocument;
use crate::sampling::reservoir::{Coin, Reservoir};

/// No quota received yet.
const NO_QUOTA: u64 = u64::MAX;
/// No rate received yet: the rule's own `FixedRate` applies.
const NO_RATE: u64 = u64::MAX;
/// Seconds between reports of a rule until X-Ray says otherwise.
pub(crate) const DEFAULT_INTERVAL: u64 = 10;

/// The counts of one report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) requests: u64,
    pub(crate) sampled: u64,
    pub(crate) borrowed: u64,
}

/// The live state of one rule; it survives rule refreshes (matched by rule name), so counts
/// and quotas are not lost when the rule set is fetched again.
#[derive(Debug)]
pub(crate) struct RuleState {
    requests: AtomicU64,
    sampled: AtomicU64,
    borrowed: AtomicU64,
    quota: AtomicU64,
    /// Epoch seconds; the quota applies while `now < quota_expires`.
    quota_expires: AtomicU64,
    /// `f64` bits of the target's rate, or [`NO_RATE`].
    rate: AtomicU64,
    interval: AtomicU64,
    /// Epoch seconds of the last target received; 0 before the first.
    refreshed_at: AtomicU64,
    reservoir: Reservoir,
}

impl Default for RuleState {
    fn default() -> Self {
        Self {
            requests: AtomicU64::new(0),
            sampled: AtomicU64::new(0),
            borrowed: AtomicU64::new(0),
            quota: AtomicU64::new(NO_QUOTA),
            quota_expires: AtomicU64::new(0),
            rate: AtomicU64::new(NO_RATE),
            interval: AtomicU64::new(DEFAULT_INTERVAL),
            refreshed_at: AtomicU64::new(0),
            reservoir: Reservoir::default(),
        }
    }
}

impl RuleState {
    /// Decides for a request this rule matched, at second `now`.
    ///
    /// A live quota gives up to `quota` requests per second; without one (none yet, or
    /// expired) the process borrows one request per second from the rule's reservoir, as long
    /// as the rule has one (`reservoir_size > 0`). Then the rate: the target's, else the rule's.
    #[inline]
    pub(crate) fn decide(&self, now: u64, reservoir_size: u64, rule_rate: f64, coin: &Coin) -> bool {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let quota = self.quota.load(Ordering::Relaxed);
        if quota != NO_QUOTA && now < self.quota_expires.load(Ordering::Relaxed) {
            if self.reservoir.take(now, u32::try_from(quota).unwrap_or(u32::MAX)) {
                self.sampled.fetch_add(1, Ordering::Relaxed);
                return true;
            }
        } else if reservoir_size > 0 && self.reservoir.take(now, 1) {
            self.borrowed.fetch_add(1, Ordering::Relaxed);
            self.sampled.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        let rate = match self.rate.load(Ordering::Relaxed) {
            NO_RATE => rule_rate,
            bits => f64::from_bits(bits),
        };
        let sampled = coin.flip(rate);
        if sampled {
            self.sampled.fetch_add(1, Ordering::Relaxed);
        }
        sampled
    }

    /// Takes the counts to report, if the rule saw requests and its interval has passed.
    pub(crate) fn take_report(&self, now: u64) -> Option<Counts> {
        let due = self.refreshed_at.load(Ordering::Relaxed).saturating_add(self.interval.load(Ordering::Relaxed));
        if self.requests.load(Ordering::Relaxed) == 0 || now < due {
            return None;
        }
        Some(Counts {
            requests: self.requests.swap(0, Ordering::Relaxed),
            sampled: self.sampled.swap(0, Ordering::Relaxed),
            borrowed: self.borrowed.swap(0, Ordering::Relaxed),
        })
    }

    /// Puts back counts whose report could not be delivered, so the next report has them.
    pub(crate) fn restore(&self, counts: Counts) {
        self.requests.fetch_add(counts.requests, Ordering::Relaxed);
        self.sampled.fetch_add(counts.sampled, Ordering::Relaxed);
        self.borrowed.fetch_add(counts.borrowed, Ordering::Relaxed);
    }

    /// Forgets the target's rate, so the rule's (changed) `FixedRate` applies until the next
    /// target.
    pub(crate) fn reset_rate(&self) {
        self.rate.store(NO_RATE, Ordering::Relaxed);
    }

    /// Applies a target; fields the document leaves out keep their value.
    pub(crate) fn apply(&self, target: &SamplingTargetDocument, now: u64) {
        if let Some(rate) = target.fixed_rate.filter(|r| (0.0..=1.0).contains(r)) {
            self.rate.store(rate.to_bits(), Ordering::Relaxed);
        }
        if let Some(ttl) = target.reservoir_quota_ttl.filter(|t| t.is_finite() && *t >= 0.0) {
            self.quota_expires.store(ttl as u64, Ordering::Relaxed);
        }
        if let Some(quota) = target.reservoir_quota {
            self.quota.store(quota.max(0) as u64, Ordering::Relaxed);
        }
        if let Some(interval) = target.interval.filter(|i| *i > 0) {
            self.interval.store(interval as u64, Ordering::Relaxed);
        }
        self.refreshed_at.store(now, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(
        quota: Option<i64>,
        ttl: Option<f64>,
        rate: Option<f64>,
        interval: Option<i64>,
    ) -> SamplingTargetDocument {
        SamplingTargetDocument {
            rule_name: Some("r".into()),
            fixed_rate: rate,
            reservoir_quota: quota,
            reservoir_quota_ttl: ttl,
            interval,
        }
    }

    fn run(state: &RuleState, now: u64, n: usize, size: u64, rate: f64, coin: &Coin) -> usize {
        (0..n).filter(|_| state.decide(now, size, rate, coin)).count()
    }

    #[test]
    fn borrows_one_per_second_until_a_quota_arrives() {
        let (state, coin) = (RuleState::default(), Coin::seeded(1));
        assert_eq!(run(&state, 100, 10, 5, 0.0, &coin), 1);
        assert_eq!(run(&state, 101, 10, 5, 0.0, &coin), 1);
        assert_eq!(state.take_report(101), Some(Counts { requests: 20, sampled: 2, borrowed: 2 }));
        // A rule without a reservoir does not borrow.
        let lean = RuleState::default();
        assert_eq!(run(&lean, 100, 10, 0, 0.0, &coin), 0);
    }

    #[test]
    fn quota_until_its_ttl_then_borrowing_then_rate() {
        let (state, coin) = (RuleState::default(), Coin::seeded(2));
        state.apply(&target(Some(3), Some(110.0), Some(0.0), Some(20)), 100);
        assert_eq!(
            run(&state, 100, 10, 5, 1.0, &coin),
            3,
            "quota 3 per second; the target's rate 0 replaces the rule's 1"
        );
        assert_eq!(run(&state, 109, 10, 5, 1.0, &coin), 3);
        assert_eq!(run(&state, 110, 10, 5, 1.0, &coin), 1, "expired: borrow one");
        let counts = state.take_report(120).unwrap();
        assert_eq!(counts, Counts { requests: 30, sampled: 7, borrowed: 1 });
        // A zero quota samples by rate only, and does not borrow while it lives.
        state.apply(&target(Some(0), Some(200.0), Some(1.0), None), 150);
        assert_eq!(run(&state, 150, 4, 5, 0.0, &coin), 4);
        assert_eq!(state.take_report(150), None, "interval 20 s not over yet");
        assert_eq!(state.take_report(170), Some(Counts { requests: 4, sampled: 4, borrowed: 0 }));
        assert_eq!(state.take_report(300), None, "nothing to report without requests");
    }

    #[test]
    fn partial_targets_keep_other_fields() {
        let (state, coin) = (RuleState::default(), Coin::seeded(3));
        state.apply(&target(Some(2), Some(1000.0), None, None), 10);
        assert_eq!(run(&state, 10, 5, 0, 0.0, &coin), 2, "the rule's rate stays without a target rate");
        state.apply(&target(None, None, Some(1.0), None), 11);
        assert_eq!(run(&state, 11, 5, 0, 0.0, &coin), 5, "quota kept, rate updated");
        state.apply(&target(Some(-4), Some(f64::NAN), Some(7.0), Some(-1)), 12);
        assert_eq!(run(&state, 12, 5, 0, 0.0, &coin), 5, "negative quota is zero; bad rate ignored");
    }

    #[test]
    fn restore_keeps_reports_exact() {
        let (state, coin) = (RuleState::default(), Coin::seeded(4));
        run(&state, 50, 7, 1, 0.0, &coin);
        let counts = state.take_report(50).unwrap();
        run(&state, 50, 2, 1, 0.0, &coin);
        state.restore(counts);
        assert_eq!(state.take_report(50), Some(Counts { requests: 9, sampled: 1, borrowed: 1 }));
    }
}
