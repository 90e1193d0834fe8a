//! Groups documents by trace and builds each trace's tree once it has gone quiet.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::problem::{Problem, ProblemKind};
use crate::trace::{MAX_NESTING, Trace};
use crate::tree::assemble;

/// Collects documents per trace and hands out traces once complete.
///
/// A trace is complete when no document for it arrived for the quiet period and all its
/// entities have an `end_time`, or when asked with [`Assembler::complete_all`].
///
/// ```
/// use std::time::{Duration, Instant};
/// use serde_json::json;
/// use xray_local::Assembler;
///
/// let mut assembler = Assembler::new(Duration::from_millis(100));
/// let t0 = Instant::now();
/// let doc = json!({"name": "a", "id": "70de5b6f19ff9a0a", "start_time": 1.0, "end_time": 2.0,
///                  "trace_id": "1-581cf771-a006649127e371903a2de979"});
/// assembler.add("1-581cf771-a006649127e371903a2de979", doc, Vec::new(), t0);
/// assert!(assembler.complete_due(t0).is_empty());
/// let traces = assembler.complete_due(t0 + Duration::from_millis(100));
/// assert_eq!(traces[0].roots[0].name(), "a");
/// ```
#[derive(Debug)]
pub struct Assembler {
    quiet: Duration,
    max_traces: usize,
    max_documents: usize,
    pending: HashMap<String, Pending>,
    arrivals: u64,
}

#[derive(Debug)]
struct Pending {
    docs: Vec<Value>,
    problems: Vec<Problem>,
    first_arrival: u64,
    last_seen: Instant,
    ignored_docs: usize,
    hidden_problems: usize,
    /// Set when a quiet trace was found unfinished; cleared by the next document.
    waiting_for_end: bool,
}

/// Quiet periods an unfinished trace is waited for before it is shown as it is.
pub(crate) const PATIENCE: u32 = 30;

/// Document problems kept per trace; more are counted, not stored.
const MAX_PROBLEMS_PER_TRACE: usize = 200;

impl Assembler {
    /// An assembler that completes traces after `quiet` without new documents.
    pub fn new(quiet: Duration) -> Self {
        Assembler { quiet, max_traces: 1000, max_documents: 1000, pending: HashMap::new(), arrivals: 0 }
    }

    /// Limits how many traces are assembled at once; adding one more completes the trace
    /// that has been quiet longest. Defaults to 1000.
    #[must_use]
    pub fn with_max_traces(mut self, max: usize) -> Self {
        self.max_traces = max.max(1);
        self
    }

    /// Limits how many documents one trace keeps; later ones are ignored and reported.
    /// Defaults to 1000.
    #[must_use]
    pub fn with_max_documents(mut self, max: usize) -> Self {
        self.max_documents = max.max(1);
        self
    }

    /// How many traces are waiting to complete.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds a document and the problems found in it to its trace.
    ///
    /// Returns a trace completed early to stay within the trace limit, if any.
    pub fn add(&mut self, trace_id: &str, doc: Value, problems: Vec<Problem>, now: Instant) -> Option<Trace> {
        let evicted = if !self.pending.contains_key(trace_id) && self.pending.len() >= self.max_traces {
            self.evict_oldest()
        } else {
            None
        };
        self.arrivals += 1;
        let pending = self.pending.entry(trace_id.to_owned()).or_insert(Pending {
            docs: Vec::new(),
            problems: Vec::new(),
            first_arrival: self.arrivals,
            last_seen: now,
            ignored_docs: 0,
            hidden_problems: 0,
            waiting_for_end: false,
        });
        pending.last_seen = now;
        pending.waiting_for_end = false;
        let room = MAX_PROBLEMS_PER_TRACE.saturating_sub(pending.problems.len());
        pending.hidden_problems += problems.len().saturating_sub(room);
        pending.problems.extend(problems.into_iter().take(room));
        if pending.docs.len() >= self.max_documents {
            pending.ignored_docs += 1;
        } else {
            pending.add(doc);
        }
        evicted
    }

    /// Completes and returns the traces that are quiet and finished, oldest first.
    ///
    /// A trace that stays unfinished is completed anyway after 30 quiet periods
    /// without news, so that a segment which will never end (a crashed process) still
    /// shows up, flagged as in progress.
    pub fn complete_due(&mut self, now: Instant) -> Vec<Trace> {
        let mut due: Vec<(u64, String)> = Vec::new();
        let give_up_after = self.quiet.saturating_mul(PATIENCE);
        for (trace_id, pending) in &mut self.pending {
            let quiet_for = now.duration_since(pending.last_seen);
            if quiet_for < self.quiet || (pending.waiting_for_end && quiet_for < give_up_after) {
                continue;
            }
            if quiet_for < give_up_after && has_unfinished(&pending.docs) {
                pending.waiting_for_end = true;
            } else {
                due.push((pending.first_arrival, trace_id.clone()));
            }
        }
        due.sort_unstable();
        due.into_iter().filter_map(|(_, trace_id)| self.complete(&trace_id)).collect()
    }

    /// Completes and returns every pending trace, finished or not, oldest first.
    pub fn complete_all(&mut self) -> Vec<Trace> {
        let mut all: Vec<(u64, String)> = (self.pending.iter()).map(|(id, p)| (p.first_arrival, id.clone())).collect();
        all.sort_unstable();
        all.into_iter().filter_map(|(_, trace_id)| self.complete(&trace_id)).collect()
    }

    fn evict_oldest(&mut self) -> Option<Trace> {
        let oldest =
            (self.pending.iter()).min_by_key(|(_, p)| (p.last_seen, p.first_arrival)).map(|(id, _)| id.clone())?;
        self.complete(&oldest)
    }

    fn complete(&mut self, trace_id: &str) -> Option<Trace> {
        let pending = self.pending.remove(trace_id)?;
        let mut trace = assemble(trace_id, &pending.docs);
        let mut problems = pending.problems;
        if pending.ignored_docs > 0 || pending.hidden_problems > 0 {
            problems.push(
                Problem::warning(
                    ProblemKind::TooManyDocuments,
                    format!(
                        "trace {trace_id} went over the daemon's limits: {} more documents and \
                         {} more document problems were not kept",
                        pending.ignored_docs, pending.hidden_problems
                    ),
                )
                .in_trace(Some(trace_id)),
            );
        }
        problems.append(&mut trace.problems);
        trace.problems = problems;
        Some(trace)
    }
}

impl Pending {
    /// Keeps a document, letting a finished entity replace its in-progress version.
    fn add(&mut self, doc: Value) {
        let id = doc.get("id").and_then(Value::as_str);
        let same = id.and_then(|id| (self.docs.iter()).position(|d| d.get("id").and_then(Value::as_str) == Some(id)));
        match same {
            Some(at) if !is_finished(&self.docs[at]) && is_finished(&doc) => self.docs[at] = doc,
            // A late in-progress copy of a finished entity adds nothing.
            Some(at) if is_finished(&self.docs[at]) && !is_finished(&doc) => {}
            _ => self.docs.push(doc),
        }
    }
}

pub(crate) fn is_finished(doc: &Value) -> bool {
    doc.get("end_time").is_some()
}

/// Whether any entity id appears only without an `end_time`.
fn has_unfinished(docs: &[Value]) -> bool {
    let mut finished: HashMap<&str, bool> = HashMap::new();
    let mut stack: Vec<(&Value, usize)> = docs.iter().map(|d| (d, 0)).collect();
    while let Some((doc, depth)) = stack.pop() {
        match doc.get("id").and_then(Value::as_str) {
            Some(id) => *finished.entry(id).or_default() |= is_finished(doc),
            None if !is_finished(doc) => return true,
            None => {}
        }
        if let Some(Value::Array(children)) = doc.get("subsegments")
            && depth < MAX_NESTING
        {
            stack.extend(children.iter().map(|c| (c, depth + 1)));
        }
    }
    finished.values().any(|done| !done)
}

#[cfg(test)]
#[path = "assemble_tests.rs"]
mod tests;
