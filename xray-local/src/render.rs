//! Plain-text views: a trace as a tree with a timeline, the service map, problems, a summary.

use std::fmt::Write as _;

use serde_json::Value;

use crate::problem::Problem;
use crate::protocol::shorten;
use crate::service_map::ServiceMap;
use crate::state::Summary;
use crate::trace::{EntityKind, MAX_NESTING, Node, Trace};

/// Width of the timeline bar, in characters.
const BAR_WIDTH: usize = 30;

/// Widest name column before names are shortened.
const MAX_LABEL_WIDTH: usize = 60;

/// Renders a trace as a tree: one line per entity with its duration and a timeline bar
/// relative to the trace's start, then details (HTTP, annotations, SQL, cause) and problems.
///
/// ```
/// use serde_json::json;
/// use xray_local::{Trace, render};
///
/// let doc = json!({"name": "checkout", "id": "70de5b6f19ff9a0a", "start_time": 1.0,
///                  "end_time": 1.25, "trace_id": "1-581cf771-a006649127e371903a2de979"});
/// let text = render::trace_tree(&Trace::from_documents("1-581cf771-a006649127e371903a2de979", &[doc]));
/// assert!(text.contains("checkout [segment]"));
/// assert!(text.contains("250.0 ms"));
/// ```
pub fn trace_tree(trace: &Trace) -> String {
    let span = Span { start: trace.start_time().unwrap_or(0.0), end: trace.end_time().unwrap_or(0.0) };
    let mut rows = Vec::new();
    for root in &trace.roots {
        collect_rows(root, String::new(), String::new(), 0, &mut rows);
    }
    let width = (rows.iter().map(|r| r.label.chars().count()).max()).unwrap_or(0).min(MAX_LABEL_WIDTH);
    let duration = trace.duration_ms().map_or("?".to_owned(), |ms| format!("{ms:.1} ms"));
    let mut out = format!(
        "trace {}  {duration}  {} from {}\n",
        trace.trace_id,
        count(trace.nodes().len(), "entity", "entities"),
        count(trace.documents, "document", "documents"),
    );
    for row in rows {
        let label = shorten(&row.label, width);
        let pad = width.saturating_sub(label.chars().count());
        let node = row.node;
        let took = node.duration_ms().map_or("open".to_owned(), |ms| format!("{ms:.1} ms"));
        let bar = span.bar(node.start_time(), node.end_time());
        let _ = writeln!(out, "  {label}{:pad$}  {took:>10}  {bar}", "");
        for detail in details(node) {
            let _ = writeln!(out, "  {}{detail}", row.detail_prefix);
        }
    }
    if !trace.problems.is_empty() {
        out.push_str("  problems:\n");
        for problem in &trace.problems {
            let _ = writeln!(out, "    {problem}");
        }
    }
    out
}

struct Row<'a> {
    node: &'a Node,
    label: String,
    detail_prefix: String,
}

/// Flattens the tree into rows with ASCII branch drawings.
fn collect_rows<'a>(node: &'a Node, connector: String, prefix: String, depth: usize, rows: &mut Vec<Row<'a>>) {
    let stem = if node.children.is_empty() { "   " } else { "|  " };
    rows.push(Row { node, label: format!("{connector}{}", title(node)), detail_prefix: format!("{prefix}{stem}") });
    // Trees are built at most MAX_NESTING deep; the guard keeps rendering bounded regardless.
    if depth >= MAX_NESTING {
        return;
    }
    let last = node.children.len().saturating_sub(1);
    for (i, child) in node.children.iter().enumerate() {
        let (branch, rest) = if i == last { ("`- ", "   ") } else { ("|- ", "|  ") };
        let connector = format!("{prefix}{branch}");
        collect_rows(child, connector, format!("{prefix}{rest}"), depth + 1, rows);
    }
}

/// Name plus tags: kind or namespace, origin, and error flags.
fn title(node: &Node) -> String {
    let mut tags = Vec::new();
    match (node.kind, node.namespace()) {
        (EntityKind::Segment, _) => tags.push("segment"),
        (EntityKind::Subsegment, Some(namespace)) => tags.push(namespace),
        (EntityKind::Subsegment, None) => {}
    }
    tags.extend(node.origin());
    for (on, tag) in [
        (node.error(), "error"),
        (node.fault(), "fault"),
        (node.throttle(), "throttle"),
        (node.in_progress(), "in progress"),
    ] {
        if on {
            tags.push(tag);
        }
    }
    if tags.is_empty() { node.name().to_owned() } else { format!("{} [{}]", node.name(), tags.join(" ")) }
}

/// Lines under an entity: HTTP call, annotations, SQL and the first exception.
fn details(node: &Node) -> Vec<String> {
    let mut lines = Vec::new();
    let method = node.str_field(&["http", "request", "method"]);
    let url = node.str_field(&["http", "request", "url"]);
    let status = node.http_status();
    if method.is_some() || url.is_some() || status.is_some() {
        let mut line = [method, url].into_iter().flatten().collect::<Vec<_>>().join(" ");
        if let Some(status) = status {
            let _ = write!(line, " -> {status}");
        }
        if node.is_traced() {
            line.push_str(" (traced)");
        }
        lines.push(shorten(line.trim(), 160));
    }
    if let Some(Value::Object(annotations)) = node.doc.get("annotations")
        && !annotations.is_empty()
    {
        // Sorted by key, whichever map order serde_json was built with.
        let mut pairs: Vec<String> = annotations.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.sort_unstable();
        lines.push(shorten(&format!("annotations: {}", pairs.join(", ")), 160));
    }
    if node.doc.get("sql").is_some() {
        let db = node.str_field(&["sql", "database_type"]).unwrap_or("sql");
        let query = node.str_field(&["sql", "sanitized_query"]);
        let text = query.or(node.str_field(&["sql", "url"])).unwrap_or("(no query)");
        lines.push(shorten(&format!("{db}: {text}"), 160));
    }
    if let Some(cause) = node.cause_message() {
        lines.push(shorten(&format!("cause: {cause}"), 160));
    }
    lines
}

/// The trace's time range, for placing bars.
struct Span {
    start: f64,
    end: f64,
}

impl Span {
    /// A fixed-width bar: `=` while running, `~` up to the trace's end when still open.
    fn bar(&self, start: Option<f64>, end: Option<f64>) -> String {
        let Some(start) = start else {
            return format!("|{}|", "?".repeat(BAR_WIDTH));
        };
        let length = self.end - self.start;
        let column = |t: f64| {
            if length <= 0.0 || !t.is_finite() {
                return 0.0;
            }
            ((t - self.start) / length * BAR_WIDTH as f64).clamp(0.0, BAR_WIDTH as f64)
        };
        let from = (column(start).floor() as usize).min(BAR_WIDTH - 1);
        let (to, fill) = match end {
            Some(end) if length > 0.0 => (column(end).ceil() as usize, '='),
            Some(_) => (BAR_WIDTH, '='),
            None => (BAR_WIDTH, '~'),
        };
        let to = to.clamp(from + 1, BAR_WIDTH);
        let mut bar = String::with_capacity(BAR_WIDTH + 2);
        bar.push('|');
        bar.extend(std::iter::repeat_n(' ', from));
        bar.extend(std::iter::repeat_n(fill, to - from));
        bar.extend(std::iter::repeat_n(' ', BAR_WIDTH - to));
        bar.push('|');
        bar
    }
}

/// Renders the service map: a table of nodes with rates and latency percentiles, then calls.
///
/// ```
/// use xray_local::{ServiceMap, render};
/// assert!(render::service_map(&ServiceMap::default()).starts_with("service map: 0 nodes"));
/// ```
pub fn service_map(map: &ServiceMap) -> String {
    let mut out = format!(
        "service map: {}, {}\n",
        count(map.nodes.len(), "node", "nodes"),
        count(map.edges.len(), "edge", "edges"),
    );
    if map.nodes.is_empty() {
        return out;
    }
    let names: Vec<String> = map.nodes.iter().map(|n| n.key.to_string()).collect();
    let width = (names.iter().map(|n| n.chars().count()).max()).unwrap_or(0).clamp(4, MAX_LABEL_WIDTH);
    let _ = writeln!(
        out,
        "  {:width$}  {:>8}  {:>6}  {:>6}  {:>8}  {:>9}  {:>9}  {:>9}",
        "node", "requests", "error", "fault", "throttle", "p50", "p95", "p99"
    );
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}ms"));
    let pct = |r: f64| format!("{:.1}%", r * 100.0);
    for (node, name) in map.nodes.iter().zip(&names) {
        let _ = writeln!(
            out,
            "  {:width$}  {:>8}  {:>6}  {:>6}  {:>8}  {:>9}  {:>9}  {:>9}",
            shorten(name, width),
            node.requests,
            pct(node.error_rate()),
            pct(node.fault_rate()),
            pct(node.throttle_rate()),
            ms(node.p50()),
            ms(node.p95()),
            ms(node.p99()),
        );
    }
    if !map.edges.is_empty() {
        out.push_str("  calls:\n");
        for edge in &map.edges {
            let _ = writeln!(out, "    {} -> {}  x{}", edge.from, edge.to, edge.calls);
        }
    }
    if map.ignored > 0 {
        let _ = writeln!(out, "  ({} entities beyond the node limit not counted)", map.ignored);
    }
    out
}

/// Renders one problem on a line, prefixed with `!`, for printing as it is found.
pub fn problem(problem: &Problem) -> String {
    match &problem.trace_id {
        Some(trace_id) => format!("! {problem} [trace {trace_id}]"),
        None => format!("! {problem}"),
    }
}

/// Renders the final summary: counts, then the service map.
pub fn summary(summary: &Summary) -> String {
    let p = &summary.problems;
    let mut out = format!(
        "summary: {} ({}), {}, {}, {} ({}, {}, {})\n",
        count(summary.datagrams, "datagram", "datagrams"),
        count(summary.bytes, "byte", "bytes"),
        count(summary.documents, "document", "documents"),
        count(summary.traces, "trace", "traces"),
        count(p.total(), "problem", "problems"),
        count(p.errors, "error", "errors"),
        count(p.warnings, "warning", "warnings"),
        count(p.hints, "hint", "hints"),
    );
    if summary.pending_traces > 0 {
        let pending = count(summary.pending_traces, "trace", "traces");
        let _ = writeln!(out, "  {pending} still pending");
    }
    if summary.forwarded > 0 || summary.forward_failures > 0 {
        let _ = writeln!(out, "  forwarded {} datagrams, {} failed", summary.forwarded, summary.forward_failures);
    }
    if summary.jsonl_failures > 0 {
        let _ = writeln!(out, "  {} JSON lines could not be written", summary.jsonl_failures);
    }
    out.push_str(&service_map(&summary.service_map));
    out
}

/// `1 trace`, `2 traces`.
fn count(n: impl TryInto<u64>, one: &str, many: &str) -> String {
    match n.try_into().unwrap_or(u64::MAX) {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Trace;
    use crate::problem::{ProblemCounts, ProblemKind};
    use serde_json::json;

    const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

    fn sample_trace() -> Trace {
        let a = json!({"name": "frontend", "id": "a000000000000001", "trace_id": TRACE,
        "start_time": 100.0, "end_time": 100.2, "origin": "AWS::EC2::Instance",
        "annotations": {"user_id": 42, "plan": "gold"},
        "http": {"request": {"method": "GET", "url": "http://frontend/cart"},
                 "response": {"status": 200}},
        "subsegments": [
            {"name": "backend", "id": "a000000000000002", "namespace": "remote",
             "start_time": 100.05, "end_time": 100.15,
             "http": {"request": {"method": "POST", "url": "http://backend/price", "traced": true},
                      "response": {"status": 502}}, "fault": true,
             "cause": {"exceptions": [{"id": "e000000000000001", "message": "bad gateway"}]}},
            {"name": "orders@db", "id": "a000000000000003", "namespace": "remote",
             "start_time": 100.15, "end_time": 100.19,
             "sql": {"database_type": "PostgreSQL", "sanitized_query": "SELECT * FROM orders WHERE id = $1"}},
        ]});
        let b = json!({"name": "backend", "id": "b000000000000001", "trace_id": TRACE,
            "parent_id": "a000000000000002", "start_time": 100.06, "end_time": 100.14,
            "error": true});
        Trace::from_documents(TRACE, &[a, b])
    }

    #[test]
    fn trace_tree_shows_names_durations_bars_and_details() {
        let text = trace_tree(&sample_trace());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("trace {TRACE}  200.0 ms  4 entities from 2 documents"));
        let expected_rows = [
            ("frontend [segment AWS::EC2::Instance]", "200.0 ms", "|==============================|"),
            ("|- backend [remote fault]", "100.0 ms", "|       ================       |"),
            ("|  `- backend [segment error]", "80.0 ms", "|         ============         |"),
            ("`- orders@db [remote]", "40.0 ms", "|                      ======= |"),
        ];
        for (label, took, bar) in expected_rows {
            let line = lines
                .iter()
                .find(|l| l.trim_start().starts_with(label))
                .unwrap_or_else(|| panic!("no row {label:?} in\n{text}"));
            assert!(line.contains(took), "{line}");
            assert!(line.ends_with(bar), "{line}\nwant bar {bar}");
        }
        for detail in [
            "GET http://frontend/cart -> 200",
            "annotations: plan=\"gold\", user_id=42",
            "POST http://backend/price -> 502 (traced)",
            "cause: bad gateway",
            "PostgreSQL: SELECT * FROM orders WHERE id = $1",
        ] {
            assert!(text.contains(detail), "no {detail:?} in\n{text}");
        }
        // Bars start in the same column on every row.
        let columns: Vec<usize> = (lines[1..].iter()).filter_map(|l| l.find(" ms  |")).collect();
        assert_eq!(columns.len(), 4, "{text}");
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{text}");
    }

    #[test]
    fn trace_tree_lists_problems() {
        let orphan = json!({"name": "lost", "id": "c000000000000001", "trace_id": TRACE,
            "type": "subsegment", "parent_id": "9a00000000000000", "start_time": 1.0, "in_progress": true});
        let text = trace_tree(&Trace::from_documents(TRACE, &[orphan]));
        assert!(text.contains("lost [in progress]"), "{text}");
        assert!(text.contains("open  |~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~|"), "{text}");
        assert!(text.contains("problems:\n    error[orphan-parent]: subsegment \"lost\""), "{text}");
    }

    #[test]
    fn bars_are_placed_relative_to_the_trace() {
        let span = Span { start: 10.0, end: 13.0 };
        let cases = [
            (Some(10.0), Some(13.0), "|==============================|"),
            (Some(10.0), Some(11.0), "|==========                    |"),
            (Some(12.0), Some(13.0), "|                    ==========|"),
            (Some(11.0), Some(11.0), "|          =                   |"),
            (Some(12.9), None, "|                             ~|"),
            (Some(13.0), Some(13.0), "|                             =|"),
            (Some(5.0), Some(20.0), "|==============================|"),
            (None, None, "|??????????????????????????????|"),
        ];
        for (start, end, want) in cases {
            assert_eq!(span.bar(start, end), want, "{start:?}..{end:?}");
        }
        let instant = Span { start: 1.0, end: 1.0 };
        assert_eq!(instant.bar(Some(1.0), Some(1.0)), "|==============================|");
    }

    #[test]
    fn service_map_table_and_calls() {
        let map = ServiceMap::from_traces([&sample_trace()]);
        let text = service_map(&map);
        assert!(text.starts_with("service map: 3 nodes, 2 edges\n"), "{text}");
        let row = |name: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(name))
                .unwrap_or_else(|| panic!("no row {name} in\n{text}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(row("frontend"), "frontend (AWS::EC2::Instance) 1 0.0% 0.0% 0.0% 200.0ms 200.0ms 200.0ms");
        assert_eq!(row("backend"), "backend 1 100.0% 0.0% 0.0% 80.0ms 80.0ms 80.0ms");
        assert_eq!(row("orders@db"), "orders@db (remote) 1 0.0% 0.0% 0.0% 40.0ms 40.0ms 40.0ms");
        assert!(text.contains("frontend (AWS::EC2::Instance) -> backend  x1"), "{text}");
        assert!(text.contains("frontend (AWS::EC2::Instance) -> orders@db (remote)  x1"), "{text}");
    }

    #[test]
    fn summary_counts_then_map() {
        let summary = Summary {
            datagrams: 5,
            bytes: 900,
            documents: 4,
            traces: 2,
            problems: ProblemCounts { errors: 1, warnings: 2, hints: 3 },
            forwarded: 5,
            ..Summary::default()
        };
        let text = self::summary(&summary);
        assert!(
            text.starts_with(
                "summary: 5 datagrams (900 bytes), 4 documents, 2 traces, 6 problems (1 error, 2 warnings, 3 hints)\n"
            ),
            "{text}"
        );
        assert!(text.contains("forwarded 5 datagrams, 0 failed"), "{text}");
        assert!(text.contains("service map: 0 nodes"), "{text}");
    }

    #[test]
    fn problems_render_on_one_line() {
        let p = Problem::error(ProblemKind::NoHeader, "no header line").in_trace(Some("1-x"));
        assert_eq!(problem(&p), "! error[no-header]: no header line [trace 1-x]");
    }
}
