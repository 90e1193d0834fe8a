//! What the daemon knows: counters, recent documents, traces and problems, all bounded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::assemble::Assembler;
use crate::check::{check_document, parse_document};
use crate::problem::{Problem, ProblemCounts, ProblemKind};
use crate::protocol::{ProtocolError, split_datagram};
use crate::service_map::ServiceMap;
use crate::trace::Trace;

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
}

/// How much the daemon keeps and how long it waits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub quiet: Duration,
    pub max_traces: usize,
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
                        doc.to_string()
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
    assembler: Assembler,
    documents: VecDeque<Value>,
    traces: VecDeque<Trace>,
    problems: VecDeque<Problem>,
    summary: Summary,
}

impl State {
    pub fn new(limits: Limits) -> Self {
        State {
            limits,
            assembler: Assembler::new(limits.quiet).with_max_traces(limits.max_traces),
            documents: VecDeque::new(),
            traces: VecDeque::new(),
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
            Content::Document { doc, problems, from, .. } => {
                self.summary.documents += 1;
                push_bounded(&mut self.documents, doc.clone(), self.limits.max_documents);
                match doc.get("trace_id").and_then(Value::as_str).map(str::to_owned) {
                    Some(trace_id) => {
                        if let Some(evicted) = self.assembler.add(&trace_id, doc, problems, now) {
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
        let done = self.assembler.complete_due(now);
        done.into_iter().map(|t| self.finish(t)).collect()
    }

    /// Completes every pending trace now, finished or not.
    pub fn flush(&mut self) -> Vec<Event> {
        let done = self.assembler.complete_all();
        done.into_iter().map(|t| self.finish(t)).collect()
    }

    fn finish(&mut self, trace: Trace) -> Event {
        self.summary.traces += 1;
        self.summary.service_map.add_trace(&trace);
        for problem in &trace.problems {
            self.record_problem(problem.clone());
        }
        push_bounded(&mut self.traces, trace.clone(), self.limits.max_traces);
        Event::Trace(trace)
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
        Summary { pending_traces: self.assembler.pending(), ..self.summary.clone() }
    }

    pub fn documents(&self) -> &VecDeque<Value> {
        &self.documents
    }

    pub fn traces(&self) -> &VecDeque<Trace> {
        &self.traces
    }

    pub fn problems(&self) -> &VecDeque<Problem> {
        &self.problems
    }
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
#[path = "state_tests.rs"]
mod tests;
