//! `XrayMiddleware` in a real `reqwest-middleware` client against a real local axum server.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{closed_port, expected_header, only_document, recorder, subsegments, test_server};
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use serde_json::{Value, json};
use xray_core::integration::SamplingRequest;
use xray_core::{AlwaysSample, EntityId, NeverSample, TraceFutureExt, TraceHeader};
use xray_reqwest::XrayMiddleware;

fn client_with(middleware: XrayMiddleware<impl xray_reqwest::SubsegmentNamer>) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new()).with(middleware).build()
}

fn client() -> ClientWithMiddleware {
    client_with(XrayMiddleware::default())
}

fn flag(doc: &Value, name: &str) -> bool {
    doc.get(name).and_then(Value::as_bool).unwrap_or(false)
}

#[tokio::test]
async fn sampled_call_is_a_remote_subsegment_that_parents_the_callee() {
    let (addr, seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let segment = recorder.new_segment("caller");

    let response = client()
        .get(format!("http://alice:pa55word@{addr}/echo/items/7?token=s3cr3t-query#fragment"))
        .send()
        .with_entity(segment.entity())
        .await
        .unwrap();
    let content_length = response.content_length().unwrap();
    let received = response.text().await.unwrap();
    segment.end();

    let doc = only_document(&emitter);
    let subs = subsegments(&doc);
    assert_eq!(subs.len(), 1);
    let sub = &subs[0];
    assert_eq!(sub["name"], "127.0.0.1");
    assert_eq!(sub["namespace"], "remote");
    assert_eq!(
        sub["http"]["request"],
        json!({"method": "GET", "url": format!("http://{addr}/echo/items/7"), "traced": true})
    );
    assert_eq!(sub["http"]["response"], json!({"status": 200, "content_length": content_length}));
    assert_eq!(content_length, received.len() as u64);
    assert!(!flag(sub, "error") && !flag(sub, "fault") && !flag(sub, "throttle"));
    assert_eq!(received, expected_header(&doc, sub));
    assert_eq!(seen.headers(), vec![Some(received)]);
    let text = doc.to_string();
    for secret in ["alice", "pa55word", "s3cr3t", "fragment"] {
        assert!(!text.contains(secret), "{secret} recorded in {doc:#}");
    }
}

#[tokio::test]
async fn naming_and_query_string_are_configurable() {
    let (addr, _seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let fixed = client_with(XrayMiddleware::new().with_naming("inventory").with_query_in_url(true));
    let by_path = client_with(
        XrayMiddleware::new().with_naming(|req: &Request| format!("{} {}", req.method(), req.url().path())),
    );
    let url = format!("http://{addr}/echo/q?page=2&sort=name");

    let segment = recorder.new_segment("caller");
    async {
        fixed.get(&url).send().await.unwrap();
        by_path.get(&url).send().await.unwrap();
    }
    .with_entity(segment.entity())
    .await;
    segment.end();

    let doc = only_document(&emitter);
    let subs = subsegments(&doc);
    assert_eq!(subs[0]["name"], "inventory");
    assert_eq!(subs[0]["http"]["request"]["url"], url);
    assert_eq!(subs[1]["name"], "GET /echo/q");
    assert_eq!(subs[1]["http"]["request"]["url"], format!("http://{addr}/echo/q"));
}

#[tokio::test]
async fn incoming_extra_keys_travel_on() {
    let (addr, _seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", NeverSample);
    let incoming = TraceHeader::parse(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5",
    );
    let segment = recorder.begin_segment("caller", Some(&incoming), &SamplingRequest::default());

    let received = client()
        .get(format!("http://{addr}/echo/lineage"))
        .send()
        .with_entity(segment.entity())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    segment.end();

    let doc = only_document(&emitter);
    assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
    let sub = &subsegments(&doc)[0];
    assert_eq!(received, format!("{};Lineage=a87bd80c:1|68fd508a:5", expected_header(&doc, sub)));
}

#[tokio::test]
async fn unsampled_trace_propagates_sampled_0_without_parent_and_records_nothing() {
    let (addr, seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let client = client();

    // The caller's decision arrives in the header...
    let incoming =
        TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1");
    let segment = recorder.begin_segment("caller", Some(&incoming), &SamplingRequest::default());
    let url = format!("http://{addr}/echo/unsampled");
    client.get(&url).send().with_entity(segment.entity()).await.unwrap();
    segment.end();

    // ... or comes from the sampler.
    let (never, never_emitter) = common::recorder("caller", NeverSample);
    let segment = never.new_segment("caller");
    let trace_id = segment.trace_id().unwrap();
    client.get(&url).send().with_entity(segment.entity()).await.unwrap();
    segment.end();

    assert_eq!(
        seen.headers(),
        vec![
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=a:1".to_owned()),
            Some(format!("Root={trace_id};Sampled=0")),
        ]
    );
    assert!(emitter.documents().is_empty());
    assert!(never_emitter.documents().is_empty());
}

#[tokio::test]
async fn a_header_the_caller_set_is_never_overwritten() {
    let (addr, seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let own = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1111111111111111;Sampled=1";
    let client = client();
    let url = format!("http://{addr}/echo/own");

    let segment = recorder.new_segment("caller");
    client.get(&url).header("X-Amzn-Trace-Id", own).send().with_entity(segment.entity()).await.unwrap();
    segment.end();
    let (never, _) = common::recorder("caller", NeverSample);
    let unsampled = never.new_segment("caller");
    client.get(&url).header("x-amzn-trace-id", own).send().with_entity(unsampled.entity()).await.unwrap();
    unsampled.end();

    assert_eq!(seen.headers(), vec![Some(own.to_owned()), Some(own.to_owned())]);
    // The call is still recorded, but the callee is not its child, so it is not `traced`.
    let doc = only_document(&emitter);
    let request = &subsegments(&doc)[0]["http"]["request"];
    assert_eq!(request["method"], "GET");
    assert!(request.get("traced").is_none(), "{request}");
}

#[tokio::test]
async fn status_codes_set_error_throttle_and_fault() {
    let (addr, _seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let client = client();
    // (status, error, throttle, fault)
    let cases =
        [(200, false, false, false), (404, true, false, false), (429, true, true, false), (503, false, false, true)];

    let segment = recorder.new_segment("caller");
    for (status, ..) in cases {
        let response =
            client.get(format!("http://{addr}/status/{status}")).send().with_entity(segment.entity()).await.unwrap();
        assert_eq!(response.status().as_u16(), status);
    }
    segment.end();

    let doc = only_document(&emitter);
    let subs = subsegments(&doc);
    assert_eq!(subs.len(), cases.len());
    for ((status, error, throttle, fault), sub) in cases.into_iter().zip(subs) {
        assert_eq!(sub["http"]["response"], json!({"status": status, "content_length": 6}), "{status}");
        assert_eq!(
            (flag(sub, "error"), flag(sub, "throttle"), flag(sub, "fault")),
            (error, throttle, fault),
            "{status}: {sub:#}"
        );
        assert!(sub.get("cause").is_none(), "a status alone has no cause: {sub:#}");
    }
    // The segment itself made the calls but answered nothing: it stays clean.
    assert!(!flag(&doc, "error") && !flag(&doc, "fault"));
}

/// Checks a failed call's subsegment: a fault, no response, a remote cause without secrets.
pub fn assert_remote_fault(sub: &Value, recorded_url: &str, needle: &str) {
    assert!(flag(sub, "fault"), "{sub:#}");
    assert!(!flag(sub, "error"), "{sub:#}");
    assert_eq!(sub["http"]["request"]["url"], recorded_url);
    assert!(sub["http"].get("response").is_none(), "{sub:#}");
    let exceptions = sub["cause"]["exceptions"].as_array().unwrap_or_else(|| panic!("no exceptions: {sub:#}"));
    assert!(!exceptions.is_empty());
    assert_eq!(exceptions[0]["type"], "reqwest::Error");
    assert!(exceptions.iter().all(|e| e["remote"] == true), "{sub:#}");
    let messages: Vec<&str> = exceptions.iter().filter_map(|e| e["message"].as_str()).collect();
    assert!(messages[0].contains(recorded_url), "{messages:?}");
    assert!(messages.iter().any(|m| m.to_lowercase().contains(needle)), "no {needle:?} in {messages:?}");
    let text = sub.to_string();
    assert!(!text.contains("s3cr3t") && !text.contains("pa55word"), "{sub:#}");
}

#[tokio::test]
async fn connection_refused_is_a_remote_fault() {
    let port = closed_port();
    let (recorder, emitter) = recorder("caller", AlwaysSample);

    let segment = recorder.new_segment("caller");
    let err = client()
        .get(format!("http://bob:pa55word@127.0.0.1:{port}/orders?key=s3cr3t"))
        .send()
        .with_entity(segment.entity())
        .await
        .unwrap_err();
    segment.end();

    assert!(err.is_connect(), "{err:?}");
    let doc = only_document(&emitter);
    let sub = &subsegments(&doc)[0];
    assert_remote_fault(sub, &format!("http://127.0.0.1:{port}/orders"), "refused");
    // The request never reached a server, so no downstream segment is to be waited for.
    assert!(sub["http"]["request"].get("traced").is_none(), "{sub:#}");
}

#[tokio::test]
async fn timeout_is_a_remote_fault() {
    let (addr, seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let client = ClientBuilder::new(reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap())
        .with(XrayMiddleware::default())
        .build();

    let segment = recorder.new_segment("caller");
    let err =
        client.get(format!("http://{addr}/slow?s3cr3t=1")).send().with_entity(segment.entity()).await.unwrap_err();
    segment.end();

    assert!(err.is_timeout(), "{err:?}");
    let doc = only_document(&emitter);
    let sub = &subsegments(&doc)[0];
    assert_remote_fault(sub, &format!("http://{addr}/slow"), "timed out");
    // The request did reach the server, as a child of this subsegment.
    assert_eq!(seen.headers(), vec![Some(expected_header(&doc, sub))]);
    assert_eq!(sub["http"]["request"]["traced"], true);
}

#[tokio::test]
async fn each_retry_attempt_is_its_own_subsegment() {
    let (addr, seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(5))
        .build_with_max_retries(3);
    // Retries first, so that every attempt passes through the X-Ray middleware.
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(policy))
        .with(XrayMiddleware::default())
        .build();

    let segment = recorder.new_segment("caller");
    let response = client.get(format!("http://{addr}/flaky")).send().with_entity(segment.entity()).await.unwrap();
    assert_eq!(response.status(), 200);
    // Each attempt's subsegment ends with its response body (the retry middleware drops the
    // bodies of the 503s); this one ends here, inside the segment.
    drop(response);
    segment.end();

    let doc = only_document(&emitter);
    let subs = subsegments(&doc);
    let statuses: Vec<&Value> = subs.iter().map(|s| &s["http"]["response"]["status"]).collect();
    assert_eq!(statuses, [&json!(503), &json!(503), &json!(200)]);
    let faults: Vec<bool> = subs.iter().map(|s| flag(s, "fault")).collect();
    assert_eq!(faults, [true, true, false]);
    // Each attempt told the server its own subsegment as the parent.
    let expected: Vec<Option<String>> = subs.iter().map(|s| Some(expected_header(&doc, s))).collect();
    assert_eq!(seen.headers(), expected);
    let ids: std::collections::HashSet<&str> = subs.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn concurrent_calls_each_carry_their_own_parent() {
    let (addr, seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let client = client();

    let segment = recorder.new_segment("caller");
    let (a, b) = async {
        tokio::join!(
            client.get(format!("http://{addr}/echo/a")).send(),
            client.get(format!("http://{addr}/echo/b")).send()
        )
    }
    .with_entity(segment.entity())
    .await;
    let received = [a.unwrap().text().await.unwrap(), b.unwrap().text().await.unwrap()];
    segment.end();

    let doc = only_document(&emitter);
    let subs = subsegments(&doc);
    assert_eq!(subs.len(), 2);
    for received in &received {
        let parent = TraceHeader::parse(received).parent().unwrap().to_string();
        let sub = subs.iter().find(|s| s["id"] == parent.as_str()).unwrap_or_else(|| panic!("{parent} in {doc:#}"));
        assert_eq!(*received, expected_header(&doc, sub));
    }
    assert_eq!(seen.headers().len(), 2);
}

#[tokio::test]
async fn calls_outside_any_trace_pass_through_untouched() {
    let (addr, seen) = test_server().await;
    let (_recorder, emitter) = recorder("caller", AlwaysSample);

    let response = client().get(format!("http://{addr}/echo/untraced")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "none");
    let err = client().get(format!("http://127.0.0.1:{}/", closed_port())).send().await.unwrap_err();

    assert!(err.is_connect());
    assert_eq!(seen.headers(), vec![None]);
    assert!(emitter.documents().is_empty());
}

/// Notes which entity is current when it is called and when its future runs, and annotates it.
#[derive(Clone, Default)]
struct Inner {
    seen: Arc<Mutex<Vec<Option<EntityId>>>>,
}

impl Middleware for Inner {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        req: Request,
        extensions: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> Pin<Box<dyn Future<Output = reqwest_middleware::Result<Response>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        self.seen.lock().unwrap().push(xray_core::integration::current_quiet().id());
        Box::pin(async move {
            let current = xray_core::integration::current_quiet();
            self.seen.lock().unwrap().push(current.id());
            current.annotate("inner", true);
            next.run(req, extensions).await
        })
    }
}

#[tokio::test]
async fn the_subsegment_is_current_for_the_middlewares_after_it() {
    let (addr, _seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let inner = Inner::default();
    let client = ClientBuilder::new(reqwest::Client::new()).with(XrayMiddleware::default()).with(inner.clone()).build();

    let segment = recorder.new_segment("caller");
    let segment_id = segment.id();
    client.get(format!("http://{addr}/echo/inner")).send().with_entity(segment.entity()).await.unwrap();
    assert_eq!(xray_core::integration::current_quiet().id(), None, "the test itself runs outside the trace");
    segment.end();

    let doc = only_document(&emitter);
    let sub = &subsegments(&doc)[0];
    let sub_id: EntityId = sub["id"].as_str().unwrap().parse().unwrap();
    assert_ne!(Some(sub_id), segment_id);
    assert_eq!(*inner.seen.lock().unwrap(), vec![Some(sub_id), Some(sub_id)]);
    assert_eq!(sub["annotations"]["inner"], true);
    assert!(doc.get("annotations").is_none());
}
