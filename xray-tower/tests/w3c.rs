//! W3C trace context on the incoming side: a `traceparent` continues the caller's trace when
//! there is no `X-Amzn-Trace-Id`, X-Ray's header wins when both are there and disagree, and
//! the incoming `tracestate` goes out again on the calls the handler makes.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tower::{ServiceBuilder, ServiceExt};
use xray_core::test::Capture;
use xray_core::{AlwaysSample, NeverSample, Propagation, Sampler};
use xray_tower::{XrayClientLayer, XrayLayer};

/// A caller's W3C context (sampled), and the same trace in X-Ray's form.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "1-4bf92f35-77b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";
const TRACESTATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";

fn capture(sampler: impl Sampler, propagation: Propagation) -> Capture {
    Capture::with(|b| b.with_service_name("svc").with_sampler(sampler).with_propagation(propagation))
}

fn app(capture: &Capture) -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(XrayLayer::default().with_recorder(capture.recorder().clone()))
}

/// Sends a `GET /` with `headers` through `app` and returns the response's `X-Amzn-Trace-Id`.
async fn send(app: &Router, headers: &[(&str, &str)]) -> String {
    let mut request = Request::get("/").header("host", "svc.test");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let answer = response.headers().get("x-amzn-trace-id").map(|v| v.to_str().unwrap().to_owned());
    axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    answer.unwrap_or_default()
}

/// The documents so far, each checked against the X-Ray schema.
fn documents(capture: &Capture) -> Vec<Value> {
    let docs = capture.take();
    for doc in &docs {
        xray_tests::assert_valid(doc);
    }
    docs
}

#[tokio::test]
async fn a_traceparent_continues_the_callers_trace() {
    // The caller's sampled flag decides, as X-Ray's Sampled=1 would: a sampler that records
    // nothing is not asked.
    let capture = capture(NeverSample, Propagation::Both);
    let answer = send(&app(&capture), &[("traceparent", TRACEPARENT), ("tracestate", TRACESTATE)]).await;
    assert_eq!(answer, format!("Root={TRACE_ID}"));
    let docs = documents(&capture);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0]["trace_id"], TRACE_ID);
    assert_eq!(docs[0]["parent_id"], SPAN);
    assert_eq!(docs[0]["name"], "svc");

    // Flags 00: the caller did not record, and neither does this service.
    let capture = capture_always(Propagation::Both);
    let unsampled = TRACEPARENT.replace("-01", "-00");
    assert_eq!(send(&app(&capture), &[("traceparent", &unsampled)]).await, format!("Root={TRACE_ID}"));
    assert!(documents(&capture).is_empty());
}

fn capture_always(propagation: Propagation) -> Capture {
    capture(AlwaysSample, propagation)
}

#[tokio::test]
async fn x_rays_header_wins_over_a_traceparent_of_another_trace() {
    let capture = capture_always(Propagation::Both);
    let app = app(&capture);
    let xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let answer = send(&app, &[("x-amzn-trace-id", xray), ("traceparent", TRACEPARENT)]).await;
    assert_eq!(answer, "Root=1-5759e988-bd862e3fe1be46a994272793");
    let docs = documents(&capture);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0]["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(docs[0]["parent_id"], "53995c3f42cd8ad8");
}

#[tokio::test]
async fn a_traceparent_is_ignored_when_w3c_propagation_is_off() {
    let capture = capture_always(Propagation::Xray);
    let app = app(&capture);
    let answer = send(&app, &[("traceparent", TRACEPARENT)]).await;
    let docs = documents(&capture);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    // A new trace of its own, with no parent.
    assert_ne!(docs[0]["trace_id"], TRACE_ID);
    assert_eq!(answer, format!("Root={}", docs[0]["trace_id"].as_str().unwrap()));
    assert!(docs[0].get("parent_id").is_none());
}

/// A server that answers with the trace headers it received: X-Ray's, `traceparent` and
/// `tracestate`, one a line (`-` for a missing one).
async fn echo_server() -> SocketAddr {
    let echo = |headers: HeaderMap| async move {
        ["x-amzn-trace-id", "traceparent", "tracestate"]
            .map(|name| headers.get(name).map_or("-", |v| v.to_str().unwrap()).to_owned())
            .join("\n")
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, Router::new().route("/echo", get(echo))).await });
    addr
}

#[tokio::test]
async fn the_incoming_tracestate_goes_out_on_the_handlers_calls() {
    let downstream = echo_server().await;
    let capture = capture_always(Propagation::Both);
    let handler = move || async move {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let client = ServiceBuilder::new().layer(XrayClientLayer::new()).service(client);
        let request = Request::get(format!("http://{downstream}/echo")).body(Full::new(Bytes::new())).unwrap();
        let response = client.oneshot(request).await.unwrap();
        String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    };
    let app =
        Router::new().route("/", get(handler)).layer(XrayLayer::new("svc").with_recorder(capture.recorder().clone()));
    let request = Request::get("/")
        .header("traceparent", TRACEPARENT)
        .header("tracestate", TRACESTATE)
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let seen: Vec<String> = String::from_utf8(body.to_vec()).unwrap().lines().map(str::to_owned).collect();

    let docs = documents(&capture);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let segment = &docs[0];
    assert_eq!(segment["trace_id"], TRACE_ID);
    assert_eq!(segment["parent_id"], SPAN);
    let call = &segment["subsegments"][0];
    assert_eq!(call["name"], "127.0.0.1");
    assert_eq!(call["http"]["request"]["traced"], true);
    let id = call["id"].as_str().unwrap();
    // Both headers name the same trace and the call's subsegment as the parent.
    assert_eq!(seen[0], format!("Root={TRACE_ID};Parent={id};Sampled=1"));
    assert_eq!(seen[1], format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{id}-01"));
    assert_eq!(seen[2], TRACESTATE);
}
