//! A caller's `Sampled` flag is obeyed even without a valid `Root`, as the official SDKs do:
//! a health checker that sends `Sampled=0` opts out, `Sampled=1` forces a sampled new trace.

mod common;

use axum::{Router, routing::get};
use common::{documents, recorder_with, request, send};
use xray_core::{AlwaysSample, NeverSample, Sampler};
use xray_tower::XrayLayer;

fn app(sampler: impl Sampler) -> (Router, std::sync::Arc<xray_core::MemoryEmitter>) {
    let (recorder, emitter) = recorder_with(sampler);
    let app =
        Router::new().route("/health", get(|| async { "ok" })).layer(XrayLayer::default().with_recorder(recorder));
    (app, emitter)
}

#[tokio::test]
async fn sampled_0_without_a_root_is_not_traced() {
    let (app, emitter) = app(AlwaysSample);
    for header in ["Sampled=0", "Root=not-a-trace-id;Sampled=0"] {
        send(&app, request("/health", &[("x-amzn-trace-id", header)])).await;
        assert!(documents(&emitter).is_empty(), "{header}");
    }
}

#[tokio::test]
async fn sampled_1_without_a_root_starts_a_sampled_trace_named_after_the_service() {
    let (app, emitter) = app(NeverSample);
    send(&app, request("/health", &[("x-amzn-trace-id", "Sampled=1")])).await;
    let docs = documents(&emitter);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["name"], "svc");
    assert!(docs[0].get("parent_id").is_none());
}
