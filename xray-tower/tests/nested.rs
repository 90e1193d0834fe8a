//! A request that arrives inside a trace (an AWS Lambda invocation's facade, or any entity an
//! outer layer made current) becomes a subsegment of that entity with the `http` block, not a
//! second segment.

use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt, service_fn};
use xray_core::TraceFutureExt;
use xray_core::test::Capture;
use xray_tower::XrayLayer;

const LAMBDA_HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// Answers `status`, recording a subsegment of its own and what trace it saw.
fn app(
    capture: &Capture,
    status: StatusCode,
) -> impl tower::Service<Request<String>, Response = Response<impl http_body::Body>, Error = Infallible> {
    let handler = service_fn(move |_req: Request<String>| async move {
        xray_core::in_subsegment("handler-work", async {}).await;
        Ok::<_, Infallible>(Response::builder().status(status).body(String::from("done")).unwrap())
    });
    XrayLayer::default().with_recorder(capture.recorder().clone()).layer(handler)
}

async fn send(
    service: impl tower::Service<Request<String>, Response = Response<impl http_body::Body>, Error = Infallible>,
) {
    // Lambda's header, as lambda_http copies it into the request: not a caller's to continue.
    let request = Request::get("/orders/7?token=x")
        .header("host", "api.example")
        .header("x-amzn-trace-id", LAMBDA_HEADER)
        .body(String::new())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let _ = response.into_body().collect().await;
}

#[tokio::test]
async fn under_a_lambda_facade_the_request_is_an_independent_subsegment_with_http() {
    let capture = Capture::with(|b| b.with_service_name("orders-fn"));
    let facade = capture.recorder().lambda_segment(&xray_core::TraceHeader::parse(LAMBDA_HEADER));
    send(app(&capture, StatusCode::TOO_MANY_REQUESTS)).with_entity(facade.entity()).await;
    drop(facade);
    let docs = capture.take();
    assert_eq!(docs.len(), 1, "one subsegment, no second segment: {docs:#?}");
    let doc = &docs[0];
    xray_tests::assert_valid(doc);
    assert_eq!(doc["type"], "subsegment");
    assert_eq!(doc["name"], "orders-fn");
    assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(doc["http"]["request"]["method"], "GET");
    assert_eq!(doc["http"]["request"]["url"], "http://api.example/orders/7");
    assert_eq!(doc["http"]["response"]["status"], 429);
    assert_eq!((doc["error"].as_bool(), doc["throttle"].as_bool()), (Some(true), Some(true)));
    assert_eq!(doc["subsegments"][0]["name"], "handler-work");
}

#[tokio::test]
async fn under_a_current_segment_the_request_nests_in_it() {
    let capture = Capture::new();
    let outer = capture.recorder().new_segment("outer");
    send(app(&capture, StatusCode::INTERNAL_SERVER_ERROR)).with_entity(outer.entity()).await;
    outer.end();
    let docs = capture.take();
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(docs[0]["name"], "outer");
    let sub = &docs[0]["subsegments"][0];
    assert_eq!(sub["name"], "service", "the recorder's default service name");
    assert_eq!(sub["fault"], true);
    assert_eq!(sub["http"]["response"]["status"], 500);
}

#[tokio::test]
async fn under_an_unsampled_facade_nothing_is_recorded_and_the_trace_goes_on() {
    let capture = Capture::new();
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
    let facade = capture.recorder().lambda_segment(&xray_core::TraceHeader::parse(header));
    let handler = service_fn(|_req: Request<String>| async {
        let seen = xray_core::integration::current_quiet().downstream_header().map(|h| h.to_string());
        Ok::<_, Infallible>(Response::new(seen.unwrap_or_default()))
    });
    let service = XrayLayer::default().with_recorder(capture.recorder().clone()).layer(handler);
    let response = service.oneshot(Request::new(String::new())).with_entity(facade.entity()).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0");
    drop(facade);
    assert!(capture.take().is_empty());
}
