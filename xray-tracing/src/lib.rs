//! # xray-tracing
//!
//! AWS X-Ray for the `tracing` ecosystem: spans entered inside an X-Ray trace become
//! subsegments, and log lines written inside a trace carry its trace id.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer().event_format(xray_tracing::with_trace_ids())) // trace ids in logs
//!     .with(xray_tracing::layer()) // spans become subsegments
//!     .init();
//! ```
//!
//! A complete run, with the documents captured in memory:
//!
//! ```
//! use tracing::instrument;
//! use tracing_subscriber::layer::SubscriberExt;
//! use xray_core::TraceFutureExt;
//!
//! #[instrument(fields(xray.annotation.customer = customer))]
//! async fn price(customer: &str, items: u32) -> u32 {
//!     // Inside the span, the current entity is the span's subsegment.
//!     xray_core::current().add_metadata("items", items);
//!     items * 7
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let capture = xray_core::test::Capture::new(); // in production: Recorder::from_env()?.install()?
//! let subscriber = tracing_subscriber::registry().with(xray_tracing::layer());
//! let _guard = tracing::subscriber::set_default(subscriber);
//!
//! let segment = capture.recorder().new_segment("orders"); // xray-tower opens it per request
//! let total = price("c-17", 6).with_entity(segment.entity()).await;
//! segment.end();
//!
//! let doc = &capture.documents()[0];
//! let sub = &doc["subsegments"][0];
//! assert_eq!(total, 42);
//! assert_eq!(sub["name"], "price");
//! assert_eq!(sub["annotations"]["customer"], "c-17");
//! assert_eq!(sub["metadata"]["tracing"]["items"], 6); // a span field
//! assert_eq!(sub["metadata"]["default"]["items"], 6); // recorded through current()
//! # }
//! ```
//!
//! ## Which spans become subsegments
//! A span becomes a subsegment when it is created while an X-Ray entity is current (the
//! request's segment from `xray-tower`, a subsegment, a Lambda facade, a segment entered by
//! hand) and passes the layer's own filter: **INFO and above**, not from the
//! [`DEFAULT_EXCLUDED_TARGETS`]. `#[instrument]` makes INFO spans, so instrumented functions
//! are recorded as they are; a span outside any trace records nothing.
//!
//! The layer nests subsegments as the spans nest, makes a span's subsegment the current
//! entity while the span is entered (so `xray_core::current()`, `in_subsegment` and the other
//! integrations record under it), and ends it when the span closes. `.instrument(span)` carries
//! a span, and so its subsegment, into `tokio::spawn`ed tasks.
//!
//! To choose spans with the subscriber's own filtering, lift the layer's bound and give it a
//! per-layer filter:
//!
//! ```
//! use tracing::level_filters::LevelFilter;
//! use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt};
//!
//! let xray = xray_tracing::layer()
//!     .with_max_level(LevelFilter::TRACE) // the filter below decides
//!     .with_filter(EnvFilter::new("info,my_app=debug,my_app::cache=off"));
//! let subscriber = tracing_subscriber::registry().with(xray);
//! # let _ = subscriber;
//! ```
//!
//! `#[instrument(level = "debug")]` functions then count in `my_app`, and the noisy
//! `my_app::cache` spans do not. The default exclusions still apply
//! ([`XrayLayer::with_excluded_targets`] replaces them). A per-layer filter changes what
//! this layer sees only; a filter on the whole subscriber (`.with(EnvFilter)` as its own
//! layer) also hides spans from X-Ray.
//!
//! ## No double recording
//! `xray-tower`, `xray-sqlx`, `xray-reqwest`, `xray-aws-sdk` and `xray-lambda` record their
//! requests, statements and calls themselves, as segments and subsegments with X-Ray's `http`,
//! `sql` and `aws` blocks. The spans that the same libraries emit around that work would be a
//! second, emptier subsegment of it, so the layer leaves them out twice over:
//!
//! - **by level**: sqlx logs statements as DEBUG *events* (not spans); hyper's, the AWS SDK's
//!   (`S3.GetObject` around each operation, the orchestrator's `try_op`, `try_attempt`, ...)
//!   and aws-config's spans are DEBUG or TRACE; tower-http's `TraceLayer` span is DEBUG by
//!   default. The default bound, INFO, keeps all of them out.
//! - **by target**: the [`DEFAULT_EXCLUDED_TARGETS`] (`sqlx`, `hyper`, `tower_http`,
//!   `reqwest_tracing`, every `aws_sdk_*` and `aws_smithy_*` crate, `aws_config`,
//!   `lambda_runtime`, the `xray_*` crates, ...) stay out at every level, so raising a level
//!   for the logs (`sqlx=info`, `with_max_level(LevelFilter::TRACE)`, a permissive per-layer
//!   `EnvFilter`) does not bring them in. `reqwest-tracing`'s INFO span around each call and
//!   `lambda_runtime`'s INFO `Lambda runtime invoke` span are kept out this way. What each of
//!   those crates emits, and at which level, is listed with [`DEFAULT_EXCLUDED_TARGETS`].
//!
//! Events never become subsegments (an ERROR event adds an exception to its span's
//! subsegment). The crate's tests run xray-sqlx (SQLite, with sqlx's statement logs raised to
//! INFO) and xray-reqwest (beside reqwest-tracing) in one subscriber with this layer at every
//! level, and find each statement and each call once; with the exclusions emptied, the call
//! shows twice. A span of your own around a call that an integration records (`#[instrument]`
//! on a function that only wraps one `reqwest` call) is a subsegment of its own: leave it
//! below INFO, or exclude its target.
//!
//! A span's subsegment ends when the span *closes*, when its last handle is dropped. A library
//! that keeps a handle a moment longer (sqlx's SQLite worker thread holds the caller's span
//! until it has run the statement) makes the subsegment end that moment later; one that ends
//! after its segment is sent on its own, as X-Ray allows.
//!
//! ## Fields
//! A span's fields become the subsegment's metadata, namespace `tracing` (turn that off with
//! [`XrayLayer::with_fields_as_metadata`]); fields named `xray.annotation.KEY` become
//! annotations (X-Ray's key and count rules apply: 50 at most, keys outside `[A-Za-z0-9_]`
//! rewritten); `otel.name` renames the subsegment; `error = true`, `otel.status_code = "ERROR"`
//! or an `error` value set `fault` and, for a value, the `cause`. Fields recorded later with
//! `Span::record` count too. Values are cut to [`MAX_VALUE_BYTES`], and fields whose names
//! say they hold a secret (`password`, `token`, …) are written as `"[redacted]"`; still,
//! `skip` what must not leave the process: `#[instrument(skip(body))]`.
//!
//! ERROR events inside a recorded span add an exception (message and target) to its cause,
//! at most [`MAX_EVENT_EXCEPTIONS`] per span; other events are left to the log layers.
//!
//! ## Trace ids in logs
//! [`with_trace_ids`] is `tracing_subscriber::fmt`'s default formatter with
//! `AWS-XRAY-TRACE-ID: 1-5759e988-bd862e3fe1be46a994272793@53995c3f42cd8ad8` before every line
//! written inside a trace (the form the X-Ray SDK for Java uses, so CloudWatch Logs can be
//! searched by trace id). For JSON logs, `TraceIds::json()` (feature `json`) adds
//! `"xray_trace_id"` and `"xray_entity_id"` members:
//!
//! ```
//! # #[cfg(feature = "json")] {
//! let layer = tracing_subscriber::fmt::layer().json().event_format(xray_tracing::TraceIds::json());
//! # let _: tracing_subscriber::fmt::Layer<tracing_subscriber::Registry, _, _> = layer;
//! # }
//! ```
//!
//! Unsampled requests have a trace id too, and an entity id with `AWS_XRAY_NOOP_ID=false`.
//! Other logging setups read the same ids from xray-core:
//!
//! ```
//! let entity = xray_core::integration::current_quiet();
//! if let Some(trace_id) = entity.trace_id() {
//!     let entity_id = entity.id().map(|id| id.to_string()).unwrap_or_default();
//!     println!("AWS-XRAY-TRACE-ID: {trace_id}@{entity_id}");
//! }
//! ```
//!
//! ## Cost
//! Outside any trace a span costs the layer a level check and a read of the current entity
//! when it is created, and one relaxed atomic load when it is entered, exited and closed
//! while no recorded span exists. Inside a sampled trace a span costs a subsegment (its node
//! and document, one allocation per field name and metadata map, the parent's lock when it
//! ends): some 1 µs, several times an empty span under `Registry` alone (the `tracing/span`
//! bench in `benches/` has the figures). A span without fields allocates no metadata.

mod fields;
mod filter;
mod format;
mod layer;
mod stack;

pub use fields::{ANNOTATION_PREFIX, MAX_VALUE_BYTES, METADATA_NAMESPACE};
pub use filter::DEFAULT_EXCLUDED_TARGETS;
pub use format::{JSON_ENTITY_ID, JSON_TRACE_ID, TEXT_KEY, TraceIds, with_trace_ids};
pub use layer::{MAX_EVENT_EXCEPTIONS, XrayLayer};

/// The layer that records spans entered inside an X-Ray trace as subsegments, with its
/// defaults: spans at INFO and above, not from the [`DEFAULT_EXCLUDED_TARGETS`], fields as
/// metadata, ERROR events as exceptions. See [`XrayLayer`] to change them.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(xray_tracing::layer());
/// # let _ = subscriber;
/// ```
pub fn layer() -> XrayLayer {
    XrayLayer::new()
}

/// The README's Rust block, compiled as a doc test so that it cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
