//! The UDP emitter against a fake daemon: the real datagrams, as the X-Ray daemon reads them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use xray_core::{AlwaysSample, DaemonAddress, Emitter, Recorder, Segment, UdpEmitter};
use xray_tests::{Datagram, FakeDaemon, assert_valid};

fn recorder_to(addr: std::net::SocketAddr) -> Recorder {
    Recorder::builder()
        .with_service_name("udp-test")
        .with_sampler(AlwaysSample)
        .with_daemon_address(DaemonAddress::from(addr))
        .build()
        .unwrap()
}

const WAIT: Duration = Duration::from_secs(5);

/// Sends `n` segments, each shaped by `fill`, to a fake daemon; the recorder and every datagram
/// that arrived (all `n` of them, checked).
fn send_segments(n: usize, fill: impl Fn(&Segment, usize)) -> (Recorder, Vec<Datagram>) {
    send_segments_via(recorder_to, n, fill)
}

/// [`send_segments`] through the recorder `recorder` makes for the daemon's address.
fn send_segments_via(
    recorder: impl Fn(std::net::SocketAddr) -> Recorder,
    n: usize,
    fill: impl Fn(&Segment, usize),
) -> (Recorder, Vec<Datagram>) {
    let daemon = FakeDaemon::start();
    let rec = recorder(daemon.addr());
    for i in 0..n {
        let seg = rec.new_segment("udp-test");
        fill(&seg, i);
        seg.end();
    }
    assert!(rec.flush(WAIT));
    let got = daemon.wait_for(n, WAIT);
    assert_eq!(got.len(), n);
    (rec, got)
}

/// The datagram's document, after checking the header line and the document against the schema.
fn valid_document(d: &Datagram) -> &Value {
    assert_eq!(d.header, Some(json!({"format": "json", "version": 1})));
    let doc = d.document.as_ref().expect("one JSON document after the header");
    assert_valid(doc);
    doc
}

#[test]
fn each_datagram_is_a_header_line_and_one_document() {
    let (rec, got) = send_segments(20, |seg, i| {
        seg.annotate("n", i);
        seg.begin_subsegment("work").end();
    });
    let mut seen = HashSet::new();
    for d in &got {
        assert!(d.bytes.starts_with(b"{\"format\":\"json\",\"version\":1}\n"));
        assert!(d.document_len() <= 64_000);
        seen.insert(valid_document(d)["annotations"]["n"].as_i64().unwrap());
    }
    assert_eq!(seen.len(), 20);
    let stats = rec.stats();
    assert_eq!((stats.enqueued, stats.emitted, stats.datagrams), (20, 20, 20));
    assert!(stats.batches >= 1 && stats.batches <= 20, "{stats:?}");
    assert_eq!(stats.dropped_queue_full + stats.dropped_send_error, 0);
}

/// On Linux, documents of similar size leave in one segmented send (`UDP_SEGMENT`): the kernel
/// cuts equal slices, so each but the last of a run is padded with spaces inside its closing
/// brace, and each still arrives as a header line and one valid document.
#[test]
fn similar_documents_arrive_whole_from_a_segmented_send() {
    // Documents 30 bytes apart at most: one run.
    let (rec, got) = send_segments(30, |seg, i| seg.annotate("s", "x".repeat(i)));
    let mut seen = HashSet::new();
    for d in &got {
        seen.insert(valid_document(d)["annotations"]["s"].as_str().unwrap().len());
    }
    assert_eq!(seen.len(), 30);
    let stats = rec.stats();
    assert_eq!((stats.emitted, stats.datagrams, stats.dropped_send_error), (30, 30, 0), "{stats:?}");
    if cfg!(target_os = "linux") {
        // The encoder writes no spaces itself; a run's first and last members are not padded.
        let padded = got.iter().filter(|d| d.bytes.ends_with(b" }")).count();
        assert!(padded >= 20, "{padded} of 30 padded: {stats:?}");
        assert!(stats.batches <= 3, "{stats:?}");
    }
}

/// Collects every entity of every document by id, with its parent id.
fn entities(docs: &[Value]) -> HashMap<String, Option<String>> {
    fn walk(doc: &Value, parent: Option<String>, out: &mut HashMap<String, Option<String>>) {
        let id = doc["id"].as_str().unwrap().to_owned();
        let parent = parent.or_else(|| doc["parent_id"].as_str().map(str::to_owned));
        assert!(out.insert(id.clone(), parent).is_none(), "entity {id} arrived twice");
        for s in doc["subsegments"].as_array().into_iter().flatten() {
            walk(s, Some(id.clone()), out);
        }
    }
    let mut out = HashMap::new();
    for d in docs {
        walk(d, None, &mut out);
    }
    out
}

#[test]
fn a_300_subsegment_segment_arrives_whole_in_datagrams_under_64k() {
    let daemon = FakeDaemon::start();
    let rec = recorder_to(daemon.addr());
    let seg = rec.new_segment("wide");
    let mut expected = HashMap::new();
    for i in 0..300 {
        let sub = seg.begin_subsegment(&format!("step-{i}"));
        sub.add_metadata("detail", "z".repeat(400));
        expected.insert(sub.id().unwrap().to_string(), seg.id().unwrap().to_string());
        sub.end();
    }
    let seg_id = seg.id().unwrap().to_string();
    seg.end();
    assert!(rec.flush(WAIT));
    let deadline = std::time::Instant::now() + WAIT;
    let docs = loop {
        let docs = daemon.documents();
        if entities(&docs).len() == 301 || std::time::Instant::now() > deadline {
            break docs;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(docs.len() > 1, "300 × 400 bytes cannot fit one datagram");
    for d in daemon.datagrams() {
        assert!(d.document_len() <= 64_000);
    }
    docs.iter().for_each(assert_valid);
    let got = entities(&docs);
    assert_eq!(got.len(), 301);
    assert_eq!(got[&seg_id], None);
    for (id, parent) in expected {
        assert_eq!(got[&id].as_deref(), Some(parent.as_str()), "subsegment {id}");
    }
    let trace_ids: HashSet<_> = docs.iter().map(|d| d["trace_id"].clone()).collect();
    assert_eq!(trace_ids.len(), 1);
}

#[test]
fn a_dead_daemon_costs_counted_drops_not_a_stall() {
    // A port with nothing listening: the kernel answers with ICMP port unreachable.
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let rec = recorder_to(port);
    let start = std::time::Instant::now();
    for _ in 0..50 {
        rec.new_segment("nobody-listens").end();
        // Spread the segments over several batches so that refusals are reported.
        if start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert!(rec.flush(WAIT), "flush must finish even when every send fails");
    let stats = rec.stats();
    assert_eq!(stats.enqueued, 50);
    assert!(stats.dropped_send_error >= 1, "refused datagrams are counted: {stats:?}");
    assert_eq!(stats.datagrams + stats.dropped_send_error, 50, "{stats:?}");
}

#[test]
fn a_full_queue_drops_and_counts() {
    let daemon = FakeDaemon::start();
    let emitter = UdpEmitter::builder(daemon.addr())
        .with_queue_bytes(2_000)
        .with_flush_interval(Duration::from_secs(3600))
        .with_wake_batch(1_000_000)
        .build()
        .unwrap();
    let rec = Recorder::builder().with_sampler(AlwaysSample).with_emitter(emitter).build().unwrap();
    for _ in 0..100 {
        rec.new_segment("burst").end();
    }
    let stats = rec.stats();
    assert_eq!(stats.enqueued, 100);
    assert!(stats.dropped_queue_full > 50, "{stats:?}");
    assert!(rec.flush(WAIT));
    let kept = 100 - rec.stats().dropped_queue_full as usize;
    assert_eq!(daemon.wait_for(kept, WAIT).len(), kept);
}

#[test]
fn with_segmentation_off_no_datagram_is_padded() {
    let unsegmented = |addr| {
        let emitter = UdpEmitter::builder(addr).with_segmentation(false).build().unwrap();
        Recorder::builder().with_sampler(AlwaysSample).with_emitter(emitter).build().unwrap()
    };
    let (_, got) = send_segments_via(unsegmented, 30, |seg, i| seg.annotate("s", "x".repeat(i)));
    for d in &got {
        valid_document(d);
        assert!(!d.bytes.ends_with(b" }"), "{}", String::from_utf8_lossy(&d.bytes));
    }
}

#[test]
fn flush_delivers_everything_queued_despite_a_long_timer() {
    let daemon = FakeDaemon::start();
    let emitter = UdpEmitter::builder(daemon.addr()).with_flush_interval(Duration::from_secs(3600)).build().unwrap();
    let rec = Recorder::builder().with_sampler(AlwaysSample).with_emitter(emitter).build().unwrap();
    for _ in 0..10 {
        rec.new_segment("queued").end();
    }
    assert!(daemon.datagrams().is_empty(), "nothing is sent before the timer or a flush");
    assert!(rec.flush(WAIT));
    assert_eq!(daemon.wait_for(10, WAIT).len(), 10);
}

#[test]
fn dropping_the_emitter_sends_what_is_queued() {
    let daemon = FakeDaemon::start();
    {
        let emitter =
            UdpEmitter::builder(daemon.addr()).with_flush_interval(Duration::from_secs(3600)).build().unwrap();
        let rec = Recorder::builder().with_sampler(AlwaysSample).with_emitter(emitter).build().unwrap();
        rec.new_segment("last-words").end();
        assert_eq!(rec.stats().enqueued, 1);
    }
    assert_eq!(daemon.wait_for(1, WAIT).len(), 1);
}

#[test]
fn a_disabled_sdk_sends_nothing_and_opens_no_socket() {
    let daemon = FakeDaemon::start();
    let rec = Recorder::builder()
        .with_enabled(false)
        .with_daemon_address(DaemonAddress::from(daemon.addr()))
        .build()
        .unwrap();
    let seg = rec.new_segment("off");
    assert!(seg.is_noop());
    seg.end();
    assert!(rec.flush(WAIT));
    std::thread::sleep(Duration::from_millis(50));
    assert!(daemon.datagrams().is_empty());
    let direct = UdpEmitter::builder(daemon.addr()).build().unwrap();
    assert_eq!(direct.stats().enqueued, 0);
}
