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
/// use xray_local::{ServiceMap, assemble};
/// use serde_json::json;
///
/// let doc = json!({"name": "A", "id": "70de5b6f19ff9a0a", "start_time": 1.0, "end_time": 1.2,
///                  "trace_id": "1-581cf771-a006649127e371903a2de979",
///                  "subsegments": [{"name": "db", "id": "53995c3f42cd8ad8", "namespace": "remote",
///                                   "start_time": 1.0, "end_time": 1.1}]});
/// let trace = assemble("1-581cf771-a006649127e371903a2de979", &[doc]);
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
        // Each entry carries the service (segment) the node belongs to.
        let mut stack: Vec<(&Node, Option<NodeKey>)> = trace.roots.iter().rev().map(|n| (n, None)).collect();
        while let Some((node, owner)) = stack.pop() {
            let mut owner_of_children = owner.clone();
            if node.kind == EntityKind::Segment {
                let key = NodeKey {
                    name: node.name().to_owned(),
                    kind: NodeKind::Service { origin: node.origin().map(str::to_owned) },
                };
                self.record(&key, node, owner.as_ref());
                owner_of_children = Some(key);
            } else if node.is_remote() && !node.children.iter().any(|c| c.kind == EntityKind::Segment) {
                // A call answered by a traced service is drawn as an edge to that service.
                let key = NodeKey {
                    name: node.name().to_owned(),
                    kind: NodeKind::Remote { namespace: node.namespace().unwrap_or_default().to_owned() },
                };
                self.record(&key, node, owner.as_ref());
            }
            for child in node.children.iter().rev() {
                stack.push((child, owner_of_children.clone()));
            }
        }
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

#[cfg(test)]
#[path = "service_map_tests.rs"]
mod tests;
