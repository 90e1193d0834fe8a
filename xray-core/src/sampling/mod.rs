//! Sampling: which requests are recorded.
//!
//! The recorder consults its [`Sampler`] only when the incoming header carries no decision
//! (absent or `Sampled=?`); a caller's `Sampled=1` or `Sampled=0` is always obeyed.
//!
//! Two samplers implement X-Ray's rules:
//! - [`LocalSampler`] decides by [`LocalRules`]: a rules file (versions 1 and 2), JSON text or
//!   rules built in code. Custom rules match host, method and path with `*` and `?`, ignoring
//!   case; the first match in file order decides with its per-second reservoir
//!   (`fixed_target`), then its `rate`; the default rule takes the rest.
//! - [`CentralizedSampler`] decides by the rules and quotas the X-Ray service hands out
//!   through the daemon, with local rules as the fallback. It is the recorder's default when
//!   the SDK is enabled (see [`RecorderBuilder`](crate::RecorderBuilder)).
//!
//! A request field that is absent or empty (no `Host` header, no method or path for work that
//! is not an HTTP request, no service type on a host without plugins) matches every pattern of
//! a rule, local or centralized, so the rule decides by the fields the request has. The Go,
//! Python and Node SDKs do the same; the Java SDK differs for centralized rules, where an
//! absent field counts as the empty string and so matches only `*` (its local rules match
//! absent fields as here).
//!
//! The rule that decided is recorded in the segment as `aws.xray.sampling_rule_name`.
//! Decisions allocate nothing and never wait for the network; local decisions take no lock,
//! centralized ones a shared read lock on the rule set.
//!
//! Ten percent of normal traffic and one percent of health checks, as a rules file (the
//! decision is made when a request begins, before any error is known, so rules select by
//! route, not by outcome):
//!
//! ```
//! use xray_core::sampling::{LocalSampler, Sampler, SamplingRequest};
//! let sampler = LocalSampler::from_json(r#"{
//!   "version": 2,
//!   "rules": [{"description": "health", "host": "*", "http_method": "GET",
//!              "url_path": "/health*", "fixed_target": 0, "rate": 0.01}],
//!   "default": {"fixed_target": 1, "rate": 0.1}
//! }"#).unwrap();
//! let req = SamplingRequest { method: Some("GET"), url_path: Some("/orders"), ..Default::default() };
//! let first = sampler.should_sample(&req); // the default rule's one request of this second
//! assert!(first.sampled);
//! assert_eq!(first.rule_name.as_deref(), Some("Default"));
//! ```

use std::sync::Arc;

mod centralized;
mod file;
mod local;
mod reservoir;
mod rules;
mod wildcard;

pub(crate) use centralized::default_sampler;
pub use centralized::{CentralizedSampler, CentralizedSamplerBuilder, SamplingError, TargetsUpdate};
pub use local::LocalSampler;
pub use reservoir::{Clock, SystemClock};
pub use rules::{DefaultRule, LocalRule, LocalRules, LocalRulesBuilder, RuleLocation, RulesError};
pub use wildcard::Wildcard;

/// What a sampler sees of a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct SamplingRequest<'a> {
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// The HTTP method.
    pub method: Option<&'a str>,
    /// The URL path.
    pub url_path: Option<&'a str>,
    /// The segment's service name.
    pub service_name: Option<&'a str>,
    /// The service type (the segment's `origin`, such as `AWS::EC2::Instance`).
    pub service_type: Option<&'a str>,
}

/// A sampler's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SamplingDecision {
    /// Record the request.
    pub sampled: bool,
    /// The rule that decided, recorded as `aws.xray.sampling_rule_name`.
    pub rule_name: Option<Arc<str>>,
}

impl SamplingDecision {
    /// A decision with no rule name.
    pub const fn new(sampled: bool) -> Self {
        Self { sampled, rule_name: None }
    }
}

/// Decides whether to record a request.
pub trait Sampler: Send + Sync + 'static {
    /// Decides for one request. Must not block: it runs on the request path.
    fn should_sample(&self, request: &SamplingRequest<'_>) -> SamplingDecision;
}

/// Records every request (tests, benchmarks, low-traffic services).
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysSample;

impl Sampler for AlwaysSample {
    fn should_sample(&self, _: &SamplingRequest<'_>) -> SamplingDecision {
        SamplingDecision::new(true)
    }
}

/// Records no request, while still propagating trace ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct NeverSample;

impl Sampler for NeverSample {
    fn should_sample(&self, _: &SamplingRequest<'_>) -> SamplingDecision {
        SamplingDecision::new(false)
    }
}

impl<F> Sampler for F
where
    F: Fn(&SamplingRequest<'_>) -> SamplingDecision + Send + Sync + 'static,
{
    fn should_sample(&self, request: &SamplingRequest<'_>) -> SamplingDecision {
        self(request)
    }
}
