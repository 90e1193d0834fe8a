//! Checks on an assembled trace: time spans, missing downstream segments, open entities.

use serde_json::Value;

use crate::problem::{Problem, ProblemKind};
use crate::trace::{EntityKind, Node};

/// Clock slack allowed when comparing a child's span with its parent's, in seconds.
///
/// SDKs round times differently (some to milliseconds), so a child may appear to end a
/// hair after its parent without anything being wrong.
const SPAN_SLACK_SECONDS: f64 = 0.001;

/// Finds problems in how the entities of a built trace fit together.
///
/// Orphans, duplicates and loops are found while building; this covers the rest:
/// children outside their parent's time span, traced calls whose downstream segment never
/// arrived (a hint), and entities still in progress.
pub(crate) fn check_trace(roots: &[Node], trace_id: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    for node in roots.iter().flat_map(Node::walk) {
        for child in &node.children {
            if let Some(message) = outside_parent(node, child) {
                problems.push(Problem::warning(ProblemKind::OutsideParent, message).about(child.id()));
            }
        }
        if let Some(message) = missing_downstream(node) {
            problems.push(Problem::hint(ProblemKind::MissingDownstream, message).about(node.id()));
        }
        if node.doc.get("in_progress").and_then(Value::as_bool) == Some(true) && node.end_time().is_none() {
            let message = format!(
                "{} was still in progress when the trace was shown: the SDK never sent it \
                 with an end_time; make sure it is closed when the work ends and that the \
                 process flushes before exit",
                node.label()
            );
            problems.push(Problem::warning(ProblemKind::StillInProgress, message).about(node.id()));
        }
    }
    problems.into_iter().map(|p| p.in_trace(Some(trace_id))).collect()
}

/// Explains how `child` runs outside `parent`, if it does.
fn outside_parent(parent: &Node, child: &Node) -> Option<String> {
    let parent_start = parent.start_time()?;
    let child_start = child.start_time()?;
    let offset_ms = |t: f64| (t - parent_start) * 1000.0;
    let starts_early = child_start < parent_start - SPAN_SLACK_SECONDS;
    let ends_late = match (parent.end_time(), child.end_time()) {
        (Some(parent_end), Some(child_end)) => child_end > parent_end + SPAN_SLACK_SECONDS,
        _ => false,
    };
    if !starts_early && !ends_late {
        return None;
    }
    let child_end = child.end_time().map_or("(open)".to_owned(), |e| format!("{:+.1} ms", offset_ms(e)));
    let parent_span = parent.duration_ms().map_or("open".to_owned(), |d| format!("{d:.1} ms"));
    let fix = if child.kind == EntityKind::Segment {
        "the two services' clocks may disagree, or the caller closed its subsegment before the \
         response arrived"
    } else {
        "end every subsegment before closing its parent"
    };
    Some(format!(
        "{} runs from {:+.1} ms to {child_end}, outside its parent {} (0 to {parent_span}): {fix}",
        child.label(),
        offset_ms(child_start),
        parent.label(),
    ))
}

/// Explains which downstream segment is missing under a call, if one is expected.
fn missing_downstream(node: &Node) -> Option<String> {
    if node.kind != EntityKind::Subsegment || node.children.iter().any(|c| c.kind == EntityKind::Segment) {
        return None;
    }
    let id = node.id().unwrap_or("?");
    if node.is_traced() {
        return Some(format!(
            "{} calls a traced service, but no segment with parent_id {id} arrived: check that \
             the called service is instrumented, reads the X-Amzn-Trace-Id header and sends \
             to this daemon",
            node.label()
        ));
    }
    let http_call =
        node.namespace() == Some("remote") && node.doc.get("http").is_some() && node.doc.get("sql").is_none();
    http_call.then(|| {
        format!(
            "{} is an HTTP call, but no segment of the called service arrived: fine if that \
             service is not instrumented; otherwise check it reads X-Amzn-Trace-Id and sends \
             to this daemon",
            node.label()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(kind: EntityKind, doc: Value, children: Vec<Node>) -> Node {
        Node { kind, doc, children }
    }

    fn sub(doc: Value) -> Node {
        node(EntityKind::Subsegment, doc, vec![])
    }

    fn kinds(roots: &[Node]) -> Vec<ProblemKind> {
        check_trace(roots, "t").into_iter().map(|p| p.kind).collect()
    }

    #[test]
    fn spans_inside_and_outside() {
        let cases = [
            (json!({"id": "b", "start_time": 10.1, "end_time": 10.9}), vec![]),
            (json!({"id": "b", "start_time": 10.0, "end_time": 11.0005}), vec![]),
            (json!({"id": "b", "start_time": 9.5, "end_time": 10.5}), vec![ProblemKind::OutsideParent]),
            (json!({"id": "b", "start_time": 10.5, "end_time": 11.5}), vec![ProblemKind::OutsideParent]),
            (json!({"id": "b", "start_time": 10.5, "in_progress": true}), vec![ProblemKind::StillInProgress]),
        ];
        for (child, want) in cases {
            let root = node(
                EntityKind::Segment,
                json!({"id": "a", "start_time": 10.0, "end_time": 11.0}),
                vec![sub(child.clone())],
            );
            assert_eq!(kinds(&[root]), want, "child {child}");
        }
    }

    #[test]
    fn downstream_hints() {
        let traced = json!({"id": "c", "namespace": "remote", "start_time": 1.0, "end_time": 1.0,
                            "http": {"request": {"traced": true}}});
        let top_traced = json!({"id": "c", "traced": true, "start_time": 1.0, "end_time": 1.0});
        let http = json!({"id": "c", "namespace": "remote", "start_time": 1.0, "end_time": 1.0,
                          "http": {"request": {"url": "http://b/"}}});
        let sql = json!({"id": "c", "namespace": "remote", "start_time": 1.0, "end_time": 1.0,
                         "http": {}, "sql": {"database_type": "PostgreSQL"}});
        let aws = json!({"id": "c", "namespace": "aws", "start_time": 1.0, "end_time": 1.0,
                         "http": {"response": {"status": 200}}});
        let local = json!({"id": "c", "start_time": 1.0, "end_time": 1.0});
        let cases = [(traced.clone(), 1), (top_traced, 1), (http, 1), (sql, 0), (aws, 0), (local, 0)];
        for (doc, hints) in cases {
            let got = kinds(&[sub(doc.clone())]);
            assert_eq!(got, vec![ProblemKind::MissingDownstream; hints], "{doc}");
        }
        let downstream =
            node(EntityKind::Segment, json!({"id": "d", "parent_id": "c", "start_time": 1.0, "end_time": 1.0}), vec![]);
        let answered = node(EntityKind::Subsegment, traced, vec![downstream]);
        assert!(kinds(&[answered]).is_empty());
    }

    #[test]
    fn problems_name_the_trace_and_entity() {
        let open = sub(json!({"id": "e", "name": "x", "start_time": 1.0, "in_progress": true}));
        let problems = check_trace(&[open], "1-abc");
        assert_eq!(problems[0].trace_id.as_deref(), Some("1-abc"));
        assert_eq!(problems[0].entity_id.as_deref(), Some("e"));
        assert!(problems[0].message.contains("subsegment \"x\" (e)"));
    }
}
