//! # xray-tower
//!
//! AWS X-Ray tracing for tower HTTP services (axum, tonic, hyper) and clients: one
//! `.layer(XrayLayer::new("svc"))` traces every incoming request.
//!
//! For each request the layer
//! - reads `X-Amzn-Trace-Id`: `Root` and `Parent` continue the caller's trace, `Sampled=1`/`0`
//!   is obeyed, and when the header is absent or says `Sampled=?` the recorder's sampler decides
//!   (from host, method, path and service name); a malformed header starts a new trace;
//! - opens a segment, named by a [`SegmentNamer`] (`AWS_XRAY_TRACING_NAME` overrides it), and
//!   makes it the current entity for the inner service and everything it awaits, so handlers
//!   can use `xray_core::current()` and `xray_core::in_subsegment`;
//! - records `http.request` (method, URL without the query unless
//!   [`with_query_in_url`](XrayLayer::with_query_in_url), user agent, client IP from the first
//!   `X-Forwarded-For` entry or the peer address), `http.response` (status, and the
//!   `Content-Length` or else the bytes actually sent), and `error`/`fault`/`throttle` as
//!   [`classify`] describes;
//! - answers with `X-Amzn-Trace-Id: Root=…` (plus `;Sampled=1|0` when the caller asked with
//!   `?`);
//! - ends the segment when the response body has been sent or dropped. A request dropped
//!   before its response (the client went away) still ends and is emitted, with an error and a
//!   [`CANCELLED_TYPE`] exception; a panic in the handler is a fault with a [`PANIC_TYPE`]
//!   exception, whether or not a panic-catching layer (such as tower-http's `CatchPanicLayer`)
//!   turns it into a 500 further out.
//!
//! Unsampled requests allocate nothing but their response header and emit nothing, yet the
//! trace id and `Sampled=0` still reach outbound calls. With axum, add
//! [`with_axum_body`](XrayLayer::with_axum_body) (feature `axum`): the service then answers
//! with axum's own `Body`, where a body of another type would be boxed once more by axum.
//! [`XrayClientLayer`] traces outbound calls, recording them as `xray-reqwest` does (both go
//! through [`xray_core::outbound`]).
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, body::Body, routing::get};
//! use http::Request;
//! use tower::ServiceExt;
//! use xray_core::{AlwaysSample, MemoryEmitter, Recorder};
//! use xray_tower::XrayLayer;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // In production: Recorder::from_env()?.with_service_name("orders").install()? and
//! // XrayLayer::new("orders") without with_recorder.
//! let emitter = Arc::new(MemoryEmitter::new());
//! let recorder = Recorder::builder().with_sampler(AlwaysSample).with_emitter(emitter.clone()).build().unwrap();
//!
//! let app = Router::new()
//!     .route("/orders/{id}", get(|| async {
//!         xray_core::current().annotate("customer", "c-17");
//!         xray_core::in_subsegment("load-order", async { "order 42" }).await
//!     }))
//!     .layer(XrayLayer::new("orders").with_recorder(recorder));
//!
//! let request = Request::get("/orders/42?debug=1").header("host", "shop.example").body(Body::empty()).unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert!(response.headers()["x-amzn-trace-id"].to_str().unwrap().starts_with("Root=1-"));
//! // The segment ends once the body has been sent.
//! axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
//!
//! let doc = &emitter.documents()[0];
//! assert_eq!(doc["name"], "orders");
//! assert_eq!(doc["http"]["request"]["url"], "http://shop.example/orders/42");
//! assert_eq!(doc["http"]["response"]["status"], 200);
//! assert_eq!(doc["http"]["response"]["content_length"], 8);
//! assert_eq!(doc["annotations"]["customer"], "c-17");
//! assert_eq!(doc["subsegments"][0]["name"], "load-order");
//! # }
//! ```
//!
//! ## Features
//! - `axum`: reads axum's `ConnectInfo<SocketAddr>` for `client_ip` (without it, only a plain
//!   `SocketAddr` in the request extensions is used) and offers
//!   `XrayLayer::with_route_annotation` and `XrayLayer::with_axum_body`.
//! - `hyper-util`: reads the error of hyper-util's legacy client, so that [`XrayClientLayer`]
//!   right around that client tells a call that could not connect from one that failed later.

mod body;
pub mod classify;
mod client;
mod future;
mod layer;
mod mode;
mod naming;
mod on_request;
mod propagation;
mod request;
mod service;

pub use body::ResponseBody;
pub use classify::{BODY_ERROR_TYPE, CANCELLED_TYPE, PANIC_TYPE};
pub use client::{ClientResponseFuture, XrayClientLayer, XrayClientService};
pub use future::ResponseFuture;
pub use layer::XrayLayer;
#[cfg(feature = "axum")]
pub use mode::AxumBody;
pub use mode::{BodyMode, WrapBody};
pub use naming::{ClientNamer, DefaultClientNamer, DynamicNaming, FixedName, SegmentNamer};
pub use on_request::OnRequest;
pub use service::XrayService;
