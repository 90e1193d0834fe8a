//! The real AWS SDK clients against a local server that answers as the service would, for
//! what an emulator cannot show: throttling and 5xx with the SDK's retries, Lambda's
//! function errors, S3's extended request id, dispatch failures and timeouts, and the
//! headers outside a trace, unsampled, with W3C propagation, and when the caller set one.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use common::{Seen, Server, assert_clean, call, respond};
use serde_json::{Value, json};
use xray_core::test::Capture;
use xray_core::{NeverSample, TraceFutureExt, TraceHeader};

/// A DynamoDB stand-in whose answers, one per request, come from `answers` (the last repeats).
async fn dynamodb_stub(answers: &'static [(u16, &'static str)]) -> Server {
    let count = Arc::new(AtomicUsize::new(0));
    Server::start(move |_seen: Seen| {
        let n = count.fetch_add(1, Ordering::SeqCst).min(answers.len() - 1);
        async move {
            let (status, body) = answers[n];
            respond(
                status,
                &[("x-amzn-requestid", &format!("REQ{n}")), ("content-type", "application/x-amz-json-1.0")],
                body,
            )
        }
    })
    .await
}

fn dynamo(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let retry = RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1));
    aws_sdk_dynamodb::Client::from_conf(config!(aws_sdk_dynamodb, endpoint).retry_config(retry).build())
}

/// One `GetItem` inside a sampled segment: the result and the segment's document.
async fn get_item(client: &aws_sdk_dynamodb::Client) -> (bool, Value) {
    let capture = Capture::new();
    let segment = capture.recorder().new_segment("app");
    let result = client
        .get_item()
        .table_name("orders")
        .key("id", AttributeValue::S("s3cr3t-key".into()))
        .send()
        .with_entity(segment.entity())
        .await;
    segment.end();
    let docs = capture.take();
    assert_clean(&docs, &["s3cr3t-key"]);
    (result.is_ok(), docs.into_iter().next().unwrap())
}

const THROTTLED: (u16, &str) = (
    400,
    r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#,
);
const INTERNAL: (u16, &str) =
    (500, r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#);
const FOUND: (u16, &str) = (200, r#"{"Item":{"id":{"S":"1"}}}"#);

#[tokio::test]
async fn throttled_attempts_are_retried_and_each_one_is_in_the_cause() {
    let server = dynamodb_stub(&[THROTTLED, THROTTLED, FOUND]).await;
    let (ok, doc) = get_item(&dynamo(&server.url())).await;
    assert!(ok);
    assert_eq!(server.requests().len(), 3);
    let s = call(&doc, "GetItem");
    assert_eq!(s["aws"]["retries"], 2);
    assert_eq!(s["aws"]["request_id"], "REQ2");
    assert_eq!(s["http"]["response"]["status"], 200);
    // It succeeded in the end: no flag, but the failed attempts stay visible.
    assert!(s.get("error").is_none() && s.get("throttle").is_none() && s.get("fault").is_none(), "{s}");
    let exceptions = s["cause"]["exceptions"].as_array().unwrap();
    assert_eq!(exceptions.len(), 2);
    for e in exceptions {
        assert_eq!(e["type"], "ThrottlingException");
        assert_eq!(e["message"], "Rate of requests exceeds the allowed throughput.");
        assert_eq!(e["remote"], true);
    }
    // Each attempt carried the header, naming the same subsegment.
    let id = s["id"].as_str().unwrap();
    for request in server.requests() {
        let header = TraceHeader::parse(request.parts.headers["x-amzn-trace-id"].to_str().unwrap());
        assert_eq!(header.parent().unwrap().to_string(), id);
    }
}

#[tokio::test]
async fn throttling_to_the_end_is_an_error_and_a_throttle() {
    let server = dynamodb_stub(&[THROTTLED]).await;
    let (ok, doc) = get_item(&dynamo(&server.url())).await;
    assert!(!ok);
    let s = call(&doc, "GetItem");
    assert_eq!((s["error"].as_bool(), s["throttle"].as_bool(), s.get("fault")), (Some(true), Some(true), None));
    assert_eq!(s["aws"]["retries"], 2);
    assert_eq!(s["http"]["response"]["status"], 400);
    assert_eq!(s["cause"]["exceptions"].as_array().unwrap().len(), 3);

    let server = dynamodb_stub(&[(429, r#"{"__type":"TooManyRequests","message":"slow down"}"#)]).await;
    let (_, doc) = get_item(&dynamo(&server.url())).await;
    let s = call(&doc, "GetItem");
    assert_eq!((s["error"].as_bool(), s["throttle"].as_bool()), (Some(true), Some(true)));
    assert_eq!(s["http"]["response"]["status"], 429);
}

#[tokio::test]
async fn a_5xx_is_a_fault_after_the_sdks_retries() {
    let server = dynamodb_stub(&[INTERNAL]).await;
    let (ok, doc) = get_item(&dynamo(&server.url())).await;
    assert!(!ok);
    assert_eq!(server.requests().len(), 3);
    let s = call(&doc, "GetItem");
    assert_eq!((s["fault"].as_bool(), s.get("error"), s.get("throttle")), (Some(true), None, None));
    assert_eq!(s["aws"]["retries"], 2);
    assert_eq!(s["http"]["response"]["status"], 500);
    let exceptions = s["cause"]["exceptions"].as_array().unwrap();
    assert_eq!(exceptions.len(), 3);
    assert!(exceptions.iter().all(|e| e["type"] == "InternalServerError" && e["remote"] == true));
}

#[tokio::test]
async fn a_dispatch_failure_and_a_timeout_are_faults() {
    // A port nobody listens on: connection refused, retried, then a fault.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (ok, doc) = get_item(&dynamo(&format!("http://{closed}"))).await;
    assert!(!ok);
    let s = call(&doc, "GetItem");
    assert_eq!(s["fault"], true);
    assert!(s.get("http").is_none(), "no response: {s}");
    let exception = &s["cause"]["exceptions"][0];
    assert_eq!(exception["type"], "DispatchFailure");
    assert_eq!(exception["remote"], true);

    // A server that answers after the operation's timeout.
    let slow = Server::start(|_| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        respond(200, &[], "{}")
    })
    .await;
    let timeouts = TimeoutConfig::builder().operation_timeout(Duration::from_millis(200)).build();
    let client =
        aws_sdk_dynamodb::Client::from_conf(config!(aws_sdk_dynamodb, slow.url()).timeout_config(timeouts).build());
    let (ok, doc) = get_item(&client).await;
    assert!(!ok);
    let s = call(&doc, "GetItem");
    assert_eq!(s["fault"], true);
    assert!(s["cause"]["exceptions"].as_array().unwrap().iter().any(|e| e["type"] == "TimeoutError"), "{s}");
}

#[tokio::test]
async fn lambda_invoke_records_the_function_and_its_error_and_passes_the_trace_on() {
    let server = Server::start(|_| async {
        respond(
            200,
            &[
                ("x-amzn-requestid", "lambda-req-1"),
                ("x-amz-function-error", "Unhandled"),
                ("x-amz-executed-version", "7"),
            ],
            r#"{"errorMessage":"s3cr3t-function-output"}"#,
        )
    })
    .await;
    let lambda = aws_sdk_lambda::Client::from_conf(config!(aws_sdk_lambda, server.url()).build());
    let capture = Capture::new();
    let segment = capture.recorder().new_segment("app");
    let output = lambda
        .invoke()
        .function_name("resize-image")
        .qualifier("live")
        .invocation_type(aws_sdk_lambda::types::InvocationType::RequestResponse)
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .payload(aws_sdk_lambda::primitives::Blob::new(r#"{"s3cr3t":"payload"}"#))
        .send()
        .with_entity(segment.entity())
        .await
        .unwrap();
    assert_eq!(output.function_error(), Some("Unhandled"));
    let trace_id = segment.trace_id().unwrap();
    segment.end();
    let docs = capture.take();
    assert_clean(&docs, &["s3cr3t"]);
    let s = call(&docs[0], "Invoke");
    assert_eq!(s["name"], "Lambda");
    assert_eq!(
        s["aws"],
        json!({
            "operation": "Invoke", "region": "us-east-1", "request_id": "lambda-req-1", "retries": 0,
            "function_name": "resize-image", "qualifier": "live", "invocation_type": "RequestResponse",
            "log_type": "Tail", "function_error": "Unhandled", "status_code": 200,
        })
    );
    let sent = &server.requests()[0];
    let expected = format!("Root={trace_id};Parent={};Sampled=1", s["id"].as_str().unwrap());
    assert_eq!(sent.parts.headers["x-amzn-trace-id"], expected.as_str());
    // W3C's header too (the default propagation), for the same trace and parent.
    let traceparent = sent.parts.headers["traceparent"].to_str().unwrap();
    assert!(traceparent.ends_with(&format!("-{}-01", s["id"].as_str().unwrap())), "{traceparent}");
    // The request is signed, and neither trace header is part of the signature.
    let authorization = sent.parts.headers["authorization"].to_str().unwrap();
    let signed = authorization.split("SignedHeaders=").nth(1).and_then(|s| s.split(',').next()).unwrap();
    assert!(signed.split(';').any(|h| h == "host"), "{authorization}");
    assert!(!signed.split(';').any(|h| h == "traceparent" || h == "x-amzn-trace-id"), "{authorization}");
}

#[tokio::test]
async fn s3_records_the_extended_request_id() {
    let server =
        Server::start(|_| async { respond(200, &[("x-amz-request-id", "S3REQ"), ("x-amz-id-2", "ext/id+2=")], "") })
            .await;
    let s3 = aws_sdk_s3::Client::from_conf(config!(aws_sdk_s3, server.url()).force_path_style(true).build());
    let capture = Capture::new();
    let segment = capture.recorder().new_segment("app");
    s3.head_bucket().bucket("media").send().with_entity(segment.entity()).await.unwrap();
    segment.end();
    let docs = capture.take();
    assert_clean(&docs, &[]);
    let s = call(&docs[0], "HeadBucket");
    assert_eq!((s["aws"]["request_id"].as_str(), s["aws"]["id_2"].as_str()), (Some("S3REQ"), Some("ext/id+2=")));
    assert_eq!(s["aws"]["bucket_name"], "media");
}

#[tokio::test]
async fn outside_a_trace_nothing_and_unsampled_only_the_header() {
    let server = dynamodb_stub(&[FOUND]).await;
    let client = dynamo(&server.url());
    let get = || client.get_item().table_name("t").key("id", AttributeValue::S("1".into())).send();
    get().await.unwrap();
    assert!(!server.requests()[0].parts.headers.contains_key("x-amzn-trace-id"));

    let capture = Capture::with(|b| b.with_sampler(NeverSample));
    let segment = capture.recorder().new_segment("app");
    get().with_entity(segment.entity()).await.unwrap();
    let trace_id = segment.trace_id().unwrap();
    segment.end();
    assert!(capture.take().is_empty());
    let header = server.requests()[1].parts.headers["x-amzn-trace-id"].to_str().unwrap().to_owned();
    assert_eq!(header, format!("Root={trace_id};Sampled=0"));
    assert!(server.requests()[1].parts.headers["traceparent"].to_str().unwrap().ends_with("-00"));
}

/// A caller's own interceptor that sets the trace header before ours runs.
#[derive(Debug)]
struct CallerHeader;

impl Intercept for CallerHeader {
    fn name(&self) -> &'static str {
        "CallerHeader"
    }

    fn modify_before_retry_loop(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context.request_mut().headers_mut().insert("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793");
        Ok(())
    }
}

#[tokio::test]
async fn a_header_the_caller_set_is_kept() {
    let server = dynamodb_stub(&[FOUND]).await;
    let config = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("k", "s", None, None, "tests"))
        .endpoint_url(server.url())
        .http_client(common::http_client())
        .interceptor(CallerHeader)
        .interceptor(xray_aws_sdk::XrayInterceptor::new())
        .build();
    let (ok, doc) = get_item(&aws_sdk_dynamodb::Client::from_conf(config)).await;
    assert!(ok);
    assert_eq!(server.requests()[0].parts.headers["x-amzn-trace-id"], "Root=1-5759e988-bd862e3fe1be46a994272793");
    // The call is still recorded.
    assert_eq!(call(&doc, "GetItem")["http"]["response"]["status"], 200);
}

#[tokio::test]
async fn an_operation_dropped_before_its_end_is_still_recorded() {
    let slow = Server::start(|_| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        respond(200, &[], "{}")
    })
    .await;
    let client = dynamo(&slow.url());
    let capture = Capture::new();
    let segment = capture.recorder().new_segment("app");
    let pending = client.get_item().table_name("orders").key("id", AttributeValue::S("1".into())).send();
    let dropped = tokio::time::timeout(Duration::from_millis(200), pending.with_entity(segment.entity())).await;
    assert!(dropped.is_err(), "the call should still be waiting");
    segment.end();
    let docs = capture.take();
    assert_clean(&docs, &[]);
    let s = call(&docs[0], "GetItem");
    assert_eq!(s["error"], true);
    assert_eq!(s["cause"]["exceptions"][0]["type"], "RequestCancelled");
    assert!(s["end_time"].is_number());
}

#[tokio::test]
async fn an_interceptor_added_twice_records_once() {
    let server = dynamodb_stub(&[FOUND]).await;
    let config = config!(aws_sdk_dynamodb, &server.url()).interceptor(xray_aws_sdk::XrayInterceptor::new()).build();
    let (ok, doc) = get_item(&aws_sdk_dynamodb::Client::from_conf(config)).await;
    assert!(ok);
    let subsegments = doc["subsegments"].as_array().unwrap();
    assert_eq!(subsegments.len(), 1, "{doc:#}");
    let sent = &server.requests()[0];
    assert_eq!(sent.parts.headers.get_all("x-amzn-trace-id").iter().count(), 1);
    let expected = format!("Parent={};", subsegments[0]["id"].as_str().unwrap());
    assert!(sent.parts.headers["x-amzn-trace-id"].to_str().unwrap().contains(&expected));
}
