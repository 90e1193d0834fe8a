//! # xray-reqwest
//!
//! AWS X-Ray tracing for outgoing HTTP calls made with [`reqwest`]: each request sent inside a
//! traced context becomes a `remote` subsegment of the current entity, and the callee receives
//! `X-Amzn-Trace-Id` with `Parent` = that subsegment, so that the two services form one trace.
//!
//! Two ways in, recording the same data:
//! - [`XrayMiddleware`] for a [`reqwest_middleware`] client (the ecosystem's usual way to wrap
//!   reqwest, and the one that sees every retry);
//! - [`TracedRequestBuilderExt::send_traced`] for plain `reqwest`.
//!
//! Outside any trace both simply send the request. The recording itself is
//! [`xray_core::outbound`]'s, which `xray-tower`'s client layer shares.
//!
//! ```
//! use std::sync::Arc;
//! use xray_core::{AlwaysSample, MemoryEmitter, Recorder, TraceFutureExt};
//! use xray_reqwest::XrayMiddleware;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! # let addr = listener.local_addr().unwrap();
//! # let app = axum::Router::new().route("/stock/{id}", axum::routing::get(|| async { "12" }));
//! # tokio::spawn(async move { axum::serve(listener, app).await });
//! let emitter = Arc::new(MemoryEmitter::new());
//! let recorder = Recorder::builder()
//!     .with_service_name("orders")
//!     .with_sampler(AlwaysSample)
//!     .with_emitter(emitter.clone())
//!     .build()
//!     .unwrap();
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(XrayMiddleware::default())
//!     .build();
//!
//! let segment = recorder.new_segment("orders");
//! let response = client
//!     .get(format!("http://{addr}/stock/7?token=secret"))
//!     .send()
//!     .with_entity(segment.entity())
//!     .await
//!     .unwrap();
//! assert_eq!(response.text().await.unwrap(), "12");
//! segment.end();
//!
//! let call = &emitter.documents()[0]["subsegments"][0];
//! assert_eq!(call["name"], "127.0.0.1");
//! assert_eq!(call["namespace"], "remote");
//! assert_eq!(call["http"]["request"]["url"], format!("http://{addr}/stock/7"));
//! assert_eq!(call["http"]["response"]["status"], 200);
//! # }
//! ```
//!
//! ## Cost
//! Outside a trace the middleware reads one thread-local and forwards the request. For a
//! sampled call it allocates the subsegment, the recorded URL (built once, straight from the
//! URL's serialization), the header value (formatted on the stack, then copied once), and the
//! boxes that carry the subsegment in the response body; for an unsampled one, only the header
//! value.

mod body;
mod call;
mod ext;
mod middleware;
mod naming;
mod url;

pub use ext::TracedRequestBuilderExt;
pub use middleware::XrayMiddleware;
pub use naming::{DefaultNamer, SubsegmentNamer};
