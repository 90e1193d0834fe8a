//! The console's own endpoints: `GET /local/status` (counts, caps and evictions) and
//! `GET /local/traces/{id}` (a trace's documents as received and the problems found in it).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Ctx, json, json_with};

/// `GET /local/status`.
pub(crate) async fn status(State(ctx): Ctx) -> Response {
    let (summary, (max_traces, max_bytes)) = ctx.shared.with_state(|s| (s.summary(), s.store().caps()));
    json(&json!({
        "traces": summary.stored_traces,
        "documents": summary.documents,
        "evicted_traces": summary.evicted_traces,
        "bytes": summary.stored_bytes,
        "max_traces": max_traces,
        "max_bytes": max_bytes,
        "errors": summary.problems.errors,
        "pending_traces": summary.pending_traces,
        "datagrams": summary.datagrams,
    }))
}

/// `GET /local/traces/{id}`.
pub(crate) async fn trace(State(ctx): Ctx, Path(id): Path<String>) -> Response {
    let Some(stored) = ctx.shared.with_state(|s| s.store().get(&id)) else {
        let message = format!(
            "no trace {id:?} here: it has not completed yet (traces complete after the quiet period), \
             was evicted to stay within --max-traces / --max-bytes, or never arrived"
        );
        return json_with(StatusCode::NOT_FOUND, &json!({"message": message}));
    };
    let problems: Vec<Value> = (stored.trace.problems.iter())
        .map(|p| {
            json!({
                "severity": p.severity.to_string(),
                "kind": p.kind.code(),
                "message": p.message,
                "entity_id": p.entity_id,
            })
        })
        .collect();
    json(&json!({"id": stored.trace.trace_id, "documents": stored.docs, "problems": problems}))
}
