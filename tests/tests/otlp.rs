//! The OTLP emitter against a local OTLP/HTTP receiver that decodes every request with the
//! `opentelemetry-proto` types: the demo's two services (user management calling
//! notification) exported as spans, checked span by span against the very documents the
//! recorder produced; a collector that is down, slow or refusing; and `OTEL_TRACES_EXPORTER`.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;
use serde_json::{Value, json};
use xray_core::otlp::{FanOutEmitter, OtlpEmitter};
use xray_core::{AlwaysSample, Config, Emitter, MemoryEmitter, Recorder, RecorderBuilder, TraceHeader};

const WAIT: Duration = Duration::from_secs(10);

/// How the receiver answers.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Ok,
    /// Accepts the request and says this many spans were rejected.
    Partial(i64),
    Status(u16),
    /// Reads the request and never answers (until the receiver is dropped).
    Never,
    /// Answers 503 to the first this many requests, then accepts.
    FailFirst(usize),
}

/// One request as received.
struct Received {
    path: String,
    content_type: String,
    request: ExportTraceServiceRequest,
}

/// A tiny OTLP/HTTP receiver on a loopback port: one thread, polling a non-blocking listener
/// until it is dropped.
struct Collector {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl Collector {
    fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (got, stopped) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut held, mut served) = (Vec::new(), 0);
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let now = match answer {
                            Answer::FailFirst(n) if served < n => Answer::Status(503),
                            Answer::FailFirst(_) => Answer::Ok,
                            other => other,
                        };
                        served += 1;
                        if let Some(stream) = serve(stream, now, &got) {
                            held.push(stream);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(2)),
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Self { addr, received, stop }
    }

    fn url(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    fn requests(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Every span received so far, with its resource's attributes.
    fn spans(&self) -> Vec<(Vec<KeyValue>, Span)> {
        let got = self.received.lock().unwrap();
        let mut out = Vec::new();
        for r in got.iter() {
            for rs in &r.request.resource_spans {
                let resource = rs.resource.clone().unwrap_or_default().attributes;
                for ss in &rs.scope_spans {
                    out.extend(ss.spans.iter().map(|s| (resource.clone(), s.clone())));
                }
            }
        }
        out
    }

    /// Waits until `n` spans arrived or [`WAIT`] passed.
    fn wait_for_spans(&self, n: usize) -> Vec<(Vec<KeyValue>, Span)> {
        let deadline = Instant::now() + WAIT;
        loop {
            let spans = self.spans();
            if spans.len() >= n || Instant::now() >= deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one request, decodes and keeps it, answers; returns the stream to hold open when the
/// answer is never to come.
fn serve(mut stream: TcpStream, answer: Answer, got: &Mutex<Vec<Received>>) -> Option<TcpStream> {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|v| v.trim().parse().unwrap());
            break (end + 4, length.unwrap_or(0usize));
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    let request = ExportTraceServiceRequest::decode(&buf[head_end..head_end + length]).expect("a protobuf request");
    got.lock().unwrap().push(Received { path, content_type, request });
    let reply = |status: &str, body: Vec<u8>| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend(body);
        out
    };
    let bytes = match answer {
        Answer::Ok => reply("200 OK", ExportTraceServiceResponse::default().encode_to_vec()),
        Answer::Partial(n) => {
            let partial = ExportTracePartialSuccess { rejected_spans: n, error_message: "too old".into() };
            reply("200 OK", ExportTraceServiceResponse { partial_success: Some(partial) }.encode_to_vec())
        }
        Answer::Status(code) => reply(&format!("{code} Unavailable"), b"collector overloaded".to_vec()),
        Answer::Never => return Some(stream),
        Answer::FailFirst(_) => unreachable!("resolved per request"),
    };
    let _ = stream.write_all(&bytes);
    None
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs.iter().find(|a| a.key == key)?.value.as_ref()?.value.as_ref()
}

/// An attribute as JSON, for comparing with documents.
fn attr_json(attrs: &[KeyValue], key: &str) -> Option<Value> {
    fn plain(v: &any_value::Value) -> Value {
        match v {
            any_value::Value::StringValue(s) => json!(s),
            any_value::Value::BoolValue(b) => json!(b),
            any_value::Value::IntValue(i) => json!(i),
            any_value::Value::DoubleValue(d) => json!(d),
            any_value::Value::ArrayValue(a) => {
                a.values.iter().filter_map(|AnyValue { value }| value.as_ref()).map(plain).collect()
            }
            other => panic!("unexpected attribute value {other:?}"),
        }
    }
    attr(attrs, key).map(plain)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An X-Ray trace id as the 32 hex digits of its OTLP form.
fn otlp_trace(xray: &str) -> String {
    xray.strip_prefix("1-").unwrap().replace('-', "")
}

/// A JSON timestamp as OTLP's nanoseconds (documents carry microseconds).
fn nanos(v: &Value) -> u64 {
    (v.as_f64().unwrap() * 1e6).round() as u64 * 1000
}

/// A document and every embedded subsegment, each with its trace, its parent and whether it
/// is the segment itself.
fn flatten<'a>(
    doc: &'a Value,
    trace: &str,
    parent: Option<&str>,
    out: &mut Vec<(&'a Value, String, Option<String>, bool)>,
) {
    let top = parent.is_none();
    let parent = parent.map(str::to_owned).or_else(|| doc["parent_id"].as_str().map(str::to_owned));
    out.push((doc, trace.to_owned(), parent, top && doc.get("type").is_none()));
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        flatten(sub, trace, doc["id"].as_str(), out);
    }
}

/// Each document becomes exactly the span the receiver's mapping gives: ids, parent, name,
/// kind, times, status, and the attributes of its blocks.
fn check_span(doc: &Value, trace: &str, parent: Option<&str>, segment: bool, span: &Span) {
    let id = doc["id"].as_str().unwrap();
    let name = doc["name"].as_str().unwrap();
    assert_eq!(hex(&span.trace_id), otlp_trace(trace), "{name}");
    assert_eq!(hex(&span.parent_span_id), parent.unwrap_or(""), "{name}");
    assert_eq!(span.name, name);
    assert_eq!(span.start_time_unix_nano, nanos(&doc["start_time"]), "{name}");
    assert_eq!(span.end_time_unix_nano, nanos(&doc["end_time"]), "{name}");
    let client_ip = doc["http"]["request"]["client_ip"].is_string();
    let kind = match (segment, doc.get("namespace").is_some(), client_ip) {
        (true, _, _) => SpanKind::Server,
        (false, true, _) => SpanKind::Client,
        (false, false, true) => SpanKind::Server,
        _ => SpanKind::Internal,
    };
    assert_eq!(span.kind, kind as i32, "{name} {id}");
    let a = &span.attributes;
    let status = doc["http"]["response"]["status"].as_u64();
    let error = status.is_some_and(|s| !(100..399).contains(&s)) || doc.get("cause").is_some();
    let code = span.status.as_ref().map_or(0, |s| s.code);
    assert_eq!(code == StatusCode::Error as i32, error, "{name}: {doc:#}");
    if let Some(status) = status {
        assert_eq!(attr_json(a, "http.status_code"), Some(json!(status)), "{name}");
    }
    for (field, key) in [
        ("method", "http.method"),
        ("url", "http.url"),
        ("client_ip", "http.client_ip"),
        ("user_agent", "http.user_agent"),
    ] {
        let want = doc["http"]["request"].get(field).cloned();
        assert_eq!(attr_json(a, key), want, "{name}: {key}");
    }
    assert_eq!(attr_json(a, "aws.xray.traced"), doc["http"]["request"].get("traced").cloned(), "{name}");
    assert_eq!(attr_json(a, "db.system"), doc["sql"].get("database_type").cloned(), "{name}");
    assert_eq!(attr_json(a, "db.statement"), doc["sql"].get("sanitized_query").cloned(), "{name}");
    let annotations = doc["annotations"].as_object().cloned().unwrap_or_default();
    for (key, value) in &annotations {
        assert_eq!(attr_json(a, key).as_ref(), Some(value), "{name}: annotation {key}");
    }
    // Sorted on both sides: serde_json's map order depends on its `preserve_order` feature.
    let mut keys: Vec<Value> = annotations.keys().map(|k| json!(k)).collect();
    keys.sort_by_key(|v| v.as_str().unwrap_or_default().to_owned());
    if !keys.is_empty() {
        let mut got = attr_json(a, "aws.xray.annotations").unwrap().as_array().unwrap().clone();
        got.sort_by_key(|v| v.as_str().unwrap().to_owned());
        assert_eq!(got, keys, "{name}");
    }
    for (namespace, object) in doc["metadata"].as_object().into_iter().flatten() {
        let text = attr_json(a, &format!("aws.xray.metadata.{namespace}")).unwrap();
        assert_eq!(&serde_json::from_str::<Value>(text.as_str().unwrap()).unwrap(), object, "{name}");
    }
    let exceptions = doc["cause"]["exceptions"].as_array().cloned().unwrap_or_default();
    assert_eq!(span.events.len(), exceptions.len(), "{name}");
    for (event, exception) in span.events.iter().zip(&exceptions) {
        assert_eq!(event.name, "exception");
        assert_eq!(attr_json(&event.attributes, "aws.xray.exception.id").as_ref(), Some(&exception["id"]));
        assert_eq!(attr_json(&event.attributes, "exception.message").as_ref(), exception.get("message"));
    }
}

async fn serve_router(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_traces_arrive_as_spans_mapped_like_the_collectors_x_ray_receiver() {
    use xray_examples::services::{notification, user_management};
    use xray_examples::store::Store;

    let collector = Collector::start(Answer::Ok);
    let otlp = Arc::new(
        OtlpEmitter::builder()
            .with_endpoint(collector.url())
            .with_service_name("user-management")
            .with_flush_interval(Duration::from_millis(20))
            .build()
            .unwrap(),
    );
    // The same documents are kept in memory, to check every span against its document.
    let memory = Arc::new(MemoryEmitter::new());
    let emitters: Vec<Arc<dyn Emitter>> = vec![memory.clone(), otlp.clone()];
    let guard = Recorder::builder()
        .with_service_name("user-management")
        .with_sampler(AlwaysSample)
        .with_emitter(FanOutEmitter::new(emitters))
        .install()
        .unwrap();

    let dir = std::env::temp_dir().join(format!("xray-otlp-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = Store::connect(&format!("sqlite://{}", dir.join("users.db").display())).await.unwrap();
    let outbox = Store::connect(&format!("sqlite://{}", dir.join("outbox.db").display())).await.unwrap();
    let notification_addr = serve_router(notification(outbox)).await;
    let users_addr = serve_router(user_management(users, format!("http://{notification_addr}"))).await;

    let client = reqwest::Client::new();
    let traffic = [
        ("/usermgmt/user", json!({"name": "Alice", "email": "alice@example.com"}), 201),
        ("/usermgmt/user", json!({"name": "Bob", "email": "bob@bounce.example"}), 201),
        ("/usermgmt/user", json!({"name": "Mallory"}), 400),
        ("/usermgmt/notification", json!({"userId": 1, "message": "Welcome"}), 200),
        ("/usermgmt/notification", json!({"userId": 2, "message": "Welcome"}), 502),
    ];
    let mut traces = Vec::new();
    for (path, body, status) in traffic {
        let response = client.post(format!("http://{users_addr}{path}")).json(&body).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{path} {body}");
        let header = response.headers()["x-amzn-trace-id"].to_str().unwrap();
        traces.push(TraceHeader::parse(header).root().unwrap().to_string());
    }
    assert!(guard.recorder().flush_async(WAIT).await, "{:?}", guard.recorder().stats());

    let docs = memory.documents();
    assert_eq!(docs.len(), 7, "five user-management segments and two notification ones: {docs:#?}");
    let mut expected = Vec::new();
    for doc in &docs {
        let trace = doc["trace_id"].as_str().unwrap();
        flatten(doc, trace, None, &mut expected);
    }
    let spans = collector.wait_for_spans(expected.len());
    assert_eq!(spans.len(), expected.len(), "one span per document and embedded subsegment");
    let by_id: HashMap<String, &(Vec<KeyValue>, Span)> = spans.iter().map(|s| (hex(&s.1.span_id), s)).collect();
    assert_eq!(by_id.len(), spans.len(), "span ids are unique");
    for (doc, trace, parent, segment) in &expected {
        let (_, span) = by_id[doc["id"].as_str().unwrap()];
        check_span(doc, trace, parent.as_deref(), *segment, span);
    }
    {
        let got = collector.received.lock().unwrap();
        assert!(got.iter().all(|r| r.path == "/v1/traces" && r.content_type == "application/x-protobuf"));
    }
    let stats = otlp.stats();
    assert_eq!((stats.enqueued, stats.emitted, stats.dropped_send_error), (docs.len() as u64, docs.len() as u64, 0));
    assert_eq!(otlp.otlp_stats().spans, spans.len() as u64);

    // The path of the successful notification, link by link.
    let trace = otlp_trace(&traces[3]);
    let in_trace: Vec<&(Vec<KeyValue>, Span)> = spans.iter().filter(|(_, s)| hex(&s.trace_id) == trace).collect();
    let service = |r: &[KeyValue]| attr_json(r, "service.name").unwrap();
    let (users_resource, server) = in_trace
        .iter()
        .map(|(r, s)| (r, s))
        .find(|(_, s)| s.kind == SpanKind::Server as i32 && s.parent_span_id.is_empty())
        .expect("user management's server span");
    assert_eq!(service(users_resource), "user-management");
    assert_eq!(attr_json(users_resource, "telemetry.sdk.name"), Some(json!("X-Ray for Rust")));
    assert_eq!(attr_json(users_resource, "telemetry.sdk.language"), Some(json!("Rust")));
    assert_eq!(attr_json(users_resource, "cloud.provider"), Some(json!("aws")));
    assert_eq!(attr_json(&server.attributes, "http.method"), Some(json!("POST")));
    assert_eq!(attr_json(&server.attributes, "operation"), Some(json!("notify-user")));
    assert_eq!(attr_json(&server.attributes, "userId"), Some(json!(1)), "an integer annotation stays an integer");
    let children = |parent: &Span| -> Vec<&Span> {
        in_trace.iter().map(|(_, s)| s).filter(|s| s.parent_span_id == parent.span_id).collect()
    };
    let sql = children(server).into_iter().find(|s| attr(&s.attributes, "db.system").is_some()).expect("a SQL span");
    assert_eq!(sql.kind, SpanKind::Client as i32);
    assert!(attr_json(&sql.attributes, "db.statement").unwrap().as_str().unwrap().contains("xray_demo_users"));
    let call = children(server)
        .into_iter()
        .find(|s| attr_json(&s.attributes, "aws.xray.traced") == Some(json!(true)))
        .expect("the traced call to notification");
    assert_eq!(call.kind, SpanKind::Client as i32);
    assert_eq!(attr_json(&call.attributes, "http.status_code"), Some(json!(200)));
    let (notification_resource, remote) = in_trace
        .iter()
        .map(|(r, s)| (r, s))
        .find(|(_, s)| s.parent_span_id == call.span_id)
        .expect("notification's span");
    assert_eq!(service(notification_resource), "notification");
    assert_eq!(remote.kind, SpanKind::Server as i32);
    assert!(
        remote.start_time_unix_nano >= call.start_time_unix_nano
            && call.end_time_unix_nano >= remote.start_time_unix_nano
    );
    // The demo sends through SES instead when AWS_ENDPOINT_URL is set.
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        let email = children(remote).into_iter().find(|s| s.name == "send-email").expect("send-email");
        assert_eq!(email.kind, SpanKind::Internal as i32);
        assert_eq!(attr_json(&email.attributes, "status"), Some(json!("delivered")));
    }
    for span in in_trace.iter().map(|(_, s)| s) {
        assert!(span.start_time_unix_nano > 0 && span.end_time_unix_nano >= span.start_time_unix_nano, "{}", span.name);
    }

    // The bounced notification: errors on both sides.
    let trace = otlp_trace(&traces[4]);
    let failed: Vec<&Span> = spans.iter().map(|(_, s)| s).filter(|s| hex(&s.trace_id) == trace).collect();
    let error = |s: &&Span| s.status.as_ref().is_some_and(|st| st.code == StatusCode::Error as i32);
    let servers: Vec<&&Span> = failed.iter().filter(|s| s.kind == SpanKind::Server as i32).collect();
    assert_eq!(servers.len(), 2);
    assert!(servers.iter().all(|s| error(s)), "502 and 503 are errors");
    drop(guard);
}

/// A recorder sending through `emitter` only.
fn recorder_with(emitter: impl Emitter) -> Recorder {
    Recorder::builder().with_sampler(AlwaysSample).with_emitter(emitter).build().unwrap()
}

#[test]
fn a_collector_that_is_down_costs_counted_drops() {
    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let otlp = Arc::new(
        OtlpEmitter::builder()
            .with_endpoint(format!("http://{closed}/v1/traces"))
            .with_timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
    );
    let recorder = recorder_with(otlp.clone());
    for i in 0..50 {
        recorder.new_segment(&format!("job-{i}")).end();
    }
    assert!(recorder.flush(WAIT), "every document is handled, sent or not");
    let stats = recorder.stats();
    assert_eq!((stats.enqueued, stats.emitted, stats.dropped_send_error, stats.queued), (50, 0, 50, 0), "{stats:?}");
    assert!(stats.daemon_unreachable_since.is_some());
}

#[test]
fn a_collector_that_never_answers_holds_up_nothing() {
    let collector = Collector::start(Answer::Never);
    let otlp = Arc::new(
        OtlpEmitter::builder()
            .with_endpoint(collector.url())
            .with_timeout(Duration::from_millis(300))
            .with_flush_interval(Duration::from_millis(10))
            .with_queue_bytes(64 * 1024)
            .build()
            .unwrap(),
    );
    let recorder = recorder_with(otlp.clone());
    // Far more than the queue holds while the emitter waits on the collector: the rest is
    // dropped at the door, and counted.
    for i in 0..2000 {
        recorder.new_segment(&format!("job-{i}")).end();
    }
    assert!(recorder.flush(WAIT), "{:?}", recorder.stats());
    let stats = recorder.stats();
    assert_eq!(stats.enqueued, 2000);
    assert!(stats.dropped_queue_full > 0, "{stats:?}");
    assert_eq!(stats.emitted, 0, "{stats:?}");
    assert_eq!(stats.dropped_queue_full + stats.dropped_send_error, 2000, "every document is accounted for: {stats:?}");
    assert!(collector.requests() > 0, "the requests reached the collector");
}

#[test]
fn refusals_and_partial_successes_are_counted() {
    let refusing = Collector::start(Answer::Status(503));
    let otlp = Arc::new(OtlpEmitter::builder().with_endpoint(refusing.url()).build().unwrap());
    let recorder = recorder_with(otlp.clone());
    recorder.new_segment("a").end();
    recorder.new_segment("b").end();
    assert!(recorder.flush(WAIT));
    let stats = recorder.stats();
    assert_eq!((stats.emitted, stats.dropped_send_error), (0, 2), "{stats:?}");
    assert_eq!(stats.daemon_unreachable_since, None, "it answered");
    assert_eq!(refusing.requests(), 3, "one batch, tried again twice");
    assert_eq!(otlp.otlp_stats().retries, 2);

    // A collector that is back after one refusal gets the batch on the second try.
    let restarting = Collector::start(Answer::FailFirst(1));
    let otlp = Arc::new(OtlpEmitter::builder().with_endpoint(restarting.url()).build().unwrap());
    let recorder = recorder_with(otlp.clone());
    recorder.new_segment("a").end();
    assert!(recorder.flush(WAIT));
    assert_eq!((recorder.stats().emitted, recorder.stats().dropped_send_error), (1, 0));
    assert_eq!((restarting.requests(), otlp.otlp_stats().retries), (2, 1));
    assert_eq!(restarting.spans().len(), 2, "both tries carried the span");

    let partial = Collector::start(Answer::Partial(1));
    let otlp = Arc::new(OtlpEmitter::builder().with_endpoint(partial.url()).build().unwrap());
    let recorder = recorder_with(otlp.clone());
    recorder.new_segment("a").end();
    assert!(recorder.flush(WAIT));
    assert_eq!(recorder.stats().emitted, 1);
    assert_eq!(otlp.otlp_stats().rejected_spans, 1);
}

#[test]
fn in_progress_documents_are_not_exported_and_shutdown_closes() {
    let collector = Collector::start(Answer::Ok);
    let otlp = Arc::new(OtlpEmitter::builder().with_endpoint(collector.url()).build().unwrap());
    let recorder = recorder_with(otlp.clone());
    let segment = recorder.new_segment("long");
    segment.send_in_progress();
    segment.end();
    assert!(recorder.flush(WAIT));
    let spans = collector.wait_for_spans(1);
    assert_eq!(spans.len(), 1, "only the complete segment");
    assert!(spans[0].1.end_time_unix_nano > 0);
    assert_eq!(otlp.otlp_stats().in_progress_skipped, 1);
    assert!(recorder.shutdown(WAIT));
    recorder.new_segment("late").end();
    assert_eq!(recorder.stats().dropped_queue_full, 1, "after shutdown, counted and dropped");
}

#[test]
fn otel_traces_exporter_selects_udp_otlp_or_both() {
    let collector = Collector::start(Answer::Ok);
    let daemon = xray_tests::FakeDaemon::start();
    let (daemon_addr, base) = (daemon.addr().to_string(), format!("http://{}", collector.addr));
    let build = |exporters: &str| -> Recorder {
        let vars = [
            ("OTEL_TRACES_EXPORTER", exporters),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str()),
            ("AWS_XRAY_DAEMON_ADDRESS", daemon_addr.as_str()),
        ];
        let config = Config::from_lookup(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())).unwrap();
        assert!(config.problems.is_empty(), "{:?}", config.problems);
        RecorderBuilder::new(config).with_sampler(AlwaysSample).with_service_name("svc").build().unwrap()
    };
    for (exporters, udp, otlp) in [("xray", 1, 0), ("otlp", 0, 1), ("xray,otlp", 1, 1), ("none", 0, 0)] {
        let (udp_before, otlp_before) = (daemon.documents().len(), collector.spans().len());
        let recorder = build(exporters);
        recorder.new_segment(exporters).end();
        assert!(recorder.flush(WAIT), "{exporters}");
        assert_eq!(collector.wait_for_spans(otlp_before + otlp).len() - otlp_before, otlp, "{exporters}");
        let udp_docs = if udp > 0 { daemon.wait_for(udp_before + udp, WAIT).len() } else { daemon.documents().len() };
        assert_eq!(udp_docs - udp_before, udp, "{exporters}");
        assert_eq!(recorder.stats().enqueued, 1, "{exporters}");
    }
    // An https endpoint is refused when the recorder is built.
    let vars =
        [("OTEL_TRACES_EXPORTER", "otlp"), ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://collector:4318/v1/traces")];
    let config = Config::from_lookup(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned())).unwrap();
    let err = RecorderBuilder::new(config).with_sampler(AlwaysSample).build().unwrap_err();
    assert!(err.to_string().contains("https endpoints are not supported"), "{err}");
}
