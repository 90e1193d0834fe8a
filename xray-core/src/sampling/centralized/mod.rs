//! [`CentralizedSampler`]: sampling rules and quotas from the X-Ray service, through the
//! daemon's TCP proxy, with local rules as the fallback.
//!
//! How a decision is made:
//! 1. The rules fetched from `POST /GetSamplingRules` (every 5 minutes, all `NextToken` pages;
//!    after a failure again in 10 s), ordered by
//!    priority then name with `Default` last, are matched against the request's service name,
//!    service type (the segment's `origin`), host, method and path; a field the request lacks
//!    matches any pattern (see [the module docs](super)). Only rules this SDK can
//!    evaluate apply: version 1, `ResourceARN` `*`, no `Attributes`. At most 100 of them are
//!    kept besides `Default` (X-Ray allows an account 25), the lowest priorities dropped with a
//!    logged warning; a record that is not a well-formed rule is skipped on its own. The new
//!    rule set is built without a lock and swapped in, so decisions never wait for a rebuild.
//! 2. The matching rule samples its `ReservoirQuota` requests per second while the quota lives
//!    (until `ReservoirQuotaTTL`); without a live quota it borrows one request per second (if the
//!    rule has a reservoir); then its `FixedRate`.
//! 3. Every 10 s the counts of the rules that saw requests (and whose `Interval` is over) go to
//!    `POST /SamplingTargets` (`RuleName`, `ClientID`, `RequestCount`, `SampledCount`,
//!    `BorrowCount`, `Timestamp`), which answers with new quotas and tells when rules changed
//!    (`LastRuleModification`; they are then fetched again at once).
//! 4. Before the first rules arrive, when no rule matches, and when the rules are more than an
//!    hour old, the local fallback rules decide.
//!
//! The decision never waits for the network. The polling task starts on the Tokio runtime of
//! the first decision, ends when the sampler is dropped, and a daemon that is down or answers
//! garbage costs a rate-limited log line.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use super::local::LocalSampler;
use super::reservoir::{Clock, Coin, SystemClock};
use super::rules::LocalRules;
use super::{Sampler, SamplingDecision, SamplingRequest};
use crate::id::fast_random_u64;

mod api;
mod client;
mod error;
mod poller;
mod rule;
mod target;

pub use error::SamplingError;
pub use poller::TargetsUpdate;

use client::DaemonClient;
use poller::Control;
use rule::RuleCache;

/// This process's `ClientID` in statistics: 24 hex digits, chosen once.
fn client_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("{:016x}{:08x}", fast_random_u64(), fast_random_u64() as u32))
}

/// State shared by the sampler and its polling task (which holds it weakly).
pub(crate) struct Inner {
    cache: RwLock<RuleCache>,
    fallback: LocalSampler,
    clock: Arc<dyn Clock>,
    coin: Coin,
    client: DaemonClient,
    control: Arc<Control>,
    polling: bool,
    rules_interval: Duration,
    targets_interval: Duration,
}

impl Inner {
    fn read_cache(&self) -> RwLockReadGuard<'_, RuleCache> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.control.shut_down();
    }
}

/// Samples by the rules and quotas X-Ray hands out through the daemon, falling back to local
/// rules. The recorder's default when the SDK is enabled.
///
/// ```no_run
/// use xray_core::sampling::{CentralizedSampler, LocalRules};
/// use xray_core::Recorder;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sampler = CentralizedSampler::builder("127.0.0.1:2000".parse()?)
///     .with_fallback_rules(LocalRules::from_path("sampling-rules.json")?)
///     .build();
/// let recorder = Recorder::builder().with_sampler(sampler).build()?;
/// # Ok(()) }
/// ```
pub struct CentralizedSampler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CentralizedSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cache = self.inner.read_cache();
        f.debug_struct("CentralizedSampler")
            .field("daemon", &self.inner.client)
            .field("rules", &cache.rules.iter().map(|r| &*r.name).collect::<Vec<_>>())
            .field("fetched_at", &cache.fetched_at)
            .field("polling", &self.is_polling())
            .finish_non_exhaustive()
    }
}

impl CentralizedSampler {
    /// A sampler asking the daemon at `daemon` (its TCP address), with X-Ray's default local
    /// rule as the fallback.
    pub fn new(daemon: SocketAddr) -> Self {
        Self::builder(daemon).build()
    }

    /// Configures a sampler asking the daemon at `daemon` (its TCP address).
    pub fn builder(daemon: SocketAddr) -> CentralizedSamplerBuilder {
        CentralizedSamplerBuilder {
            daemon,
            fallback: LocalRules::default(),
            clock: Arc::new(SystemClock),
            seed: None,
            rules_interval: Duration::from_secs(300),
            targets_interval: Duration::from_secs(10),
            request_timeout: Duration::from_secs(2),
            polling: true,
        }
    }

    /// Fetches the rules now (every page) and uses them; returns how many apply.
    ///
    /// The polling task does this on its own; call it to have rules before the first request.
    pub async fn refresh_rules(&self) -> Result<usize, SamplingError> {
        self.inner.refresh_rules().await
    }

    /// Reports the statistics of rules whose reporting interval is over and applies the quotas
    /// X-Ray answers with. The polling task does this every 10 s.
    pub async fn refresh_targets(&self) -> Result<TargetsUpdate, SamplingError> {
        self.inner.refresh_targets().await
    }

    /// Whether the polling task is running.
    pub fn is_polling(&self) -> bool {
        self.inner.control.is_running()
    }

    /// This process's `ClientID` in the statistics it reports (24 hex digits).
    pub fn client_id(&self) -> &'static str {
        client_id()
    }

    /// Starts the polling task on the current Tokio runtime if it is not running. Without a
    /// runtime nothing happens, and the next decision tries again.
    #[inline]
    fn ensure_polling(&self) {
        if self.inner.polling && !self.inner.control.is_running() {
            poller::start(&self.inner);
        }
    }
}

impl Sampler for CentralizedSampler {
    fn should_sample(&self, request: &SamplingRequest<'_>) -> SamplingDecision {
        self.ensure_polling();
        let now = self.inner.clock.now_secs();
        {
            let cache = self.inner.read_cache();
            if cache.is_fresh(now)
                && let Some(rule) = cache.find(request)
            {
                let sampled = rule.state.decide(now, rule.reservoir_size, rule.fixed_rate, &self.inner.coin);
                return SamplingDecision { sampled, rule_name: sampled.then(|| rule.name.clone()) };
            }
        }
        self.inner.fallback.decide_at(request, now)
    }
}

/// Configures a [`CentralizedSampler`].
#[must_use]
pub struct CentralizedSamplerBuilder {
    daemon: SocketAddr,
    fallback: LocalRules,
    clock: Arc<dyn Clock>,
    seed: Option<u64>,
    rules_interval: Duration,
    targets_interval: Duration,
    request_timeout: Duration,
    polling: bool,
}

impl std::fmt::Debug for CentralizedSamplerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CentralizedSamplerBuilder")
            .field("daemon", &self.daemon)
            .field("rules_interval", &self.rules_interval)
            .field("targets_interval", &self.targets_interval)
            .finish_non_exhaustive()
    }
}

impl CentralizedSamplerBuilder {
    /// The local rules used until X-Ray's rules arrive, when none of them matches and when
    /// they are stale. Defaults to X-Ray's default rule (one per second, then 5 %).
    pub fn with_fallback_rules(mut self, rules: LocalRules) -> Self {
        self.fallback = rules;
        self
    }

    /// Where the time comes from, for reservoirs, quota expiry and statistics. Defaults to
    /// [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Makes the rates' coin a seeded sequence, for reproducible tests. Defaults to a fast
    /// per-thread generator.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// How often rules are fetched (plus up to 2 % jitter). Defaults to 300 s.
    pub fn with_rules_interval(mut self, interval: Duration) -> Self {
        self.rules_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How often statistics are reported and quotas fetched (plus up to 1 % jitter). Defaults
    /// to 10 s.
    pub fn with_targets_interval(mut self, interval: Duration) -> Self {
        self.targets_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The longest a call to the daemon may take. Defaults to 2 s.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Whether a background task polls the daemon (started by the first decision on a Tokio
    /// runtime). Off, rules and quotas change only through
    /// [`refresh_rules`](CentralizedSampler::refresh_rules) and
    /// [`refresh_targets`](CentralizedSampler::refresh_targets). Defaults to on.
    pub fn with_background_polling(mut self, enabled: bool) -> Self {
        self.polling = enabled;
        self
    }

    /// Builds the sampler; nothing touches the network until the first decision.
    pub fn build(self) -> CentralizedSampler {
        let coin = self.seed.map_or(Coin::ThreadLocal, Coin::seeded);
        // The fallback draws from its own sequence, so seeded tests stay reproducible.
        let fallback = LocalSampler::new(self.fallback).with_shared_clock(self.clock.clone());
        let fallback = match self.seed {
            Some(seed) => fallback.with_seed(seed ^ 0x5eed),
            None => fallback,
        };
        CentralizedSampler {
            inner: Arc::new(Inner {
                cache: RwLock::new(RuleCache::default()),
                fallback,
                clock: self.clock,
                coin,
                client: DaemonClient::new(self.daemon, self.request_timeout),
                control: Arc::new(Control::default()),
                polling: self.polling,
                rules_interval: self.rules_interval,
                targets_interval: self.targets_interval,
            }),
        }
    }
}

/// The recorder's default sampler: centralized (with `rules` as the fallback) when the SDK is
/// enabled and `centralized` is set, else local `rules`.
pub(crate) fn default_sampler(
    daemon: SocketAddr,
    enabled: bool,
    centralized: bool,
    rules: LocalRules,
) -> Arc<dyn Sampler> {
    if enabled && centralized {
        Arc::new(CentralizedSampler::builder(daemon).with_fallback_rules(rules).build())
    } else {
        Arc::new(LocalSampler::new(rules))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_is_24_hex_digits_for_the_whole_process() {
        let id = client_id();
        assert_eq!(id.len(), 24);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
        let a = CentralizedSampler::new("127.0.0.1:9".parse().unwrap());
        let b = CentralizedSampler::new("127.0.0.1:9".parse().unwrap());
        assert_eq!(a.client_id(), b.client_id());
    }

    #[test]
    fn without_a_runtime_decides_locally_and_starts_nothing() {
        let sampler = CentralizedSampler::builder("127.0.0.1:9".parse().unwrap())
            .with_fallback_rules(LocalRules::builder().with_default(0, 1.0).build().unwrap())
            .build();
        let d = sampler.should_sample(&SamplingRequest::default());
        assert_eq!(d, SamplingDecision { sampled: true, rule_name: Some(Arc::from("Default")) });
        assert!(!sampler.is_polling());
    }
}
