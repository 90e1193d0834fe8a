//! [`Collector`]: groups documents by trace and hands each trace out, as a tree, once it has gone quiet.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::problem::{Problem, ProblemKind};
use crate::trace::{MAX_NESTING, Trace};

/// Collects documents per trace and hands out traces once complete.
///
/// A trace is complete when no document for it arrived for the quiet period and all its
/// entities have an `end_time`, or when asked with [`Collector::complete_all`].
///
/// ```
/// use std::time::{Duration, Instant};
/// use serde_json::json;
/// use xray_local::Collector;
///
/// let mut collector = Collector::new(Duration::from_millis(100));
/// let t0 = Instant::now();
/// let doc = json!({"name": "a", "id": "70de5b6f19ff9a0a", "start_time": 1.0, "end_time": 2.0,
///                  "trace_id": "1-581cf771-a006649127e371903a2de979"});
/// collector.add("1-581cf771-a006649127e371903a2de979", doc, Vec::new(), t0);
/// assert!(collector.complete_due(t0).is_empty());
/// let traces = collector.complete_due(t0 + Duration::from_millis(100));
/// assert_eq!(traces[0].roots[0].name(), "a");
/// ```
#[derive(Debug)]
pub struct Collector {
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

impl Collector {
    /// An collector that completes traces after `quiet` without new documents.
    pub fn new(quiet: Duration) -> Self {
        Collector { quiet, max_traces: 1000, max_documents: 1000, pending: HashMap::new(), arrivals: 0 }
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
        let mut trace = Trace::from_documents(trace_id, &pending.docs);
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
mod tests {
    use super::*;
    use crate::trace::{EntityKind, Node};
    use serde_json::json;

    const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

    fn seg(id: &str, name: &str, start: f64, end: Option<f64>) -> Value {
        let mut doc = json!({"name": name, "id": id, "trace_id": TRACE, "start_time": start});
        match end {
            Some(end) => doc["end_time"] = json!(end),
            None => doc["in_progress"] = json!(true),
        }
        doc
    }

    fn sub(id: &str, name: &str, parent: &str, start: f64, end: f64) -> Value {
        json!({"name": name, "id": id, "trace_id": TRACE, "type": "subsegment",
               "parent_id": parent, "start_time": start, "end_time": end})
    }

    /// The tree as `name(children...)` text, for compact assertions.
    fn shape(trace: &Trace) -> String {
        fn one(node: &Node) -> String {
            if node.children.is_empty() {
                return node.name().to_owned();
            }
            let kids: Vec<String> = node.children.iter().map(one).collect();
            format!("{}({})", node.name(), kids.join(" "))
        }
        trace.roots.iter().map(one).collect::<Vec<_>>().join(" ")
    }

    fn kinds(trace: &Trace) -> Vec<ProblemKind> {
        trace.problems.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn builds_trees_from_documents_in_any_order() {
        let mut root = seg("a000000000000001", "A", 10.0, Some(11.0));
        root["subsegments"] = json!([
            {"name": "late", "id": "a000000000000003", "start_time": 10.6, "end_time": 10.7},
            {"name": "early", "id": "a000000000000002", "start_time": 10.1, "end_time": 10.5,
             "subsegments": [{"name": "inner", "id": "a000000000000004", "start_time": 10.2,
                              "end_time": 10.3}]},
        ]);
        let standalone = sub("a000000000000005", "streamed", "a000000000000002", 10.3, 10.4);
        let mut downstream = seg("b000000000000001", "B", 10.62, Some(10.68));
        downstream["parent_id"] = json!("a000000000000003");
        let want = "A(early(inner streamed) late(B))";
        let orders = [
            vec![root.clone(), standalone.clone(), downstream.clone()],
            vec![downstream.clone(), standalone.clone(), root.clone()],
            vec![standalone.clone(), root.clone(), downstream.clone()],
        ];
        for docs in orders {
            let trace = Trace::from_documents(TRACE, &docs);
            assert_eq!(shape(&trace), want);
            assert_eq!(kinds(&trace), vec![]);
            assert_eq!(trace.documents, 3);
            let b = trace.find("b000000000000001").expect("B");
            assert_eq!(b.kind, EntityKind::Segment);
            assert!(b.doc.get("subsegments").is_none());
        }
    }

    #[test]
    fn finished_entities_replace_in_progress_ones() {
        let open = seg("a000000000000001", "A", 10.0, None);
        let done = seg("a000000000000001", "A", 10.0, Some(11.0));
        let child = sub("a000000000000002", "work", "a000000000000001", 10.1, 10.2);
        for docs in [vec![open.clone(), child.clone(), done.clone()], vec![done.clone(), open.clone(), child.clone()]] {
            let trace = Trace::from_documents(TRACE, &docs);
            assert_eq!(shape(&trace), "A(work)");
            assert_eq!(trace.roots[0].end_time(), Some(11.0));
            assert_eq!(kinds(&trace), vec![]);
        }
        // The pending trace keeps only the finished copy.
        let mut collector = Collector::new(Duration::ZERO);
        let now = Instant::now();
        collector.add(TRACE, open, vec![], now);
        collector.add(TRACE, done, vec![], now);
        assert_eq!(collector.complete_due(now)[0].documents, 1);
    }

    #[test]
    fn reports_orphans_duplicates_and_loops() {
        let cases: Vec<(Vec<Value>, &str, Vec<ProblemKind>)> = vec![
            (
                vec![sub("a000000000000002", "lost", "9a00000000000000", 1.0, 2.0)],
                "lost",
                vec![ProblemKind::OrphanParent],
            ),
            (
                vec![{
                    let mut s = seg("b000000000000001", "B", 1.0, Some(2.0));
                    s["parent_id"] = json!("9a00000000000000");
                    s
                }],
                "B",
                vec![ProblemKind::OrphanParent],
            ),
            (
                vec![seg("a000000000000001", "A", 1.0, Some(2.0)), seg("a000000000000001", "A", 1.0, Some(2.0))],
                "A",
                vec![ProblemKind::DuplicateId],
            ),
            (
                vec![
                    sub("a000000000000001", "x", "a000000000000002", 1.0, 2.0),
                    sub("a000000000000002", "y", "a000000000000001", 1.0, 2.0),
                ],
                "x(y)",
                vec![ProblemKind::BadNesting],
            ),
            (
                vec![sub("a000000000000001", "self", "a000000000000001", 1.0, 2.0)],
                "self",
                vec![ProblemKind::OrphanParent],
            ),
        ];
        for (docs, want_shape, want) in cases {
            let trace = Trace::from_documents(TRACE, &docs);
            assert_eq!(shape(&trace), want_shape);
            assert_eq!(kinds(&trace), want, "{want_shape}");
        }
        let orphan = Trace::from_documents(TRACE, &[sub("3f00000000000000", "q", "9a00000000000000", 1.0, 2.0)]);
        let problem = &orphan.problems[0];
        assert_eq!(problem.severity, crate::Severity::Error);
        assert!(problem.message.contains("names parent 9a00000000000000 which never arrived"));
        assert_eq!(problem.entity_id.as_deref(), Some("3f00000000000000"));
    }

    #[test]
    fn deep_parent_chains_are_detached_not_recursed() {
        let count = MAX_NESTING + 10;
        let mut docs = vec![seg("0000000000000000", "root", 1.0, Some(2.0))];
        for i in 1..count {
            docs.push(sub(&format!("{i:016x}"), "s", &format!("{:016x}", i - 1), 1.0, 2.0));
        }
        let trace = Trace::from_documents(TRACE, &docs);
        assert_eq!(trace.nodes().len(), count);
        assert_eq!(trace.roots.len(), 2);
        assert_eq!(kinds(&trace), vec![ProblemKind::BadNesting]);
    }

    #[test]
    fn completes_after_quiet_period_once_finished() {
        let quiet = Duration::from_millis(100);
        let t0 = Instant::now();
        let mut collector = Collector::new(quiet);
        collector.add(TRACE, seg("a000000000000001", "A", 1.0, None), vec![], t0);
        let later = t0 + quiet * 3;
        assert!(collector.complete_due(later).is_empty(), "still in progress");
        collector.add(TRACE, seg("a000000000000001", "A", 1.0, Some(2.0)), vec![], later);
        assert!(collector.complete_due(later + quiet / 2).is_empty(), "not quiet yet");
        let done = collector.complete_due(later + quiet);
        assert_eq!(done.len(), 1);
        assert_eq!(collector.pending(), 0);
    }

    #[test]
    fn unfinished_traces_are_shown_after_patience_runs_out() {
        let quiet = Duration::from_millis(100);
        let t0 = Instant::now();
        let mut collector = Collector::new(quiet);
        collector.add(TRACE, seg("a000000000000001", "A", 1.0, None), vec![], t0);
        assert!(collector.complete_due(t0 + quiet).is_empty());
        assert!(collector.complete_due(t0 + quiet * (PATIENCE - 1)).is_empty());
        let done = collector.complete_due(t0 + quiet * PATIENCE);
        assert_eq!(done.len(), 1);
        assert_eq!(kinds(&done[0]), vec![ProblemKind::StillInProgress]);
    }

    #[test]
    fn complete_all_shows_unfinished_traces_with_a_warning() {
        let mut collector = Collector::new(Duration::from_secs(60));
        let problem = Problem::error(ProblemKind::InvalidName, "bad name");
        let now = Instant::now();
        collector.add(TRACE, seg("a000000000000001", "A", 1.0, None), vec![problem], now);
        collector.add("1-00000000-000000000000000000000000", seg("c000000000000001", "C", 1.0, Some(2.0)), vec![], now);
        let traces = collector.complete_all();
        assert_eq!(traces.len(), 2);
        assert_eq!(traces[0].trace_id, TRACE, "oldest first");
        assert_eq!(kinds(&traces[0]), vec![ProblemKind::InvalidName, ProblemKind::StillInProgress]);
    }

    #[test]
    fn limits_bound_pending_traces_and_documents() {
        let now = Instant::now();
        let mut collector = Collector::new(Duration::from_secs(60)).with_max_traces(2).with_max_documents(2);
        let ids = ["1-00000000-000000000000000000000001", "1-00000000-000000000000000000000002"];
        for (i, id) in ids.iter().enumerate() {
            let at = now + Duration::from_millis(i as u64);
            assert!(collector.add(id, seg("a000000000000001", "A", 1.0, Some(2.0)), vec![], at).is_none());
        }
        let third = "1-00000000-000000000000000000000003";
        let evicted = collector.add(third, seg("a000000000000001", "A", 1.0, Some(2.0)), vec![], now);
        assert_eq!(evicted.map(|t| t.trace_id), Some(ids[0].to_owned()));
        assert_eq!(collector.pending(), 2);
        for i in 0..5 {
            let id = format!("b00000000000000{i}");
            collector.add(third, sub(&id, "s", "a000000000000001", 1.0, 2.0), vec![], now);
        }
        let traces = collector.complete_all();
        let third = traces.iter().find(|t| t.trace_id == third).expect("third");
        assert_eq!(third.documents, 2);
        assert_eq!(kinds(third), vec![ProblemKind::TooManyDocuments]);
        assert!(third.problems[0].message.contains("4 more documents"));
    }
}
