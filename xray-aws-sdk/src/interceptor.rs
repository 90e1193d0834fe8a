//! [`XrayInterceptor`]: the AWS SDK interceptor that records each operation.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::region::Region;
use xray_core::Entity;
use xray_core::integration::current_quiet;

use crate::call::AwsCall;
use crate::propagate::{inject_w3c, inject_xray};

/// Records every operation of an AWS SDK client as a subsegment of the current entity, and
/// sends the trace header with each request. Add it to a service's config builder:
/// `.interceptor(XrayInterceptor::new())`, or [`instrument`](crate::instrument) /
/// [`XrayConfigExt::with_xray`](crate::XrayConfigExt::with_xray).
///
/// Per operation (not per attempt), inside a sampled trace:
/// - a subsegment named after the service as X-Ray names it ([`service_name`](crate::service_name)
///   of the SDK's own service id: `DynamoDB`, `S3`, `SQS`, `SNS`, `SES`, `Lambda`, ...),
///   namespace `aws`, with `aws.operation`, `aws.region`, `aws.request_id`, S3's `aws.id_2`,
///   `aws.retries` (attempts after the first) and `http.response` (`status`, `content_length`);
/// - the service's whitelisted parameters from the typed input and output, with the service's
///   cargo feature (`dynamodb`, `s3`, `sqs`, `sns`, `sesv2`, `lambda`);
/// - on failure: `error` (4xx), `throttle` with `error` (a throttling code or 429) or `fault`
///   (5xx, and any dispatch, timeout or response failure), with a `cause` holding each failed
///   attempt's error code and message (`remote: true`);
/// - the `X-Amzn-Trace-Id` header (Parent = the subsegment) on each attempt, and `traceparent`
///   when the recorder's propagation says so, never over a header already set: SQS keeps it
///   as the message's `AWSTraceHeader`, and a Lambda function invoked continues the trace.
///   SigV4 signs neither (it leaves `X-Amzn-Trace-Id` out by design; `traceparent` is added
///   after signing), so they cost the signature nothing.
///
/// Outside a trace it does nothing; in an unsampled one it only adds the headers (`Sampled=0`,
/// `traceparent` flags `00`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct XrayInterceptor {}

impl XrayInterceptor {
    /// The interceptor. It has no settings: what it records follows the current trace and
    /// the recorder's configuration.
    pub fn new() -> Self {
        Self {}
    }
}

impl Intercept for XrayInterceptor {
    fn name(&self) -> &'static str {
        "XrayInterceptor"
    }

    // Not `read_before_execution`: a client interceptor runs that before the operation's
    // metadata (service and operation names) is in the config bag.
    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let parent = current_quiet();
        // Outside a trace, unsampled, or already recording (the interceptor added twice).
        if !parent.is_sampled() || cfg.get_mut_from_interceptor_state::<AwsCall>().is_some() {
            return Ok(());
        }
        let Some(metadata) = cfg.load::<Metadata>() else { return Ok(()) };
        let region = cfg.load::<Region>().map(|r| r.as_ref());
        let call = AwsCall::start(&parent, metadata, region, Some(context.input()));
        cfg.interceptor_state().store_put(call);
        Ok(())
    }

    // Before the retry loop's checkpoint, so every attempt carries the header; and before
    // signing, where the SDK's own recursion-detection interceptor would put Lambda's.
    fn modify_before_retry_loop(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        with_target(cfg, |entity| inject_xray(context.request_mut().headers_mut(), entity));
        Ok(())
    }

    // After signing, which need not cover it (see `propagate`); once per attempt, as each
    // attempt starts from the request as it was before the retry loop.
    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        with_target(cfg, |entity| inject_w3c(context.request_mut().headers_mut(), entity));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        with_call(cfg, |call, attempt| call.attempt_done(attempt, context.output_or_error(), context.response()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        with_call(cfg, |call, attempts| call.finish(context.output_or_error(), context.response(), attempts));
        Ok(())
    }
}

/// Runs `f` on the operation's recording with the SDK's attempt count so far. A call is
/// recorded only in a sampled trace, which is current in every hook of its operation (the
/// hooks run inside the operation's future), so outside one the config bag is not read.
fn with_call(cfg: &mut ConfigBag, f: impl FnOnce(&mut AwsCall, Option<u32>)) {
    if !current_quiet().is_sampled() {
        return;
    }
    let attempts = cfg.load::<RequestAttempts>().map(|a| a.attempts());
    if let Some(call) = cfg.get_mut_from_interceptor_state::<AwsCall>() {
        f(call, attempts);
    }
}

/// Runs `f` on the entity an outgoing request names as its parent: the operation's
/// subsegment in a sampled trace, the current (unsampled) entity otherwise; nothing outside
/// a trace. The current entity is read first: outside a trace and unsampled, the config bag
/// is not.
fn with_target(cfg: &ConfigBag, f: impl FnOnce(&Entity)) {
    let parent = current_quiet();
    if parent.is_noop() {
        return;
    }
    if !parent.is_sampled() {
        f(&parent);
    } else if let Some(call) = cfg.load::<AwsCall>().and_then(AwsCall::entity) {
        f(call);
    }
}
