//! Every kind of document xray-core emits is valid against AWS's segment-document schema.

use std::sync::Arc;

use serde_json::{Value, json};
use xray_core::integration::{HttpRequest, HttpResponse, Namespace, SamplingRequest, Sql};
use xray_core::test::Capture;
use xray_core::{
    AlwaysSample, Emitter, Exception, MemoryEmitter, NeverSample, Recorder, SamplingFlag, TraceFutureExt, TraceHeader,
};
use xray_tests::assert_valid;

/// A recorder of service `orders` on ECS, keeping its documents.
fn orders() -> Capture {
    Capture::with(|builder| {
        builder
            .with_service_name("orders")
            .with_origin("AWS::ECS::Container")
            .with_service_version("1.2.3")
            .with_aws_resource("ecs", json!({"container": "orders-7f9c"}))
    })
}

#[derive(Debug)]
struct Boom;
impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}
impl std::error::Error for Boom {}

#[tokio::test]
async fn a_fully_populated_segment_is_valid_and_complete() {
    let capture = orders();
    let rec = capture.recorder();
    let incoming =
        TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1");
    let segment = rec.begin_segment("ignored-when-tracing-name-unset", Some(&incoming), &SamplingRequest::default());
    async {
        let cur = xray_core::current();
        cur.set_http_request(HttpRequest {
            method: Some("POST".into()),
            url: Some("https://orders.example.com/orders".into()),
            user_agent: Some("curl/8".into()),
            client_ip: Some("10.0.0.7".into()),
            x_forwarded_for: true,
            traced: false,
        });
        cur.annotate("customer_id", "c-17");
        cur.annotate("items", 3);
        cur.annotate("express", true);
        cur.annotate("total", 12.5);
        cur.add_metadata("order", json!({"lines": [1, 2, 3]}));
        cur.add_metadata_in("debug", "flags", vec!["a", "b"]);
        cur.set_user("alice");
        xray_core::in_subsegment("orders-db@db.internal", async {
            let db = xray_core::current();
            db.set_namespace(Namespace::Remote);
            db.set_sql(Sql {
                url: Some("postgres://db.internal:5432/orders".into()),
                database_type: Some("PostgreSQL".into()),
                database_version: Some("15.19".into()),
                driver_version: Some("sqlx-0.9.0".into()),
                user: Some("app".into()),
                preparation: Some("statement".into()),
                ..Sql::default()
            });
        })
        .await;
        xray_core::in_subsegment("payments.example.com", async {
            let call = xray_core::current();
            call.set_namespace(Namespace::Remote);
            call.set_http_request(HttpRequest {
                method: Some("POST".into()),
                url: Some("https://payments.example.com/charge".into()),
                traced: true,
                ..HttpRequest::default()
            });
            call.set_http_response(HttpResponse { status: Some(503), content_length: Some(0) });
            call.record_remote_error(&Boom);
        })
        .await;
        xray_core::in_subsegment_sync("validate", || {
            xray_core::current().add_exception(Exception::new("ValidationError", "bad zip"));
            xray_core::current().set_error();
        });
        cur.set_http_response(HttpResponse { status: Some(502), content_length: Some(12) });
    }
    .with_entity(segment.entity())
    .await;
    segment.end();

    let docs = capture.documents();
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_valid(doc);
    assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(doc["name"], "ignored-when-tracing-name-unset");
    assert_eq!(doc["fault"], true);
    assert_eq!(doc["user"], "alice");
    assert_eq!(doc["origin"], "AWS::ECS::Container");
    assert_eq!(doc["service"]["version"], "1.2.3");
    assert_eq!(doc["aws"]["xray"]["sdk"], "X-Ray for Rust");
    assert_eq!(doc["aws"]["ecs"]["container"], "orders-7f9c");
    assert_eq!(doc["annotations"], json!({"customer_id": "c-17", "items": 3, "express": true, "total": 12.5}));
    assert_eq!(doc["metadata"]["debug"]["flags"], json!(["a", "b"]));
    let subs = doc["subsegments"].as_array().unwrap();
    assert_eq!(subs.len(), 3);
    assert_eq!(subs[0]["sql"]["database_type"], "PostgreSQL");
    assert_eq!(subs[1]["fault"], true);
    assert_eq!(subs[1]["http"]["request"]["traced"], true);
    assert_eq!(subs[1]["cause"]["exceptions"][0]["remote"], true);
    assert_eq!(subs[1]["cause"]["exceptions"][0]["message"], "card declined");
    assert_eq!(subs[2]["error"], true);
    assert_eq!(subs[2]["cause"]["exceptions"][0]["type"], "ValidationError");
    for s in subs {
        assert!(s.get("trace_id").is_none() && s.get("type").is_none());
        assert!(s["end_time"].as_f64().unwrap() >= s["start_time"].as_f64().unwrap());
    }
}

#[test]
fn tracing_name_overrides_and_bad_names_are_sanitized() {
    let capture = Capture::with(|b| b.with_tracing_name("checkout"));
    let rec = capture.recorder();
    rec.new_segment("whatever").end();
    let odd = Recorder::builder().with_sampler(AlwaysSample).with_emitter(capture.emitter().clone()).build().unwrap();
    odd.new_segment("GET /a?b=c|d").end();
    let docs = capture.documents();
    assert_eq!(docs[0]["name"], "checkout");
    assert_eq!(docs[1]["name"], "GET /a_b=c_d");
    docs.iter().for_each(assert_valid);
}

#[test]
fn in_progress_and_independent_subsegments_are_valid() {
    let capture = orders();
    let rec = capture.recorder();
    let segment = rec.new_segment("long-job");
    segment.send_in_progress();
    let child = segment.begin_subsegment("step");
    let grandchild = child.begin_subsegment("late");
    child.end();
    segment.end();
    // The grandchild outlives its parent and the segment: it goes out on its own.
    grandchild.annotate("late", true);
    grandchild.end();
    let docs = capture.documents();
    assert_eq!(docs.len(), 3);
    docs.iter().for_each(assert_valid);
    assert_eq!(docs[0]["in_progress"], true);
    assert!(docs[0].get("end_time").is_none());
    let full = &docs[1];
    assert_eq!(full["id"], docs[0]["id"]);
    assert_eq!(full["subsegments"][0]["name"], "step");
    let late = &docs[2];
    assert_eq!(late["type"], "subsegment");
    assert_eq!(late["trace_id"], full["trace_id"]);
    assert_eq!(late["parent_id"], full["subsegments"][0]["id"]);
    assert_eq!(late["annotations"]["late"], true);
}

#[test]
fn unsampled_requests_emit_nothing_but_propagate() {
    let capture = Capture::with(|b| b.with_sampler(NeverSample));
    let rec = capture.recorder();
    let incoming = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=x:1");
    let segment = rec.begin_segment("svc", Some(&incoming), &SamplingRequest::default());
    assert!(!segment.is_sampled());
    segment.annotate("ignored", 1);
    let sub = segment.begin_subsegment("child");
    let header = sub.downstream_header().unwrap();
    assert_eq!(header.to_string(), "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=x:1");
    sub.end();
    segment.end();
    assert!(capture.documents().is_empty());

    // A caller's Sampled=1 wins over a sampler that says no.
    let incoming = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
    let segment = rec.begin_segment("svc", Some(&incoming), &SamplingRequest::default());
    let header = segment.downstream_header().unwrap();
    assert_eq!(header.sampled(), SamplingFlag::Sampled);
    assert_eq!(header.parent(), segment.id());
    segment.end();
    assert_eq!(capture.documents().len(), 1);
}

#[test]
fn a_malformed_root_starts_a_new_trace() {
    let capture = orders();
    let rec = capture.recorder();
    let incoming = TraceHeader::parse("Root=1-nothex-zz;Parent=53995c3f42cd8ad8;Sampled=1");
    rec.begin_segment("svc", Some(&incoming), &SamplingRequest::default()).end();
    let docs = capture.take();
    assert_eq!(docs.len(), 1, "the malformed header's Sampled=1 applies to the new trace");
    assert_valid(&docs[0]);
    assert!(docs[0].get("parent_id").is_none());
    assert_ne!(docs[0]["trace_id"], Value::Null);
    // The flag is obeyed without a valid root, as the official SDKs do: Sampled=0 opts out.
    let incoming = TraceHeader::parse("Root=1-nothex-zz;Parent=53995c3f42cd8ad8;Sampled=0");
    rec.begin_segment("svc", Some(&incoming), &SamplingRequest::default()).end();
    assert!(capture.documents().is_empty());
}

#[test]
fn oversized_documents_are_split_and_truncated_validly() {
    let capture = orders();
    let rec = capture.recorder();
    let segment = rec.new_segment("big");
    segment.add_metadata("blob", "x".repeat(100_000));
    for i in 0..50 {
        let sub = segment.begin_subsegment(&format!("child-{i}"));
        sub.add_metadata("payload", "y".repeat(2_000));
        sub.end();
    }
    segment.end();
    let docs = capture.documents();
    assert!(docs.len() >= 2, "a 200 kB segment needs several datagrams");
    let mut ids = std::collections::HashSet::new();
    for doc in &docs {
        assert_valid(doc);
        assert!(serde_json::to_vec(doc).unwrap().len() <= 64_000);
        ids.insert(doc["id"].as_str().unwrap().to_owned());
        for s in doc["subsegments"].as_array().into_iter().flatten() {
            ids.insert(s["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(ids.len(), 51, "the segment and every child arrive exactly once");
    let root = docs.iter().find(|d| d["name"] == "big").unwrap();
    let blob = root["metadata"]["default"]["blob"].as_str().unwrap();
    assert!(blob.ends_with(xray_core::emit::TRUNCATION_MARKER));
    let stats = capture.emitter().stats();
    assert_eq!((stats.split, stats.truncated), (1, 1));
}

#[test]
fn a_long_segment_streams_finished_subsegments_before_it_ends() {
    let capture = Capture::with(|b| b.with_streaming_threshold(2_000));
    let rec = capture.recorder();
    let seg = rec.new_segment("batch-job");
    for i in 0..40 {
        let sub = seg.begin_subsegment(&format!("item-{i}"));
        sub.annotate("i", i);
        sub.end();
    }
    let streamed = capture.documents();
    assert!(!streamed.is_empty(), "past the threshold, finished subsegments leave before the segment ends");
    for doc in &streamed {
        assert_valid(doc);
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["parent_id"], seg.id().unwrap().to_string());
    }
    seg.end();
    let all = capture.documents();
    let root = all.last().unwrap();
    assert_valid(root);
    let kept = root["subsegments"].as_array().map_or(0, Vec::len);
    assert_eq!(kept + streamed.len(), 40, "every subsegment arrives exactly once");
    assert!(kept > 0 && kept < 40);
}

#[test]
fn noop_id_false_gives_unsampled_requests_an_id_for_logs() {
    let emitter = Arc::new(MemoryEmitter::new());
    let config = xray_core::Config { noop_id: false, ..xray_core::Config::default() };
    let rec = xray_core::RecorderBuilder::new(config)
        .with_sampler(NeverSample)
        .with_emitter(emitter.clone())
        .build()
        .unwrap();
    let seg = rec.new_segment("svc");
    assert!(!seg.is_sampled());
    assert!(seg.id().is_some() && seg.trace_id().is_some());
    seg.end();
    let default = Recorder::builder().with_sampler(NeverSample).with_emitter(emitter.clone()).build().unwrap();
    assert!(default.new_segment("svc").id().is_none(), "AWS_XRAY_NOOP_ID defaults to true: no id");
    assert!(emitter.documents().is_empty());
}

#[tokio::test]
async fn lambda_facade_sends_subsegments_under_lambdas_segment() {
    let capture = Capture::with(|b| b.with_sampler(NeverSample));
    let rec = capture.recorder();
    let header = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
    let facade = rec.lambda_segment(&header);
    facade.annotate("ignored", true); // the facade itself records nothing
    async {
        xray_core::in_subsegment("handler", async {
            xray_core::current().annotate("order", 7);
            xray_core::in_subsegment("dynamodb", async {}).await;
        })
        .await;
        let down = xray_core::current().downstream_header().unwrap();
        assert_eq!(down.parent().unwrap().to_string(), "53995c3f42cd8ad8");
    }
    .with_entity(facade.entity())
    .await;
    facade.end();
    let docs = capture.documents();
    assert_eq!(docs.len(), 1, "one independent subsegment, with its child embedded");
    let doc = &docs[0];
    assert_valid(doc);
    assert_eq!(doc["type"], "subsegment");
    assert_eq!(doc["name"], "handler");
    assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(doc["annotations"]["order"], 7);
    assert_eq!(doc["subsegments"][0]["name"], "dynamodb");

    // Sampled=0 or a header without Parent records nothing.
    for text in [
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
    ] {
        let facade = rec.lambda_segment(&TraceHeader::parse(text));
        facade.begin_subsegment("work").end();
        facade.end();
    }
    assert_eq!(capture.documents().len(), 1);
}
