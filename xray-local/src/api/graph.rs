//! `GetServiceGraph` (`POST /ServiceGraph`) and `GetTraceGraph` (`POST /TraceGraph`): services
//! with their edges, summary statistics and response-time histograms, counted the way the
//! service map counts ([`for_each_node`]).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::summaries::id_epoch;
use super::{ApiError, Ctx, Input, facts, json};
use crate::service_map::{NodeKey, for_each_node};
use crate::trace::{Node, Trace};

/// `POST /ServiceGraph`.
pub(crate) async fn service_graph(State(ctx): Ctx, body: Bytes) -> Result<Response, ApiError> {
    let input = Input::parse("GetServiceGraph", &body)?;
    let start = input.required_time("StartTime")?;
    let end = input.required_time("EndTime")?;
    if end < start {
        return Err(ApiError::invalid(format!("GetServiceGraph: EndTime ({end}) is before StartTime ({start})")));
    }
    no_token(&input)?;
    let traces = ctx.shared.with_state(|s| s.traces());
    let mut graph = Graph::default();
    for stored in &traces {
        let t = stored.trace.start_time().or_else(|| id_epoch(&stored.trace.trace_id));
        if t.is_some_and(|t| start <= t && t <= end) {
            graph.add(&stored.trace);
        }
    }
    Ok(json(&json!({
        "StartTime": start,
        "EndTime": end,
        "Services": graph.services(),
        "ContainsOldGroupVersions": false,
    })))
}

/// `POST /TraceGraph`.
pub(crate) async fn trace_graph(State(ctx): Ctx, body: Bytes) -> Result<Response, ApiError> {
    let input = Input::parse("GetTraceGraph", &body)?;
    let ids = input.required_strings("TraceIds")?;
    no_token(&input)?;
    let found: Vec<_> = ctx.shared.with_state(|s| ids.iter().filter_map(|id| s.store().get(id)).collect());
    let mut graph = Graph::default();
    for stored in &found {
        graph.add(&stored.trace);
    }
    Ok(json(&json!({"Services": graph.services()})))
}

/// Every answer fits one page, so the only valid token is none.
fn no_token(input: &Input) -> Result<(), ApiError> {
    match input.string("NextToken")? {
        None => Ok(()),
        Some(text) => Err(ApiError::invalid(format!(
            "{}: NextToken {text:?} was not issued by this operation (its answers fit one page)",
            input.operation()
        ))),
    }
}

/// Counts of one node or edge.
#[derive(Debug, Default)]
struct Stats {
    ok: u64,
    errors: u64,
    throttles: u64,
    faults: u64,
    total: u64,
    total_time: f64,
    /// Response times rounded to two significant digits (in microseconds), with counts: the
    /// histogram stays small however many requests there are.
    histogram: BTreeMap<u64, u64>,
    start: Option<f64>,
    end: Option<f64>,
}

impl Stats {
    fn record(&mut self, node: &Node) {
        self.total += 1;
        let (error, throttle, fault) = (node.error(), node.throttle(), node.fault());
        self.errors += u64::from(error);
        self.throttles += u64::from(throttle);
        self.faults += u64::from(fault);
        self.ok += u64::from(!error && !throttle && !fault);
        if let Some(ms) = node.duration_ms().filter(|ms| ms.is_finite() && *ms >= 0.0) {
            self.total_time += ms / 1000.0;
            *self.histogram.entry(bucket_us(ms * 1000.0)).or_default() += 1;
        }
        if let Some(t) = node.start_time() {
            self.start = Some(self.start.map_or(t, |s| s.min(t)));
        }
        if let Some(t) = node.end_time().or(node.start_time()) {
            self.end = Some(self.end.map_or(t, |e| e.max(t)));
        }
    }

    fn statistics(&self) -> Value {
        json!({
            "OkCount": self.ok,
            "ErrorStatistics": {
                "ThrottleCount": self.throttles,
                "OtherCount": self.errors.saturating_sub(self.throttles),
                "TotalCount": self.errors,
            },
            "FaultStatistics": {"OtherCount": self.faults, "TotalCount": self.faults},
            "TotalCount": self.total,
            "TotalResponseTime": self.total_time,
        })
    }

    fn histogram(&self) -> Value {
        (self.histogram.iter()).map(|(us, count)| json!({"Value": *us as f64 / 1e6, "Count": count})).collect()
    }

    fn times(&self, out: &mut Value) {
        if let Some(start) = self.start {
            out["StartTime"] = json!(start);
        }
        if let Some(end) = self.end {
            out["EndTime"] = json!(end);
        }
    }
}

/// Rounds microseconds to two significant digits.
fn bucket_us(us: f64) -> u64 {
    let us = us.round().max(0.0) as u64;
    let mut scale = 1;
    while us / scale >= 100 {
        scale *= 10;
    }
    // Round half up at the kept digits.
    ((us + scale / 2) / scale) * scale
}

#[derive(Debug, Default)]
struct ServiceAcc {
    key: Option<NodeKey>,
    root: bool,
    stats: Stats,
    /// Edges by callee index.
    edges: BTreeMap<usize, Stats>,
}

/// Services and edges accumulated over traces.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    services: Vec<ServiceAcc>,
}

impl Graph {
    fn index(&mut self, key: &NodeKey) -> usize {
        match self.services.iter().position(|s| s.key.as_ref() == Some(key)) {
            Some(at) => at,
            None => {
                self.services.push(ServiceAcc { key: Some(key.clone()), ..ServiceAcc::default() });
                self.services.len() - 1
            }
        }
    }

    /// Adds a trace's nodes and calls.
    pub(crate) fn add(&mut self, trace: &Trace) {
        for_each_node(trace, |key, node, caller| {
            let at = self.index(key);
            self.services[at].stats.record(node);
            match caller {
                None => self.services[at].root = true,
                Some(caller) => {
                    let from = self.index(caller);
                    self.services[from].edges.entry(at).or_default().record(node);
                }
            }
        });
    }

    /// The `Services` list, `ReferenceId` being the position.
    pub(crate) fn services(&self) -> Vec<Value> {
        (self.services.iter().enumerate())
            .filter_map(|(i, s)| {
                let key = s.key.as_ref()?;
                let edges: Vec<Value> = (s.edges.iter())
                    .map(|(to, stats)| {
                        let mut edge = json!({
                            "ReferenceId": to,
                            "SummaryStatistics": stats.statistics(),
                            "ResponseTimeHistogram": stats.histogram(),
                            "Aliases": [],
                        });
                        stats.times(&mut edge);
                        edge
                    })
                    .collect();
                let mut service = json!({
                    "ReferenceId": i,
                    "Name": key.name,
                    "Names": [key.name],
                    "Root": s.root,
                    "State": "active",
                    "Edges": edges,
                    "SummaryStatistics": s.stats.statistics(),
                    "DurationHistogram": s.stats.histogram(),
                    "ResponseTimeHistogram": s.stats.histogram(),
                });
                if let Some(kind) = facts::service_type(key) {
                    service["Type"] = json!(kind);
                }
                s.stats.times(&mut service);
                Some(service)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

    #[test]
    fn buckets_keep_two_significant_digits() {
        let cases =
            [(0.0, 0), (7.4, 7), (99.0, 99), (123.0, 120), (125.0, 130), (98_765.0, 99_000), (1_000_000.0, 1_000_000)];
        for (us, want) in cases {
            assert_eq!(bucket_us(us), want, "{us}");
        }
    }

    #[test]
    fn services_edges_and_statistics() {
        let a = json!({"name": "A", "id": "a000000000000001", "trace_id": TRACE, "start_time": 10.0, "end_time": 10.2,
                       "subsegments": [
                         {"name": "B", "id": "a000000000000002", "namespace": "remote", "start_time": 10.01, "end_time": 10.11},
                         {"name": "db", "id": "a000000000000003", "namespace": "remote", "start_time": 10.12,
                          "end_time": 10.13, "fault": true}]});
        let b = json!({"name": "B", "id": "b000000000000001", "trace_id": TRACE, "parent_id": "a000000000000002",
                       "start_time": 10.02, "end_time": 10.1, "error": true, "throttle": true});
        let mut graph = Graph::default();
        graph.add(&Trace::from_documents(TRACE, &[a, b]));
        let services = graph.services();
        let names: Vec<&str> = services.iter().map(|s| s["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["A", "B", "db"]);
        assert_eq!(services[0]["Root"], true);
        assert_eq!(services[1]["Root"], false);
        let edges: Vec<u64> =
            (services[0]["Edges"].as_array().unwrap().iter()).map(|e| e["ReferenceId"].as_u64().unwrap()).collect();
        assert_eq!(edges, [1, 2]);
        let b_stats = &services[1]["SummaryStatistics"];
        assert_eq!(b_stats["ErrorStatistics"]["ThrottleCount"], 1);
        assert_eq!(b_stats["OkCount"], 0);
        assert_eq!(services[2]["SummaryStatistics"]["FaultStatistics"]["TotalCount"], 1);
        assert_eq!(services[2]["Type"], "remote");
        let hist = &services[0]["ResponseTimeHistogram"][0];
        assert_eq!((hist["Value"].as_f64(), hist["Count"].as_u64()), (Some(0.2), Some(1)));
        assert!((services[0]["SummaryStatistics"]["TotalResponseTime"].as_f64().unwrap() - 0.2).abs() < 1e-9);
    }
}
