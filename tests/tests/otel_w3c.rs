//! One trace from an OpenTelemetry-instrumented client through two services traced by this
//! SDK: the client's span goes out as W3C `traceparent` and `tracestate` (injected by the
//! `opentelemetry_sdk` W3C propagator), service A (axum + `XrayLayer`) continues that trace and
//! calls service B (axum + `XrayLayer`) through `XrayMiddleware`, which sends both X-Ray's
//! header and `traceparent`. The OpenTelemetry trace id is random, so its first 8 hex digits
//! are no plausible epoch: it must be carried unchanged all the same.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::{
    Link, Span as _, SpanKind, TraceContextExt, TraceId, TraceState, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest_middleware::ClientBuilder;
use serde_json::Value;
use xray_core::test::Capture;
use xray_reqwest::XrayMiddleware;
use xray_tower::XrayLayer;

const WAIT: Duration = Duration::from_secs(10);

/// Puts what the OpenTelemetry propagator injects into reqwest's headers.
struct Headers<'a>(&'a mut reqwest::header::HeaderMap);

impl Injector for Headers<'_> {
    fn set(&mut self, key: &str, value: String) {
        let name = HeaderName::from_bytes(key.as_bytes()).expect("a header name");
        self.0.insert(name, HeaderValue::from_str(&value).expect("a header value"));
    }
}

/// Samples every span and stamps a `tracestate` entry on it, as a vendor's sampler would.
#[derive(Debug, Clone)]
struct StampTraceState;

impl ShouldSample for StampTraceState {
    fn should_sample(
        &self,
        _: Option<&Context>,
        _: TraceId,
        _: &str,
        _: &SpanKind,
        _: &[KeyValue],
        _: &[Link],
    ) -> SamplingResult {
        SamplingResult {
            decision: SamplingDecision::RecordAndSample,
            attributes: Vec::new(),
            trace_state: TraceState::from_key_value([("otelclient", "e2e")]).expect("a valid tracestate"),
        }
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The one document a service emitted, checked against the X-Ray schema.
fn one(capture: &Capture) -> Value {
    let docs = capture.emitter().wait_for(1, WAIT);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    xray_tests::assert_valid(&docs[0]);
    docs[0].clone()
}

#[tokio::test]
async fn one_trace_from_an_opentelemetry_client_through_two_services() {
    // B answers with the three trace headers it received.
    let b = Capture::with(|builder| builder.with_service_name("stock"));
    let echo = |headers: HeaderMap| async move {
        ["x-amzn-trace-id", "traceparent", "tracestate"]
            .map(|name| headers.get(name).map_or("-", |v| v.to_str().unwrap()).to_owned())
            .join("\n")
    };
    let b_app =
        Router::new().route("/stock", get(echo)).layer(XrayLayer::default().with_recorder(b.recorder().clone()));
    let b_addr = serve(b_app).await;

    // A calls B from inside its own traced request.
    let a = Capture::with(|builder| builder.with_service_name("orders"));
    let client = ClientBuilder::new(reqwest::Client::new()).with(XrayMiddleware::default()).build();
    let orders = move || {
        let client = client.clone();
        async move { client.get(format!("http://{b_addr}/stock")).send().await.unwrap().text().await.unwrap() }
    };
    let a_app =
        Router::new().route("/orders", get(orders)).layer(XrayLayer::default().with_recorder(a.recorder().clone()));
    let a_addr = serve(a_app).await;

    // The OpenTelemetry client: a span, injected as W3C trace context.
    let provider = SdkTracerProvider::builder().with_sampler(StampTraceState).build();
    let tracer = provider.tracer("e2e-client");
    let span = tracer.span_builder("checkout").with_kind(SpanKind::Client).start(&tracer);
    let (otel_trace, otel_span) =
        (span.span_context().trace_id().to_string(), span.span_context().span_id().to_string());
    let cx = Context::current_with_span(span);
    let mut headers = reqwest::header::HeaderMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut Headers(&mut headers));
    assert_eq!(headers["traceparent"], format!("00-{otel_trace}-{otel_span}-01").as_str());
    let response = reqwest::Client::new().get(format!("http://{a_addr}/orders")).headers(headers).send().await.unwrap();
    let received_by_b = response.text().await.unwrap();
    cx.span().end();

    let xray_trace = format!("1-{}-{}", &otel_trace[..8], &otel_trace[8..]);
    let a_doc = one(&a);
    let b_doc = one(&b);
    // One trace id end to end, exactly the client's.
    assert_eq!(a_doc["trace_id"], xray_trace.as_str());
    assert_eq!(b_doc["trace_id"], xray_trace.as_str());
    // A's segment is a child of the OpenTelemetry span; B's of A's call subsegment.
    assert_eq!(a_doc["name"], "orders");
    assert_eq!(a_doc["parent_id"], otel_span.as_str());
    let call = &a_doc["subsegments"][0];
    assert_eq!(call["namespace"], "remote");
    assert_eq!(call["http"]["request"]["traced"], true);
    let call_id = call["id"].as_str().unwrap();
    assert_eq!(b_doc["name"], "stock");
    assert_eq!(b_doc["parent_id"], call_id);
    // What B received: both headers naming the same trace and parent, and the client's
    // tracestate, passed on by A.
    let lines: Vec<&str> = received_by_b.lines().collect();
    assert_eq!(
        lines,
        [
            format!("Root={xray_trace};Parent={call_id};Sampled=1").as_str(),
            format!("00-{otel_trace}-{call_id}-01").as_str(),
            "otelclient=e2e",
        ]
    );
}
