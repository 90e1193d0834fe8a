//! The two halves of every sampling decision: a per-second reservoir (the first N requests of
//! each second), then a coin weighted by the rule's rate; and the clock both read.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::id::fast_random_u64;

/// Where sampling reads the time, in whole seconds since the Unix epoch.
///
/// Reservoirs refill per second and quotas expire at a second, so nothing finer is needed.
/// Any `Fn() -> u64` is a clock, which lets tests drive time by hand:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use xray_core::sampling::{Clock, LocalSampler, Sampler, SamplingRequest};
///
/// let now = Arc::new(AtomicU64::new(1_700_000_000));
/// let clock = { let now = now.clone(); move || now.load(Ordering::Relaxed) };
/// let sampler = LocalSampler::default().with_clock(clock).with_seed(7);
/// let req = SamplingRequest::default();
/// assert!(sampler.should_sample(&req).sampled); // the reservoir's one request of this second
/// now.fetch_add(1, Ordering::Relaxed);
/// assert!(sampler.should_sample(&req).sampled); // and of the next one
/// ```
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now_secs(&self) -> u64;
}

impl std::fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The system's wall clock, read coarsely (a few nanoseconds: sampling needs whole seconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now_secs(&self) -> u64 {
        u64::from(crate::time::epoch_seconds())
    }
}

impl<F> Clock for F
where
    F: Fn() -> u64 + Send + Sync + 'static,
{
    fn now_secs(&self) -> u64 {
        self()
    }
}

/// Counts the requests taken in the current second, lock-free.
///
/// The state is one word: the second in the high 32 bits, the count taken in it in the low 32,
/// so a new second resets the count in the same compare-and-swap that takes the first request.
#[derive(Debug, Default)]
pub(crate) struct Reservoir {
    state: AtomicU64,
}

impl Reservoir {
    /// Takes one of `capacity` requests of second `now`; `false` when this second's are gone.
    #[inline]
    pub(crate) fn take(&self, now: u64, capacity: u32) -> bool {
        if capacity == 0 {
            return false;
        }
        let second = now & 0xffff_ffff;
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            let used = if current >> 32 == second { current & 0xffff_ffff } else { 0 };
            if used >= u64::from(capacity) {
                return false;
            }
            let next = (second << 32) | (used + 1);
            match self.state.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }
}

/// The weighted coin thrown once the reservoir is empty.
#[derive(Debug)]
pub(crate) enum Coin {
    /// The per-thread generator also used for ids: fast, no shared state.
    ThreadLocal,
    /// A seeded SplitMix64 sequence, for reproducible tests.
    Seeded(AtomicU64),
}

impl Coin {
    pub(crate) fn seeded(seed: u64) -> Self {
        Self::Seeded(AtomicU64::new(seed))
    }

    /// `true` with probability `rate` (0 never, 1 always).
    #[inline]
    pub(crate) fn flip(&self, rate: f64) -> bool {
        if rate >= 1.0 {
            return true;
        }
        if rate.is_nan() || rate <= 0.0 {
            return false;
        }
        let bits = match self {
            Self::ThreadLocal => fast_random_u64(),
            Self::Seeded(state) => {
                let mut z =
                    state.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed).wrapping_add(0x9e37_79b9_7f4a_7c15);
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            }
        };
        // 53 random bits give a uniform double in [0, 1).
        ((bits >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservoir_refills_each_second() {
        let r = Reservoir::default();
        let taken = |now, cap| (0..10).filter(|_| r.take(now, cap)).count();
        assert_eq!(taken(100, 3), 3);
        assert_eq!(taken(100, 3), 0, "the second's three are gone");
        assert_eq!(taken(101, 3), 3, "a new second refills");
        assert_eq!(taken(101, 5), 2, "a larger capacity within the second gives the difference");
        assert_eq!(taken(102, 0), 0, "capacity zero takes nothing");
        assert_eq!(taken(103, 1), 1);
        // A clock that steps back is just another second.
        assert_eq!(taken(99, 2), 2);
    }

    #[test]
    fn reservoir_is_exact_under_contention() {
        let r = std::sync::Arc::new(Reservoir::default());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || (0..1000).filter(|_| r.take(7, 100)).count())
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 100);
    }

    #[test]
    fn seeded_coin_follows_the_rate() {
        // 100 000 throws at 10 %: the standard deviation is about 95, so ±600 is over 6 sigma.
        for (seed, rate) in [(1u64, 0.1), (42, 0.5), (7, 0.01)] {
            let coin = Coin::seeded(seed);
            let heads = (0..100_000).filter(|_| coin.flip(rate)).count() as f64;
            let expected = 100_000.0 * rate;
            let sigma = (100_000.0 * rate * (1.0 - rate)).sqrt();
            assert!((heads - expected).abs() < 6.0 * sigma, "seed {seed} rate {rate}: {heads} heads");
        }
        let coin = Coin::seeded(3);
        assert!((0..1000).all(|_| coin.flip(1.0)));
        assert!((0..1000).all(|_| !coin.flip(0.0)));
        assert!(!coin.flip(f64::NAN));
    }

    #[test]
    fn seeded_coin_is_reproducible() {
        let run = |seed| {
            let coin = Coin::seeded(seed);
            (0..64).map(|_| coin.flip(0.5)).collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn thread_local_coin_follows_the_rate() {
        let coin = Coin::ThreadLocal;
        let heads = (0..100_000).filter(|_| coin.flip(0.25)).count() as f64;
        // sigma ≈ 137; 6 sigma ≈ 822.
        assert!((heads - 25_000.0).abs() < 822.0, "{heads}");
    }
}
