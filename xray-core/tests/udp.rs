//! The UDP emitter against a fake daemon: the real datagrams, as the X-Ray daemon reads them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use xray_core::integration::SegmentDocument;
use xray_core::{AlwaysSample, DaemonAddress, Emitter, EntityId, Recorder, Segment, TraceId, UdpEmitter};
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

/// Tests that measure the process (RSS) or the machine's pace run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An independent subsegment of `trace` under `parent`, as the streaming path sends it.
fn streamed_subsegment(trace: &str, parent: &str, name: &str, detail: usize) -> SegmentDocument {
    serde_json::from_value(json!({
        "name": name,
        "id": EntityId::new().to_string(),
        "trace_id": trace,
        "parent_id": parent,
        "type": "subsegment",
        "start_time": 1_700_000_000.0,
        "end_time": 1_700_000_000.5,
        "metadata": {"default": {"detail": "d".repeat(detail)}},
    }))
    .unwrap()
}

/// A segment of `trace` with id `id`.
fn segment_of(trace: &str, id: &str) -> SegmentDocument {
    serde_json::from_value(json!({
        "name": "streamed", "id": id, "trace_id": trace, "start_time": 1_700_000_000.0, "end_time": 1_700_000_001.0,
    }))
    .unwrap()
}

#[test]
fn a_full_queue_drops_whole_traces_never_a_segment_whose_subsegments_were_sent() {
    let daemon = FakeDaemon::start();
    // Room for a few dozen small documents, and no sending until the flush.
    let emitter = UdpEmitter::builder(daemon.addr())
        .with_queue_bytes(40_000)
        .with_flush_interval(Duration::from_secs(3600))
        .with_wake_batch(1_000_000)
        .build()
        .unwrap();
    let traces = 40;
    for _ in 0..traces {
        let (trace, seg) = (TraceId::new().to_string(), EntityId::new().to_string());
        for i in 0..5 {
            emitter.emit(streamed_subsegment(&trace, &seg, &format!("sub-{i}"), 100));
        }
        emitter.emit(segment_of(&trace, &seg));
    }
    let stats = emitter.stats();
    assert_eq!(stats.enqueued, 6 * traces as u64);
    assert!(stats.dropped_queue_full > 0 && stats.dropped_traces > 0, "{stats:?}");
    assert!(stats.dropped_traces < traces as u64, "{stats:?}");
    assert!(emitter.flush(WAIT));
    let kept = (stats.enqueued - stats.dropped_queue_full) as usize;
    let docs: Vec<Value> = daemon.wait_for(kept, WAIT).into_iter().filter_map(|d| d.document).collect();
    assert_eq!(docs.len(), kept);
    let segments: HashSet<&str> =
        docs.iter().filter(|d| d.get("type").is_none()).map(|d| d["trace_id"].as_str().unwrap()).collect();
    let orphans: HashSet<&str> = docs
        .iter()
        .filter(|d| d["type"] == "subsegment")
        .map(|d| d["trace_id"].as_str().unwrap())
        .filter(|t| !segments.contains(t))
        .collect();
    assert!(orphans.is_empty(), "{} traces arrived with subsegments but no segment: {stats:?}", orphans.len());
    assert_eq!(emitter.stats().queued, 0);
}

#[test]
fn queued_counts_what_an_exit_now_would_lose() {
    let daemon = FakeDaemon::start();
    let emitter = UdpEmitter::builder(daemon.addr()).with_flush_interval(Duration::from_secs(3600)).build().unwrap();
    let trace = TraceId::new().to_string();
    for _ in 0..10 {
        emitter.emit(segment_of(&trace, &EntityId::new().to_string()));
    }
    assert_eq!(emitter.stats().queued, 10);
    assert!(emitter.flush(WAIT));
    assert_eq!(emitter.stats().queued, 0);
    assert_eq!(daemon.wait_for(10, WAIT).len(), 10);
}

/// Waits until `what` holds, up to `timeout`.
fn eventually(timeout: Duration, what: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if what() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_dead_daemon_shows_in_stats_and_a_live_one_clears_it() {
    // Nothing listens on this port, UDP or TCP.
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let emitter = UdpEmitter::builder(port).with_tcp_probe(port).build().unwrap();
    // The start-up probe finds the TCP port closed before anything is sent.
    assert!(eventually(WAIT, || emitter.stats().daemon_unreachable_since.is_some()), "{:?}", emitter.stats());
    let since = emitter.stats().daemon_unreachable_since.unwrap();
    let trace = TraceId::new().to_string();
    for _ in 0..20 {
        emitter.emit(segment_of(&trace, &EntityId::new().to_string()));
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(emitter.flush(WAIT));
    let stats = emitter.stats();
    assert_eq!(stats.daemon_unreachable_since, Some(since), "one state since the first sign: {stats:?}");

    // The daemon starts on that port: sends succeed, the next probe answers, the state clears.
    let daemon = FakeDaemon::start_at(port, true);
    assert!(
        eventually(Duration::from_secs(10), || {
            emitter.emit(segment_of(&trace, &EntityId::new().to_string()));
            emitter.flush(WAIT);
            emitter.stats().daemon_unreachable_since.is_none()
        }),
        "{:?}",
        emitter.stats()
    );
    assert!(!daemon.datagrams().is_empty());
}

#[test]
fn refused_datagrams_mark_the_daemon_unreachable_without_a_probe() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let emitter = UdpEmitter::builder(port).build().unwrap();
    assert_eq!(emitter.stats().daemon_unreachable_since, None, "nothing known before a send");
    let trace = TraceId::new().to_string();
    assert!(eventually(WAIT, || {
        emitter.emit(segment_of(&trace, &EntityId::new().to_string()));
        emitter.flush(WAIT);
        emitter.stats().daemon_unreachable_since.is_some()
    }));
    // A live daemon's emitter never shows the state.
    let daemon = FakeDaemon::start();
    let live = UdpEmitter::builder(daemon.addr()).with_tcp_probe(daemon.addr()).build().unwrap();
    live.emit(segment_of(&trace, &EntityId::new().to_string()));
    assert!(live.flush(WAIT));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(live.stats().daemon_unreachable_since, None);
}

/// A receiver with the kernel's default buffer that reads as the X-Ray daemon does: it copies
/// each datagram off the socket and parses nothing while reading (the daemon hands datagrams to
/// its own buffer pool; the fake daemon's JSON parsing per datagram, slow in a debug build,
/// would make the reader, not the emitter, set the pace).
struct CopyingDaemon {
    addr: std::net::SocketAddr,
    received: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl CopyingDaemon {
    fn start() -> Self {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let addr = socket.local_addr().unwrap();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    r.lock().unwrap().push(buf[..n].to_vec());
                }
            }
        });
        Self { addr, received, stop }
    }

    /// Waits (bounded) until `n` datagrams arrived; returns them.
    fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n || std::time::Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for CopyingDaemon {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_3000_subsegment_trace_arrives_whole_at_a_daemon_with_the_default_buffer() {
    let _serial = serial();
    let daemon = CopyingDaemon::start();
    let emitter = UdpEmitter::builder(daemon.addr).build().unwrap();
    let (trace, seg) = (TraceId::new().to_string(), EntityId::new().to_string());
    // As the streaming path sends a wide trace: every subsegment on its own, then the segment.
    for i in 0..3_000 {
        emitter.emit(streamed_subsegment(&trace, &seg, &format!("step-{i}"), 400));
    }
    emitter.emit(segment_of(&trace, &seg));
    assert!(emitter.flush(Duration::from_secs(10)));
    let got = daemon.wait_for(3_001);
    let stats = emitter.stats();
    assert_eq!(stats.datagrams, 3_001, "{stats:?}");
    // Paced, the burst fits the default buffer of a daemon that keeps reading; one starved of
    // CPU (a loaded machine, the parallel tests) can still fall behind, and then every
    // datagram its kernel dropped is counted from the socket's counter, none lost unseen.
    let lost = 3_001 - got.len() as u64;
    assert!(
        eventually(WAIT, || emitter.stats().dropped_receive_buffer == lost),
        "{lost} datagrams lost, counted: {:?}",
        emitter.stats()
    );
    if lost > 0 {
        eprintln!("a_3000_subsegment_trace: the daemon's buffer dropped {lost} datagrams, all counted");
    }
    let mut names = HashSet::new();
    for d in &got {
        let (header, doc) = d.split_at(d.iter().position(|b| *b == b'\n').expect("a header line"));
        assert_eq!(serde_json::from_slice::<Value>(header).unwrap(), json!({"format": "json", "version": 1}));
        let doc: Value = serde_json::from_slice(&doc[1..]).unwrap();
        assert_eq!(doc["trace_id"], trace.as_str());
        names.insert(doc["name"].as_str().unwrap().to_owned());
    }
    assert_eq!(names.len(), got.len(), "each document once");
}

/// This process's resident memory in bytes (Linux), from `/proc/self/statm`.
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// What the emitter may hold beyond its queue cap: a few batches of datagram buffers (each
/// kept up to 4 KiB), the encoder's buffer, the threads' stacks, and the allocator's slack
/// on a busy heap.
const RSS_ALLOWANCE: u64 = 48 << 20;

#[test]
fn rss_under_overload_stays_within_the_queue_cap_plus_a_constant() {
    // Measured once the other process-wide tests are done, so that their memory is not counted.
    let _serial = serial();
    let Some(before) = rss() else { return };
    // A receiver that keeps nothing (the fake daemon keeps and parses every datagram, which
    // would be its memory, not the emitter's).
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let addr = sink.local_addr().unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = sink.recv(&mut buf);
            }
        })
    };
    let cap = 16u64 << 20;
    // The emitter thread sleeps until the flush: documents are serialized on the thread that
    // hands them over, so only an emitter that does not send lets them pile up to the cap.
    let emitter = UdpEmitter::builder(addr)
        .with_queue_bytes(cap as usize)
        .with_flush_interval(Duration::from_secs(3600))
        .with_wake_batch(usize::MAX)
        .build()
        .unwrap();
    // Segments of 300 embedded subsegments (about 150 kB of JSON each, split into datagrams),
    // three times more than the cap holds.
    let template = {
        let (trace, id) = (TraceId::new().to_string(), EntityId::new().to_string());
        let mut seg = segment_of(&trace, &id);
        for i in 0..300 {
            let mut sub = streamed_subsegment(&trace, &id, &format!("step-{i}"), 400);
            (sub.trace_id, sub.parent_id) = (None, None);
            sub = serde_json::from_value({
                let mut v = serde_json::to_value(&sub).unwrap();
                v.as_object_mut().unwrap().remove("type");
                v
            })
            .unwrap();
            seg.subsegments.push(sub);
        }
        seg
    };
    let mut peak = before;
    for i in 0..300 {
        emitter.emit(template.clone());
        if i % 25 == 0 {
            peak = peak.max(rss().unwrap_or(0));
        }
    }
    peak = peak.max(rss().unwrap_or(0));
    let stats = emitter.stats();
    assert!(emitter.flush(Duration::from_secs(30)), "{stats:?}");
    assert!(stats.dropped_queue_full > 0, "the load must overflow the queue: {stats:?}");
    let grown = peak.saturating_sub(before);
    eprintln!("RSS grew by {} MiB under overload (cap 16 MiB): {stats:?}", grown >> 20);
    assert!(
        grown <= cap + RSS_ALLOWANCE,
        "RSS grew by {} MiB under overload, over the 16 MiB cap + {} MiB: {stats:?}",
        grown >> 20,
        RSS_ALLOWANCE >> 20
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
}

#[test]
fn a_loopback_daemon_that_does_not_read_costs_counted_drops_and_a_slower_pace() {
    let _serial = serial();
    // A daemon whose socket nobody reads: its default buffer fills, its kernel drops the rest.
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let emitter = UdpEmitter::builder(daemon.local_addr().unwrap()).build().unwrap();
    let (trace, seg) = (TraceId::new().to_string(), EntityId::new().to_string());
    let sent = 1_000;
    for i in 0..sent {
        emitter.emit(streamed_subsegment(&trace, &seg, &format!("step-{i}"), 400));
    }
    assert!(emitter.flush(Duration::from_secs(30)));
    daemon.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 65_536];
    let mut kept = 0u64;
    while daemon.recv(&mut buf).is_ok() {
        kept += 1;
    }
    assert!(kept < sent, "the buffer held all {sent} datagrams?");
    assert!(
        eventually(WAIT, || kept + emitter.stats().dropped_receive_buffer == sent),
        "kept {kept} of {sent}, counted {:?}",
        emitter.stats()
    );
}
