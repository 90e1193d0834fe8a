//! W3C trace context on outgoing calls: `traceparent` beside `X-Amzn-Trace-Id` with the same
//! trace and parent, the incoming `tracestate` passed on, the caller's own headers kept, and
//! the recorder's `Propagation` deciding which headers go out.

use std::net::SocketAddr;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use reqwest_middleware::ClientBuilder;
use serde_json::Value;
use xray_core::integration::SamplingRequest;
use xray_core::test::Capture;
use xray_core::w3c::TraceParent;
use xray_core::{AlwaysSample, NeverSample, Propagation, Sampler, TraceFutureExt, TraceHeader};
use xray_reqwest::XrayMiddleware;

/// The caller's W3C context, which the segment continues.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const W3C_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACESTATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";

/// What the server received: `X-Amzn-Trace-Id`, `traceparent`, `tracestate`.
#[derive(Debug)]
struct Received {
    xray: Option<String>,
    traceparent: Option<String>,
    tracestate: Option<String>,
}

/// A server that answers with the three trace headers it received, one a line (`-` if absent).
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

/// Continues the caller's W3C trace on a recorder with `sampler` and `propagation`, calls the
/// echo server through `XrayMiddleware` with `preset` headers, and returns what the server
/// received with the documents recorded.
async fn call(sampler: impl Sampler, propagation: Propagation, preset: &[(&str, &str)]) -> (Received, Vec<Value>) {
    let addr = echo_server().await;
    let capture = Capture::with(|b| b.with_service_name("api").with_sampler(sampler).with_propagation(propagation));
    let incoming = TraceParent::parse(TRACEPARENT).unwrap().to_header().with_tracestate(TRACESTATE);
    let segment = capture.recorder().begin_segment("api", Some(&incoming), &SamplingRequest::default());
    let client = ClientBuilder::new(reqwest::Client::new()).with(XrayMiddleware::default()).build();
    let mut request = client.get(format!("http://{addr}/echo"));
    for (name, value) in preset {
        request = request.header(*name, *value);
    }
    let body = request.send().with_entity(segment.entity()).await.unwrap().text().await.unwrap();
    segment.end();
    let mut lines = body.lines().map(|l| (l != "-").then(|| l.to_owned()));
    let mut next = || lines.next().flatten();
    let received = Received { xray: next(), traceparent: next(), tracestate: next() };
    let docs = capture.take();
    for doc in &docs {
        xray_tests::assert_valid(doc);
    }
    (received, docs)
}

/// The segment's one call subsegment.
fn the_call(docs: &[Value]) -> &Value {
    assert_eq!(docs.len(), 1, "{docs:#?}");
    &docs[0]["subsegments"][0]
}

#[tokio::test]
async fn a_call_sends_traceparent_and_tracestate_beside_x_rays_header() {
    let (received, docs) = call(AlwaysSample, Propagation::Both, &[]).await;
    let call = the_call(&docs);
    let id = call["id"].as_str().unwrap();
    assert_eq!(call["http"]["request"]["traced"], true);
    assert_eq!(docs[0]["trace_id"], "1-4bf92f35-77b34da6a3ce929d0e0e4736");
    assert_eq!(received.xray.unwrap(), format!("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent={id};Sampled=1"));
    assert_eq!(received.traceparent.unwrap(), format!("00-{W3C_TRACE}-{id}-01"));
    assert_eq!(received.tracestate.as_deref(), Some(TRACESTATE));
}

#[tokio::test]
async fn the_callers_own_headers_are_kept() {
    let theirs = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let preset = [("traceparent", theirs), ("tracestate", "mine=1")];
    let (received, docs) = call(AlwaysSample, Propagation::Both, &preset).await;
    let id = the_call(&docs)["id"].as_str().unwrap();
    assert_eq!(received.traceparent.as_deref(), Some(theirs));
    assert_eq!(received.tracestate.as_deref(), Some("mine=1"));
    // X-Ray's header is ours still, and a callee reads it first: the call is traced.
    assert!(received.xray.unwrap().contains(&format!("Parent={id}")));
    assert_eq!(the_call(&docs)["http"]["request"]["traced"], true);
}

#[tokio::test]
async fn propagation_switched_off_sends_no_traceparent() {
    let (received, docs) = call(AlwaysSample, Propagation::Xray, &[]).await;
    assert!(received.xray.is_some());
    assert_eq!((received.traceparent, received.tracestate), (None, None));
    assert_eq!(the_call(&docs)["http"]["request"]["traced"], true);

    // W3C only: no X-Ray header, and the call is traced through traceparent.
    let (received, docs) = call(AlwaysSample, Propagation::W3c, &[]).await;
    let id = the_call(&docs)["id"].as_str().unwrap();
    assert_eq!(received.xray, None);
    assert_eq!(received.traceparent.unwrap(), format!("00-{W3C_TRACE}-{id}-01"));
    assert_eq!(the_call(&docs)["http"]["request"]["traced"], true);

    // Neither: nothing goes out, and the call is recorded but not traced.
    let (received, docs) = call(AlwaysSample, Propagation::Off, &[]).await;
    assert_eq!((received.xray, received.traceparent, received.tracestate), (None, None, None));
    assert!(the_call(&docs)["http"]["request"].get("traced").is_none());
}

#[tokio::test]
async fn an_unsampled_trace_sends_flags_00() {
    // Continued from a header whose decision is "not sampled".
    let addr = echo_server().await;
    let capture = Capture::with(|b| b.with_sampler(NeverSample));
    let incoming: TraceHeader =
        TraceHeader::parse("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736").with_tracestate(TRACESTATE);
    let segment = capture.recorder().begin_segment("api", Some(&incoming), &SamplingRequest::default());
    let client = ClientBuilder::new(reqwest::Client::new()).with(XrayMiddleware::default()).build();
    let body = client.get(format!("http://{addr}/echo")).send().with_entity(segment.entity()).await.unwrap();
    let body = body.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Sampled=0");
    let tp = TraceParent::parse(lines[1]).unwrap();
    assert_eq!(std::str::from_utf8(&tp.trace_id.to_w3c()).unwrap(), W3C_TRACE);
    assert!(!tp.sampled);
    assert_eq!(lines[2], TRACESTATE);
    segment.end();
    assert!(capture.take().is_empty());
}
