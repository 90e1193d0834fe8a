//! The real `lambda_runtime` and `lambda_http` crates against a stand-in Runtime API, with the
//! function in a child process sending to a fake X-Ray daemon over UDP.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::{CHILD_VAR, FUNCTION_ARN, FUNCTION_NAME, Invocation, Outcome, RuntimeApi};

/// The function: run by the tests below as a child process (ignored when run directly).
#[test]
#[ignore = "the function under test: the other tests run it as a child process"]
fn child_function() {
    let Ok(mode) = std::env::var(CHILD_VAR) else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(child::run(&mode)).unwrap();
}

mod child {
    use std::net::SocketAddr;
    use std::time::Duration;

    use lambda_runtime::{Error, LambdaEvent, service_fn};
    use serde_json::{Value, json};
    use tower::ServiceBuilder;
    use xray_core::{Recorder, UdpEmitter};
    use xray_lambda::XrayLambdaLayer;

    pub async fn run(mode: &str) -> Result<(), Error> {
        let daemon: SocketAddr = std::env::var("AWS_XRAY_DAEMON_ADDRESS")?.parse()?;
        // Sends only when flushed (or after 30 s): documents that reach the daemon before the
        // response can only have come from the layer's flush.
        let emitter = UdpEmitter::builder(daemon).with_flush_interval(Duration::from_secs(30)).build()?;
        let _xray = Recorder::from_env()?.with_emitter(emitter).install()?;
        match mode {
            "events" => {
                let service = ServiceBuilder::new().layer(XrayLambdaLayer::default()).service(service_fn(handler));
                lambda_runtime::run_concurrent(service).await
            }
            "http" => {
                let service = ServiceBuilder::new()
                    .layer(XrayLambdaLayer::default())
                    .layer(xray_tower::XrayLayer::default())
                    .service(lambda_http::service_fn(http_handler));
                lambda_http::run_concurrent(service).await
            }
            other => Err(format!("unknown mode {other}").into()),
        }
    }

    async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
        let ms = event.payload["sleep_ms"].as_u64().unwrap_or(0);
        xray_core::in_subsegment("work", tokio::time::sleep(Duration::from_millis(ms))).await;
        // What an outbound call would send: the invocation's own trace.
        let downstream = xray_core::current().downstream_header().map(|h| h.to_string());
        if event.payload["fail"] == true {
            return Err("card declined".into());
        }
        Ok(json!({ "request_id": event.context.request_id, "downstream": downstream }))
    }

    async fn http_handler(request: lambda_http::Request) -> Result<http::Response<lambda_http::Body>, Error> {
        xray_core::in_subsegment("load-order", async {}).await;
        let status = if request.uri().path() == "/fail" { 503 } else { 200 };
        Ok(http::Response::builder().status(status).body(lambda_http::Body::from("done"))?)
    }
}

/// The one document of `outcome`'s trace, checked: a valid independent subsegment under
/// Lambda's segment, sent before the outcome was posted, for this invocation only.
fn invocation_document(outcome: &Outcome) -> &Value {
    let invocation = &outcome.invocation;
    let [doc] = outcome.documents_before.as_slice() else {
        panic!(
            "{}: one document before the {} was posted: {:#?}",
            invocation.request_id, outcome.kind, outcome.documents_before
        )
    };
    xray_tests::assert_valid(doc);
    assert_eq!(doc["type"], "subsegment");
    assert_eq!(doc["name"], FUNCTION_NAME);
    assert_eq!(doc["parent_id"], invocation.parent.as_str(), "{doc}");
    assert_eq!(doc["aws"]["request_id"], invocation.request_id.as_str(), "{doc}");
    assert_eq!(doc["aws"]["function_arn"], FUNCTION_ARN);
    doc
}

fn cold_starts(docs: &[Value]) -> usize {
    docs.iter().filter(|d| d["annotations"]["cold_start"] == true).count()
}

#[tokio::test]
async fn sequential_invocations_each_record_under_their_own_facade_before_answering() {
    let invocations = vec![
        Invocation::new(1, true, json!({})),
        Invocation::new(2, false, json!({})),
        Invocation::new(3, true, json!({ "fail": true })),
        Invocation::new(4, true, json!({ "sleep_ms": 20 })),
    ];
    let api = RuntimeApi::start(invocations).await;
    let _child = api.spawn_function("events", &[]);
    let outcomes = api.wait_for_outcomes(4).await;

    let by_id = |id: &str| outcomes.iter().find(|o| o.invocation.request_id == id).unwrap();
    let first = by_id("req-0001");
    assert_eq!(first.kind, "response");
    let doc = invocation_document(first);
    assert_eq!(doc["annotations"]["cold_start"], true);
    assert_eq!(doc["subsegments"][0]["name"], "work");
    // The handler's outbound calls carry the invocation's trace, parent and Lineage.
    let downstream = first.body["downstream"].as_str().unwrap();
    assert_eq!(
        downstream,
        format!("Root={};Parent={};Sampled=1;Lineage=a87bd80c:1", first.invocation.root, doc["id"].as_str().unwrap())
    );

    // Sampled=0: nothing recorded, the trace id and Sampled=0 still passed on.
    let unsampled = by_id("req-0002");
    assert_eq!(unsampled.kind, "response");
    assert!(unsampled.documents_before.is_empty());
    assert_eq!(
        unsampled.body["downstream"],
        format!("Root={};Sampled=0;Lineage=a87bd80c:1", unsampled.invocation.root)
    );

    // A failing handler: a fault with the error as its cause, and the error posted to /error.
    let failed = by_id("req-0003");
    assert_eq!(failed.kind, "error");
    let doc = invocation_document(failed);
    assert_eq!(doc["fault"], true);
    assert_eq!(doc["cause"]["exceptions"][0]["message"], "card declined");
    assert!(doc["annotations"].get("cold_start").is_none());

    invocation_document(by_id("req-0004"));

    // Nothing else arrives later: Sampled=0 sent nothing at all, and cold start was annotated once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let all = api.documents();
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(all.iter().all(|d| d["trace_id"] != unsampled.invocation.root.as_str()));
    assert_eq!(cold_starts(&all), 1);
}

#[tokio::test]
async fn concurrent_invocations_are_never_mixed_up() {
    // The first four are sampled: the runtime hands them to its four workers, and whichever
    // starts first is the process's cold start, which only a sampled invocation records.
    let sampled = |n: u32| n <= 4 || !n.is_multiple_of(4);
    let invocations: Vec<_> = (1..=12).map(|n| Invocation::new(n, sampled(n), json!({ "sleep_ms": 150 }))).collect();
    let api = RuntimeApi::start(invocations).await;
    let _child = api.spawn_function("events", &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")]);
    let outcomes = api.wait_for_outcomes(12).await;
    assert!(api.max_in_flight() > 1, "the invocations overlapped: at most {} at once", api.max_in_flight());

    let mut ids = HashSet::new();
    for outcome in &outcomes {
        let invocation = &outcome.invocation;
        assert_eq!(outcome.kind, "response");
        assert_eq!(outcome.body["request_id"], invocation.request_id.as_str());
        if !invocation.sampled {
            assert!(outcome.documents_before.is_empty(), "{outcome:#?}");
            assert_eq!(outcome.body["downstream"], format!("Root={};Sampled=0;Lineage=a87bd80c:1", invocation.root));
            continue;
        }
        // Its own trace and parent (checked inside), and its own work under it.
        let doc = invocation_document(outcome);
        assert_eq!(doc["subsegments"].as_array().unwrap().len(), 1);
        assert_eq!(doc["subsegments"][0]["name"], "work");
        let downstream = outcome.body["downstream"].as_str().unwrap();
        assert!(downstream.starts_with(&format!("Root={};Parent={}", invocation.root, doc["id"].as_str().unwrap())));
        assert!(ids.insert(doc["id"].as_str().unwrap().to_owned()));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let all = api.documents();
    assert_eq!(all.len(), 10, "one document per sampled invocation: {all:#?}");
    assert_eq!(cold_starts(&all), 1);
}

fn api_gateway_event(path: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "token=secret",
        "headers": { "host": "api.example", "user-agent": "curl/8" },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example",
            "domainPrefix": "api",
            "http": { "method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "curl/8" },
            "requestId": "r1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390u64
        },
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn lambda_http_requests_are_subsegments_with_the_http_block() {
    let invocations = vec![
        Invocation::new(21, true, api_gateway_event("/orders/7")),
        Invocation::new(22, true, api_gateway_event("/fail")),
        Invocation::new(23, false, api_gateway_event("/orders/8")),
    ];
    let api = RuntimeApi::start(invocations).await;
    let _child = api.spawn_function("http", &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")]);
    let outcomes = api.wait_for_outcomes(3).await;
    for outcome in &outcomes {
        assert_eq!(outcome.kind, "response", "{outcome:#?}");
        let invocation = &outcome.invocation;
        if !invocation.sampled {
            assert!(outcome.documents_before.is_empty(), "{outcome:#?}");
            continue;
        }
        let doc = invocation_document(outcome);
        let request = &doc["subsegments"][0];
        assert_eq!(request["name"], FUNCTION_NAME);
        assert_eq!(request["http"]["request"]["method"], "GET");
        // The API's host and the path, never the query.
        let path = invocation.payload["rawPath"].as_str().unwrap();
        let url = request["http"]["request"]["url"].as_str().unwrap();
        assert!(url.ends_with(&format!("://api.example{path}")), "{url}");
        assert_eq!(request["subsegments"][0]["name"], "load-order");
        let status = request["http"]["response"]["status"].as_u64().unwrap();
        if invocation.request_id == "req-0022" {
            assert_eq!(status, 503);
            assert_eq!(request["fault"], true);
        } else {
            assert_eq!(status, 200);
            assert!(request.get("fault").is_none());
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(api.documents().len(), 2);
}

#[tokio::test]
async fn lambda_http_requests_without_x_ray_context_continue_their_traceparent() {
    let invocations = vec![Invocation::with_traceparent(31, api_gateway_event("/orders/9"))];
    let api = RuntimeApi::start(invocations).await;
    let _child = api.spawn_function("http", &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")]);
    let outcomes = api.wait_for_outcomes(1).await;
    let outcome = &outcomes[0];
    assert_eq!(outcome.kind, "response", "{outcome:#?}");
    let invocation = &outcome.invocation;
    // Flushed before the response: the function's own segment in the caller's trace.
    let [doc] = outcome.documents_before.as_slice() else { panic!("one document: {outcome:#?}") };
    xray_tests::assert_valid(doc);
    assert!(doc.get("type").is_none(), "a segment: {doc:#}");
    assert_eq!(doc["name"], FUNCTION_NAME);
    assert_eq!(doc["trace_id"], invocation.root.as_str());
    assert_eq!(doc["parent_id"], invocation.parent.as_str(), "the caller's span");
    assert_eq!(doc["origin"], xray_lambda::FUNCTION_ORIGIN);
    assert_eq!(doc["aws"]["request_id"], invocation.request_id.as_str());
    let request = &doc["subsegments"][0];
    assert_eq!(request["http"]["response"]["status"], 200);
    assert_eq!(request["subsegments"][0]["name"], "load-order");
}
