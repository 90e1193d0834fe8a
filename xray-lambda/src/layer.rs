//! [`XrayLambdaLayer`]: the layer around a Lambda handler.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;
use xray_core::Recorder;

use crate::service::XrayLambdaService;

/// How long an invocation waits, at most, for its documents to be sent before its response is
/// returned, unless [`XrayLambdaLayer::with_flush_timeout`] says otherwise.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_millis(250);

/// What every service made by one layer shares.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) name: Cow<'static, str>,
    pub(crate) recorder: Option<Recorder>,
    pub(crate) flush_timeout: Duration,
}

/// Traces every invocation of the wrapped Lambda handler.
///
/// Per invocation, the layer
/// - opens the facade of the segment Lambda records for the function, from the invocation's own
///   trace header (`Context::xray_trace_id`; `_X_AMZN_TRACE_ID` only when the context has none,
///   as that variable is wrong or unset in concurrent mode), keeping its `Lineage`; with
///   `Sampled=0` nothing is recorded, yet the trace id and `Sampled=0` reach outbound calls;
///   an HTTP event without X-Ray context but with a W3C `traceparent` is recorded as a segment
///   of the function's own in the caller's trace (see the crate docs, "W3C trace context");
/// - opens the `invocation` subsegment under it, named like the function, with
///   `aws.function_arn`, `aws.request_id`, and a `cold_start` annotation on the first invocation
///   of the process, and makes it the current entity for everything the handler does;
/// - records the handler's error (or panic) as a fault with a cause;
/// - ends the subsegment (sent as an independent subsegment whose parent is Lambda's segment)
///   and **flushes the recorder before the response goes back to the Runtime API**, waiting at
///   most the [flush timeout](Self::with_flush_timeout): Lambda may freeze the sandbox as soon
///   as the response is posted.
///
/// The layer wraps `lambda_runtime` handlers (`Service<LambdaEvent<T>>`) and `lambda_http` ones
/// (`Service<http::Request<B>>` answering `http::Response<_>`; the context comes from the
/// request's extensions, where `lambda_http` puts it).
///
/// Without [`with_recorder`](Self::with_recorder) it records with the global recorder
/// ([`RecorderBuilder::install`](xray_core::RecorderBuilder::install)), looked up on each
/// invocation; while none is installed, or when the SDK is disabled, invocations pass through
/// untouched.
#[derive(Debug, Clone)]
pub struct XrayLambdaLayer {
    settings: Arc<Settings>,
}

impl XrayLambdaLayer {
    /// A layer naming every `invocation` subsegment `name`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            settings: Arc::new(Settings { name: name.into(), recorder: None, flush_timeout: DEFAULT_FLUSH_TIMEOUT }),
        }
    }

    /// Records with `recorder`. Defaults to the global recorder, looked up on each invocation.
    #[must_use]
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        Arc::make_mut(&mut self.settings).recorder = Some(recorder);
        self
    }

    /// How long an invocation waits at most, after the handler, for its documents to be sent
    /// before the response is returned. Defaults to [`DEFAULT_FLUSH_TIMEOUT`] (250 ms): the
    /// daemon runs beside the function, so a flush takes well under a millisecond.
    #[must_use]
    pub fn with_flush_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.settings).flush_timeout = timeout;
        self
    }
}

/// A layer naming every `invocation` subsegment like the function: the runtime's
/// `AWS_LAMBDA_FUNCTION_NAME`, else the name in the invoked ARN, else the recorder's
/// [service name](xray_core::Recorder::service_name).
impl Default for XrayLambdaLayer {
    fn default() -> Self {
        Self::new("")
    }
}

impl<S> Layer<S> for XrayLambdaLayer {
    type Service = XrayLambdaService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        XrayLambdaService::new(inner, Arc::clone(&self.settings))
    }
}
