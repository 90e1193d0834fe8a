//! Workload W, shared by the benches that measure it: one segment with an http block, 2
//! annotations, 1 metadata entry and 3 subsegments, through the SDK's public API; and the same
//! document as plain serde structs, the floor.
// Each bench file uses part of this module.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use serde::Serialize;
use xray_core::integration::{HttpRequest, HttpResponse, SegmentDocument};
use xray_core::{AlwaysSample, Emitter, Recorder};

/// Keeps the last document, to obtain W as the SDK builds it.
#[derive(Default)]
pub struct Capture(Mutex<Option<SegmentDocument>>);

impl Emitter for Capture {
    fn emit(&self, doc: SegmentDocument) {
        *self.0.lock().unwrap() = Some(doc);
    }
}

/// Workload W through the SDK's public API.
pub fn run_w(rec: &Recorder) {
    run_wide(rec, &["users-db@db", "cache", "payments.example.com"]);
}

/// W with `names.len()` subsegments instead of 3.
pub fn run_wide(rec: &Recorder, names: &[&str]) {
    let seg = rec.new_segment("bench-service");
    seg.set_http_request(HttpRequest {
        method: Some("GET".into()),
        url: Some("https://api.example.com/users/42".to_owned()),
        user_agent: Some("bench/1.0".to_owned()),
        client_ip: Some("10.0.0.1".to_owned()),
        ..HttpRequest::default()
    });
    seg.annotate("user_id", 42);
    seg.annotate("tier", "gold");
    seg.add_metadata("cart", "three items");
    for name in names {
        seg.begin_subsegment(name).end();
    }
    seg.set_http_response(HttpResponse { status: Some(200), content_length: Some(1234) });
    seg.end();
}

/// W as the SDK builds it.
pub fn w_document() -> SegmentDocument {
    let capture = Arc::new(Capture::default());
    let rec = Recorder::builder().with_sampler(AlwaysSample).with_emitter(capture.clone()).build().unwrap();
    run_w(&rec);
    capture.0.lock().unwrap().take().unwrap()
}

// The floor: the same document as plain serde structs.
#[derive(Serialize)]
struct PlainRequest {
    method: String,
    url: String,
    user_agent: String,
    client_ip: String,
}
#[derive(Serialize)]
struct PlainResponse {
    status: u16,
    content_length: u64,
}
#[derive(Serialize)]
struct PlainHttp {
    request: PlainRequest,
    response: PlainResponse,
}
#[derive(Serialize)]
struct PlainAnnotations {
    user_id: i64,
    tier: String,
}
#[derive(Serialize)]
struct PlainDefault {
    cart: String,
}
#[derive(Serialize)]
struct PlainMetadata {
    default: PlainDefault,
}
#[derive(Serialize)]
struct PlainSub {
    name: String,
    id: String,
    start_time: f64,
    end_time: f64,
}
#[derive(Serialize)]
struct PlainXray {
    sdk: &'static str,
    sdk_version: &'static str,
}
#[derive(Serialize)]
struct PlainAws {
    xray: PlainXray,
}

/// W as plain serde structs: what a hand-written SDK for this one document would build.
#[derive(Serialize)]
pub struct PlainSegment {
    name: String,
    id: String,
    trace_id: String,
    start_time: f64,
    end_time: f64,
    http: PlainHttp,
    aws: PlainAws,
    annotations: PlainAnnotations,
    metadata: PlainMetadata,
    subsegments: Vec<PlainSub>,
}

/// The plain W number `n` (its ids derived from `n`).
pub fn plain_w(n: u64) -> PlainSegment {
    let t = 1_700_000_000.123456;
    PlainSegment {
        name: "bench-service".to_owned(),
        id: format!("{:016x}", n | 1),
        trace_id: format!("1-{:08x}-{:024x}", 0x6550_0000u32, u128::from(n)),
        start_time: t,
        end_time: t + 0.001,
        http: PlainHttp {
            request: PlainRequest {
                method: "GET".to_owned(),
                url: "https://api.example.com/users/42".to_owned(),
                user_agent: "bench/1.0".to_owned(),
                client_ip: "10.0.0.1".to_owned(),
            },
            response: PlainResponse { status: 200, content_length: 1234 },
        },
        aws: PlainAws { xray: PlainXray { sdk: "X-Ray for Rust", sdk_version: "0.1.0" } },
        annotations: PlainAnnotations { user_id: 42, tier: "gold".to_owned() },
        metadata: PlainMetadata { default: PlainDefault { cart: "three items".to_owned() } },
        subsegments: ["users-db@db", "cache", "payments.example.com"]
            .iter()
            .enumerate()
            .map(|(i, name)| PlainSub {
                name: (*name).to_owned(),
                id: format!("{:016x}", n + i as u64 + 2),
                start_time: t,
                end_time: t + 0.0005,
            })
            .collect(),
    }
}
