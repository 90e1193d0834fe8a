//! Pacing the sender thread so that a burst never overflows the daemon's receive buffer.
//!
//! The kernel drops a datagram silently when the receiving socket's buffer is full, and it
//! charges a datagram there for much more than its payload: on Linux about 830 bytes for a
//! 100-byte datagram, 2,300 for 700 to 1,500 bytes, 71,000 for 60,000 bytes. A daemon with
//! the default 212,992-byte buffer therefore holds only about 90 datagrams of 700 bytes. The
//! [`Pacer`] is a token bucket over that charge ([`charge`]): the sender takes `budget`
//! charged bytes per `interval` at most, sleeping (its own thread only) when it runs ahead.

use std::time::{Duration, Instant};

/// What the receiving kernel charges a datagram of `len` bytes against its buffer, rounded
/// up from Linux's accounting (an allocation rounded to a power of two plus its bookkeeping
/// for small datagrams, a quarter more for large ones).
pub(crate) fn charge(len: usize) -> u64 {
    let charged = if len <= 4096 { (len + 640).next_power_of_two() + 384 } else { len + len / 4 + 1024 };
    charged as u64
}

/// The default budget, the most one burst may charge: under half the default Linux receive
/// buffer (212,992 bytes; the X-Ray daemon does not set its own), so that a burst fits while
/// the daemon is still reading the previous one.
pub(crate) const DEFAULT_BUDGET: usize = 96 << 10;

/// The default pacing interval: with [`DEFAULT_BUDGET`], about 190 MiB a second as charged,
/// some 80,000 documents of 700 bytes, above one core's worth of fully sampled requests (see
/// [`UdpEmitterBuilder::with_send_budget`](crate::UdpEmitterBuilder::with_send_budget)).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_micros(500);

/// A receiver that drops datagrams slows the pace by halves down to this fraction of the
/// configured rate.
const MAX_SLOWDOWN: u32 = 64;

/// After this long without a receiver's drop, a slowed pace doubles again (up to the
/// configured rate).
const RECOVER_AFTER: Duration = Duration::from_secs(1);

/// A token bucket of charged bytes.
#[derive(Debug)]
pub(crate) struct Pacer {
    budget: u64,
    /// The configured interval, and the one in force (longer after a receiver dropped).
    base: Duration,
    interval: Duration,
    tokens: u64,
    refilled: Instant,
    /// When the pace last changed for what the receiver did.
    adapted: Instant,
}

impl Pacer {
    /// At most `budget` charged bytes per `interval`; `None` when either is zero (no pacing).
    pub(crate) fn new(budget: usize, interval: Duration) -> Option<Self> {
        (budget > 0 && !interval.is_zero()).then(|| Self {
            budget: budget as u64,
            base: interval,
            interval,
            tokens: budget as u64,
            refilled: Instant::now(),
            adapted: Instant::now(),
        })
    }

    /// Follows what the receiver did since the last look: after drops the rate halves (down
    /// to 1/[`MAX_SLOWDOWN`] of the configured one); after [`RECOVER_AFTER`] without any, a
    /// slowed rate doubles again. Returns the interval in force.
    pub(crate) fn adapt(&mut self, receiver_dropped: bool) -> Duration {
        if receiver_dropped {
            self.interval = (self.interval * 2).min(self.base * MAX_SLOWDOWN);
            self.adapted = Instant::now();
        } else if self.interval > self.base && self.adapted.elapsed() >= RECOVER_AFTER {
            self.interval = (self.interval / 2).max(self.base);
            self.adapted = Instant::now();
        }
        self.interval
    }

    /// The most one send may charge: a whole budget.
    pub(crate) fn budget(&self) -> u64 {
        self.budget
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled);
        let earned = (elapsed.as_nanos() * u128::from(self.budget) / self.interval.as_nanos().max(1)) as u64;
        if earned > 0 {
            self.tokens = (self.tokens + earned).min(self.budget);
            self.refilled = now;
        }
    }

    /// Waits until `cost` charged bytes may go out and takes them. A cost above the budget
    /// waits for a full bucket and empties it.
    pub(crate) fn take(&mut self, cost: u64) {
        let cost = cost.min(self.budget);
        loop {
            self.refill();
            if self.tokens >= cost {
                self.tokens -= cost;
                return;
            }
            let missing = cost - self.tokens;
            let wait = self.interval.as_nanos() * u128::from(missing) / u128::from(self.budget);
            std::thread::sleep(Duration::from_nanos(wait.max(20_000) as u64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_follow_linux_accounting_from_above() {
        // Measured on Linux loopback with the default buffer: (payload, bytes charged).
        for (len, measured) in
            [(100, 832), (300, 1_283), (700, 2_315), (1_500, 2_315), (4_000, 8_519), (16_000, 17_749), (60_000, 70_997)]
        {
            let c = charge(len);
            assert!(c >= measured && c <= 2 * measured + 1_024, "{len}: {c} against {measured}");
        }
    }

    #[test]
    fn a_burst_takes_at_most_the_budget_then_the_rate() {
        let mut p = Pacer::new(10_000, Duration::from_millis(20)).unwrap();
        let start = Instant::now();
        for _ in 0..5 {
            p.take(5_000);
        }
        // 25,000 bytes: a full bucket of 10,000 at once, the other 15,000 at 10,000 per 20 ms.
        assert!(start.elapsed() >= Duration::from_millis(29), "{:?}", start.elapsed());
        assert!(Pacer::new(0, Duration::from_millis(1)).is_none());
    }

    #[test]
    fn drops_at_the_receiver_slow_the_pace_within_bounds() {
        let base = Duration::from_micros(500);
        let mut p = Pacer::new(10_000, base).unwrap();
        assert_eq!(p.adapt(false), base, "no faster than configured");
        assert_eq!(p.adapt(true), base * 2);
        assert_eq!(p.adapt(false), base * 2, "recovery waits");
        for _ in 0..20 {
            p.adapt(true);
        }
        assert_eq!(p.interval, base * MAX_SLOWDOWN);
        p.adapted -= RECOVER_AFTER;
        assert_eq!(p.adapt(false), base * MAX_SLOWDOWN / 2);
    }
}
