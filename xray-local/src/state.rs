//! What the daemon knows: counters, recent documents, traces and problems, all bounded.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::check::{check_document, parse_document};
use crate::collect::Collector;
use crate::problem::{Problem, ProblemCounts, ProblemKind};
use crate::protocol::{ProtocolError, split_datagram};
use crate::service_map::ServiceMap;
use crate::store::{Gathered, Store, StoredTrace};
use crate::trace::Trace;

/// Documents kept per trace for the query API, as many as the collector assembles.
const MAX_DOCUMENTS_PER_TRACE: usize = 1000;

/// Something the daemon reports as it happens.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A trace completed: quiet for the quiet period with every entity finished, or
    /// completed on demand.
    Trace(Trace),
    /// A problem that belongs to no trace: no header, broken JSON, no `trace_id`.
    ///
    /// Problems of documents that name a trace arrive with the trace.
    Problem(Problem),
}

/// Totals since the daemon started, and the service map of every completed trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Datagrams received.
    pub datagrams: u64,
    /// Bytes received, headers included.
    pub bytes: u64,
    /// Segment documents that parsed as JSON objects.
    pub documents: u64,
    /// Traces completed.
    pub traces: u64,
    /// Traces still waiting for documents or for entities to finish.
    pub pending_traces: usize,
    /// Problems reported so far, by severity.
    pub problems: ProblemCounts,
    /// Datagrams relayed to the `--forward` daemon.
    pub forwarded: u64,
    /// Datagrams that could not be relayed.
    pub forward_failures: u64,
    /// Documents that could not be appended to the `--jsonl` file.
    pub jsonl_failures: u64,
    /// Services and calls of all completed traces.
    pub service_map: ServiceMap,
    /// Completed traces held for the query API and the console.
    pub stored_traces: usize,
    /// Size of the documents of those traces, as JSON text.
    pub stored_bytes: usize,
    /// Traces dropped from the store, oldest first, to stay within its caps.
    pub evicted_traces: u64,
}

/// How much the daemon keeps and how long it waits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub quiet: Duration,
    pub max_traces: usize,
    /// Bytes of documents the store keeps (completed traces).
    pub max_bytes: usize,
    pub max_documents: usize,
    pub max_problems: usize,
}

/// One datagram, read and checked, before it touches the daemon's state.
pub(crate) struct Received {
    bytes: usize,
    content: Content,
}

enum Content {
    /// Not a document: no header, broken JSON, and the like.
    Junk(Problem),
    /// A document with the problems found in it.
    Document {
        doc: Value,
        problems: Vec<Problem>,
        /// The document on one line, for the JSON-lines file.
        line: String,
        /// Prefix for messages of problems that belong to no trace.
        from: String,
    },
}

impl Received {
    /// Splits, parses and checks a datagram; needs no lock, so it runs outside one.
    pub fn read(datagram: &[u8], peer: Option<SocketAddr>) -> Self {
        let from = peer.map_or(String::new(), |p| format!("from {p}: "));
        let content = match split_datagram(datagram).map(<[u8]>::trim_ascii) {
            Err(e) => Content::Junk(Problem::error(protocol_kind(&e), format!("{from}{e}"))),
            Ok(body) => match parse_document(body) {
                Err(mut problem) => {
                    problem.message = format!("{from}{}", problem.message);
                    Content::Junk(problem)
                }
                Ok(doc) => {
                    // Keep the bytes as sent when they already fit on one line.
                    let line = if body.contains(&b'\n') || body.contains(&b'\r') {
                        compact(body)
                    } else {
                        String::from_utf8_lossy(body).into_owned()
                    };
                    let problems = check_document(&doc, body.len());
                    Content::Document { doc, problems, line, from }
                }
            },
        };
        Received { bytes: datagram.len(), content }
    }

    /// The document as one JSON line, if the datagram held a document.
    pub fn json_line(&self) -> Option<&str> {
        match &self.content {
            Content::Document { line, .. } => Some(line),
            Content::Junk(_) => None,
        }
    }
}

/// Everything the daemon keeps, behind one lock in [`Shared`](crate::server::Shared).
pub(crate) struct State {
    limits: Limits,
    collector: Collector,
    documents: VecDeque<Value>,
    /// Documents of traces still being assembled, by trace id.
    gathering: HashMap<String, Gathered>,
    store: Store,
    problems: VecDeque<Problem>,
    summary: Summary,
}

impl State {
    pub fn new(limits: Limits) -> Self {
        State {
            limits,
            collector: Collector::new(limits.quiet).with_max_traces(limits.max_traces),
            documents: VecDeque::new(),
            gathering: HashMap::new(),
            store: Store::new(limits.max_traces, limits.max_bytes),
            problems: VecDeque::new(),
            summary: Summary::default(),
        }
    }

    /// Counts a read datagram and adds its document to its trace.
    pub fn ingest(&mut self, received: Received, now: Instant) -> Vec<Event> {
        self.summary.datagrams += 1;
        self.summary.bytes += received.bytes as u64;
        let mut events = Vec::new();
        match received.content {
            Content::Junk(problem) => events.push(self.loose_problem(problem)),
            Content::Document { doc, problems, from, line } => {
                self.summary.documents += 1;
                push_bounded(&mut self.documents, doc.clone(), self.limits.max_documents);
                match doc.get("trace_id").and_then(Value::as_str).map(str::to_owned) {
                    Some(trace_id) => {
                        let gathered = self.gathering.entry(trace_id.clone()).or_default();
                        if gathered.docs.len() < MAX_DOCUMENTS_PER_TRACE {
                            gathered.docs.push(doc.clone());
                            gathered.doc_problems.extend(problems.iter().cloned());
                            gathered.bytes += line.len();
                        }
                        if let Some(evicted) = self.collector.add(&trace_id, doc, problems, now) {
                            events.push(self.finish(evicted));
                        }
                    }
                    None => {
                        for mut problem in problems {
                            problem.message = format!("{from}{}", problem.message);
                            events.push(self.loose_problem(problem));
                        }
                    }
                }
            }
        }
        events
    }

    /// Completes the traces that have gone quiet with every entity finished.
    pub fn sweep(&mut self, now: Instant) -> Vec<Event> {
        let done = self.collector.complete_due(now);
        done.into_iter().map(|t| self.finish(t)).collect()
    }

    /// Completes every pending trace now, finished or not.
    pub fn flush(&mut self) -> Vec<Event> {
        let done = self.collector.complete_all();
        done.into_iter().map(|t| self.finish(t)).collect()
    }

    fn finish(&mut self, trace: Trace) -> Event {
        self.summary.traces += 1;
        self.summary.service_map.add_trace(&trace);
        for problem in &trace.problems {
            self.record_problem(problem.clone());
        }
        let gathered = self.gathering.remove(&trace.trace_id).unwrap_or_default();
        let stored = self.store.insert(trace, gathered);
        Event::Trace(stored.trace.clone())
    }

    fn loose_problem(&mut self, problem: Problem) -> Event {
        self.record_problem(problem.clone());
        Event::Problem(problem)
    }

    fn record_problem(&mut self, problem: Problem) {
        self.summary.problems.add(problem.severity);
        push_bounded(&mut self.problems, problem, self.limits.max_problems);
    }

    pub fn count_forward(&mut self, ok: bool) {
        if ok {
            self.summary.forwarded += 1;
        } else {
            self.summary.forward_failures += 1;
        }
    }

    pub fn count_jsonl_failure(&mut self) {
        self.summary.jsonl_failures += 1;
    }

    pub fn summary(&self) -> Summary {
        Summary {
            pending_traces: self.collector.pending(),
            stored_traces: self.store.len(),
            stored_bytes: self.store.bytes(),
            evicted_traces: self.store.evicted(),
            ..self.summary.clone()
        }
    }

    pub fn documents(&self) -> &VecDeque<Value> {
        &self.documents
    }

    /// The completed traces held, oldest first.
    pub fn traces(&self) -> Vec<Arc<StoredTrace>> {
        self.store.snapshot()
    }

    /// The store of completed traces.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn problems(&self) -> &VecDeque<Problem> {
        &self.problems
    }
}

/// A valid JSON text on one line: whitespace outside strings removed, keys in the order sent
/// (re-serializing the parsed value would reorder them unless serde_json keeps insertion order).
fn compact(json: &[u8]) -> String {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            out.push(b);
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn protocol_kind(e: &ProtocolError) -> ProblemKind {
    match e {
        ProtocolError::TooLarge { .. } => ProblemKind::DatagramTooLarge,
        ProtocolError::NoHeader => ProblemKind::NoHeader,
        ProtocolError::BadHeader { .. } => ProblemKind::BadHeader,
        _ => ProblemKind::EmptyDocument,
    }
}

/// Appends, dropping the oldest entry once `max` are held.
fn push_bounded<T>(queue: &mut VecDeque<T>, item: T, max: usize) {
    if queue.len() >= max.max(1) {
        queue.pop_front();
    }
    queue.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Severity;
    use crate::protocol::HEADER;

    const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

    fn limits() -> Limits {
        Limits {
            quiet: Duration::from_millis(100),
            max_traces: 3,
            max_bytes: usize::MAX,
            max_documents: 2,
            max_problems: 2,
        }
    }

    fn datagram(doc: &str) -> Vec<u8> {
        format!("{HEADER}\n{doc}").into_bytes()
    }

    fn segment(id: &str) -> String {
        format!(r#"{{"name":"A","id":"{id}","trace_id":"{TRACE}","start_time":1.0,"end_time":2.0}}"#)
    }

    /// What the daemon does with one datagram: read it, then add it to the state.
    fn ingest(
        state: &mut State,
        datagram: &[u8],
        peer: Option<SocketAddr>,
        now: Instant,
    ) -> (Vec<Event>, Option<String>) {
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
        let open = format!(
            r#"{{"name":"A","id":"a000000000000001","trace_id":"{TRACE}","start_time":1.0,"in_progress":true}}"#
        );
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
        let pretty = "{\n  \"b\": 1,\n  \"a\": [2, \"x \\\" y\"]\n}";
        let (_, line) = ingest(&mut state, &datagram(pretty), None, Instant::now());
        assert_eq!(line.as_deref(), Some(r#"{"b":1,"a":[2,"x \" y"]}"#));
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
}
