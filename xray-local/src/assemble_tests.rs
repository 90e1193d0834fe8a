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
        let trace = assemble(TRACE, &docs);
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
        let trace = assemble(TRACE, &docs);
        assert_eq!(shape(&trace), "A(work)");
        assert_eq!(trace.roots[0].end_time(), Some(11.0));
        assert_eq!(kinds(&trace), vec![]);
    }
    // The pending trace keeps only the finished copy.
    let mut assembler = Assembler::new(Duration::ZERO);
    let now = Instant::now();
    assembler.add(TRACE, open, vec![], now);
    assembler.add(TRACE, done, vec![], now);
    assert_eq!(assembler.complete_due(now)[0].documents, 1);
}

#[test]
fn reports_orphans_duplicates_and_loops() {
    let cases: Vec<(Vec<Value>, &str, Vec<ProblemKind>)> = vec![
        (vec![sub("a000000000000002", "lost", "9a00000000000000", 1.0, 2.0)], "lost", vec![ProblemKind::OrphanParent]),
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
        (vec![sub("a000000000000001", "self", "a000000000000001", 1.0, 2.0)], "self", vec![ProblemKind::OrphanParent]),
    ];
    for (docs, want_shape, want) in cases {
        let trace = assemble(TRACE, &docs);
        assert_eq!(shape(&trace), want_shape);
        assert_eq!(kinds(&trace), want, "{want_shape}");
    }
    let orphan = assemble(TRACE, &[sub("3f00000000000000", "q", "9a00000000000000", 1.0, 2.0)]);
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
    let trace = assemble(TRACE, &docs);
    assert_eq!(trace.nodes().len(), count);
    assert_eq!(trace.roots.len(), 2);
    assert_eq!(kinds(&trace), vec![ProblemKind::BadNesting]);
}

#[test]
fn completes_after_quiet_period_once_finished() {
    let quiet = Duration::from_millis(100);
    let t0 = Instant::now();
    let mut assembler = Assembler::new(quiet);
    assembler.add(TRACE, seg("a000000000000001", "A", 1.0, None), vec![], t0);
    let later = t0 + quiet * 3;
    assert!(assembler.complete_due(later).is_empty(), "still in progress");
    assembler.add(TRACE, seg("a000000000000001", "A", 1.0, Some(2.0)), vec![], later);
    assert!(assembler.complete_due(later + quiet / 2).is_empty(), "not quiet yet");
    let done = assembler.complete_due(later + quiet);
    assert_eq!(done.len(), 1);
    assert_eq!(assembler.pending(), 0);
}

#[test]
fn unfinished_traces_are_shown_after_patience_runs_out() {
    let quiet = Duration::from_millis(100);
    let t0 = Instant::now();
    let mut assembler = Assembler::new(quiet);
    assembler.add(TRACE, seg("a000000000000001", "A", 1.0, None), vec![], t0);
    assert!(assembler.complete_due(t0 + quiet).is_empty());
    assert!(assembler.complete_due(t0 + quiet * (PATIENCE - 1)).is_empty());
    let done = assembler.complete_due(t0 + quiet * PATIENCE);
    assert_eq!(done.len(), 1);
    assert_eq!(kinds(&done[0]), vec![ProblemKind::StillInProgress]);
}

#[test]
fn complete_all_shows_unfinished_traces_with_a_warning() {
    let mut assembler = Assembler::new(Duration::from_secs(60));
    let problem = Problem::error(ProblemKind::InvalidName, "bad name");
    let now = Instant::now();
    assembler.add(TRACE, seg("a000000000000001", "A", 1.0, None), vec![problem], now);
    assembler.add("1-00000000-000000000000000000000000", seg("c000000000000001", "C", 1.0, Some(2.0)), vec![], now);
    let traces = assembler.complete_all();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0].trace_id, TRACE, "oldest first");
    assert_eq!(kinds(&traces[0]), vec![ProblemKind::InvalidName, ProblemKind::StillInProgress]);
}

#[test]
fn limits_bound_pending_traces_and_documents() {
    let now = Instant::now();
    let mut assembler = Assembler::new(Duration::from_secs(60)).with_max_traces(2).with_max_documents(2);
    let ids = ["1-00000000-000000000000000000000001", "1-00000000-000000000000000000000002"];
    for (i, id) in ids.iter().enumerate() {
        let at = now + Duration::from_millis(i as u64);
        assert!(assembler.add(id, seg("a000000000000001", "A", 1.0, Some(2.0)), vec![], at).is_none());
    }
    let third = "1-00000000-000000000000000000000003";
    let evicted = assembler.add(third, seg("a000000000000001", "A", 1.0, Some(2.0)), vec![], now);
    assert_eq!(evicted.map(|t| t.trace_id), Some(ids[0].to_owned()));
    assert_eq!(assembler.pending(), 2);
    for i in 0..5 {
        let id = format!("b00000000000000{i}");
        assembler.add(third, sub(&id, "s", "a000000000000001", 1.0, 2.0), vec![], now);
    }
    let traces = assembler.complete_all();
    let third = traces.iter().find(|t| t.trace_id == third).expect("third");
    assert_eq!(third.documents, 2);
    assert_eq!(kinds(third), vec![ProblemKind::TooManyDocuments]);
    assert!(third.problems[0].message.contains("4 more documents"));
}
