//! # xray-lambda
//!
//! AWS X-Ray for Rust functions on AWS Lambda: one layer around the handler records every
//! invocation under the segment Lambda records for the function, correct in Lambda's
//! concurrent mode, and flushes before the response.
//!
//! ```no_run
//! use lambda_runtime::{Error, LambdaEvent, service_fn};
//! use tower::ServiceBuilder;
//!
//! async fn handler(event: LambdaEvent<serde_json::Value>) -> Result<serde_json::Value, Error> {
//!     xray_core::in_subsegment("work", async { Ok(event.payload) }).await
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let _xray = xray_core::Recorder::from_env()?.install()?; // Lambda mode detected
//!     lambda_runtime::run(ServiceBuilder::new().layer(xray_lambda::XrayLambdaLayer::default()).service(service_fn(handler)))
//!         .await
//! }
//! ```
//!
//! What each invocation records is described at [`XrayLambdaLayer`]: the facade of Lambda's
//! segment from the invocation's own trace header, an `invocation` subsegment under it (named
//! like the function, with `aws.function_arn`, `aws.request_id` and a `cold_start` annotation
//! on the first invocation), everything the handler does nested under that subsegment
//! (`xray_core::in_subsegment`, outbound calls through `xray-reqwest`, queries through
//! `xray-sqlx`), the handler's error as a fault, and a flush before the response is returned.
//!
//! [`Recorder::from_env`](xray_core::Recorder::from_env) detects Lambda
//! (`AWS_LAMBDA_FUNCTION_NAME`): centralized sampling is off (Lambda samples), the service name
//! is the function's name, and the daemon is the one Lambda names in `AWS_XRAY_DAEMON_ADDRESS`.
//!
//! Here is the same in a test, with a recorder that keeps its documents in memory:
//!
//! ```
//! use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
//! use tower::{Layer, ServiceExt};
//! use xray_lambda::XrayLambdaLayer;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let capture = xray_core::test::Capture::new();
//! let handler = service_fn(|event: LambdaEvent<u32>| async move {
//!     xray_core::in_subsegment("double", async { Ok::<_, Error>(event.payload * 2) }).await
//! });
//! let service = XrayLambdaLayer::default().with_recorder(capture.recorder().clone()).layer(handler);
//!
//! let mut context = Context::default();
//! context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into();
//! context.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:doubler".into();
//! context.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into());
//! assert_eq!(service.oneshot(LambdaEvent::new(21, context)).await.unwrap(), 42);
//!
//! // Flushed before the response: the invocation's subsegment is already out, under Lambda's segment.
//! let doc = &capture.take()[0];
//! assert_eq!(doc["type"], "subsegment");
//! assert_eq!(doc["name"], "doubler");
//! assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
//! assert_eq!(doc["aws"]["request_id"], "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
//! assert_eq!(doc["subsegments"][0]["name"], "double");
//! # }
//! ```
//!
//! ## `lambda_http`
//! The same layer wraps `lambda_http` handlers (it reads the invocation's context from the
//! request's extensions). Add `xray_tower::XrayLayer` inside it for the `http` block: inside an
//! invocation, `XrayLayer` records the request as a subsegment of the `invocation` subsegment
//! (not as a second segment), and the HTTP status sets its error, fault and throttle flags.
//!
//! ```no_run
//! use lambda_http::{Body, Error, Request, Response, service_fn};
//! use tower::ServiceBuilder;
//!
//! async fn handler(_request: Request) -> Result<Response<Body>, Error> {
//!     Ok(Response::new(Body::from("hello")))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let _xray = xray_core::Recorder::from_env()?.install()?;
//!     let service = ServiceBuilder::new()
//!         .layer(xray_lambda::XrayLambdaLayer::default())
//!         .layer(xray_tower::XrayLayer::default())
//!         .service(service_fn(handler));
//!     lambda_http::run(service).await
//! }
//! ```
//!
//! ## W3C trace context (`traceparent`)
//! An HTTP event (API Gateway, a function URL) carries the caller's headers, and a caller
//! instrumented with OpenTelemetry sends `traceparent` and `tracestate`. Lambda owns the
//! function's segment: whenever the invocation has an X-Ray trace header (the context's, or
//! `_X_AMZN_TRACE_ID`) with a `Root`, that header wins and the invocation is recorded under
//! Lambda's segment as always; a `tracestate` is passed on only when the `traceparent` names
//! the same trace. Without X-Ray context (tracing off and no `X-Amzn-Trace-Id` from the caller,
//! an emulator), a valid `traceparent` is continued: the function records a segment of its own
//! (origin [`FUNCTION_ORIGIN`], parent the caller's span, sampled as the caller's flag says,
//! with `aws.request_id`, `aws.function_arn` and `cold_start`), and outbound calls carry the
//! same trace on. The recorder's [`Propagation`](xray_core::Propagation) switches the W3C
//! reading off (`OTEL_PROPAGATORS=xray`).
//!
//! ## SQS-triggered functions
//! Each record's `AWSTraceHeader` attribute names the producer's trace: [`MessageTrace`] and
//! [`in_message_trace`] record the record's processing as a segment in that trace.

mod future;
mod invocation;
mod layer;
mod message;
mod service;

pub use future::{BoxError, HttpResponseFuture, ResponseFuture};
pub use invocation::{COLD_START_ANNOTATION, FUNCTION_ORIGIN, PANIC_TYPE, TRACE_ID_VAR};
pub use layer::{DEFAULT_FLUSH_TIMEOUT, XrayLambdaLayer};
pub use message::{MessageTrace, in_message_trace};
pub use service::XrayLambdaService;

/// The Rust blocks of the crate's README, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
