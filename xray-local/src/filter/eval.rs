//! Evaluates a parsed expression against one assembled trace.
//!
//! Trace-level keywords read the root segment, as X-Ray's do; `service()` and `edge()` test the
//! nodes of the trace's service map, each against the filter in braces.

use serde_json::Value;

use super::keyword::Key;
use super::lexer::Sym;
use super::parser::{Expr, Lit, Op, Target, Test};
use crate::trace::{EntityKind, Node, Trace};

/// A value a keyword has in a trace or on a node.
#[derive(Clone, Copy, Debug)]
enum Val<'a> {
    Bool(bool),
    Num(f64),
    Str(&'a str),
}

/// A node of the trace's service map: a service's segment, or an inferred node for a call to a
/// resource that sent no segment of its own (namespace `remote` or `aws`).
struct Entity<'a> {
    node: &'a Node,
    inferred: bool,
    /// The service type: a segment's `origin`; for inferred nodes `AWS::<name>` (namespace
    /// `aws`), `Database::SQL` (calls with a `sql` block) or `remote`.
    kind: Option<String>,
    /// The entity (index into [`View::entities`]) of the service that made the call.
    caller: Option<usize>,
}

/// What evaluation reads from one trace, gathered once per trace.
pub(super) struct View<'a> {
    nodes: Vec<&'a Node>,
    root: Option<&'a Node>,
    entities: Vec<Entity<'a>>,
}

impl<'a> View<'a> {
    /// Gathers the trace's nodes and root; the service-map nodes only when `services` is set.
    pub(super) fn new(trace: &'a Trace, services: bool) -> Self {
        let segment_roots = || trace.roots.iter().filter(|n| n.kind == EntityKind::Segment);
        // The entry point: a root segment with no parent_id, else any root segment (whose caller
        // was not traced, such as a browser).
        let root = segment_roots().find(|n| n.parent_id().is_none()).or_else(|| segment_roots().next());
        let entities = if services { entities(trace) } else { Vec::new() };
        View { nodes: trace.nodes(), root, entities }
    }
}

fn is_inferred(node: &Node) -> bool {
    node.is_remote() && !node.children.iter().any(|c| c.kind == EntityKind::Segment)
}

/// The service-map nodes of a trace, with who called whom; no recursion.
fn entities(trace: &Trace) -> Vec<Entity<'_>> {
    let mut out = Vec::new();
    let mut stack: Vec<(&Node, Option<usize>)> = trace.roots.iter().rev().map(|n| (n, None)).collect();
    while let Some((node, owner)) = stack.pop() {
        let mut owner_of_children = owner;
        if node.kind == EntityKind::Segment {
            out.push(Entity { node, inferred: false, kind: node.origin().map(str::to_owned), caller: owner });
            owner_of_children = Some(out.len() - 1);
        } else if is_inferred(node) {
            let kind = match node.namespace() {
                Some("aws") => format!("AWS::{}", node.name()),
                _ if node.doc.get("sql").is_some() => "Database::SQL".to_owned(),
                _ => "remote".to_owned(),
            };
            out.push(Entity { node, inferred: true, kind: Some(kind), caller: owner });
        }
        for child in node.children.iter().rev() {
            stack.push((child, owner_of_children));
        }
    }
    out
}

/// Where keywords are read: the whole trace, or one service-map node inside `{ }`.
#[derive(Clone, Copy)]
enum Scope<'v, 'a> {
    Trace,
    Entity(&'v Entity<'a>),
}

/// Whether the expression holds for the trace.
pub(super) fn eval(expr: &Expr, view: &View<'_>) -> bool {
    eval_in(expr, view, Scope::Trace)
}

// Recursion follows the expression tree, whose depth the parser bounds (MAX_DEPTH).
fn eval_in(expr: &Expr, view: &View<'_>, scope: Scope<'_, '_>) -> bool {
    match expr {
        Expr::And(parts) => parts.iter().all(|p| eval_in(p, view, scope)),
        Expr::Or(parts) => parts.iter().any(|p| eval_in(p, view, scope)),
        Expr::Not(inner) => !eval_in(inner, view, scope),
        Expr::Test(test) => any_value(&test.key, view, scope, &mut |v| compare(v, test)),
        Expr::Service { target, filter } => view
            .entities
            .iter()
            .any(|e| matches_target(target, e) && filter.as_ref().is_none_or(|f| eval_in(f, view, Scope::Entity(e)))),
        Expr::Edge { from, to, filter } => view.entities.iter().any(|e| {
            e.caller.is_some_and(|c| matches_target(from, &view.entities[c]))
                && matches_target(to, e)
                && filter.as_ref().is_none_or(|f| eval_in(f, view, Scope::Entity(e)))
        }),
    }
}

fn matches_target(target: &Target, entity: &Entity<'_>) -> bool {
    target.name.as_deref().is_none_or(|name| entity.node.str_field(&["name"]) == Some(name))
        && target.kind.as_ref().is_none_or(|kind| entity.kind.as_ref() == Some(kind))
}

/// An entity and its subsegments, down to (not into) the segments of services it calls.
fn own_nodes(node: &Node) -> Vec<&Node> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        out.push(n);
        stack.extend(n.children.iter().filter(|c| c.kind == EntityKind::Subsegment));
    }
    out
}

fn str_at<'a>(node: &'a Node, pointer: &str) -> Option<&'a str> {
    node.doc.pointer(pointer).and_then(Value::as_str)
}

fn ok(node: &Node) -> bool {
    !node.error() && !node.fault() && !node.throttle()
}

/// The document field a string keyword reads on one node.
fn string_field(key: &Key) -> Option<&'static str> {
    Some(match key {
        Key::HttpUrl => "/http/request/url",
        Key::HttpMethod => "/http/request/method",
        Key::HttpUserAgent => "/http/request/user_agent",
        Key::HttpClientIp => "/http/request/client_ip",
        Key::User => "/user",
        Key::AvailabilityZone => "/aws/ec2/availability_zone",
        Key::InstanceId => "/aws/ec2/instance_id",
        Key::ResourceArn => "/resource_arn",
        _ => return None,
    })
}

/// Annotation values and exception messages on one node, offered to `pred`.
fn node_values<'a>(key: &Key, node: &'a Node, pred: &mut dyn FnMut(Val<'a>) -> bool) -> bool {
    match key {
        Key::Annotation(name) => match node.doc.get("annotations").and_then(|a| a.get(name)) {
            Some(Value::Bool(b)) => pred(Val::Bool(*b)),
            Some(Value::Number(n)) => n.as_f64().is_some_and(|n| pred(Val::Num(n))),
            Some(Value::String(s)) => pred(Val::Str(s)),
            _ => false,
        },
        Key::Message => (node.doc.pointer("/cause/exceptions").and_then(Value::as_array).into_iter().flatten())
            .filter_map(|e| e.get("message").and_then(Value::as_str))
            .any(|m| pred(Val::Str(m))),
        _ => string_field(key).and_then(|p| str_at(node, p)).is_some_and(|s| pred(Val::Str(s))),
    }
}

/// Whether any value the keyword has in the scope satisfies `pred`. Keywords without a value
/// (no root segment, no such field) satisfy nothing.
fn any_value<'a>(key: &Key, view: &View<'a>, scope: Scope<'_, 'a>, pred: &mut dyn FnMut(Val<'_>) -> bool) -> bool {
    let secs = |ms: Option<f64>| ms.map(|ms| Val::Num(ms / 1000.0));
    let node = match scope {
        Scope::Trace => view.root,
        Scope::Entity(e) => Some(e.node),
    };
    let one = match key {
        Key::Ok => Some(Val::Bool(node.is_some_and(ok))),
        Key::Error => Some(Val::Bool(node.is_some_and(Node::error))),
        Key::Fault => Some(Val::Bool(node.is_some_and(Node::fault))),
        Key::Throttle => Some(Val::Bool(node.is_some_and(Node::throttle))),
        Key::Root => Some(Val::Bool(match scope {
            Scope::Trace => view.root.is_some(),
            Scope::Entity(e) => view.root.is_some_and(|r| std::ptr::eq(r, e.node)),
        })),
        Key::Inferred => Some(Val::Bool(match scope {
            Scope::Trace => view.nodes.iter().any(|n| is_inferred(n)),
            Scope::Entity(e) => e.inferred,
        })),
        Key::Partial => Some(Val::Bool(match scope {
            Scope::Trace => view.nodes.iter().any(|n| n.in_progress()),
            Scope::Entity(e) => own_nodes(e.node).iter().any(|n| n.in_progress()),
        })),
        Key::ResponseTime => secs(node.and_then(Node::duration_ms)),
        Key::Duration => secs(match scope {
            Scope::Trace => trace_duration_ms(view),
            Scope::Entity(e) => e.node.duration_ms(),
        }),
        Key::HttpStatus => node.and_then(Node::http_status).map(Val::Num),
        Key::Name => node.and_then(|n| n.str_field(&["name"])).map(Val::Str),
        Key::Type => match scope {
            Scope::Trace => view.root.and_then(Node::origin).map(Val::Str),
            Scope::Entity(e) => e.kind.as_deref().map(Val::Str),
        },
        Key::HttpUrl | Key::HttpMethod | Key::HttpUserAgent | Key::HttpClientIp => {
            node.and_then(|n| string_field(key).and_then(|p| str_at(n, p))).map(Val::Str)
        }
        // The rest may have many values: any segment's user, any entity's annotation.
        Key::User | Key::AvailabilityZone | Key::InstanceId | Key::ResourceArn | Key::Message | Key::Annotation(_) => {
            return match scope {
                Scope::Trace => view.nodes.iter().any(|n| node_values(key, n, &mut |v| pred(v))),
                Scope::Entity(e) if matches!(key, Key::Message | Key::Annotation(_)) => {
                    own_nodes(e.node).iter().any(|n| node_values(key, n, &mut |v| pred(v)))
                }
                Scope::Entity(e) => node_values(key, e.node, &mut |v| pred(v)),
            };
        }
    };
    one.is_some_and(pred)
}

/// From the first start to the last end in the trace (entities in progress count with their start).
fn trace_duration_ms(view: &View<'_>) -> Option<f64> {
    let start = view.nodes.iter().filter_map(|n| n.start_time()).min_by(f64::total_cmp)?;
    let end = view.nodes.iter().filter_map(|n| n.end_time().or(n.start_time())).max_by(f64::total_cmp)?;
    Some((end - start) * 1000.0)
}

fn compare(value: Val<'_>, test: &Test) -> bool {
    let Some((op, lit)) = &test.cmp else {
        // A bare keyword: a boolean's value, otherwise whether it is set at all.
        return match value {
            Val::Bool(b) => b,
            _ => true,
        };
    };
    match (lit, value) {
        (Lit::Bool(want), Val::Bool(have)) => match op {
            Op::Sym(Sym::Ne) => have != *want,
            _ => have == *want,
        },
        (Lit::Num(want), Val::Num(have)) => match op {
            Op::Sym(Sym::Eq) => have == *want,
            Op::Sym(Sym::Ne) => have != *want,
            Op::Sym(Sym::Lt) => have < *want,
            Op::Sym(Sym::Le) => have <= *want,
            Op::Sym(Sym::Gt) => have > *want,
            Op::Sym(Sym::Ge) => have >= *want,
            _ => false,
        },
        (Lit::Str(want), Val::Str(have)) => match op {
            Op::Sym(Sym::Eq) => have == want,
            Op::Sym(Sym::Ne) => have != want,
            Op::Contains => have.contains(want.as_str()),
            Op::BeginsWith => have.starts_with(want.as_str()),
            Op::EndsWith => have.ends_with(want.as_str()),
            _ => false,
        },
        // Values of another type (a string annotation compared with a number) never match.
        _ => false,
    }
}
