//! The service map: services and remote resources seen in traces, with request statistics.

use std::fmt;

use crate::trace::{EntityKind, Node, Trace};

/// Latency samples kept per node; older ones are overwritten so memory stays bounded.
const MAX_SAMPLES: usize = 10_000;

/// Nodes kept per map; traces naming more are still counted in [`ServiceMap::ignored`].
const MAX_NODES: usize = 1000;

/// What a node stands for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    /// A service that sent segments, told apart by its `origin` as well as its name.
    Service {
        /// The segment's `origin`, such as `AWS::EC2::Instance`.
        origin: Option<String>,
    },
    /// A resource known only from callers' subsegments (namespace `remote` or `aws`).
    Remote {
        /// The subsegments' namespace.
        namespace: String,
    },
}

/// Identifies a node of the map.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeKey {
    /// The segment or subsegment name.
    pub name: String,
    /// Whether it is a service or a remote resource.
    pub kind: NodeKind,
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            NodeKind::Service { origin: None } => write!(f, "{}", self.name),
            NodeKind::Service { origin: Some(o) } => write!(f, "{} ({o})", self.name),
            NodeKind::Remote { namespace } => write!(f, "{} ({namespace})", self.name),
        }
    }
}

/// A service or remote resource with its request statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceNode {
    /// Which node this is.
    pub key: NodeKey,
    /// Segments (or calls, for remote nodes) counted.
    pub requests: u64,
    /// Requests flagged `error` (4xx).
    pub errors: u64,
    /// Requests flagged `fault` (5xx).
    pub faults: u64,
    /// Requests flagged `throttle` (429).
    pub throttles: u64,
    latencies_ms: Vec<f64>,
    next_sample: usize,
}

impl ServiceNode {
    fn new(key: NodeKey) -> Self {
        ServiceNode { key, requests: 0, errors: 0, faults: 0, throttles: 0, latencies_ms: Vec::new(), next_sample: 0 }
    }

    fn record(&mut self, node: &Node) {
        self.requests += 1;
        self.errors += u64::from(node.error());
        self.faults += u64::from(node.fault());
        self.throttles += u64::from(node.throttle());
        let Some(ms) = node.duration_ms().filter(|ms| ms.is_finite()) else {
            return;
        };
        if self.latencies_ms.len() < MAX_SAMPLES {
            self.latencies_ms.push(ms);
        } else {
            self.latencies_ms[self.next_sample] = ms;
            self.next_sample = (self.next_sample + 1) % MAX_SAMPLES;
        }
    }

    fn rate(&self, count: u64) -> f64 {
        if self.requests == 0 { 0.0 } else { count as f64 / self.requests as f64 }
    }

    /// Share of requests flagged `error`, from 0 to 1.
    pub fn error_rate(&self) -> f64 {
        self.rate(self.errors)
    }

    /// Share of requests flagged `fault`, from 0 to 1.
    pub fn fault_rate(&self) -> f64 {
        self.rate(self.faults)
    }

    /// Share of requests flagged `throttle`, from 0 to 1.
    pub fn throttle_rate(&self) -> f64 {
        self.rate(self.throttles)
    }

    /// The latency at quantile `q` (0 to 1) in milliseconds, by nearest rank; `None`
    /// without finished requests.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        if n == 0 {
            return None;
        }
        // Nearest rank: the smallest sample with at least q of all samples at or below it.
        let rank = (q.clamp(0.0, 1.0) * n as f64).ceil() as usize;
        Some(sorted[rank.clamp(1, n) - 1])
    }

    /// Median latency in milliseconds.
    pub fn p50(&self) -> Option<f64> {
        self.percentile(0.50)
    }

    /// 95th percentile latency in milliseconds.
    pub fn p95(&self) -> Option<f64> {
        self.percentile(0.95)
    }

    /// 99th percentile latency in milliseconds.
    pub fn p99(&self) -> Option<f64> {
        self.percentile(0.99)
    }
}

/// A call from one node to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The calling service.
    pub from: NodeKey,
    /// The called service or resource.
    pub to: NodeKey,
    /// How many calls were seen.
    pub calls: u64,
}

/// Services, remote resources and the calls between them, accumulated over traces.
///
/// ```
/// use xray_local::{ServiceMap, Trace};
/// use serde_json::json;
///
/// let doc = json!({"name": "A", "id": "70de5b6f19ff9a0a", "start_time": 1.0, "end_time": 1.2,
///                  "trace_id": "1-581cf771-a006649127e371903a2de979",
///                  "subsegments": [{"name": "db", "id": "53995c3f42cd8ad8", "namespace": "remote",
///                                   "start_time": 1.0, "end_time": 1.1}]});
/// let trace = Trace::from_documents("1-581cf771-a006649127e371903a2de979", &[doc]);
/// let map = ServiceMap::from_traces([&trace]);
/// assert_eq!(map.node("A").unwrap().requests, 1);
/// assert_eq!(map.edge("A", "db").unwrap().calls, 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceMap {
    /// Nodes in the order first seen.
    pub nodes: Vec<ServiceNode>,
    /// Edges in the order first seen.
    pub edges: Vec<Edge>,
    /// Entities not counted because the map already held its maximum of nodes.
    pub ignored: u64,
}

impl ServiceMap {
    /// Builds a map from traces.
    pub fn from_traces<'a>(traces: impl IntoIterator<Item = &'a Trace>) -> Self {
        let mut map = ServiceMap::default();
        for trace in traces {
            map.add_trace(trace);
        }
        map
    }

    /// Adds a trace's segments, remote calls and edges to the map.
    pub fn add_trace(&mut self, trace: &Trace) {
        for_each_node(trace, |key, node, caller| self.record(key, node, caller));
    }

    fn record(&mut self, key: &NodeKey, node: &Node, caller: Option<&NodeKey>) {
        let at = match self.nodes.iter().position(|n| n.key == *key) {
            Some(at) => at,
            None if self.nodes.len() < MAX_NODES => {
                self.nodes.push(ServiceNode::new(key.clone()));
                self.nodes.len() - 1
            }
            None => {
                self.ignored += 1;
                return;
            }
        };
        self.nodes[at].record(node);
        let Some(caller) = caller else {
            return;
        };
        match self.edges.iter_mut().find(|e| e.from == *caller && e.to == *key) {
            Some(edge) => edge.calls += 1,
            None => self.edges.push(Edge { from: caller.clone(), to: key.clone(), calls: 1 }),
        }
    }

    /// The first node with this name.
    pub fn node(&self, name: &str) -> Option<&ServiceNode> {
        self.nodes.iter().find(|n| n.key.name == name)
    }

    /// The first edge between nodes with these names.
    pub fn edge(&self, from: &str, to: &str) -> Option<&Edge> {
        self.edges.iter().find(|e| e.from.name == from && e.to.name == to)
    }
}

/// Calls `visit` with every node of the map a trace touches: each segment as its service, and
/// each remote call answered by no traced service as the resource it calls, with the service
/// that made the call (`None` for entry points). The map and the query API count the same way.
pub(crate) fn for_each_node(trace: &Trace, mut visit: impl FnMut(&NodeKey, &Node, Option<&NodeKey>)) {
    // Each entry carries the service (segment) the node belongs to.
    let mut stack: Vec<(&Node, Option<NodeKey>)> = trace.roots.iter().rev().map(|n| (n, None)).collect();
    while let Some((node, owner)) = stack.pop() {
        let mut owner_of_children = owner.clone();
        if node.kind == EntityKind::Segment {
            let key = NodeKey {
                name: node.name().to_owned(),
                kind: NodeKind::Service { origin: node.origin().map(str::to_owned) },
            };
            visit(&key, node, owner.as_ref());
            owner_of_children = Some(key);
        } else if node.is_remote() && !node.children.iter().any(|c| c.kind == EntityKind::Segment) {
            // A call answered by a traced service is drawn as an edge to that service.
            let key = NodeKey {
                name: node.name().to_owned(),
                kind: NodeKind::Remote { namespace: node.namespace().unwrap_or_default().to_owned() },
            };
            visit(&key, node, owner.as_ref());
        }
        for child in node.children.iter().rev() {
            stack.push((child, owner_of_children.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Trace;
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
        .map(|(i, (ms, flags))| {
            Trace::from_documents(TRACE, &[segment(&format!("a00000000000000{i}"), "A", ms, flags)])
        })
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
        let map =
            ServiceMap::from_traces(&[Trace::from_documents(TRACE, &[ec2]), Trace::from_documents(TRACE, &[plain])]);
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
        let map = ServiceMap::from_traces(&[Trace::from_documents(TRACE, &[b, a])]);
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
}
