//! X-Ray filter expressions: parse an expression once, then test traces against it.
//!
//! The language is the one of AWS's developer guide page "Using filter expressions", as the
//! X-Ray console and `GetTraceSummaries` take it:
//!
//! ```
//! use serde_json::json;
//! use xray_local::Trace;
//! use xray_local::filter::Filter;
//!
//! let id = "1-581cf771-a006649127e371903a2de979";
//! let doc = json!({"name": "api", "id": "70de5b6f19ff9a0a", "trace_id": id,
//!                  "start_time": 1478293361.0, "end_time": 1478293367.5, "fault": true,
//!                  "http": {"request": {"method": "GET", "url": "https://example.com/api/game/7"},
//!                           "response": {"status": 502}},
//!                  "annotations": {"gameid": "817DL6VO"}});
//! let trace = Trace::from_documents(id, &[doc]);
//!
//! let slow_faults = Filter::parse(r#"fault AND responsetime > 5 AND http.url CONTAINS "/api/game/""#)?;
//! assert!(slow_faults.matches(&trace));
//! assert!(!Filter::parse("ok OR http.status < 500")?.matches(&trace));
//! assert!(Filter::parse(r#"annotation.gameid = "817DL6VO" service("api") { fault }"#)?.matches(&trace));
//!
//! let err = Filter::parse("responsetime > 5s").unwrap_err();
//! assert_eq!(err.position, 15);
//! assert_eq!(err.to_string(), "at position 15: bad number \"5s\": write digits like 5, 0.5 or 1e3, without units");
//! # Ok::<(), xray_local::filter::FilterError>(())
//! ```
//!
//! # What is supported
//!
//! - **Boolean keywords** `ok`, `error`, `throttle`, `fault` (the root segment's flags; `ok` is
//!   none of the three), `partial` (an entity still in progress), `inferred` (a call to a
//!   resource that sent no segment: a `remote` or `aws` subsegment without a downstream segment),
//!   `root` (the entry point): alone, with `!`, or `= true`, `!= false` and so on.
//! - **Number keywords** `responsetime` (the root segment's duration, in seconds), `duration` (first
//!   start to last end in the trace, in seconds), `http.status` (the root segment's response
//!   status), with `= != < <= > >=`.
//! - **String keywords** `http.url`, `http.method`, `http.useragent`, `http.clientip` (the root
//!   segment's request), `name` and `type` (the root segment's name and `origin`), and, matching when
//!   any entity in the trace has such a value: `user`, `message` (an exception message),
//!   `availabilityzone`, `instance.id`, `resource.arn`; with `= != CONTAINS BEGINSWITH ENDSWITH`
//!   and a value in double quotes (`\"` and `\\` escape). `user CONTAINS ""` tests that it is set.
//! - **`annotation.KEY`** on any segment or subsegment: alone (the annotation is set; a boolean one
//!   is its value), or compared with a string, number or `true`/`false`. A value of another type
//!   than the annotation's never matches (`annotation.userId = 1` does not match `"1"`).
//! - **`service(name) { filter }`** and **`edge(source, destination) { filter }`** over the trace's
//!   service map, as [`ServiceMap`](crate::ServiceMap) draws it: a service is a segment's name, an
//!   inferred node is a `remote` or `aws` call without a downstream segment. The braces are optional;
//!   inside them keywords read the one node (its flags, its `responsetime`, its `http` block, its
//!   `name` and `type`); an edge's filter reads the called node. `service()` means any node. A name
//!   may be `id(name: "...", type: "...")`, either part optional; a segment's type is its `origin`,
//!   an inferred node's is `AWS::<name>` (namespace `aws`), `Database::SQL` (a `sql` block) or `remote`.
//! - **`AND`, `OR`, `!` and parentheses**: `!` binds tightest, then `AND`, then `OR`; filters written
//!   side by side (`ok !partial duration < 3`) are joined by `AND`.
//! - Keywords and operator words ignore case (`responseTime`, `and`); values, names and annotation
//!   keys do not.
//! - A keyword with no value in the trace (no root segment, no `http` block) fails every comparison,
//!   `!=` included; put `!` in front to find those traces. A keyword with many values (`user`,
//!   annotations) matches when any value does.
//!
//! # What is not supported
//!
//! Root-cause filters (`rootcause.*`, `json`, and the keywords only they use: `first`, `last`,
//! `index`, `remote`, `coverage`) and groups (`group.name`, `group.arn`): xray-local computes no root
//! causes and has no groups, so these are refused with a message rather than silently matching
//! nothing. `annotation`, `service` and `edge` are refused inside the braces of `service` or `edge`.
//!
//! # Costs
//!
//! Parsing is linear in the expression, and parentheses, `!` and braces may nest at most 32 deep,
//! so no input can exhaust the stack. [`Filter::matches`] reads each keyword at most once per entity
//! of the trace: its cost is the expression's size times the trace's.

mod eval;
mod keyword;
mod lexer;
mod parser;

use crate::Trace;

use parser::Expr;

/// A parsed filter expression, ready to test traces against.
///
/// The default filter, like the empty expression, matches every trace.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    expr: Option<Expr>,
    /// Whether the expression uses `service()` or `edge()`, which need the trace's service map.
    services: bool,
}

/// Why an expression could not be parsed, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {message}")]
pub struct FilterError {
    /// Character offset (0-based) in the expression where the problem was found.
    pub position: usize,
    /// What is wrong, in plain words.
    pub message: String,
}

impl Filter {
    /// Parses an expression; the empty (or all-blank) expression matches every trace.
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        let tokens = lexer::tokenize(expr)?;
        if tokens.len() == 1 {
            return Ok(Filter::default());
        }
        let expr = parser::parse(&tokens)?;
        let services = uses_services(&expr);
        Ok(Filter { expr: Some(expr), services })
    }

    /// Whether the filter matches every trace (it was parsed from a blank expression).
    pub fn matches_all(&self) -> bool {
        self.expr.is_none()
    }

    /// Whether the trace matches the expression.
    pub fn matches(&self, trace: &Trace) -> bool {
        let Some(expr) = &self.expr else {
            return true;
        };
        eval::eval(expr, &eval::View::new(trace, self.services))
    }
}

// Recursion follows the expression tree, whose depth the parser bounds.
fn uses_services(expr: &Expr) -> bool {
    match expr {
        Expr::And(parts) | Expr::Or(parts) => parts.iter().any(uses_services),
        Expr::Not(inner) => uses_services(inner),
        Expr::Test(_) => false,
        Expr::Service { .. } | Expr::Edge { .. } => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const ID: &str = "1-581cf771-a006649127e371903a2de979";

    fn trace(docs: &[Value]) -> Trace {
        Trace::from_documents(ID, docs)
    }

    /// A front end calling a traced back end, which calls DynamoDB (faulting) and a SQL database.
    fn two_services() -> Trace {
        let front = json!({"name": "front", "id": "a000000000000001", "trace_id": ID, "origin": "AWS::EC2::Instance",
            "start_time": 100.0, "end_time": 100.5, "http": {"response": {"status": 200}},
            "subsegments": [{"name": "back", "id": "a000000000000002", "namespace": "remote",
                             "start_time": 100.1, "end_time": 100.4, "http": {"request": {"traced": true}}}]});
        let back = json!({"name": "back", "id": "b000000000000001", "trace_id": ID, "parent_id": "a000000000000002",
            "start_time": 100.15, "end_time": 100.35, "error": true, "user": "alice",
            "subsegments": [
                {"name": "DynamoDB", "id": "b000000000000002", "namespace": "aws", "start_time": 100.2,
                 "end_time": 100.25, "fault": true, "annotations": {"table": "users"},
                 "cause": {"exceptions": [{"id": "e000000000000001", "message": "Throughput exceeded"}]}},
                {"name": "db@host", "id": "b000000000000003", "namespace": "remote", "start_time": 100.25,
                 "end_time": 100.3, "sql": {"database_type": "PostgreSQL"}}]});
        trace(&[front, back])
    }

    fn check(expr: &str, t: &Trace) -> bool {
        Filter::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}")).matches(t)
    }

    #[test]
    fn blank_expressions_match_everything() {
        for expr in ["", "   ", "\n\t"] {
            let filter = Filter::parse(expr).unwrap();
            assert!(filter.matches_all() && filter.matches(&trace(&[])));
        }
        assert!(!Filter::parse("ok").unwrap().matches_all());
    }

    #[test]
    fn trace_keywords_read_the_root_segment() {
        let t = two_services();
        let cases = [
            ("ok", true),
            ("error", false), // only the downstream segment has error
            ("service(\"back\") { error }", true),
            ("http.status = 200", true),
            ("responsetime = 0.5", true),
            ("name = \"front\" AND type = \"AWS::EC2::Instance\"", true),
            ("user = \"alice\"", true), // any segment's user
            ("message CONTAINS \"Throughput\"", true),
            ("annotation.table = \"users\"", true),
            ("inferred", true),
            ("partial", false),
            ("root", true),
            ("http.url", false),
            ("!http.url", true),
            ("http.method != \"GET\"", false), // unset fails every comparison
        ];
        for (expr, want) in cases {
            assert_eq!(check(expr, &t), want, "{expr}");
        }
    }

    #[test]
    fn service_and_edge_read_one_node() {
        let t = two_services();
        let cases = [
            ("service(\"DynamoDB\") { fault }", true),
            ("service(\"back\") { fault }", false),
            ("service() { fault }", true),
            ("service(\"nobody\")", false),
            ("service(id(type: \"AWS::DynamoDB\"))", true),
            ("service(id(name: \"db@host\", type: \"Database::SQL\")) { inferred }", true),
            ("service(id(name: \"front\", type: \"AWS::EC2::Instance\")) { root }", true),
            ("service(\"back\") { root }", false),
            ("service(\"back\") { message CONTAINS \"Throughput\" }", true),
            ("service(\"front\") { message CONTAINS \"Throughput\" }", false),
            ("edge(\"front\", \"back\") { error }", true),
            ("edge(\"back\", \"front\")", false),
            ("edge(\"back\", \"DynamoDB\") { fault AND responsetime < 0.1 }", true),
            ("edge(\"front\", \"DynamoDB\")", false),
            ("!service(\"back\")", false),
        ];
        for (expr, want) in cases {
            assert_eq!(check(expr, &t), want, "{expr}");
        }
    }

    #[test]
    fn a_trace_without_a_root_segment() {
        let orphan = json!({"name": "late", "id": "c000000000000001", "trace_id": ID, "type": "subsegment",
                            "parent_id": "ffffffffffffffff", "start_time": 1.0});
        let t = trace(&[orphan]);
        for (expr, want) in [("ok", false), ("!ok", true), ("root", false), ("partial", true), ("duration = 0", true)] {
            assert_eq!(check(expr, &t), want, "{expr}");
        }
    }

    #[test]
    fn errors_display_their_position() {
        let err = Filter::parse("ok AND").unwrap_err();
        assert_eq!(err.to_string(), "at position 6: expected a filter after AND, found end of the expression");
    }
}
