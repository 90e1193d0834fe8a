//! [`LocalSampler`]: decisions by local rules, with no network.

use std::path::Path;
use std::sync::Arc;

use super::reservoir::{Clock, Coin, Reservoir, SystemClock};
use super::rules::{LocalRules, RulesError};
use super::wildcard::Pattern;
use super::{Sampler, SamplingDecision, SamplingRequest};

/// A rule compiled for matching, with its reservoir.
#[derive(Debug)]
struct CompiledRule {
    name: Arc<str>,
    host: Pattern,
    method: Pattern,
    path: Pattern,
    fixed_target: u32,
    rate: f64,
    reservoir: Reservoir,
}

impl CompiledRule {
    #[inline]
    fn matches(&self, request: &SamplingRequest<'_>) -> bool {
        // The path tells rules apart most often, so it goes first.
        self.path.matches_opt(request.url_path)
            && self.method.matches_opt(request.method)
            && self.host.matches_opt(request.host)
    }
}

/// Samples by [`LocalRules`]: the first custom rule whose host, method and path match decides
/// (each second its `fixed_target` requests, then `rate` of the rest); otherwise the default
/// rule. The deciding rule's name (its description, `rules[i]` without one, or `Default`) is
/// recorded as `aws.xray.sampling_rule_name` on sampled segments.
///
/// A decision allocates nothing and takes no lock.
///
/// ```
/// use xray_core::sampling::{LocalRule, LocalRules, LocalSampler, Sampler, SamplingRequest};
/// let rules = LocalRules::builder()
///     .with_rule(LocalRule::new(0, 0.0).with_description("health").with_url_path("/health"))
///     .with_default(1, 0.1)
///     .build()
///     .unwrap();
/// let sampler = LocalSampler::new(rules);
/// let health = SamplingRequest { url_path: Some("/health"), method: Some("GET"), ..Default::default() };
/// assert!(!sampler.should_sample(&health).sampled);
/// ```
#[derive(Debug)]
pub struct LocalSampler {
    rules: Box<[CompiledRule]>,
    default: CompiledRule,
    source: LocalRules,
    clock: Arc<dyn Clock>,
    coin: Coin,
}

impl Default for LocalSampler {
    /// X-Ray's default rule: one request per second, then 5 %.
    fn default() -> Self {
        Self::new(LocalRules::default())
    }
}

impl LocalSampler {
    /// A sampler deciding by `rules`.
    pub fn new(rules: LocalRules) -> Self {
        let compiled = rules
            .rules()
            .iter()
            .enumerate()
            .map(|(i, rule)| CompiledRule {
                name: match &rule.description {
                    Some(d) => Arc::from(d.as_str()),
                    None => Arc::from(format!("rules[{i}]")),
                },
                host: Pattern::new(&rule.host),
                method: Pattern::new(&rule.http_method),
                path: Pattern::new(&rule.url_path),
                fixed_target: rule.fixed_target,
                rate: rule.rate,
                reservoir: Reservoir::default(),
            })
            .collect();
        let default = rules.default_rule();
        Self {
            rules: compiled,
            default: CompiledRule {
                name: Arc::from("Default"),
                host: Pattern::Any,
                method: Pattern::Any,
                path: Pattern::Any,
                fixed_target: default.fixed_target,
                rate: default.rate,
                reservoir: Reservoir::default(),
            },
            source: rules,
            clock: Arc::new(SystemClock),
            coin: Coin::ThreadLocal,
        }
    }

    /// A sampler deciding by the rules file text `json` (versions 1 and 2).
    pub fn from_json(json: &str) -> Result<Self, RulesError> {
        LocalRules::from_json(json).map(Self::new)
    }

    /// A sampler deciding by the rules file at `path`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, RulesError> {
        LocalRules::from_path(path).map(Self::new)
    }

    /// Where the time comes from (tests step it by hand). Defaults to [`SystemClock`].
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        self.with_shared_clock(Arc::new(clock))
    }

    pub(crate) fn with_shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Makes the rate's coin a seeded sequence, for reproducible tests. Defaults to a fast
    /// per-thread generator seeded from the operating system.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.coin = Coin::seeded(seed);
        self
    }

    /// The rules this sampler decides by.
    pub fn rules(&self) -> &LocalRules {
        &self.source
    }

    /// Decides at second `now` (the centralized sampler's fallback passes its own reading).
    #[inline]
    pub(crate) fn decide_at(&self, request: &SamplingRequest<'_>, now: u64) -> SamplingDecision {
        let rule = self.rules.iter().find(|rule| rule.matches(request)).unwrap_or(&self.default);
        let sampled = rule.reservoir.take(now, rule.fixed_target) || self.coin.flip(rule.rate);
        SamplingDecision { sampled, rule_name: sampled.then(|| rule.name.clone()) }
    }
}

impl Sampler for LocalSampler {
    #[inline]
    fn should_sample(&self, request: &SamplingRequest<'_>) -> SamplingDecision {
        self.decide_at(request, self.clock.now_secs())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::sampling::LocalRule;

    fn req<'a>(host: Option<&'a str>, method: Option<&'a str>, path: Option<&'a str>) -> SamplingRequest<'a> {
        SamplingRequest { host, method, url_path: path, ..Default::default() }
    }

    fn manual_clock(start: u64) -> (Arc<AtomicU64>, impl Clock) {
        let now = Arc::new(AtomicU64::new(start));
        let reader = now.clone();
        (now, move || reader.load(Ordering::Relaxed))
    }

    /// Rules whose reservoirs always sample and whose rates never do, so a sampled decision
    /// names the rule that matched.
    fn always(rules: &[LocalRule]) -> LocalSampler {
        let mut builder = LocalRules::builder().with_default(u32::MAX, 0.0);
        for rule in rules {
            builder = builder.with_rule(LocalRule { fixed_target: u32::MAX, rate: 0.0, ..rule.clone() });
        }
        LocalSampler::new(builder.build().unwrap())
    }

    fn name(sampler: &LocalSampler, request: SamplingRequest<'_>) -> String {
        let d = sampler.should_sample(&request);
        assert!(d.sampled);
        d.rule_name.unwrap().to_string()
    }

    #[test]
    fn first_match_in_file_order() {
        let sampler = always(&[
            LocalRule::new(0, 0.0).with_description("health").with_url_path("/health"),
            LocalRule::new(0, 0.0).with_description("api-get").with_http_method("GET").with_url_path("/api/*"),
            LocalRule::new(0, 0.0).with_description("api").with_url_path("/api/*"),
            LocalRule::new(0, 0.0).with_host("admin.?.example.com"),
            LocalRule::new(0, 0.0).with_description("shadowed").with_url_path("/api/users"),
        ]);
        let cases = [
            (req(Some("x"), Some("GET"), Some("/health")), "health"),
            (req(Some("x"), Some("get"), Some("/API/users")), "api-get"),
            (req(Some("x"), Some("POST"), Some("/api/users")), "api"),
            (req(Some("ADMIN.b.example.com"), Some("GET"), Some("/")), "rules[3]"),
            (req(Some("admin.bb.example.com"), Some("GET"), Some("/")), "Default"),
            (req(Some("x"), Some("GET"), Some("/other")), "Default"),
            // A field the request lacks matches every pattern (Go, Python and Node SDKs): the
            // first rule whose present fields match decides.
            (req(Some("admin.b.example.com"), None, None), "health"),
            (req(None, None, None), "health"),
            (req(None, None, Some("/api/users")), "api-get"),
            (req(None, Some("POST"), Some("/api/users")), "api"),
            (req(Some(""), Some(""), Some("/other")), "rules[3]"),
            (req(Some("other.example.com"), None, Some("/other")), "Default"),
        ];
        for (request, want) in cases {
            assert_eq!(name(&sampler, request), want, "{request:?}");
        }
    }

    #[test]
    fn reservoir_per_second_then_rate() {
        let (now, clock) = manual_clock(1_000);
        let rules = LocalRules::builder()
            .with_rule(LocalRule::new(3, 0.0).with_description("three").with_url_path("/three"))
            .with_rule(LocalRule::new(0, 1.0).with_description("all").with_url_path("/all"))
            .with_default(1, 0.0)
            .build()
            .unwrap();
        let sampler = LocalSampler::new(rules).with_clock(clock).with_seed(1);
        let count = |path| (0..20).filter(|_| sampler.should_sample(&req(None, None, Some(path))).sampled).count();
        assert_eq!(count("/three"), 3);
        assert_eq!(count("/three"), 0, "this second's reservoir is used up");
        assert_eq!(count("/other"), 1, "the default rule has its own reservoir");
        assert_eq!(count("/all"), 20, "rate 1 samples everything");
        now.fetch_add(1, Ordering::Relaxed);
        assert_eq!(count("/three"), 3, "the next second refills");
        assert_eq!(count("/other"), 1);
        let unsampled = sampler.should_sample(&req(None, None, Some("/three")));
        assert_eq!(unsampled, SamplingDecision { sampled: false, rule_name: None });
    }

    #[test]
    fn rate_within_statistical_bounds() {
        // The classic setup: 1 % of health checks, 10 % of the rest; no reservoirs.
        let rules = LocalRules::builder()
            .with_rule(LocalRule::new(0, 0.01).with_url_path("/health"))
            .with_default(0, 0.1)
            .build()
            .unwrap();
        let sampler = LocalSampler::new(rules).with_clock(|| 5).with_seed(2024);
        let n = 50_000usize;
        let sampled = |path| (0..n).filter(|_| sampler.should_sample(&req(None, None, Some(path))).sampled).count();
        let (health, other) = (sampled("/health") as f64, sampled("/") as f64);
        // Six standard deviations: sqrt(n·p·(1-p)) is 22 and 67.
        assert!((health - 500.0).abs() < 6.0 * 22.3, "{health}");
        assert!((other - 5_000.0).abs() < 6.0 * 67.1, "{other}");
        // The same seed gives the same decisions.
        let again = LocalSampler::new(sampler.rules().clone()).with_clock(|| 5).with_seed(2024);
        let first: Vec<bool> = (0..100).map(|_| again.should_sample(&req(None, None, Some("/"))).sampled).collect();
        let replay = LocalSampler::new(sampler.rules().clone()).with_clock(|| 5).with_seed(2024);
        let second: Vec<bool> = (0..100).map(|_| replay.should_sample(&req(None, None, Some("/"))).sampled).collect();
        assert_eq!(first, second);
    }

    #[test]
    fn default_is_one_per_second_then_five_percent() {
        let sampler = LocalSampler::default().with_clock(|| 77).with_seed(5);
        let first = sampler.should_sample(&SamplingRequest::default());
        assert_eq!(first, SamplingDecision { sampled: true, rule_name: Some(Arc::from("Default")) });
        let n = 40_000;
        let rest = (0..n).filter(|_| sampler.should_sample(&SamplingRequest::default()).sampled).count() as f64;
        assert!((rest - 2_000.0).abs() < 6.0 * 43.6, "{rest}");
    }

    #[test]
    fn from_json_and_path() {
        let sampler = LocalSampler::from_json(
            r#"{"version":1,"rules":[{"description":"v1","service_name":"*.internal","http_method":"*","url_path":"*",
                "fixed_target":1,"rate":0}],"default":{"fixed_target":1,"rate":0}}"#,
        )
        .unwrap()
        .with_clock(|| 9);
        assert_eq!(name(&sampler, req(Some("db.internal"), Some("GET"), Some("/"))), "v1");
        assert!(LocalSampler::from_json(r#"{"version":2}"#).is_err());
        assert!(LocalSampler::from_path("/nonexistent/rules.json").is_err());
    }
}
