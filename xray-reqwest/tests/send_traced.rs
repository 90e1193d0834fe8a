//! `send_traced` on a plain `reqwest` client records what the middleware records.

mod common;

use common::{closed_port, expected_header, only_document, recorder, subsegments, test_server};
use serde_json::json;
use xray_core::{AlwaysSample, NeverSample, TraceFutureExt};
use xray_reqwest::{TracedRequestBuilderExt, XrayMiddleware};

#[tokio::test]
async fn records_the_same_document_as_the_middleware() {
    let (addr, seen) = test_server().await;
    let url = format!("http://carol:pa55word@{addr}/status/503?q=s3cr3t");
    let plain = reqwest::Client::new();
    let with_middleware = reqwest_middleware::ClientBuilder::new(plain.clone()).with(XrayMiddleware::default()).build();

    let mut recorded = Vec::new();
    for use_middleware in [true, false] {
        let (recorder, emitter) = recorder("caller", AlwaysSample);
        let segment = recorder.new_segment("caller");
        let status = if use_middleware {
            with_middleware.get(&url).send().with_entity(segment.entity()).await.unwrap().status()
        } else {
            plain.get(&url).send_traced().with_entity(segment.entity()).await.unwrap().status()
        };
        assert_eq!(status, 503);
        segment.end();
        let doc = only_document(&emitter);
        let sub = subsegments(&doc)[0].clone();
        assert_eq!(seen.headers().last().unwrap().as_deref(), Some(expected_header(&doc, &sub).as_str()));
        recorded.push(sub);
    }

    let plain_sub = &recorded[1];
    assert_eq!(plain_sub["name"], "127.0.0.1");
    assert_eq!(plain_sub["namespace"], "remote");
    assert_eq!(plain_sub["fault"], true);
    assert_eq!(
        plain_sub["http"],
        json!({
            "request": {"method": "GET", "url": format!("http://{addr}/status/503"), "traced": true},
            "response": {"status": 503, "content_length": 6}
        })
    );
    assert_eq!(xray_tests::mask(&recorded[0]), xray_tests::mask(plain_sub));
}

#[tokio::test]
async fn options_apply_to_send_traced_with() {
    let (addr, _seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let options = XrayMiddleware::new().with_naming(String::from("echo-service")).with_query_in_url(true);
    let url = format!("http://{addr}/echo/x?page=3");

    let segment = recorder.new_segment("caller");
    reqwest::Client::new().get(&url).send_traced_with(&options).with_entity(segment.entity()).await.unwrap();
    segment.end();

    let doc = only_document(&emitter);
    let sub = &subsegments(&doc)[0];
    assert_eq!(sub["name"], "echo-service");
    assert_eq!(sub["http"]["request"]["url"], url);
}

#[tokio::test]
async fn a_spawned_call_joins_the_trace_it_is_given() {
    let (addr, seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/echo/spawned");

    let segment = recorder.new_segment("caller");
    let (carried, not_carried) = async {
        (tokio::spawn(client.get(&url).send_traced().in_current_trace()), tokio::spawn(client.get(&url).send_traced()))
    }
    .with_entity(segment.entity())
    .await;
    let carried = carried.await.unwrap().unwrap().text().await.unwrap();
    let not_carried = not_carried.await.unwrap().unwrap().text().await.unwrap();
    segment.end();

    let doc = only_document(&emitter);
    let subs = subsegments(&doc);
    assert_eq!(subs.len(), 1);
    assert_eq!(carried, expected_header(&doc, &subs[0]));
    assert_eq!(not_carried, "none");
    assert_eq!(seen.headers().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_a_remote_fault() {
    let port = closed_port();
    let (recorder, emitter) = recorder("caller", AlwaysSample);

    let segment = recorder.new_segment("caller");
    let err = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/x?token=s3cr3t"))
        .send_traced()
        .with_entity(segment.entity())
        .await
        .unwrap_err();
    segment.end();

    assert!(err.is_connect());
    // The caller's error still names the URL it asked for.
    assert!(err.to_string().contains("token=s3cr3t"), "{err}");
    let doc = only_document(&emitter);
    let sub = &subsegments(&doc)[0];
    assert_eq!(sub["fault"], true);
    let exceptions = sub["cause"]["exceptions"].as_array().unwrap();
    assert!(exceptions.iter().all(|e| e["remote"] == true), "{sub:#}");
    assert!(!sub.to_string().contains("s3cr3t"), "{sub:#}");
    assert_eq!(sub["http"]["request"]["url"], format!("http://127.0.0.1:{port}/x"));
    assert!(sub["http"]["request"].get("traced").is_none(), "never reached a server: {sub:#}");
}

#[tokio::test]
async fn unsampled_and_untraced_calls() {
    let (addr, seen) = test_server().await;
    let (never, emitter) = recorder("caller", NeverSample);
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/echo/plain");

    let segment = never.new_segment("caller");
    let trace_id = segment.trace_id().unwrap();
    client.get(&url).send_traced().with_entity(segment.entity()).await.unwrap();
    segment.end();
    let untraced = client.get(&url).send_traced().await.unwrap().text().await.unwrap();

    assert_eq!(untraced, "none");
    assert_eq!(seen.headers(), vec![Some(format!("Root={trace_id};Sampled=0")), None]);
    assert!(emitter.documents().is_empty());
}

#[tokio::test]
async fn a_request_that_does_not_build_fails_without_recording() {
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let segment = recorder.new_segment("caller");
    let err = reqwest::Client::new()
        .get("http://127.0.0.1:1/")
        .header("bad header name", "x")
        .send_traced()
        .with_entity(segment.entity())
        .await
        .unwrap_err();
    segment.end();

    assert!(err.is_builder(), "{err:?}");
    let doc = only_document(&emitter);
    assert!(doc.get("subsegments").is_none_or(|s| s.as_array().is_some_and(Vec::is_empty)), "{doc:#}");
}
