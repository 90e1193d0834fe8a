use super::*;
use crate::assemble;
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
    assemble(TRACE, &[a, b])
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
    let text = trace_tree(&assemble(TRACE, &[orphan]));
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
