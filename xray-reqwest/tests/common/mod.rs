//! Shared by the integration tests: a recorder that keeps its documents, and a real axum
//! server on 127.0.0.1:0 that reports which trace header each request carried.

#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::Value;
use xray_core::{MemoryEmitter, Recorder, Sampler};

/// How long a test waits for documents that are emitted on another task.
pub const WAIT: Duration = Duration::from_secs(5);

/// A recorder named `service` that keeps every document in the returned emitter.
pub fn recorder(service: &str, sampler: impl Sampler) -> (Recorder, Arc<MemoryEmitter>) {
    let capture = xray_core::test::Capture::with(|builder| builder.with_service_name(service).with_sampler(sampler));
    (capture.recorder().clone(), capture.emitter().clone())
}

/// Serves `app` on a fresh loopback port until the test process ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A port that nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// What the test server saw.
#[derive(Clone, Default)]
pub struct Seen {
    /// The `X-Amzn-Trace-Id` of each request, in order (`None` when absent).
    pub headers: Arc<Mutex<Vec<Option<String>>>>,
    /// Requests to `/flaky` so far.
    pub flaky_calls: Arc<AtomicUsize>,
}

impl Seen {
    pub fn headers(&self) -> Vec<Option<String>> {
        self.headers.lock().unwrap().clone()
    }

    fn record(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers.get("x-amzn-trace-id").map(|v| v.to_str().expect("ASCII header").to_owned());
        self.headers.lock().unwrap().push(value.clone());
        value
    }
}

/// The test server:
/// - `/echo/{*rest}`: 200 with the trace header it received as the body (`none` without);
/// - `/status/{code}`: that status, body `status`;
/// - `/slow`: answers after 2 s (longer than any client timeout the tests set);
/// - `/flaky`: 503 for the first two requests, then 200.
pub async fn test_server() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/echo/{*rest}", get(echo))
        .route("/status/{code}", get(status))
        .route("/slow", get(slow))
        .route("/flaky", get(flaky))
        .with_state(seen.clone());
    (serve(app).await, seen)
}

async fn echo(State(seen): State<Seen>, headers: HeaderMap) -> String {
    seen.record(&headers).unwrap_or_else(|| "none".to_owned())
}

async fn status(State(seen): State<Seen>, Path(code): Path<u16>, headers: HeaderMap) -> (StatusCode, &'static str) {
    seen.record(&headers);
    (StatusCode::from_u16(code).expect("valid status"), "status")
}

async fn slow(State(seen): State<Seen>, headers: HeaderMap) -> &'static str {
    seen.record(&headers);
    tokio::time::sleep(Duration::from_secs(2)).await;
    "late"
}

async fn flaky(State(seen): State<Seen>, headers: HeaderMap) -> (StatusCode, &'static str) {
    seen.record(&headers);
    if seen.flaky_calls.fetch_add(1, Ordering::SeqCst) < 2 {
        (StatusCode::SERVICE_UNAVAILABLE, "try again")
    } else {
        (StatusCode::OK, "ok")
    }
}

/// The single document emitted so far, validated.
pub fn only_document(emitter: &MemoryEmitter) -> Value {
    let docs = emitter.documents();
    assert_eq!(docs.len(), 1, "expected one document, got {docs:#?}");
    xray_tests::assert_valid(&docs[0]);
    docs[0].clone()
}

/// The subsegments of a segment document.
pub fn subsegments(doc: &Value) -> &Vec<Value> {
    doc["subsegments"].as_array().unwrap_or_else(|| panic!("no subsegments in {doc:#}"))
}

/// The header a sampled call should send: Root, Parent = the subsegment, Sampled=1.
pub fn expected_header(doc: &Value, subsegment: &Value) -> String {
    format!("Root={};Parent={};Sampled=1", doc["trace_id"].as_str().unwrap(), subsegment["id"].as_str().unwrap())
}
