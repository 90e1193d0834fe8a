//! W3C trace context on `lambda_http` events: X-Ray's header (Lambda's segment) wins; without
//! X-Ray context, a `traceparent` is continued by a segment of the function's own.

use http::{Request, Response};
use lambda_runtime::Context;
use serde_json::Value;
use tower::{Layer, ServiceExt};
use xray_core::test::Capture;
use xray_core::{Propagation, TraceHeader};
use xray_lambda::{COLD_START_ANNOTATION, FUNCTION_ORIGIN, XrayLambdaLayer};

const LAMBDA: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// A caller's span in Lambda's trace.
const SAME_TRACE: &str = "00-5759e988bd862e3fe1be46a994272793-00f067aa0ba902b7-01";
/// A caller's span in a trace of its own (an OpenTelemetry-generated id: no epoch).
const OTHER_TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const OTHER_TRACE_XRAY: &str = "1-4bf92f35-77b34da6a3ce929d0e0e4736";

fn context(xray: Option<&str>) -> Context {
    let mut context = Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into();
    context.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:checkout".into();
    context.xray_trace_id = xray.map(str::to_owned);
    context
}

/// Invokes an HTTP handler through the layer with `headers` and the context's X-Ray header;
/// returns what the handler's outbound calls would send (`X-Amzn-Trace-Id`, `tracestate`).
async fn invoke(capture: &Capture, xray: Option<&str>, headers: &[(&str, &str)]) -> (String, Option<String>) {
    let handler = tower::service_fn(|_request: Request<String>| async {
        let (down, state) = xray_core::in_subsegment("work", async {
            let current = xray_core::current();
            (current.downstream_header().unwrap_or_default(), current.tracestate().map(str::to_owned))
        })
        .await;
        let body = format!("{down}|{}", state.as_deref().unwrap_or("-"));
        Ok::<_, std::convert::Infallible>(Response::new(body))
    });
    let service = XrayLambdaLayer::default().with_recorder(capture.recorder().clone()).layer(handler);
    let mut request = Request::builder().uri("https://fn.example/orders");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(String::new()).unwrap();
    request.extensions_mut().insert(context(xray));
    let response = service.oneshot(request).await.unwrap();
    let body =
        String::from_utf8(http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes().to_vec())
            .unwrap();
    let (down, state) = body.split_once('|').unwrap();
    (down.to_owned(), (state != "-").then(|| state.to_owned()))
}

#[tokio::test]
async fn x_rays_header_wins_over_a_traceparent_of_another_trace() {
    let capture = Capture::new();
    let headers = [("traceparent", OTHER_TRACE), ("tracestate", "vendor=1")];
    let (down, state) = invoke(&capture, Some(LAMBDA), &headers).await;
    let down = TraceHeader::parse(&down);
    assert_eq!(down.root().unwrap().to_string(), "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(state, None, "the other trace's tracestate is dropped");
    let docs = capture.take();
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let doc = &docs[0];
    xray_tests::assert_valid(doc);
    // Under Lambda's segment, as without a traceparent.
    assert_eq!(doc["type"], "subsegment");
    assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(doc["subsegments"][0]["name"], "work");
}

#[tokio::test]
async fn a_traceparent_of_lambdas_trace_passes_its_tracestate_on() {
    let capture = Capture::new();
    let headers = [("traceparent", SAME_TRACE), ("tracestate", "vendor=1"), ("tracestate", "other=2")];
    let (down, state) = invoke(&capture, Some(LAMBDA), &headers).await;
    assert_eq!(TraceHeader::parse(&down).root().unwrap().to_string(), "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(state.as_deref(), Some("vendor=1,other=2"));
    let docs = capture.take();
    assert_eq!(docs[0]["parent_id"], "53995c3f42cd8ad8", "still Lambda's segment, not the caller's span");
}

#[tokio::test]
async fn without_x_ray_context_the_function_continues_the_w3c_trace_in_a_segment_of_its_own() {
    let capture = Capture::new();
    let headers = [("traceparent", OTHER_TRACE), ("tracestate", "vendor=1")];
    let (down, state) = invoke(&capture, None, &headers).await;
    let down = TraceHeader::parse(&down);
    assert_eq!(down.root().unwrap().to_string(), OTHER_TRACE_XRAY, "the trace id goes on unchanged");
    assert_eq!(state.as_deref(), Some("vendor=1"));
    let docs = capture.take();
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let doc = &docs[0];
    xray_tests::assert_valid(doc);
    assert!(doc.get("type").is_none(), "a segment: {doc:#}");
    assert_eq!(doc["name"], "checkout");
    assert_eq!(doc["trace_id"], OTHER_TRACE_XRAY);
    assert_eq!(doc["parent_id"], "00f067aa0ba902b7", "the caller's span");
    assert_eq!(doc["origin"], FUNCTION_ORIGIN);
    assert_eq!(doc["aws"]["request_id"], "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    assert_eq!(doc["aws"]["function_arn"], "arn:aws:lambda:eu-west-1:123456789012:function:checkout");
    let work = &doc["subsegments"][0];
    assert_eq!(work["name"], "work");
    assert_eq!(
        down.parent().unwrap().to_string(),
        work["id"].as_str().unwrap(),
        "outbound calls name the handler's subsegment"
    );
    // The first invocation of the test binary may be another test's: only its presence is checked.
    let cold = doc["annotations"].get(COLD_START_ANNOTATION).cloned().unwrap_or(Value::Bool(true));
    assert_eq!(cold, Value::Bool(true));
}

#[tokio::test]
async fn an_unsampled_traceparent_records_nothing_and_still_propagates() {
    let capture = Capture::new();
    let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    let (down, _) = invoke(&capture, None, &[("traceparent", unsampled)]).await;
    let down = TraceHeader::parse(&down);
    assert_eq!(down.root().unwrap().to_string(), OTHER_TRACE_XRAY);
    assert_eq!(down.sampled(), xray_core::SamplingFlag::NotSampled);
    assert!(capture.take().is_empty());
}

#[tokio::test]
async fn invalid_or_switched_off_traceparents_are_not_followed() {
    // Nothing to attach to: no X-Ray context and no usable traceparent.
    let cases: [(&[(&str, &str)], Propagation); 4] = [
        (&[("traceparent", "00-zz-00f067aa0ba902b7-01")], Propagation::Both),
        (&[("traceparent", OTHER_TRACE), ("traceparent", SAME_TRACE)], Propagation::Both),
        (&[("traceparent", OTHER_TRACE)], Propagation::Xray),
        (&[("tracestate", "vendor=1")], Propagation::Both),
    ];
    for (headers, propagation) in cases {
        let capture = Capture::with(|b| b.with_propagation(propagation));
        invoke(&capture, None, headers).await;
        assert!(capture.take().is_empty(), "{headers:?} {propagation:?}");
    }
    // With the W3C format switched off, Lambda's header is still followed.
    let capture = Capture::with(|b| b.with_propagation(Propagation::Xray));
    invoke(&capture, Some(LAMBDA), &[("traceparent", OTHER_TRACE)]).await;
    assert_eq!(capture.take()[0]["parent_id"], "53995c3f42cd8ad8");
}
