//! What the query API says about one trace: its services, entry point, HTTP block, flags and
//! annotations, read from the assembled tree.

use serde_json::{Map, Value, json};

use crate::service_map::{NodeKey, NodeKind, for_each_node};
use crate::trace::{EntityKind, Node, Trace};

/// The `Type` X-Ray gives a node: the segment's origin, `remote`, or `AWS::<name>` for AWS calls.
pub(crate) fn service_type(key: &NodeKey) -> Option<String> {
    match &key.kind {
        NodeKind::Service { origin } => origin.clone(),
        NodeKind::Remote { namespace } if namespace == "aws" => Some(format!("AWS::{}", key.name)),
        NodeKind::Remote { namespace } => Some(namespace.clone()),
    }
}

/// A `ServiceId`: `Name`, `Names` and, when known, `Type`.
pub(crate) fn service_id(key: &NodeKey) -> Value {
    let mut id = json!({"Name": key.name, "Names": [key.name]});
    if let Some(kind) = service_type(key) {
        id["Type"] = json!(kind);
    }
    id
}

/// The trace's entry point: its earliest root segment.
pub(crate) fn root_segment(trace: &Trace) -> Option<&Node> {
    trace.roots.iter().find(|n| n.kind == EntityKind::Segment)
}

/// The `TraceSummary` of a trace.
pub(crate) fn summary(trace: &Trace) -> Value {
    let nodes = trace.nodes();
    let root = root_segment(trace);
    let mut out = Map::new();
    out.insert("Id".into(), json!(trace.trace_id));
    if let Some(start) = trace.start_time() {
        out.insert("StartTime".into(), json!(start));
    }
    if let Some(ms) = trace.duration_ms() {
        out.insert("Duration".into(), json!(ms / 1000.0));
    }
    if let Some(ms) = root.and_then(Node::duration_ms) {
        out.insert("ResponseTime".into(), json!(ms / 1000.0));
    }
    // As the service documents them: error and fault are the root segment's (what the caller
    // saw, the same as the filter keywords `error` and `fault`), throttle and partial any
    // document's.
    out.insert("HasFault".into(), json!(root.is_some_and(Node::fault)));
    out.insert("HasError".into(), json!(root.is_some_and(Node::error)));
    out.insert("HasThrottle".into(), json!(nodes.iter().any(|n| n.throttle())));
    out.insert("IsPartial".into(), json!(nodes.iter().any(|n| n.in_progress())));
    if let Some(root) = root {
        out.insert("Http".into(), http(root));
        let key = NodeKey {
            name: root.name().to_owned(),
            kind: NodeKind::Service { origin: root.origin().map(str::to_owned) },
        };
        out.insert("EntryPoint".into(), service_id(&key));
    }
    let mut services: Vec<NodeKey> = Vec::new();
    for_each_node(trace, |key, _, _| {
        if !services.contains(key) {
            services.push(key.clone());
        }
    });
    out.insert("ServiceIds".into(), services.iter().map(service_id).collect());
    let owned = owners(trace);
    out.insert("Annotations".into(), annotations(&owned));
    out.insert("Users".into(), users(&owned));
    let strings = |pointer: &str| -> Vec<&str> {
        let mut found: Vec<&str> = Vec::new();
        for node in &nodes {
            if let Some(s) = node.doc.pointer(pointer).and_then(Value::as_str)
                && !found.contains(&s)
            {
                found.push(s);
            }
        }
        found
    };
    out.insert("InstanceIds".into(), strings("/aws/ec2/instance_id").iter().map(|id| json!({"Id": id})).collect());
    out.insert(
        "AvailabilityZones".into(),
        strings("/aws/ec2/availability_zone").iter().map(|az| json!({"Name": az})).collect(),
    );
    out.insert("ResourceARNs".into(), strings("/resource_arn").iter().map(|arn| json!({"ARN": arn})).collect());
    out.insert("Revision".into(), json!(1));
    Value::Object(out)
}

/// The `Http` block of a summary: the entry segment's request and response.
fn http(root: &Node) -> Value {
    let mut out = Map::new();
    let text = |pointer: &str| root.doc.pointer(pointer).and_then(Value::as_str).map(|s| json!(s));
    for (field, pointer) in [
        ("HttpURL", "/http/request/url"),
        ("HttpMethod", "/http/request/method"),
        ("UserAgent", "/http/request/user_agent"),
        ("ClientIp", "/http/request/client_ip"),
    ] {
        if let Some(v) = text(pointer) {
            out.insert(field.into(), v);
        }
    }
    if let Some(status) = root.doc.pointer("/http/response/status").and_then(Value::as_i64) {
        out.insert("HttpStatus".into(), json!(status));
    }
    Value::Object(out)
}

/// Every entity with the service (segment) it belongs to.
fn owners(trace: &Trace) -> Vec<(&Node, NodeKey)> {
    let mut out = Vec::new();
    let mut stack: Vec<(&Node, Option<NodeKey>)> = trace.roots.iter().rev().map(|n| (n, None)).collect();
    while let Some((node, owner)) = stack.pop() {
        let owner = match (node.kind, owner) {
            (EntityKind::Segment, _) | (_, None) => NodeKey {
                name: node.name().to_owned(),
                kind: NodeKind::Service { origin: node.origin().map(str::to_owned) },
            },
            (_, Some(owner)) => owner,
        };
        for child in node.children.iter().rev() {
            stack.push((child, Some(owner.clone())));
        }
        out.push((node, owner));
    }
    out
}

/// An annotation key's distinct values, each with the services that recorded it.
type Values = Vec<(Value, Vec<NodeKey>)>;

/// `Annotations`: each key with its distinct values and the services that recorded them.
fn annotations(owned: &[(&Node, NodeKey)]) -> Value {
    let mut by_key: Vec<(String, Values)> = Vec::new();
    for (node, owner) in owned {
        let Some(Value::Object(map)) = node.doc.get("annotations") else { continue };
        for (key, value) in map {
            let value = match value {
                Value::Bool(b) => json!({"BooleanValue": b}),
                Value::Number(n) => json!({"NumberValue": n.as_f64()}),
                Value::String(s) => json!({"StringValue": s}),
                _ => continue,
            };
            let at = match by_key.iter().position(|(k, _)| k == key) {
                Some(at) => at,
                None => {
                    by_key.push((key.clone(), Vec::new()));
                    by_key.len() - 1
                }
            };
            let values = &mut by_key[at].1;
            match values.iter_mut().find(|(v, _)| *v == value) {
                Some((_, services)) if !services.contains(owner) => services.push(owner.clone()),
                Some(_) => {}
                None => values.push((value, vec![owner.clone()])),
            }
        }
    }
    let map: Map<String, Value> = (by_key.into_iter())
        .map(|(key, values)| {
            let list: Vec<Value> = (values.into_iter())
                .map(|(value, services)| {
                    json!({"AnnotationValue": value, "ServiceIds": services.iter().map(service_id).collect::<Vec<_>>()})
                })
                .collect();
            (key, Value::Array(list))
        })
        .collect();
    Value::Object(map)
}

/// `Users`: the segments' `user` fields with the services that set them.
fn users(owned: &[(&Node, NodeKey)]) -> Value {
    let mut found: Vec<(&str, Vec<NodeKey>)> = Vec::new();
    for (node, owner) in owned {
        let Some(user) = node.str_field(&["user"]) else { continue };
        match found.iter_mut().find(|(u, _)| *u == user) {
            Some((_, services)) if !services.contains(owner) => services.push(owner.clone()),
            Some(_) => {}
            None => found.push((user, vec![owner.clone()])),
        }
    }
    (found.into_iter())
        .map(|(user, services)| json!({"UserName": user, "ServiceIds": services.iter().map(service_id).collect::<Vec<_>>()}))
        .collect()
}
