use super::*;
use crate::assemble;
use serde_json::{Value, json};

const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

fn node_with(samples: &[f64]) -> ServiceNode {
    let mut node = ServiceNode::new(NodeKey { name: "n".into(), kind: NodeKind::Service { origin: None } });
    node.latencies_ms = samples.to_vec();
    node.requests = samples.len() as u64;
    node
}

#[test]
fn percentiles_use_nearest_rank() {
    let hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
    let cases: Vec<(&[f64], f64, Option<f64>)> = vec![
        (&[], 0.5, None),
        (&[7.0], 0.5, Some(7.0)),
        (&[7.0], 0.99, Some(7.0)),
        (&[1.0, 2.0], 0.5, Some(1.0)),
        (&[3.0, 1.0, 2.0, 4.0], 0.5, Some(2.0)),
        (&[3.0, 1.0, 2.0, 4.0], 0.75, Some(3.0)),
        (&[3.0, 1.0, 2.0, 4.0], 0.76, Some(4.0)),
        (&hundred, 0.50, Some(50.0)),
        (&hundred, 0.95, Some(95.0)),
        (&hundred, 0.99, Some(99.0)),
        (&hundred, 0.0, Some(1.0)),
        (&hundred, 1.0, Some(100.0)),
    ];
    for (samples, q, want) in cases {
        assert_eq!(node_with(samples).percentile(q), want, "q={q} of {samples:?}");
    }
    let node = node_with(&hundred);
    assert_eq!((node.p50(), node.p95(), node.p99()), (Some(50.0), Some(95.0), Some(99.0)));
}

fn segment(id: &str, name: &str, ms: f64, flags: Value) -> Value {
    let mut doc = json!({"name": name, "id": id, "trace_id": TRACE, "start_time": 100.0,
                         "end_time": 100.0 + ms / 1000.0});
    for (k, v) in flags.as_object().into_iter().flatten() {
        doc[k] = v.clone();
    }
    doc
}

#[test]
fn counts_requests_flags_and_latency_per_service() {
    let traces: Vec<Trace> = [
        (10.0, json!({})),
        (20.0, json!({"error": true})),
        (30.0, json!({"error": true, "throttle": true})),
        (40.0, json!({"fault": true})),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (ms, flags))| assemble(TRACE, &[segment(&format!("a00000000000000{i}"), "A", ms, flags)]))
    .collect();
    let map = ServiceMap::from_traces(&traces);
    assert_eq!(map.nodes.len(), 1);
    let a = map.node("A").expect("A");
    assert_eq!((a.requests, a.errors, a.faults, a.throttles), (4, 2, 1, 1));
    assert_eq!((a.error_rate(), a.fault_rate(), a.throttle_rate()), (0.5, 0.25, 0.25));
    let p50 = a.p50().expect("p50");
    assert!((p50 - 20.0).abs() < 1e-6, "{p50}");
    assert!((a.p99().expect("p99") - 40.0).abs() < 1e-6);
}

#[test]
fn services_are_told_apart_by_origin() {
    let mut ec2 = segment("a000000000000001", "api", 1.0, json!({}));
    ec2["origin"] = json!("AWS::EC2::Instance");
    let plain = segment("a000000000000002", "api", 1.0, json!({}));
    let map = ServiceMap::from_traces(&[assemble(TRACE, &[ec2]), assemble(TRACE, &[plain])]);
    assert_eq!(map.nodes.len(), 2);
    assert_eq!(map.nodes[0].key.to_string(), "api (AWS::EC2::Instance)");
    assert_eq!(map.nodes[1].key.to_string(), "api");
}

#[test]
fn edges_follow_calls_between_services_and_to_remote_resources() {
    let mut a = segment("a000000000000001", "A", 100.0, json!({}));
    a["subsegments"] = json!([
        {"name": "B", "id": "a000000000000002", "namespace": "remote", "start_time": 100.01,
         "end_time": 100.05, "http": {"request": {"traced": true}}},
        {"name": "work", "id": "a000000000000003", "start_time": 100.05, "end_time": 100.09,
         "subsegments": [{"name": "DynamoDB", "id": "a000000000000004", "namespace": "aws",
                          "start_time": 100.06, "end_time": 100.08, "fault": true}]},
        {"name": "local", "id": "a000000000000005", "start_time": 100.0, "end_time": 100.01},
    ]);
    let mut b = segment("b000000000000001", "B", 30.0, json!({}));
    b["start_time"] = json!(100.015);
    b["end_time"] = json!(100.045);
    b["parent_id"] = json!("a000000000000002");
    b["subsegments"] = json!([{"name": "db@host", "id": "b000000000000002", "namespace": "remote",
        "start_time": 100.02, "end_time": 100.03, "sql": {"database_type": "PostgreSQL"}}]);
    let map = ServiceMap::from_traces(&[assemble(TRACE, &[b, a])]);
    let names: Vec<String> = map.nodes.iter().map(|n| n.key.to_string()).collect();
    assert_eq!(names, ["A", "B", "db@host (remote)", "DynamoDB (aws)"]);
    let edges: Vec<String> =
        (map.edges.iter()).map(|e| format!("{}->{}:{}", e.from.name, e.to.name, e.calls)).collect();
    assert_eq!(edges, ["A->B:1", "B->db@host:1", "A->DynamoDB:1"]);
    // The call answered by B is drawn as B itself, not as a remote node.
    assert_eq!(map.node("B").map(|n| &n.key.kind), Some(&NodeKind::Service { origin: None }));
    assert_eq!(map.node("DynamoDB").map(|n| n.faults), Some(1));
    assert!(map.edge("A", "B").is_some() && map.edge("B", "A").is_none());
}

#[test]
fn latency_samples_are_bounded() {
    let mut node = node_with(&[]);
    let doc = json!({"start_time": 0.0, "end_time": 0.001});
    let entity = Node { kind: EntityKind::Segment, doc, children: vec![] };
    for _ in 0..(MAX_SAMPLES + 5) {
        node.record(&entity);
    }
    assert_eq!(node.requests, (MAX_SAMPLES + 5) as u64);
    assert_eq!(node.latencies_ms.len(), MAX_SAMPLES);
    assert_eq!(node.next_sample, 5);
}
