//! What integration crates need beyond an application's API: the pieces `xray-tower`,
//! `xray-reqwest`, `xray-sqlx` and other instrumentation build on.
//!
//! An application records through [`current`](crate::current), [`in_subsegment`](crate::in_subsegment)
//! and the [`Entity`](crate::Entity) methods. An integration also reads the current entity
//! without a missing-context report ([`current_quiet`]: outside a trace it simply forwards),
//! begins segments for incoming work from the caller's header and a [`SamplingRequest`]
//! ([`Recorder::begin_segment`](crate::Recorder::begin_segment)), and fills the document's
//! blocks ([`HttpRequest`], [`HttpResponse`], [`Sql`], [`Namespace`]) through
//! [`Entity::with_document`](crate::Entity::with_document) or the `set_*` methods.
//!
//! A layer over another context system (such as `tracing` spans) swaps the current entity in
//! and out with [`replace_current`].
//!
//! Work that arrives through a queue (an SQS message's `AWSTraceHeader`) joins its producer's
//! trace through [`MessageTrace`] and [`in_message_trace`], shared by `xray-lambda` and
//! `xray-aws-sdk`.
//!
//! Elsewhere: the whole segment-document model is in [`model`](crate::model); the header's wire
//! form in [`header`](crate::header), W3C's in [`w3c`](crate::w3c); an HTTP client's call, recorded
//! the one way every HTTP integration records it, in `outbound` (feature `http`).
//!
//! ```
//! use std::sync::Arc;
//! use xray_core::integration::{HttpRequest, Namespace, current_quiet};
//! use xray_core::{AlwaysSample, MemoryEmitter, Recorder};
//!
//! // A hand-written integration: one subsegment per call to a remote service.
//! fn call_remote() {
//!     let parent = current_quiet();
//!     if !parent.is_sampled() {
//!         return; // nothing to record (and nothing to report outside a trace)
//!     }
//!     let call = parent.begin_subsegment("inventory");
//!     call.set_namespace(Namespace::Remote);
//!     call.set_http_request(HttpRequest { method: Some("GET".into()), ..HttpRequest::default() });
//! }
//!
//! let emitter = Arc::new(MemoryEmitter::new());
//! let recorder = Recorder::builder().with_sampler(AlwaysSample).with_emitter(emitter.clone()).build().unwrap();
//! let segment = recorder.new_segment("orders");
//! segment.in_scope(call_remote);
//! segment.end();
//! assert_eq!(emitter.documents()[0]["subsegments"][0]["namespace"], "remote");
//! ```

mod message;

pub use crate::context::{current_quiet, replace_current};
pub use crate::header::{HEADER_NAME, HEADER_NAME_LOWER};
pub use crate::model::{
    CauseDetails, Http, HttpRequest, HttpResponse, Namespace, SegmentDocument, Sql, StatusFlags, method_name,
    sanitize_name,
};
pub use crate::sampling::{SamplingDecision, SamplingRequest};
pub use crate::time::Timestamp;
pub use message::{MessageTrace, in_message_trace};
