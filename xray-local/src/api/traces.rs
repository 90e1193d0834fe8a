//! `BatchGetTraces` (`POST /Traces`): whole traces as the service returns them, one `Document`
//! string per segment, with the subsegments that were sent on their own merged back into it.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ApiError, Ctx, Input, json, read_token, token};
use crate::trace::{EntityKind, Node, Trace};

/// Traces per page, as many as the service returns per call.
const PAGE: usize = 5;

const TOKEN: &str = "traces-";

/// Fields a nested subsegment leaves to its parent.
const NESTED_DROP: [&str; 3] = ["type", "trace_id", "parent_id"];

/// `POST /Traces`.
pub(crate) async fn handle(State(ctx): Ctx, body: Bytes) -> Result<Response, ApiError> {
    let input = Input::parse("BatchGetTraces", &body)?;
    let ids = input.required_strings("TraceIds")?;
    let skip = match input.string("NextToken")? {
        Some(text) => usize::try_from(read_token(input.operation(), TOKEN, text)?).unwrap_or(usize::MAX),
        None => 0,
    };
    let page: Vec<&str> = ids.iter().skip(skip).take(PAGE).copied().collect();
    let found: Vec<_> = ctx.shared.with_state(|s| page.iter().map(|id| s.store().get(id)).collect());
    let mut traces = Vec::new();
    let mut unprocessed = Vec::new();
    for (id, stored) in page.iter().zip(found) {
        match stored {
            Some(stored) => traces.push(trace(&stored.trace)),
            None => unprocessed.push(json!(id)),
        }
    }
    let mut answer = json!({"Traces": traces, "UnprocessedTraceIds": unprocessed});
    if skip + PAGE < ids.len() {
        answer["NextToken"] = json!(token(TOKEN, (skip + PAGE) as u64));
    }
    Ok(json(&answer))
}

/// A `Trace`: `Id`, `Duration` in seconds, and its segments.
pub(crate) fn trace(trace: &Trace) -> Value {
    let segments: Vec<Value> = (segment_documents(trace).into_iter())
        .map(|(id, doc)| json!({"Id": id, "Document": doc.to_string()}))
        .collect();
    let mut out = json!({"Id": trace.trace_id, "LimitExceeded": false, "Segments": segments});
    if let Some(ms) = trace.duration_ms() {
        out["Duration"] = json!(ms / 1000.0);
    }
    out
}

/// Every segment of the trace as one document with its subsegments nested, in tree order.
/// Segments answering a call nested in another segment come out as documents of their own;
/// a subsegment whose segment never arrived stands alone, as it was sent.
pub(crate) fn segment_documents(trace: &Trace) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut pending: Vec<&Node> = trace.roots.iter().rev().collect();
    while let Some(node) = pending.pop() {
        let mut downstream = Vec::new();
        let doc = nest(node, &mut downstream, false);
        out.push((node.id().unwrap_or_default().to_owned(), doc));
        pending.extend(downstream.into_iter().rev());
    }
    out
}

/// The node's document with its subsegment children nested; segment children are collected
/// into `downstream` instead. Depth is bounded by the tree's own nesting limit.
fn nest<'a>(node: &'a Node, downstream: &mut Vec<&'a Node>, nested: bool) -> Value {
    let mut doc: Map<String, Value> = node.doc.as_object().cloned().unwrap_or_default();
    if nested {
        for field in NESTED_DROP {
            doc.remove(field);
        }
    }
    let mut subsegments = Vec::new();
    for child in &node.children {
        match child.kind {
            EntityKind::Subsegment => subsegments.push(nest(child, downstream, true)),
            EntityKind::Segment => downstream.push(child),
        }
    }
    if !subsegments.is_empty() {
        doc.insert("subsegments".into(), Value::Array(subsegments));
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

    #[test]
    fn streamed_subsegments_merge_into_their_segment_and_downstream_segments_stand_alone() {
        let a = json!({"name": "A", "id": "a000000000000001", "trace_id": TRACE, "start_time": 1.0, "end_time": 2.0,
                       "subsegments": [{"name": "B", "id": "a000000000000002", "namespace": "remote",
                                        "start_time": 1.1, "end_time": 1.9}]});
        let streamed = json!({"name": "work", "id": "a000000000000003", "trace_id": TRACE, "type": "subsegment",
                              "parent_id": "a000000000000002", "start_time": 1.2, "end_time": 1.3});
        let b = json!({"name": "B", "id": "b000000000000001", "trace_id": TRACE, "parent_id": "a000000000000002",
                       "start_time": 1.2, "end_time": 1.8});
        let trace = Trace::from_documents(TRACE, &[streamed, b, a]);
        let docs = segment_documents(&trace);
        let ids: Vec<&str> = docs.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["a000000000000001", "b000000000000001"]);
        let call = &docs[0].1["subsegments"][0];
        assert_eq!(call["name"], "B");
        let work = &call["subsegments"][0];
        assert_eq!(work["name"], "work");
        assert!(work.get("type").is_none() && work.get("trace_id").is_none() && work.get("parent_id").is_none());
        assert_eq!(docs[1].1["parent_id"], "a000000000000002");
        assert!(docs[1].1.get("subsegments").is_none());
        let out = trace_json(&trace);
        assert_eq!(out["Duration"], 1.0);
        assert!(out["Segments"][0]["Document"].as_str().unwrap().contains("\"work\""));
    }

    fn trace_json(t: &Trace) -> Value {
        trace(t)
    }
}
