//! Sampling: which requests are recorded.
//!
//! The recorder consults its [`Sampler`] only when the incoming header carries no decision
//! (absent or `Sampled=?`); a caller's `Sampled=1` or `Sampled=0` is always obeyed.

use std::sync::Arc;

mod local;

pub use local::LocalSampler;

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
