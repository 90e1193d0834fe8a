//! When and how a call ends: with its response body by default, at the headers on request,
//! as cancelled when dropped early; and what a failed call records behind a retry middleware.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{closed_port, only_document, recorder, subsegments, test_server};
use reqwest_middleware::ClientBuilder;
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xray_core::{AlwaysSample, TraceFutureExt};
use xray_reqwest::{TracedRequestBuilderExt, XrayMiddleware};

/// How long the slow-body server waits between the response head and the body.
const BODY_DELAY: Duration = Duration::from_millis(100);

/// A server that answers every connection with a chunked response head at once, then, after
/// [`BODY_DELAY`], the 4-byte body `body`.
async fn slow_body_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
                socket.write_all(head.as_bytes()).await.unwrap();
                socket.flush().await.unwrap();
                tokio::time::sleep(BODY_DELAY).await;
                socket.write_all(b"4\r\nbody\r\n0\r\n\r\n").await.unwrap();
            });
        }
    });
    addr
}

fn seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

fn times(sub: &Value) -> (f64, f64) {
    (sub["start_time"].as_f64().unwrap(), sub["end_time"].as_f64().unwrap())
}

#[tokio::test]
async fn the_subsegment_ends_when_the_body_has_been_read() {
    let addr = slow_body_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let client = ClientBuilder::new(reqwest::Client::new()).with(XrayMiddleware::default()).build();

    let segment = recorder.new_segment("caller");
    let response = client.get(format!("http://{addr}/slow-body")).send().with_entity(segment.entity()).await.unwrap();
    let headers_at = seconds(SystemTime::now());
    assert_eq!(response.content_length(), None);
    assert_eq!(response.url().path(), "/slow-body", "the URL survives the body's wrapping");
    assert_eq!(response.text().await.unwrap(), "body");
    segment.end();

    let doc = only_document(&emitter);
    let sub = &subsegments(&doc)[0];
    let (start, end) = times(sub);
    assert!(end >= headers_at, "ended at {end}, before the headers had arrived at {headers_at}");
    assert!(end - start >= BODY_DELAY.as_secs_f64(), "{sub:#}");
    // No Content-Length came: the bytes read are the length.
    assert_eq!(sub["http"]["response"]["content_length"], 4);
}

#[tokio::test]
async fn with_end_at_headers_the_subsegment_ends_with_the_head() {
    let addr = slow_body_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let options = XrayMiddleware::new().with_end_at_headers(true);

    let segment = recorder.new_segment("caller");
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/slow-body"))
        .send_traced_with(&options)
        .with_entity(segment.entity())
        .await
        .unwrap();
    let headers_at = seconds(SystemTime::now());
    assert_eq!(response.text().await.unwrap(), "body");
    segment.end();

    let doc = only_document(&emitter);
    let sub = &subsegments(&doc)[0];
    assert!(times(sub).1 <= headers_at, "{sub:#}");
    assert!(sub["http"]["response"].get("content_length").is_none(), "{sub:#}");
}

#[tokio::test]
async fn an_unread_response_ends_its_call_when_dropped() {
    let addr = slow_body_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);

    let segment = recorder.new_segment("caller");
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/"))
        .send_traced()
        .with_entity(segment.entity())
        .await
        .unwrap();
    drop(response);
    segment.end();

    let doc = only_document(&emitter);
    let sub = &subsegments(&doc)[0];
    assert_eq!(sub["http"]["response"]["status"], 200);
    assert_eq!(sub["http"]["response"]["content_length"], 0, "nothing was read");
    assert!(sub.get("cause").is_none(), "{sub:#}");
}

#[tokio::test]
async fn a_call_dropped_before_its_response_is_cancelled() {
    let (addr, seen) = test_server().await;
    let (recorder, emitter) = recorder("caller", AlwaysSample);
    let client = ClientBuilder::new(reqwest::Client::new()).with(XrayMiddleware::default()).build();

    let segment = recorder.new_segment("caller");
    let call = client.get(format!("http://{addr}/slow")).send().with_entity(segment.entity());
    assert!(tokio::time::timeout(Duration::from_millis(200), call).await.is_err(), "/slow answers after 2 s");
    segment.end();

    let doc = only_document(&emitter);
    let sub = &subsegments(&doc)[0];
    assert_eq!(sub["error"], true);
    assert!(sub.get("fault").is_none(), "{sub:#}");
    assert_eq!(sub["cause"]["exceptions"][0]["type"], xray_core::outbound::CANCELLED_TYPE);
    // The request was sent (the server saw it), so the callee may well record its segment.
    assert_eq!(seen.headers().len(), 1);
    assert_eq!(sub["http"]["request"]["traced"], true);
}

#[tokio::test]
async fn no_url_secret_reaches_a_document_through_a_retry_middleware() {
    let port = closed_port();
    let url = format!("http://alice:pa55word@127.0.0.1:{port}/orders?token=secret");
    let policy = || {
        ExponentialBackoff::builder()
            .retry_bounds(Duration::from_millis(1), Duration::from_millis(2))
            .build_with_max_retries(2)
    };
    // The retry middleware outside (after) XrayMiddleware: one subsegment for all attempts,
    // whose error is the retry middleware's, with reqwest's error (and its URL) in the chain.
    let retry_inside_the_call = ClientBuilder::new(reqwest::Client::new())
        .with(XrayMiddleware::default())
        .with(RetryTransientMiddleware::new_with_policy(policy()))
        .build();
    // And the usual order: a subsegment per attempt.
    let call_per_attempt = ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(policy()))
        .with(XrayMiddleware::default())
        .build();

    for (client, calls) in [(retry_inside_the_call, 1), (call_per_attempt, 3)] {
        let (recorder, emitter) = recorder("caller", AlwaysSample);
        let segment = recorder.new_segment("caller");
        let err = client.get(&url).send().with_entity(segment.entity()).await.unwrap_err();
        segment.end();
        assert!(format!("{err:?}").contains("secret"), "the caller's own error is untouched");

        let doc = only_document(&emitter);
        let text = doc.to_string();
        for secret in ["secret", "pa55word", "alice"] {
            assert!(!text.contains(secret), "{secret} recorded in {doc:#}");
        }
        let subs = subsegments(&doc);
        assert_eq!(subs.len(), calls, "{doc:#}");
        for sub in subs {
            assert_eq!(sub["fault"], true);
            let exceptions = sub["cause"]["exceptions"].as_array().unwrap();
            assert!(exceptions.iter().all(|e| e["remote"] == true), "connecting is remote: {sub:#}");
            let messages: Vec<&str> = exceptions.iter().filter_map(|e| e["message"].as_str()).collect();
            let recorded = format!("http://127.0.0.1:{port}/orders");
            assert!(messages.iter().any(|m| m.contains(&recorded)), "{messages:?}");
            assert!(sub["http"]["request"].get("traced").is_none(), "never connected: {sub:#}");
        }
    }
}
