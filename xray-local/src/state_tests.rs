use super::*;
use crate::problem::Severity;
use crate::protocol::HEADER;

const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

fn limits() -> Limits {
    Limits { quiet: Duration::from_millis(100), max_traces: 3, max_documents: 2, max_problems: 2 }
}

fn datagram(doc: &str) -> Vec<u8> {
    format!("{HEADER}\n{doc}").into_bytes()
}

fn segment(id: &str) -> String {
    format!(r#"{{"name":"A","id":"{id}","trace_id":"{TRACE}","start_time":1.0,"end_time":2.0}}"#)
}

/// What the daemon does with one datagram: read it, then add it to the state.
fn ingest(state: &mut State, datagram: &[u8], peer: Option<SocketAddr>, now: Instant) -> (Vec<Event>, Option<String>) {
    let received = Received::read(datagram, peer);
    let line = received.json_line().map(str::to_owned);
    (state.ingest(received, now), line)
}

fn problem_kinds(events: &[Event]) -> Vec<ProblemKind> {
    (events.iter())
        .filter_map(|e| match e {
            Event::Problem(p) => Some(p.kind),
            Event::Trace(_) => None,
        })
        .collect()
}

#[test]
fn datagrams_that_are_not_documents_become_loose_problems() {
    let peer: SocketAddr = "127.0.0.1:4242".parse().unwrap();
    let cases: Vec<(Vec<u8>, ProblemKind)> = vec![
        (segment("a000000000000001").into_bytes(), ProblemKind::NoHeader),
        (b"{\"format\":\"json\",\"version\":2}\n{}".to_vec(), ProblemKind::BadHeader),
        (HEADER.as_bytes().to_vec(), ProblemKind::EmptyDocument),
        (datagram("{\"name\":"), ProblemKind::InvalidJson),
        (b"\xff\xfe\xfd".to_vec(), ProblemKind::NoHeader),
        (vec![b'x'; 70_000], ProblemKind::DatagramTooLarge),
    ];
    let now = Instant::now();
    for (bytes, want) in cases {
        let mut state = State::new(limits());
        let (events, line) = ingest(&mut state, &bytes, Some(peer), now);
        assert_eq!(problem_kinds(&events), vec![want]);
        assert!(line.is_none());
        let Event::Problem(p) = &events[0] else { unreachable!() };
        assert!(p.message.starts_with("from 127.0.0.1:4242: "), "{}", p.message);
        let summary = state.summary();
        assert_eq!((summary.datagrams, summary.documents, summary.problems.errors), (1, 0, 1));
        assert_eq!(summary.bytes, bytes.len() as u64);
    }
}

#[test]
fn documents_without_trace_id_report_at_once() {
    let mut state = State::new(limits());
    let doc = r#"{"name":"A","id":"a000000000000001","start_time":1.0,"end_time":2.0}"#;
    let (events, line) = ingest(&mut state, &datagram(doc), None, Instant::now());
    assert_eq!(problem_kinds(&events), vec![ProblemKind::MissingField]);
    assert_eq!(line.as_deref(), Some(doc));
    assert_eq!(state.summary().documents, 1);
    assert_eq!(state.summary().pending_traces, 0);
}

#[test]
fn traces_complete_on_sweep_with_their_document_problems() {
    let mut state = State::new(limits());
    let t0 = Instant::now();
    let bad = format!(
        r#"{{"name":"B!","id":"b000000000000001","trace_id":"{TRACE}","parent_id":"a000000000000001","start_time":1.5,"end_time":1.6}}"#
    );
    for doc in [segment("a000000000000001"), bad] {
        let (events, _) = ingest(&mut state, &datagram(&doc), None, t0);
        assert!(events.is_empty(), "problems of a trace wait for the trace");
    }
    assert_eq!(state.summary().pending_traces, 1);
    assert!(state.sweep(t0 + Duration::from_millis(50)).is_empty());
    let events = state.sweep(t0 + Duration::from_millis(100));
    let [Event::Trace(trace)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(trace.nodes().len(), 2);
    assert_eq!(trace.problems.len(), 1);
    assert_eq!(trace.problems[0].kind, ProblemKind::InvalidName);
    let summary = state.summary();
    assert_eq!((summary.traces, summary.pending_traces, summary.problems.errors), (1, 0, 1));
    assert_eq!(summary.service_map.edge("A", "B!").map(|e| e.calls), Some(1));
    assert_eq!(state.traces().len(), 1);
    assert_eq!(state.problems().len(), 1);
}

#[test]
fn flush_completes_unfinished_traces() {
    let mut state = State::new(limits());
    let open =
        format!(r#"{{"name":"A","id":"a000000000000001","trace_id":"{TRACE}","start_time":1.0,"in_progress":true}}"#);
    ingest(&mut state, &datagram(&open), None, Instant::now());
    assert!(state.sweep(Instant::now() + Duration::from_secs(1)).is_empty());
    let events = state.flush();
    let [Event::Trace(trace)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(trace.problems[0].kind, ProblemKind::StillInProgress);
    assert_eq!(trace.problems[0].severity, Severity::Warning);
    assert_eq!(state.summary().problems.warnings, 1);
}

#[test]
fn json_lines_keep_single_line_bodies_as_sent() {
    let mut state = State::new(limits());
    let spaced = r#"{ "b": 1,  "a": 2 }"#;
    let (_, line) = ingest(&mut state, &datagram(&format!("{spaced}\n")), None, Instant::now());
    assert_eq!(line.as_deref(), Some(spaced));
    let pretty = "{\n  \"b\": 1,\n  \"a\": 2\n}";
    let (_, line) = ingest(&mut state, &datagram(pretty), None, Instant::now());
    assert_eq!(line.as_deref(), Some(r#"{"a":2,"b":1}"#));
}

#[test]
fn memory_is_bounded() {
    let mut state = State::new(limits());
    let now = Instant::now();
    for i in 0..5 {
        let doc = format!(r#"{{"name":"bad name {i}!"}}"#);
        ingest(&mut state, &datagram(&doc), None, now);
    }
    assert_eq!(state.documents().len(), 2);
    assert_eq!(state.documents()[1]["name"], "bad name 4!");
    assert_eq!(state.problems().len(), 2);
    assert_eq!(state.summary().documents, 5);
    assert!(state.summary().problems.errors >= 5);
    for i in 0..5 {
        let trace_id = format!("1-581cf771-a00664912700000000000{i:03}");
        let doc = segment("a000000000000001").replace(TRACE, &trace_id);
        ingest(&mut state, &datagram(&doc), None, now);
    }
    state.flush();
    assert_eq!(state.traces().len(), 3);
    assert_eq!(state.summary().traces, 5);
    assert_eq!(state.summary().service_map.node("A").map(|n| n.requests), Some(5));
}
