//! The layer on an axum `Router`, driven with `oneshot`: propagation, sampling, the response
//! header, what the segment records, and how it ends.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::*;
use serde_json::Value;
use xray_core::NeverSample;
use xray_core::integration::{SamplingDecision, SamplingRequest};
use xray_tower::{DynamicNaming, XrayLayer};

fn app(recorder: xray_core::Recorder) -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/status/{code}",
            get(|axum::extract::Path(code): axum::extract::Path<u16>| async move {
                (StatusCode::from_u16(code).unwrap(), "status")
            }),
        )
        .route(
            "/downstream",
            get(|| async {
                // What an outbound call made by this handler would send.
                xray_core::integration::current_quiet().downstream_header().map(|h| h.to_string()).unwrap_or_default()
            }),
        )
        .layer(XrayLayer::new("svc").with_recorder(recorder))
}

#[tokio::test]
async fn continues_the_callers_trace() {
    let (recorder, emitter) = recorder();
    let app = app(recorder);
    let header = format!("Root={ROOT};Parent={PARENT};Sampled=1");
    let (response, body) = send(&app, request("/downstream", &[("x-amzn-trace-id", &header)])).await;

    assert_eq!(response.status(), 200);
    assert_eq!(trace_header(&response), format!("Root={ROOT}"));
    let doc = only_document(&emitter);
    assert_eq!(doc["name"], "svc");
    assert_eq!(doc["trace_id"], ROOT);
    assert_eq!(doc["parent_id"], PARENT);
    // Downstream calls continue the trace with this segment as their parent.
    assert_eq!(body, format!("Root={ROOT};Parent={};Sampled=1", doc["id"].as_str().unwrap()));
}

#[tokio::test]
async fn obeys_sampled_0_but_still_propagates() {
    let (recorder, emitter) = recorder();
    let app = app(recorder);
    let header = format!("Root={ROOT};Parent={PARENT};Sampled=0");
    let (response, body) = send(&app, request("/downstream", &[("x-amzn-trace-id", &header)])).await;

    assert_eq!(response.status(), 200);
    assert_eq!(trace_header(&response), format!("Root={ROOT}"));
    assert_eq!(body, format!("Root={ROOT};Sampled=0"));
    assert!(documents(&emitter).is_empty(), "an unsampled request emits nothing");
}

#[tokio::test]
async fn sampled_question_mark_is_answered() {
    for (sampled, answer) in [(true, "1"), (false, "0")] {
        let (recorder, emitter) = recorder_with(move |_: &SamplingRequest<'_>| SamplingDecision::new(sampled));
        let app = app(recorder);
        let header = format!("Root={ROOT};Sampled=?");
        let (response, _) = send(&app, request("/hello", &[("x-amzn-trace-id", &header)])).await;
        assert_eq!(trace_header(&response), format!("Root={ROOT};Sampled={answer}"));
        assert_eq!(documents(&emitter).len(), usize::from(sampled));
    }
}

#[tokio::test]
async fn without_a_header_the_sampler_decides_from_the_request() {
    let seen: Arc<Mutex<Vec<[Option<String>; 4]>>> = Arc::default();
    let log = seen.clone();
    let sampler = move |r: &SamplingRequest<'_>| {
        let own = |s: Option<&str>| s.map(str::to_owned);
        log.lock().unwrap().push([own(r.host), own(r.method), own(r.url_path), own(r.service_name)]);
        SamplingDecision::new(r.url_path == Some("/hello"))
    };
    let (recorder, emitter) = recorder_with(sampler);
    let app = app(recorder);

    let (sampled, _) = send(&app, request("/hello?x=1", &[])).await;
    let (unsampled, body) = send(&app, request("/downstream", &[])).await;

    let expected = |path: &str| [Some("svc.test".into()), Some("GET".into()), Some(path.into()), Some("svc".into())];
    assert_eq!(*seen.lock().unwrap(), vec![expected("/hello"), expected("/downstream")]);
    let doc = only_document(&emitter);
    assert_eq!(trace_header(&sampled), format!("Root={}", doc["trace_id"].as_str().unwrap()));
    assert!(doc.get("parent_id").is_none());
    // The unsampled request got a new trace id of its own, answered and propagated.
    let root = trace_header(&unsampled).strip_prefix("Root=").unwrap().to_owned();
    assert_ne!(root, doc["trace_id"].as_str().unwrap());
    assert_eq!(body, format!("Root={root};Sampled=0"));
}

#[tokio::test]
async fn a_malformed_header_starts_a_new_trace() {
    let (recorder, emitter) = recorder();
    let app = app(recorder);
    // An invalid root: its Parent must not be used either (its Sampled flag is obeyed, as the
    // official SDKs do; here it says to record).
    let (response, _) =
        send(&app, request("/hello", &[("x-amzn-trace-id", &format!("Root=1-zzz;Parent={PARENT};Sampled=1"))])).await;
    let doc = only_document(&emitter);
    assert!(doc.get("parent_id").is_none());
    assert_ne!(doc["trace_id"], ROOT);
    assert_eq!(trace_header(&response), format!("Root={}", doc["trace_id"].as_str().unwrap()));

    let (response, _) = send(&app, request("/hello", &[("x-amzn-trace-id", ";;==;garbage")])).await;
    let doc = only_document(&emitter);
    assert_eq!(trace_header(&response), format!("Root={}", doc["trace_id"].as_str().unwrap()));
}

#[tokio::test]
async fn status_codes_set_the_flags() {
    let (recorder, emitter) = recorder();
    let app = app(recorder);
    for (status, error, fault, throttle) in
        [(200, false, false, false), (404, true, false, false), (429, true, false, true), (500, false, true, false)]
    {
        let (response, _) = send(&app, request(&format!("/status/{status}"), &[])).await;
        assert_eq!(response.status(), status);
        let doc = only_document(&emitter);
        assert_eq!(doc["http"]["response"]["status"], status);
        assert_eq!(doc["http"]["response"]["content_length"], 6);
        assert_eq!(
            (flag(&doc, "error"), flag(&doc, "fault"), flag(&doc, "throttle")),
            (error, fault, throttle),
            "{status}"
        );
    }
    // A path no route matches: axum's fallback answers 404 inside the layer.
    let (response, _) = send(&app, request("/nowhere", &[])).await;
    assert_eq!(response.status(), 404);
    let doc = only_document(&emitter);
    assert_eq!(doc["http"]["response"]["status"], 404);
    assert!(flag(&doc, "error"));
}

#[tokio::test]
async fn records_the_request() {
    let (recorder, emitter) = recorder();
    let app = app(recorder);
    let headers = [("user-agent", "curl/8.5"), ("x-forwarded-for", "203.0.113.9, 10.0.0.2")];
    send(&app, request("/hello?token=secret", &headers)).await;
    let doc = only_document(&emitter);
    let request = &doc["http"]["request"];
    assert_eq!(request["method"], "GET");
    assert_eq!(request["url"], "http://svc.test/hello");
    assert_eq!(request["user_agent"], "curl/8.5");
    assert_eq!(request["client_ip"], "203.0.113.9");
    assert_eq!(request["x_forwarded_for"], true);
    assert_eq!(doc["aws"]["xray"]["sdk"], "X-Ray for Rust");
}

#[tokio::test]
async fn query_string_is_kept_on_request() {
    let (recorder, emitter) = recorder();
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .layer(XrayLayer::new("svc").with_recorder(recorder).with_query_in_url(true));
    send(&app, request("/hello?page=2", &[("x-forwarded-proto", "https")])).await;
    assert_eq!(only_document(&emitter)["http"]["request"]["url"], "https://svc.test/hello?page=2");
}

#[tokio::test]
async fn naming() {
    let (recorder, emitter) = recorder();
    let app = Router::new().route("/", get(|| async { "" })).layer(
        XrayLayer::new("unused").with_recorder(recorder).with_naming(DynamicNaming::new("*.example.com", "fallback")),
    );
    let mut names = Vec::new();
    for host in ["API.example.com", "example.com", "evil.test"] {
        let request = http::Request::get("/").header("host", host).body(axum::body::Body::empty()).unwrap();
        send(&app, request).await;
        names.push(only_document(&emitter)["name"].clone());
    }
    assert_eq!(names, ["API.example.com", "fallback", "fallback"]);

    // A closure, and AWS_XRAY_TRACING_NAME (here set on the builder) overriding any name.
    let (recorder, emitter) = recorder_with(xray_core::AlwaysSample);
    let by_method = |req: &http::Request<axum::body::Body>| format!("svc-{}", req.method().as_str().to_lowercase());
    let app = Router::new()
        .route("/", get(|| async { "" }))
        .layer(XrayLayer::new("x").with_recorder(recorder).with_naming(by_method));
    send(&app, request("/", &[])).await;
    assert_eq!(only_document(&emitter)["name"], "svc-get");

    let emitter2 = Arc::new(xray_core::MemoryEmitter::new());
    let overriding = xray_core::Recorder::builder()
        .with_sampler(xray_core::AlwaysSample)
        .with_emitter(emitter2.clone())
        .with_tracing_name("from-env")
        .build()
        .unwrap();
    let app = Router::new().route("/", get(|| async { "" })).layer(XrayLayer::new("svc").with_recorder(overriding));
    send(&app, request("/", &[])).await;
    assert_eq!(only_document(&emitter2)["name"], "from-env");
}

#[tokio::test]
async fn handler_annotations_and_on_request_hook() {
    let (recorder, emitter) = recorder();
    let hook = |req: &http::Request<axum::body::Body>, segment: &xray_core::Entity| {
        if let Some(tenant) = req.headers().get("x-tenant").and_then(|v| v.to_str().ok()) {
            segment.annotate("tenant", tenant);
        }
    };
    let app = Router::new()
        .route(
            "/work",
            get(|| async {
                xray_core::current().annotate("handler", true);
                xray_core::in_subsegment("step", async { tokio::task::yield_now().await }).await;
                "done"
            }),
        )
        .layer(XrayLayer::new("svc").with_recorder(recorder).with_on_request(hook));
    send(&app, request("/work", &[("x-tenant", "acme")])).await;
    let doc = only_document(&emitter);
    assert_eq!(doc["annotations"]["tenant"], "acme");
    assert_eq!(doc["annotations"]["handler"], true);
    assert_eq!(doc["subsegments"][0]["name"], "step");

    // Unsampled requests never reach the hook.
    let (recorder, emitter) = recorder_with(NeverSample);
    let called = Arc::new(Mutex::new(0));
    let count = called.clone();
    let app = Router::new().route("/", get(|| async { "" })).layer(
        XrayLayer::new("svc").with_recorder(recorder).with_on_request(
            move |_: &http::Request<axum::body::Body>, _: &xray_core::Entity| *count.lock().unwrap() += 1,
        ),
    );
    send(&app, request("/", &[])).await;
    assert_eq!(*called.lock().unwrap(), 0);
    assert!(documents(&emitter).is_empty());
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn route_annotation() {
    let (recorder, emitter) = recorder();
    let app = Router::new()
        .route("/users/{id}", get(|| async { "" }))
        .layer(XrayLayer::new("svc").with_recorder(recorder).with_route_annotation(true));
    send(&app, request("/users/17", &[])).await;
    assert_eq!(only_document(&emitter)["annotations"]["route"], "/users/{id}");
}

#[tokio::test]
async fn a_response_header_set_by_the_handler_is_kept() {
    let (recorder, emitter) = recorder();
    let app = Router::new()
        .route("/", get(|| async { ([("x-amzn-trace-id", "Root=mine")], "") }))
        .layer(XrayLayer::new("svc").with_recorder(recorder));
    let (response, _) = send(&app, request("/", &[])).await;
    assert_eq!(trace_header(&response), "Root=mine");
    assert_eq!(documents(&emitter).len(), 1);
}

#[tokio::test]
async fn disabled_sdk_passes_requests_through() {
    let emitter = Arc::new(xray_core::MemoryEmitter::new());
    let recorder = xray_core::Recorder::builder()
        .with_enabled(false)
        .with_sampler(xray_core::AlwaysSample)
        .with_emitter(emitter.clone())
        .build()
        .unwrap();
    let app = app(recorder);
    let header = format!("Root={ROOT};Sampled=1");
    let (response, body) = send(&app, request("/downstream", &[("x-amzn-trace-id", &header)])).await;
    assert_eq!(response.status(), 200);
    assert_eq!(trace_header(&response), "");
    assert_eq!(body, "", "nothing in context");
    assert!(documents(&emitter).is_empty());
}

#[tokio::test]
async fn every_document_is_schema_valid() {
    let (recorder, emitter) = recorder();
    let app = app(recorder);
    for path in ["/hello", "/status/503", "/nowhere", "/downstream"] {
        send(&app, request(path, &[("user-agent", "t"), ("x-amzn-trace-id", &format!("Root={ROOT};Parent={PARENT}"))]))
            .await;
    }
    let docs: Vec<Value> = documents(&emitter);
    assert_eq!(docs.len(), 4);
    assert!(docs.iter().all(|d| d["trace_id"] == ROOT));
}
