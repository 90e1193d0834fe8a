//! The daemon over real UDP: datagrams from a std socket, as any SDK would send them.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use xray_local::{EntityKind, LocalDaemon, ProblemKind, render};

const HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";
const WAIT: Duration = Duration::from_secs(10);

/// A daemon on a free loopback port. The quiet period is long enough that datagrams sent
/// back to back always land in the same trace, even on a busy machine.
async fn start_with_quiet(quiet: Duration) -> LocalDaemon {
    LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_quiet_period(quiet)
        .start()
        .await
        .expect("daemon starts")
}

async fn start() -> LocalDaemon {
    start_with_quiet(Duration::from_millis(300)).await
}

fn send(to: SocketAddr, datagrams: &[Vec<u8>]) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
    for datagram in datagrams {
        socket.send_to(datagram, to).expect("send");
    }
}

fn with_header(doc: &Value) -> Vec<u8> {
    format!("{HEADER}{doc}").into_bytes()
}

/// A fresh trace id, so tests never see each other's traces.
fn trace_id(n: u32) -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    format!("1-{secs:08x}-{:024x}", u128::from(n) << 40 | u128::from(std::process::id()))
}

#[tokio::test]
async fn two_services_become_one_tree_with_an_edge() {
    let daemon = start().await;
    let trace_id = trace_id(1);
    let a = json!({"name": "service-a", "id": "a000000000000001", "trace_id": trace_id,
        "start_time": 1700000000.0, "end_time": 1700000000.2,
        "http": {"request": {"method": "GET", "url": "http://a/"}, "response": {"status": 200}},
        "subsegments": [{"name": "service-b", "id": "a000000000000002", "namespace": "remote",
            "start_time": 1700000000.05, "end_time": 1700000000.15,
            "http": {"request": {"method": "GET", "url": "http://b/", "traced": true},
                     "response": {"status": 200}}}]});
    let b = json!({"name": "service-b", "id": "b000000000000001", "trace_id": trace_id,
        "parent_id": "a000000000000002", "start_time": 1700000000.06,
        "end_time": 1700000000.14});
    // The downstream segment usually arrives first: it finishes first.
    send(daemon.local_addr(), &[with_header(&b), with_header(&a)]);

    let trace = daemon.wait_for_trace(&trace_id, WAIT).await.expect("trace completes");
    assert!(trace.problems.is_empty(), "{:?}", trace.problems);
    assert_eq!(trace.roots.len(), 1);
    let root = &trace.roots[0];
    assert_eq!((root.name(), root.kind), ("service-a", EntityKind::Segment));
    let call = &root.children[0];
    assert_eq!((call.name(), call.kind), ("service-b", EntityKind::Subsegment));
    let downstream = &call.children[0];
    assert_eq!(downstream.id(), Some("b000000000000001"));
    assert_eq!(downstream.kind, EntityKind::Segment);

    let map = daemon.service_map();
    assert_eq!(map.edge("service-a", "service-b").map(|e| e.calls), Some(1));
    assert_eq!(map.nodes.len(), 2);
    let tree = render::trace_tree(&trace);
    assert!(tree.contains("200.0 ms") && tree.contains("80.0 ms"), "{tree}");
    assert_eq!(daemon.documents().len(), 2);
    let summary = daemon.shutdown().await;
    assert_eq!((summary.datagrams, summary.documents, summary.traces), (2, 2, 1));
    assert_eq!(summary.problems.total(), 0);
}

#[tokio::test]
async fn datagram_without_header_is_explained() {
    let daemon = start().await;
    let doc = json!({"name": "a", "id": "a000000000000001", "trace_id": trace_id(2),
                     "start_time": 1.0, "end_time": 2.0});
    send(daemon.local_addr(), &[doc.to_string().into_bytes()]);
    assert!(daemon.wait_for_datagrams(1, WAIT).await);
    let problems = daemon.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].kind, ProblemKind::NoHeader);
    assert!(problems[0].message.contains("no header line: is this an X-Ray SDK?"));
    assert!(daemon.documents().is_empty());
    assert_eq!(daemon.shutdown().await.traces, 0);
}

#[tokio::test]
async fn oversized_document_is_reported_with_its_trace() {
    let daemon = start().await;
    let trace_id = trace_id(3);
    let doc = json!({"name": "big", "id": "a000000000000001", "trace_id": trace_id,
                     "start_time": 1.0, "end_time": 2.0,
                     "metadata": {"default": {"blob": "x".repeat(64_500)}}});
    let datagram = with_header(&doc);
    assert!(datagram.len() < 65_000, "fits in one UDP datagram");
    send(daemon.local_addr(), &[datagram]);
    let trace = daemon.wait_for_trace(&trace_id, WAIT).await.expect("trace completes");
    let kinds: Vec<ProblemKind> = trace.problems.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, vec![ProblemKind::DocumentTooLarge]);
    assert!(trace.problems[0].message.contains("64000 bytes X-Ray accepts"));
}

#[tokio::test]
async fn orphan_subsegment_is_reported_when_the_trace_completes() {
    // A quiet period longer than the test: the trace completes only when flushed.
    let daemon = start_with_quiet(Duration::from_secs(600)).await;
    let trace_id = trace_id(4);
    let orphan = json!({"name": "lost", "id": "3f00000000000001", "trace_id": trace_id,
        "type": "subsegment", "parent_id": "9a00000000000001", "start_time": 1.0, "end_time": 2.0});
    send(daemon.local_addr(), &[with_header(&orphan)]);
    assert!(daemon.wait_for_documents(1, WAIT).await);
    // Not yet: the parent may still be on its way.
    assert!(daemon.problems().is_empty());
    assert_eq!(daemon.summary().pending_traces, 1);
    let traces = daemon.flush();
    assert_eq!(traces.len(), 1);
    let trace = &traces[0];
    assert_eq!(trace.trace_id, trace_id);
    assert_eq!(trace.problems.len(), 1);
    assert_eq!(trace.problems[0].kind, ProblemKind::OrphanParent);
    assert!(trace.problems[0].message.contains("names parent 9a00000000000001 which never arrived"));
    assert_eq!(daemon.problems(), trace.problems);
    assert_eq!(daemon.wait_for_trace(&trace_id, WAIT).await.as_ref(), Some(trace));
}

#[tokio::test]
async fn in_progress_segment_is_replaced_by_the_finished_one() {
    let daemon = start().await;
    let trace_id = trace_id(5);
    let open = json!({"name": "slow", "id": "a000000000000001", "trace_id": trace_id,
                      "start_time": 1.0, "in_progress": true});
    send(daemon.local_addr(), &[with_header(&open)]);
    assert!(daemon.wait_for_documents(1, WAIT).await);
    // Past the quiet period, the trace still waits for its segment to end.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(daemon.traces().is_empty());
    let mut done = open.clone();
    done["end_time"] = json!(3.0);
    done.as_object_mut().unwrap().remove("in_progress");
    send(daemon.local_addr(), &[with_header(&done)]);
    let trace = daemon.wait_for_trace(&trace_id, WAIT).await.expect("trace completes");
    assert_eq!(trace.nodes().len(), 1);
    assert_eq!(trace.roots[0].duration_ms(), Some(2000.0));
    assert!(trace.problems.is_empty(), "{:?}", trace.problems);
}

#[tokio::test]
async fn forward_relays_every_datagram_unchanged() {
    let upstream = UdpSocket::bind("127.0.0.1:0").expect("bind upstream");
    upstream.set_read_timeout(Some(WAIT)).unwrap();
    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_forward(upstream.local_addr().unwrap())
        .start()
        .await
        .expect("daemon starts");
    let doc = json!({"name": "a", "id": "a000000000000001", "trace_id": trace_id(6),
                     "start_time": 1.0, "end_time": 2.0});
    let sent = vec![
        format!("{{ \"version\": 1, \"format\": \"json\" }}\n{doc}\n").into_bytes(),
        b"not an x-ray datagram \xff\x00".to_vec(),
        doc.to_string().into_bytes(),
    ];
    send(daemon.local_addr(), &sent);
    let received = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 70_000];
        (0..3)
            .map(|_| {
                let (len, _) = upstream.recv_from(&mut buf).expect("relayed datagram");
                buf[..len].to_vec()
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let (mut sent, mut received) = (sent, received);
    sent.sort();
    received.sort();
    assert_eq!(received, sent);
    assert!(daemon.wait_for_datagrams(3, WAIT).await);
    let summary = daemon.shutdown().await;
    assert_eq!((summary.forwarded, summary.forward_failures), (3, 0));
}

#[tokio::test]
async fn jsonl_appends_one_line_per_document() {
    let path = std::env::temp_dir().join(format!(
        "xray-local-test-{}-{}.jsonl",
        std::process::id(),
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
    ));
    let daemon = LocalDaemon::builder()
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_jsonl(&path)
        .start()
        .await
        .expect("daemon starts");
    let docs: Vec<Value> = (1..=2)
        .map(|i| {
            json!({"name": "a", "id": format!("a00000000000000{i}"), "trace_id": trace_id(7),
                        "start_time": 1.0, "end_time": 2.0})
        })
        .collect();
    let pretty = format!("{HEADER}{}", serde_json::to_string_pretty(&docs[1]).unwrap());
    let datagrams = vec![with_header(&docs[0]), b"junk".to_vec(), pretty.into_bytes()];
    send(daemon.local_addr(), &datagrams);
    assert!(daemon.wait_for_datagrams(3, WAIT).await);
    let text = std::fs::read_to_string(&path).expect("jsonl file");
    let _ = std::fs::remove_file(&path);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], docs[0].to_string());
    let parsed: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (mut parsed, mut docs) = (parsed, docs);
    let key = |v: &Value| v["id"].as_str().unwrap_or_default().to_owned();
    parsed.sort_by_key(key);
    docs.sort_by_key(key);
    assert_eq!(parsed, docs);
}

#[tokio::test]
async fn start_fails_when_the_port_is_taken() {
    let daemon = start().await;
    let second = LocalDaemon::builder().with_listen(daemon.local_addr()).start().await;
    let error = second.expect_err("port in use");
    assert!(error.to_string().contains("cannot listen on udp://127.0.0.1:"), "{error}");
}
