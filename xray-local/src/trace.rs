//! Assembled traces: a tree of segments and subsegments, read through small accessors.

use serde_json::Value;

use crate::problem::Problem;

/// How deep subsegments may nest before the rest is shown detached; bounds recursion.
pub(crate) const MAX_NESTING: usize = 64;

/// Whether an entity is a segment (work done by a service) or a subsegment (a piece of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// A segment: one service handling one request.
    Segment,
    /// A subsegment: local work or a downstream call inside a segment.
    Subsegment,
}

/// One segment or subsegment in an assembled trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Whether this is a segment or a subsegment.
    pub kind: EntityKind,
    /// The entity's fields as sent, without `subsegments` (those are [`Node::children`]).
    pub doc: Value,
    /// Nested subsegments, standalone subsegments and downstream segments, by start time.
    pub children: Vec<Node>,
}

impl Node {
    /// A string field, or `None` when absent or not a string.
    pub fn str_field(&self, path: &[&str]) -> Option<&str> {
        path.iter().try_fold(&self.doc, |v, key| v.get(key)).and_then(Value::as_str)
    }

    /// The entity id.
    pub fn id(&self) -> Option<&str> {
        self.str_field(&["id"])
    }

    /// The name, or `"?"` when the document has none.
    pub fn name(&self) -> &str {
        self.str_field(&["name"]).unwrap_or("?")
    }

    /// The `parent_id` field, as sent.
    pub fn parent_id(&self) -> Option<&str> {
        self.str_field(&["parent_id"])
    }

    /// The `origin` of a segment, such as `AWS::EC2::Instance`.
    pub fn origin(&self) -> Option<&str> {
        self.str_field(&["origin"])
    }

    /// The `namespace` of a subsegment: `remote`, `aws` or none.
    pub fn namespace(&self) -> Option<&str> {
        self.str_field(&["namespace"])
    }

    /// Start time in epoch seconds.
    pub fn start_time(&self) -> Option<f64> {
        self.doc.get("start_time").and_then(Value::as_f64)
    }

    /// End time in epoch seconds; `None` while in progress.
    pub fn end_time(&self) -> Option<f64> {
        self.doc.get("end_time").and_then(Value::as_f64)
    }

    /// Duration in milliseconds, when both times are known.
    pub fn duration_ms(&self) -> Option<f64> {
        Some((self.end_time()? - self.start_time()?) * 1000.0)
    }

    /// Whether the entity has no `end_time` yet.
    pub fn in_progress(&self) -> bool {
        self.end_time().is_none()
    }

    fn flag(&self, name: &str) -> bool {
        self.doc.get(name).and_then(Value::as_bool) == Some(true)
    }

    /// The `error` flag (a 4xx client error).
    pub fn error(&self) -> bool {
        self.flag("error")
    }

    /// The `fault` flag (a 5xx server error).
    pub fn fault(&self) -> bool {
        self.flag("fault")
    }

    /// The `throttle` flag (429 Too Many Requests).
    pub fn throttle(&self) -> bool {
        self.flag("throttle")
    }

    /// Whether this is a downstream call: a subsegment in namespace `remote` or `aws`.
    pub fn is_remote(&self) -> bool {
        self.kind == EntityKind::Subsegment && matches!(self.namespace(), Some("remote" | "aws"))
    }

    /// Whether the caller marked the call as going to another traced service.
    pub fn is_traced(&self) -> bool {
        let traced = |v: Option<&Value>| v.and_then(Value::as_bool) == Some(true);
        traced(self.doc.get("traced")) || traced(self.doc.pointer("/http/request/traced"))
    }

    /// The HTTP response status, when recorded.
    pub fn http_status(&self) -> Option<f64> {
        self.doc.pointer("/http/response/status").and_then(Value::as_f64)
    }

    /// The message of the first exception in `cause`, when there is one.
    pub fn cause_message(&self) -> Option<&str> {
        let cause = self.doc.get("cause")?;
        cause
            .pointer("/exceptions/0/message")
            .and_then(Value::as_str)
            .or_else(|| cause.as_str().map(|_| "(exception recorded elsewhere)"))
    }

    /// This node and all below it, depth first, parents before children.
    pub fn walk(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            out.push(node);
            stack.extend(node.children.iter().rev());
        }
        out
    }

    /// A short description for messages, such as `segment "api" (70de5b6f19ff9a0a)`.
    pub fn label(&self) -> String {
        label(self.kind, &self.doc)
    }
}

/// A trace as assembled from every document that named its trace id.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The trace id, as sent.
    pub trace_id: String,
    /// Entities without a parent in this trace: normally one root segment.
    pub roots: Vec<Node>,
    /// Problems in the trace's documents and in how they fit together.
    pub problems: Vec<Problem>,
    /// How many documents the trace was assembled from.
    pub documents: usize,
}

impl Trace {
    /// Every entity of the trace, depth first.
    pub fn nodes(&self) -> Vec<&Node> {
        self.roots.iter().flat_map(Node::walk).collect()
    }

    /// The entity with the given id.
    pub fn find(&self, id: &str) -> Option<&Node> {
        self.nodes().into_iter().find(|n| n.id() == Some(id))
    }

    /// The earliest start time of any entity, in epoch seconds.
    pub fn start_time(&self) -> Option<f64> {
        self.nodes().iter().filter_map(|n| n.start_time()).min_by(f64::total_cmp)
    }

    /// The latest end (or start, for entities in progress) of any entity, in epoch seconds.
    pub fn end_time(&self) -> Option<f64> {
        self.nodes().iter().filter_map(|n| n.end_time().or(n.start_time())).max_by(f64::total_cmp)
    }

    /// Time from the first start to the last end, in milliseconds.
    pub fn duration_ms(&self) -> Option<f64> {
        Some((self.end_time()? - self.start_time()?) * 1000.0)
    }
}

/// Describes an entity for messages: kind, name and id.
pub(crate) fn label(kind: EntityKind, doc: &Value) -> String {
    let kind = match kind {
        EntityKind::Segment => "segment",
        EntityKind::Subsegment => "subsegment",
    };
    let name = doc.get("name").and_then(Value::as_str);
    let id = doc.get("id").and_then(Value::as_str);
    match (name, id) {
        (Some(name), Some(id)) => format!("{kind} {name:?} ({id})"),
        (Some(name), None) => format!("{kind} {name:?}"),
        (None, Some(id)) => format!("{kind} {id}"),
        (None, None) => format!("a {kind} without name or id"),
    }
}

/// A JSON value's type with its article, for messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(kind: EntityKind, doc: Value, children: Vec<Node>) -> Node {
        Node { kind, doc, children }
    }

    #[test]
    fn accessors_read_the_document() {
        let n = node(
            EntityKind::Subsegment,
            json!({"id": "53995c3f42cd8ad8", "name": "api", "start_time": 10.0, "end_time": 10.25,
                   "namespace": "remote", "fault": true,
                   "http": {"request": {"traced": true}, "response": {"status": 502}},
                   "cause": {"exceptions": [{"id": "0000000000000001", "message": "boom"}]}}),
            vec![],
        );
        assert_eq!(n.name(), "api");
        assert_eq!(n.duration_ms(), Some(250.0));
        assert!(n.is_remote() && n.is_traced() && n.fault() && !n.error());
        assert_eq!(n.http_status(), Some(502.0));
        assert_eq!(n.cause_message(), Some("boom"));
        assert_eq!(n.label(), "subsegment \"api\" (53995c3f42cd8ad8)");
    }

    #[test]
    fn trace_spans_all_nodes() {
        let child = node(EntityKind::Subsegment, json!({"id": "b", "start_time": 10.5, "end_time": 12.0}), vec![]);
        let root = node(EntityKind::Segment, json!({"id": "a", "start_time": 10.0, "end_time": 11.0}), vec![child]);
        let late = node(EntityKind::Segment, json!({"id": "c", "start_time": 13.0}), vec![]);
        let trace = Trace { trace_id: "t".into(), roots: vec![root, late], problems: vec![], documents: 2 };
        assert_eq!(trace.nodes().len(), 3);
        assert_eq!(trace.duration_ms(), Some(3000.0));
        assert!(trace.find("c").is_some_and(Node::in_progress));
        assert!(trace.find("x").is_none());
    }
}
