//! The local default rule: one request per second, then 5 % of the rest.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Sampler, SamplingDecision, SamplingRequest};
use crate::id::fast_random_u64;
use crate::time::Timestamp;

/// Local sampling with X-Ray's default rule: a reservoir of `fixed_target` requests per
/// second, then `rate` of the rest.
#[derive(Debug)]
pub struct LocalSampler {
    fixed_target: u64,
    rate: f64,
    /// The second and the count taken in it, packed as `second << 20 | count`.
    reservoir: AtomicU64,
    rule_name: Arc<str>,
}

impl Default for LocalSampler {
    fn default() -> Self {
        Self { fixed_target: 1, rate: 0.05, reservoir: AtomicU64::new(0), rule_name: Arc::from("Default") }
    }
}

impl LocalSampler {
    fn take_from_reservoir(&self) -> bool {
        let second = Timestamp::now().as_micros() / 1_000_000;
        let mut cur = self.reservoir.load(Ordering::Relaxed);
        loop {
            let (s, n) = (cur >> 20, cur & 0xf_ffff);
            let next = if s == second {
                if n >= self.fixed_target {
                    return false;
                }
                (s << 20) | (n + 1)
            } else {
                (second << 20) | 1
            };
            if self.fixed_target == 0 {
                return false;
            }
            match self.reservoir.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }
}

impl Sampler for LocalSampler {
    fn should_sample(&self, _: &SamplingRequest<'_>) -> SamplingDecision {
        let sampled =
            self.take_from_reservoir() || ((fast_random_u64() >> 11) as f64 / (1u64 << 53) as f64) < self.rate;
        SamplingDecision { sampled, rule_name: sampled.then(|| self.rule_name.clone()) }
    }
}
