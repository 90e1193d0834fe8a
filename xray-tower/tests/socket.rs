//! Real loopback sockets: an axum server with the layer behind `axum::serve`, and a hyper-util
//! client with `XrayClientLayer`, end to end.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use common::*;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tower::{ServiceBuilder, ServiceExt};
use xray_core::{MemoryEmitter, Recorder, TraceFutureExt};
use xray_tower::{XrayClientLayer, XrayClientService, XrayLayer};

const WAIT: Duration = Duration::from_secs(10);

/// Serves `app` on 127.0.0.1 with the peer address available as `ConnectInfo`.
async fn serve(app: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    (addr, server)
}

/// A server that answers with the `X-Amzn-Trace-Id` it received, or `none`.
fn echo_app() -> Router {
    let echo = |headers: HeaderMap| async move {
        headers.get("x-amzn-trace-id").map_or("none".to_owned(), |v| v.to_str().unwrap().to_owned())
    };
    Router::new().route("/echo", get(echo)).route("/fail", get(|| async { (http::StatusCode::BAD_GATEWAY, "down") }))
}

fn traced_client() -> XrayClientService<Client<HttpConnector, Full<Bytes>>> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    ServiceBuilder::new().layer(XrayClientLayer::new()).service(client)
}

async fn fetch(uri: String, headers: &[(&str, &str)]) -> (u16, String) {
    let mut builder = Request::get(uri).header("user-agent", "xray-test");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = traced_client().oneshot(builder.body(Full::new(Bytes::new())).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn one_waited(emitter: &MemoryEmitter) -> Value {
    let docs = emitter.wait_for(1, WAIT);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    only_document(emitter)
}

#[tokio::test]
async fn server_over_a_real_socket_records_the_peer_address() {
    let (recorder, emitter) = recorder();
    let app = Router::new()
        .route("/hello", get(|| async { "hello over tcp" }))
        .layer(XrayLayer::new("svc").with_recorder(recorder));
    let (addr, server) = serve(app).await;

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::get(format!("http://{addr}/hello?q=1"))
        .header("user-agent", "xray-test")
        .header("x-amzn-trace-id", format!("Root={ROOT};Parent={PARENT};Sampled=1"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.headers()["x-amzn-trace-id"], format!("Root={ROOT}").as_str());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello over tcp");

    let doc = one_waited(&emitter);
    assert_eq!(doc["trace_id"], ROOT);
    assert_eq!(doc["parent_id"], PARENT);
    let request = &doc["http"]["request"];
    // The peer address comes from axum's ConnectInfo, read with the `axum` feature.
    if cfg!(feature = "axum") {
        assert_eq!(request["client_ip"], "127.0.0.1");
    } else {
        assert!(request.get("client_ip").is_none());
    }
    assert!(request.get("x_forwarded_for").is_none());
    assert_eq!(request["url"], format!("http://{addr}/hello"));
    assert_eq!(request["user_agent"], "xray-test");
    assert_eq!(doc["http"]["response"]["status"], 200);
    assert_eq!(doc["http"]["response"]["content_length"], 14);
    server.abort();
}

#[tokio::test]
async fn client_layer_records_a_subsegment_and_injects_the_header() {
    let (addr, server) = serve(echo_app()).await;
    let (recorder, emitter) = recorder();
    let segment = recorder.new_segment("caller");
    let (status, echoed) =
        fetch(format!("http://user:pw@{addr}/echo?token=secret"), &[]).with_entity(segment.entity()).await;
    let (failed, _) = fetch(format!("http://{addr}/fail"), &[]).with_entity(segment.entity()).await;
    let trace_id = segment.trace_id().unwrap().to_string();
    segment.end();

    assert_eq!((status, failed), (200, 502));
    let doc = only_document(&emitter);
    let subsegments = doc["subsegments"].as_array().unwrap();
    assert_eq!(subsegments.len(), 2);
    let call = &subsegments[0];
    assert_eq!(call["name"], "127.0.0.1");
    assert_eq!(call["namespace"], "remote");
    assert_eq!(call["http"]["request"]["method"], "GET");
    assert_eq!(call["http"]["request"]["url"], format!("http://{addr}/echo"));
    assert_eq!(call["http"]["request"]["traced"], true);
    assert_eq!(call["http"]["response"]["status"], 200);
    assert_eq!(call["http"]["response"]["content_length"], echoed.len());
    assert_eq!(echoed, format!("Root={trace_id};Parent={};Sampled=1", call["id"].as_str().unwrap()));

    let failed = &subsegments[1];
    assert_eq!(failed["http"]["response"]["status"], 502);
    assert!(flag(failed, "fault"));
    server.abort();
}

#[tokio::test]
async fn client_layer_outside_a_trace_unsampled_and_with_a_callers_header() {
    let (addr, server) = serve(echo_app()).await;
    let url = format!("http://{addr}/echo");

    let (_, echoed) = fetch(url.clone(), &[]).await;
    assert_eq!(echoed, "none", "outside a trace the client is untouched");

    let (recorder, emitter) = recorder();
    let unsampled = recorder.begin_segment(
        "svc",
        Some(&xray_core::TraceHeader::parse(&format!("Root={ROOT};Sampled=0"))),
        &Default::default(),
    );
    let (_, echoed) = fetch(url.clone(), &[]).with_entity(unsampled.entity()).await;
    assert_eq!(echoed, format!("Root={ROOT};Sampled=0"));
    unsampled.end();
    assert!(documents(&emitter).is_empty());

    let segment = recorder.new_segment("svc");
    let mine = format!("Root={ROOT};Parent={PARENT};Sampled=1");
    let (_, echoed) = fetch(url, &[("x-amzn-trace-id", &mine)]).with_entity(segment.entity()).await;
    assert_eq!(echoed, mine, "a header the caller set is never overwritten");
    segment.end();
    server.abort();
}

#[tokio::test]
async fn client_layer_records_connection_errors_as_remote_faults() {
    // A port nobody listens on: bind, note it, close it.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let (recorder, emitter) = recorder();
    let segment = recorder.new_segment("caller");
    let request = Request::get(format!("http://{closed}/")).body(Full::new(Bytes::new())).unwrap();
    let result = traced_client().oneshot(request).with_entity(segment.entity()).await;
    assert!(result.is_err());
    segment.end();

    let doc = only_document(&emitter);
    let call = &doc["subsegments"][0];
    assert!(flag(call, "fault"));
    assert_eq!(call["cause"]["exceptions"][0]["remote"], true);
    assert!(call["http"].get("response").is_none());
    // hyper-util's error says that connecting failed only to a reader that knows its type.
    if cfg!(feature = "hyper-util") {
        assert!(call["http"]["request"].get("traced").is_none(), "never reached a server: {call:#}");
    }
}

#[tokio::test]
async fn a_call_that_never_connected_is_not_traced() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let (recorder, emitter) = recorder();
    // Boxed errors, as most tower stacks have them, show their source chain.
    let client = ServiceBuilder::new()
        .layer(XrayClientLayer::new())
        .map_err(tower::BoxError::from)
        .service(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let segment = recorder.new_segment("caller");
    let request =
        Request::get(format!("http://user:pw@{closed}/x?token=secret")).body(Full::new(Bytes::new())).unwrap();
    assert!(client.oneshot(request).with_entity(segment.entity()).await.is_err());
    segment.end();

    let doc = only_document(&emitter);
    let call = &doc["subsegments"][0];
    assert!(flag(call, "fault"));
    assert!(call["http"]["request"].get("traced").is_none(), "{call:#}");
    let exceptions = call["cause"]["exceptions"].as_array().unwrap();
    assert!(exceptions.len() > 1, "the chain down to the refused connection: {call:#}");
    assert!(exceptions.iter().all(|e| e["remote"] == true), "{call:#}");
    assert!(!doc.to_string().contains("secret"), "{doc:#}");
}

#[tokio::test]
async fn client_layer_names_calls_with_a_hook() {
    let (addr, server) = serve(echo_app()).await;
    let (recorder, emitter) = recorder();
    let client = || Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let fixed = ServiceBuilder::new().layer(XrayClientLayer::new().with_naming("echo-service")).service(client());
    let by_path = ServiceBuilder::new()
        .layer(XrayClientLayer::new().with_naming(|req: &Request<Full<Bytes>>| format!("echo {}", req.uri().path())))
        .service(client());
    let request = || Request::get(format!("http://{addr}/echo")).body(Full::new(Bytes::new())).unwrap();

    let segment = recorder.new_segment("caller");
    async {
        drop(fixed.oneshot(request()).await.unwrap());
        drop(by_path.oneshot(request()).await.unwrap());
    }
    .with_entity(segment.entity())
    .await;
    segment.end();

    let doc = only_document(&emitter);
    let names: Vec<&Value> = doc["subsegments"].as_array().unwrap().iter().map(|s| &s["name"]).collect();
    assert_eq!(names, ["echo-service", "echo /echo"]);
    server.abort();
}

#[tokio::test]
async fn a_call_dropped_before_its_response_is_cancelled() {
    let slow = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    );
    let (addr, server) = serve(slow).await;
    let (recorder, emitter) = recorder();
    let segment = recorder.new_segment("caller");
    let request = Request::get(format!("http://{addr}/slow")).body(Full::new(Bytes::new())).unwrap();
    let call = traced_client().oneshot(request).with_entity(segment.entity());
    assert!(tokio::time::timeout(Duration::from_millis(200), call).await.is_err());
    segment.end();

    let doc = only_document(&emitter);
    let call = &doc["subsegments"][0];
    assert!(flag(call, "error") && !flag(call, "fault"), "{call:#}");
    assert_eq!(call["cause"]["exceptions"][0]["type"], xray_tower::CANCELLED_TYPE);
    assert!(call["http"].get("response").is_none());
    server.abort();
}

#[tokio::test]
async fn traced_client_to_traced_server_forms_one_trace() {
    let emitter = std::sync::Arc::new(MemoryEmitter::new());
    let recorder =
        Recorder::builder().with_sampler(xray_core::AlwaysSample).with_emitter(emitter.clone()).build().unwrap();
    let app = Router::new()
        .route("/api", get(|| async { "from the server" }))
        .layer(XrayLayer::new("backend").with_recorder(recorder.clone()));
    let (addr, server) = serve(app).await;

    let segment = recorder.new_segment("frontend");
    let (status, _) = fetch(format!("http://{addr}/api"), &[]).with_entity(segment.entity()).await;
    assert_eq!(status, 200);
    // The server ends its segment once its body is sent; the client may read it first.
    let docs = emitter.wait_for(1, WAIT);
    assert_eq!(docs.len(), 1);
    segment.end();

    let docs = documents(&emitter);
    let backend = docs.iter().find(|d| d["name"] == "backend").unwrap();
    let frontend = docs.iter().find(|d| d["name"] == "frontend").unwrap();
    assert_eq!(backend["trace_id"], frontend["trace_id"]);
    assert_eq!(backend["parent_id"], frontend["subsegments"][0]["id"]);
    server.abort();
}
