//! Without `with_recorder`, the layer uses the installed global recorder, looked up on each
//! request: before `install` it passes requests through, afterwards it traces them.
//! (Its own test binary: the global recorder is set once per process.)

mod common;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use common::*;
use xray_core::{AlwaysSample, MemoryEmitter, Recorder};
use xray_tower::XrayLayer;

#[tokio::test]
async fn the_global_recorder_is_used_once_installed() {
    let app = Router::new()
        .route("/", get(|| async { xray_core::integration::current_quiet().is_sampled().to_string() }))
        .layer(XrayLayer::new("global-svc"));

    let (response, body) = send(&app, request("/", &[])).await;
    assert_eq!(trace_header(&response), "", "no recorder yet: untouched");
    assert_eq!(body, "false");

    let emitter = Arc::new(MemoryEmitter::new());
    let guard = Recorder::builder().with_sampler(AlwaysSample).with_emitter(emitter.clone()).install().unwrap();

    let (response, body) = send(&app, request("/", &[])).await;
    assert!(trace_header(&response).starts_with("Root=1-"));
    assert_eq!(body, "true");
    let doc = only_document(&emitter);
    assert_eq!(doc["name"], "global-svc");
    assert_eq!(format!("Root={}", doc["trace_id"].as_str().unwrap()), trace_header(&response));
    drop(guard);
}
