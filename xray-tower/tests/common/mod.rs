//! Shared setup for the integration tests: a recorder capturing documents in memory, and
//! helpers to drive an axum `Router` and read what it recorded.

#![allow(dead_code)] // each test binary uses a different part

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, Response};
use serde_json::Value;
use tower::ServiceExt;
use xray_core::{AlwaysSample, MemoryEmitter, Recorder, Sampler};

pub const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
pub const PARENT: &str = "53995c3f42cd8ad8";

/// A recorder with `sampler` whose documents land in the returned emitter.
pub fn recorder_with(sampler: impl Sampler) -> (Recorder, Arc<MemoryEmitter>) {
    let capture = xray_core::test::Capture::with(|builder| builder.with_service_name("svc").with_sampler(sampler));
    (capture.recorder().clone(), capture.emitter().clone())
}

/// A recorder that samples everything.
pub fn recorder() -> (Recorder, Arc<MemoryEmitter>) {
    recorder_with(AlwaysSample)
}

/// A `GET` for `uri` with `headers`.
pub fn request(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::get(uri).header("host", "svc.test");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Body::empty()).unwrap()
}

/// Sends `request` through `app`, reads the whole body, and returns the response head and body.
pub async fn send(app: &Router, request: Request<Body>) -> (Response<()>, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (Response::from_parts(parts, ()), String::from_utf8(bytes.to_vec()).unwrap())
}

/// The response's `X-Amzn-Trace-Id`, or `""`.
pub fn trace_header<B>(response: &Response<B>) -> &str {
    response.headers().get("x-amzn-trace-id").map_or("", |v| v.to_str().unwrap())
}

/// Every captured document, each checked against the X-Ray schema.
pub fn documents(emitter: &MemoryEmitter) -> Vec<Value> {
    let docs = emitter.take();
    for doc in &docs {
        xray_tests::assert_valid(doc);
    }
    docs
}

/// The one captured document (validated); panics unless there is exactly one.
pub fn only_document(emitter: &MemoryEmitter) -> Value {
    let mut docs = documents(emitter);
    assert_eq!(docs.len(), 1, "expected one document, got {docs:#?}");
    docs.remove(0)
}

/// `doc[key]` as a flag, absent meaning `false`.
pub fn flag(doc: &Value, key: &str) -> bool {
    doc.get(key).and_then(Value::as_bool).unwrap_or(false)
}
