//! # xray-core
//!
//! The core of the AWS X-Ray SDK for Rust: the segment-document model, trace and entity ids,
//! the `X-Amzn-Trace-Id` header, the current-entity context, sampling, and a batching UDP
//! emitter that speaks the X-Ray daemon's protocol.
//!
//! Integrations build on it: `xray-tower` traces incoming requests, `xray-reqwest` outgoing
//! HTTP calls and `xray-sqlx` SQL queries. Application code mostly needs [`current`] and
//! [`in_subsegment`]:
//!
//! ```
//! use std::sync::Arc;
//! use xray_core::{AlwaysSample, MemoryEmitter, Recorder, TraceFutureExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // In production: Recorder::from_env()?.with_service_name("orders").install()?
//! let emitter = Arc::new(MemoryEmitter::new());
//! let recorder = Recorder::builder()
//!     .with_service_name("orders")
//!     .with_sampler(AlwaysSample)
//!     .with_emitter(emitter.clone())
//!     .build()
//!     .unwrap();
//!
//! let segment = recorder.new_segment("orders");
//! async {
//!     xray_core::current().annotate("customer", "c-17");
//!     let total = xray_core::in_subsegment("price", async { 42 }).await;
//!     xray_core::current().add_metadata("total", total);
//!     // Context crosses task boundaries explicitly:
//!     tokio::spawn(async { xray_core::in_subsegment("notify", async {}).await }.in_current_trace())
//!         .await
//!         .unwrap();
//! }
//! .with_entity(segment.entity())
//! .await;
//! segment.end();
//!
//! let doc = &emitter.documents()[0];
//! assert_eq!(doc["name"], "orders");
//! assert_eq!(doc["annotations"]["customer"], "c-17");
//! assert_eq!(doc["subsegments"].as_array().unwrap().len(), 2);
//! # }
//! ```
//!
//! ## Cost
//! The request path does only in-memory work: ids come from per-thread generators, finished
//! segments go into a bounded queue, and the emitter's own thread serializes and sends them in
//! batches. Unsampled requests allocate nothing beyond their header and emit nothing.
//!
//! ## What is where
//! The crate root holds what an application uses:
//! - setting up: [`Recorder`] ([`Recorder::from_env`] reads the standard variables listed in
//!   [`config`]), its [`RecorderBuilder`] and [`RecorderGuard`]; samplers ([`AlwaysSample`],
//!   [`NeverSample`], [`LocalRules`]; the rest in [`sampling`]); emitters ([`UdpEmitter`],
//!   [`NullEmitter`]; the rest in [`emit`]);
//! - recording: [`current`], [`try_current`], [`in_subsegment`], [`in_subsegment_sync`],
//!   [`TraceFutureExt`], and the [`Entity`] / [`Segment`] / [`Subsegment`] handles with the
//!   values they take ([`AnnotationValue`], [`Cause`], [`Exception`]);
//! - ids and the header, for log correlation and for work that crosses a queue: [`TraceId`],
//!   [`EntityId`], [`TraceHeader`].
//!
//! What only instrumentation needs is in [`integration`]; the wire format in [`model`] and
//! [`header`]; where the service runs in [`plugins`]. With the `test-util` feature, `test`
//! captures what a recorder emits (`test::capture`, `test::Capture`, `MemoryEmitter`). With the
//! `otlp` feature, `otlp` exports to an OpenTelemetry collector instead of (or beside) the X-Ray
//! daemon. With the `metrics` feature, the recorder publishes its emitter's counters
//! (`xray_segments_dropped_total` and the others in `metrics`) through the `metrics` facade.

pub mod config;
mod context;
pub mod emit;
mod entity;
mod error;
pub mod header;
mod http_client;
mod id;
pub mod integration;
pub(crate) mod log;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod model;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "http")]
pub mod outbound;
pub mod plugins;
mod recorder;
pub mod sampling;
mod segment;
mod sys;
#[cfg(feature = "test-util")]
pub mod test;
mod time;
mod trace;
pub mod w3c;

pub use config::{Config, ConfigError, ContextMissing, DaemonAddress, ParseAddressError, ParseContextMissingError};
pub use context::{
    ContextMissingError, Entered, TraceFutureExt, Traced, current, in_subsegment, in_subsegment_sync,
    set_context_missing, try_current,
};
#[cfg(feature = "test-util")]
pub use emit::MemoryEmitter;
pub use emit::{Emitter, EmitterStats, NullEmitter, UdpEmitter, UdpEmitterBuilder};
pub use entity::Entity;
pub use error::BuildError;
pub use header::{SamplingFlag, TraceHeader};
pub use id::{EntityId, ParseIdError, TraceId};
pub use log::{LogLevel, set_log_level};
pub use model::{AnnotationValue, Cause, Exception};
pub use recorder::{DEFAULT_STREAMING_THRESHOLD, Recorder, RecorderBuilder, RecorderGuard};
pub use sampling::{AlwaysSample, LocalRules, NeverSample, Sampler};
pub use segment::{Segment, Subsegment};
pub use w3c::Propagation;
