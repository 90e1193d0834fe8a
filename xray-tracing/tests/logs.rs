//! `tracing_subscriber::fmt` output captured into a buffer: the trace id on every line written
//! inside a traced request (sampled or not), none outside, text and JSON.

use std::io;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use serde_json::Value;
use tower::ServiceExt;
use tracing::instrument;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use xray_core::test::Capture;
use xray_core::{Config, MemoryEmitter, NeverSample, RecorderBuilder};

/// Every line the fmt layer writes.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap().lines().map(str::to_owned).collect()
    }
}

impl io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

#[instrument]
async fn load_user(id: u64) {
    tracing::info!("loading");
    tracing::warn!(id, "slow lookup");
}

async fn handler() -> &'static str {
    tracing::info!("handling");
    load_user(7).await;
    tracing::info!("handled");
    "ok"
}

fn app(recorder: xray_core::Recorder) -> Router {
    Router::new().route("/", get(handler)).layer(xray_tower::XrayLayer::new("svc").with_recorder(recorder))
}

async fn send(app: &Router) -> String {
    let request = Request::get("/").header("host", "svc.test").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let trace = response.headers()["x-amzn-trace-id"].to_str().unwrap().to_owned();
    trace.strip_prefix("Root=").unwrap().to_owned()
}

#[tokio::test]
async fn text_lines_inside_a_sampled_request_carry_the_trace_and_entity_ids() {
    let capture = Capture::new();
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(xray_tracing::with_trace_ids())
                .with_writer(buffer.clone())
                .with_ansi(false),
        )
        .with(xray_tracing::layer());
    let _guard = tracing::subscriber::set_default(subscriber);

    tracing::info!("before");
    let trace_id = send(&app(capture.recorder().clone())).await;
    tracing::info!("after");

    let doc = &capture.take()[0];
    let segment_id = doc["id"].as_str().unwrap();
    let load_id = doc["subsegments"][0]["id"].as_str().unwrap();
    let lines = buffer.lines();
    assert_eq!(lines.len(), 6, "{lines:#?}");
    let expect = |line: &str, message: &str, entity: &str| {
        assert!(line.starts_with(&format!("AWS-XRAY-TRACE-ID: {trace_id}@{entity} ")), "{line}");
        assert!(line.contains(message), "{line}");
    };
    assert!(!lines[0].contains("AWS-XRAY-TRACE-ID") && lines[0].contains("before"), "{}", lines[0]);
    expect(&lines[1], "handling", segment_id);
    // Inside the instrumented function the current entity is its subsegment.
    expect(&lines[2], "loading", load_id);
    expect(&lines[3], "slow lookup", load_id);
    expect(&lines[4], "handled", segment_id);
    assert!(!lines[5].contains("AWS-XRAY-TRACE-ID") && lines[5].contains("after"), "{}", lines[5]);
}

#[tokio::test]
async fn json_lines_parse_and_carry_the_ids() {
    let capture = Capture::new();
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .event_format(xray_tracing::TraceIds::json())
                .with_writer(buffer.clone()),
        )
        .with(xray_tracing::layer());
    let _guard = tracing::subscriber::set_default(subscriber);

    let trace_id = send(&app(capture.recorder().clone())).await;
    tracing::info!("outside");

    let doc = &capture.take()[0];
    let lines: Vec<Value> = buffer.lines().iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5, "{lines:#?}");
    for line in &lines[..4] {
        assert_eq!(line[xray_tracing::JSON_TRACE_ID], trace_id.as_str(), "{line}");
    }
    assert_eq!(lines[0][xray_tracing::JSON_ENTITY_ID], doc["id"]);
    assert_eq!(lines[1][xray_tracing::JSON_ENTITY_ID], doc["subsegments"][0]["id"]);
    assert_eq!(lines[2]["fields"]["message"], "slow lookup");
    assert_eq!(lines[2]["span"]["id"], 7, "the JSON format's own span fields are intact");
    assert!(lines[4].get(xray_tracing::JSON_TRACE_ID).is_none(), "{}", lines[4]);
    assert_eq!(lines[4]["fields"]["message"], "outside");
}

async fn unsampled_lines(config: Config) -> (String, Vec<String>) {
    let emitter = Arc::new(MemoryEmitter::new());
    let recorder =
        RecorderBuilder::new(config).with_sampler(NeverSample).with_emitter(emitter.clone()).build().unwrap();
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(xray_tracing::with_trace_ids())
                .with_writer(buffer.clone())
                .with_ansi(false),
        )
        .with(xray_tracing::layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    let trace_id = send(&app(recorder)).await;
    assert!(emitter.documents().is_empty());
    (trace_id, buffer.lines())
}

#[tokio::test]
async fn unsampled_requests_log_their_trace_id_and_with_noop_id_false_an_entity_id() {
    let (trace_id, lines) = unsampled_lines(Config::default()).await;
    assert_eq!(lines.len(), 4, "{lines:#?}");
    for line in &lines {
        assert!(line.starts_with(&format!("AWS-XRAY-TRACE-ID: {trace_id} ")), "{line}");
    }

    // `Config` is non-exhaustive: no struct literal outside xray-core.
    #[allow(clippy::field_reassign_with_default)]
    let config = {
        let mut config = Config::default();
        config.noop_id = false;
        config
    };
    let (trace_id, lines) = unsampled_lines(config).await;
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let prefix = format!("AWS-XRAY-TRACE-ID: {trace_id}@");
    for line in &lines {
        let rest = line.strip_prefix(&prefix).unwrap_or_else(|| panic!("{line}"));
        let entity = &rest[..16];
        assert!(entity.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
    }
}
