//! [`Entity`], the handle code uses to record on the current segment or subsegment.
//!
//! Unsampled and missing entities carry no document: every operation on them is a no-op that
//! costs a branch. Sampled ones reach their open document in the trace's tree
//! ([`crate::trace`]).

use std::sync::Arc;

use serde::Serialize;

use crate::header::{SamplingFlag, TraceHeader};
use crate::id::{EntityId, TraceId};
use crate::log::log_limited;
use crate::model::{
    AnnotationOutcome, AnnotationValue, Cause, CauseDetails, DEFAULT_NAMESPACE, Exception, Http, HttpRequest,
    HttpResponse, Namespace, SegmentDocument, Sql,
};
use crate::segment::Subsegment;
use crate::trace::Node;
use crate::w3c::{Propagation, TraceParent};

/// An unsampled trace: enough to propagate its id downstream, and nothing to record.
#[derive(Clone)]
pub(crate) struct Unsampled {
    pub(crate) trace_id: TraceId,
    pub(crate) id: Option<EntityId>,
    pub(crate) extra: Option<Arc<str>>,
    /// The incoming W3C `tracestate`, passed on beside `traceparent`.
    pub(crate) tracestate: Option<Arc<str>>,
    /// The recorder's propagation, which travels with the trace.
    pub(crate) propagation: Propagation,
}

#[derive(Clone, Default)]
enum Repr {
    #[default]
    Noop,
    Unsampled(Unsampled),
    Node(Arc<Node>),
}

/// A handle to the current segment or subsegment, or to nothing (unsampled or no context).
///
/// Cloning is cheap. Everything recorded through an entity that is unsampled, missing or
/// already ended is silently ignored, so instrumentation code never needs to check.
///
/// ```
/// # use xray_core::Entity;
/// let e = Entity::noop();
/// e.annotate("user_id", 42); // no-op, no panic
/// assert!(!e.is_sampled());
/// ```
#[derive(Clone, Default)]
pub struct Entity(Repr);

impl Entity {
    /// An entity that records nothing.
    pub const fn noop() -> Self {
        Self(Repr::Noop)
    }

    pub(crate) fn from_node(node: Arc<Node>) -> Self {
        Self(Repr::Node(node))
    }

    pub(crate) fn unsampled(u: Unsampled) -> Self {
        Self(Repr::Unsampled(u))
    }

    /// `true` for the no-op entity (no trace at all).
    pub fn is_noop(&self) -> bool {
        matches!(self.0, Repr::Noop)
    }

    /// `true` when this entity's trace is being recorded.
    pub fn is_sampled(&self) -> bool {
        matches!(self.0, Repr::Node(_))
    }

    /// `true` while the entity is sampled and has not ended.
    pub fn is_recording(&self) -> bool {
        match &self.0 {
            Repr::Node(n) => n.lock().is_some(),
            _ => false,
        }
    }

    /// The trace id, sampled or not.
    pub fn trace_id(&self) -> Option<TraceId> {
        match &self.0 {
            Repr::Noop => None,
            Repr::Unsampled(u) => Some(u.trace_id),
            Repr::Node(n) => Some(n.trace().trace_id),
        }
    }

    /// The entity's id (unsampled entities have one only with `AWS_XRAY_NOOP_ID=false`).
    pub fn id(&self) -> Option<EntityId> {
        match &self.0 {
            Repr::Noop => None,
            Repr::Unsampled(u) => u.id,
            Repr::Node(n) => Some(n.id),
        }
    }

    /// Whether the recorder that began this entity's trace allows SQL text in `sanitized_query`
    /// (`AWS_XRAY_COLLECT_SQL_QUERIES`); `false` for unsampled and missing entities.
    pub fn collect_sql_queries(&self) -> bool {
        match &self.0 {
            Repr::Node(n) => n.trace().settings.collect_sql_queries,
            _ => false,
        }
    }

    /// The header to send downstream: `Root`, `Parent` = this entity, `Sampled=1`, and the
    /// incoming extra keys; for an unsampled trace `Root`, `Sampled=0` and no parent.
    ///
    /// ```
    /// # use xray_core::Entity;
    /// assert!(Entity::noop().downstream_header().is_none());
    /// ```
    pub fn downstream_header(&self) -> Option<TraceHeader> {
        match &self.0 {
            Repr::Noop => None,
            Repr::Unsampled(u) => Some(TraceHeader::from_parts(
                u.trace_id,
                None,
                SamplingFlag::NotSampled,
                u.extra.as_deref().unwrap_or(""),
            )),
            Repr::Node(n) => {
                Some(TraceHeader::from_parts(n.trace().trace_id, Some(n.id), SamplingFlag::Sampled, &n.trace().extra))
            }
        }
    }

    /// The W3C `traceparent` to send downstream: the same trace, this entity as the parent and
    /// the `sampled` flag set; for an unsampled trace the flag is clear, and the parent is the
    /// entity's id or, without one (`AWS_XRAY_NOOP_ID`), a fresh random span id, since
    /// `traceparent` cannot go without one.
    ///
    /// ```
    /// # use xray_core::Entity;
    /// assert!(Entity::noop().downstream_traceparent().is_none());
    /// ```
    pub fn downstream_traceparent(&self) -> Option<TraceParent> {
        match &self.0 {
            Repr::Noop => None,
            Repr::Unsampled(u) => Some(TraceParent {
                trace_id: u.trace_id,
                parent_id: u.id.unwrap_or_else(EntityId::new),
                sampled: false,
            }),
            Repr::Node(n) => Some(TraceParent { trace_id: n.trace().trace_id, parent_id: n.id, sampled: true }),
        }
    }

    /// The W3C `tracestate` that came in with this entity's trace, passed on beside
    /// `traceparent`.
    pub fn tracestate(&self) -> Option<&str> {
        match &self.0 {
            Repr::Noop => None,
            Repr::Unsampled(u) => u.tracestate.as_deref(),
            Repr::Node(n) => n.trace().tracestate.as_deref(),
        }
    }

    /// Which trace headers outgoing calls of this entity's trace carry: the propagation of the
    /// recorder that began the trace ([`Propagation::Off`] outside a trace).
    pub fn propagation(&self) -> Propagation {
        match &self.0 {
            Repr::Noop => Propagation::Off,
            Repr::Unsampled(u) => u.propagation,
            Repr::Node(n) => n.trace().settings.propagation,
        }
    }

    /// Runs `f` on the open document; does nothing for unsampled, missing or ended entities.
    pub fn with_document<R>(&self, f: impl FnOnce(&mut SegmentDocument) -> R) -> Option<R> {
        match &self.0 {
            Repr::Node(n) => n.lock().as_mut().map(f),
            _ => None,
        }
    }

    /// Adds an indexed annotation. Keys outside `[A-Za-z0-9_]` are rewritten, at most 50 are
    /// kept, and non-finite floats are refused (each logged, rate-limited).
    pub fn annotate(&self, key: &str, value: impl Into<AnnotationValue>) {
        if !self.is_sampled() {
            return;
        }
        let value = value.into();
        match self.with_document(|d| d.annotations.insert(key, value)) {
            Some(AnnotationOutcome::Rewritten) => {
                log_limited!(Warn, key, "X-Ray annotation key or value rewritten to fit X-Ray's rules")
            }
            Some(AnnotationOutcome::TooMany) => {
                log_limited!(Warn, key, "X-Ray annotation dropped: an entity keeps at most 50")
            }
            Some(AnnotationOutcome::Invalid) => {
                log_limited!(Warn, key, "X-Ray annotation dropped: empty key or non-finite number")
            }
            Some(AnnotationOutcome::Stored) | None => {}
        }
    }

    /// Adds metadata under the `default` namespace.
    pub fn add_metadata(&self, key: &str, value: impl Serialize) {
        self.add_metadata_in(DEFAULT_NAMESPACE, key, value);
    }

    /// Adds metadata under `namespace` (the `AWS.` namespaces are reserved and refused).
    pub fn add_metadata_in(&self, namespace: &str, key: &str, value: impl Serialize) {
        if !self.is_sampled() {
            return;
        }
        let value = match serde_json::to_value(value) {
            Ok(v) => v,
            Err(err) => {
                log_limited!(Warn, key, %err, "X-Ray metadata dropped: value does not serialize");
                return;
            }
        };
        if self.with_document(|d| d.metadata.insert(namespace, key, value)) == Some(false) {
            log_limited!(Warn, namespace, "X-Ray metadata dropped: the AWS. namespaces are reserved");
        }
    }

    /// Sets the user on the segment this entity belongs to.
    pub fn set_user(&self, user: &str) {
        if let Repr::Node(n) = &self.0
            && let Some(doc) = n.root().lock().as_mut()
        {
            doc.user = Some(user.to_owned());
        }
    }

    /// Marks a client error.
    pub fn set_error(&self) {
        self.with_document(|d| d.error = true);
    }

    /// Marks a server error.
    pub fn set_fault(&self) {
        self.with_document(|d| d.fault = true);
    }

    /// Marks throttling (also an error, as X-Ray reports 429).
    pub fn set_throttle(&self) {
        self.with_document(|d| {
            d.error = true;
            d.throttle = true;
        });
    }

    /// Records an error and its `source()` chain as the cause of a fault.
    pub fn record_error(&self, err: &(dyn std::error::Error + 'static)) {
        self.record_error_inner(err, false);
    }

    /// Records an error that came from a downstream service (`remote: true`) as a fault.
    pub fn record_remote_error(&self, err: &(dyn std::error::Error + 'static)) {
        self.record_error_inner(err, true);
    }

    fn record_error_inner(&self, err: &(dyn std::error::Error + 'static), remote: bool) {
        if !self.is_sampled() {
            return;
        }
        let cause = Cause::from_error(err, remote);
        self.with_document(|d| {
            d.fault = true;
            d.cause = Some(Box::new(cause));
        });
    }

    /// Appends an exception to the cause (making the cause a list of exceptions if needed).
    pub fn add_exception(&self, exception: Exception) {
        self.with_document(|d| match d.cause.as_deref_mut() {
            Some(Cause::Details(details)) => details.exceptions.push(exception),
            _ => {
                d.cause =
                    Some(Box::new(Cause::Details(CauseDetails { exceptions: vec![exception], ..Default::default() })))
            }
        });
    }

    /// Sets the cause.
    pub fn set_cause(&self, cause: Cause) {
        self.with_document(|d| d.cause = Some(Box::new(cause)));
    }

    /// Records the HTTP request (fields cut to 250 characters).
    pub fn set_http_request(&self, mut request: HttpRequest) {
        if !self.is_sampled() {
            return;
        }
        request.truncate_fields();
        self.with_document(|d| d.http.get_or_insert_with(Http::default).request = Some(request));
    }

    /// Records the HTTP response and sets error, fault or throttle from its status.
    pub fn set_http_response(&self, response: HttpResponse) {
        self.with_document(|d| {
            if let Some(status) = response.status {
                d.apply_status(status);
            }
            d.http.get_or_insert_with(Http::default).response = Some(response);
        });
    }

    /// Records a SQL query.
    pub fn set_sql(&self, sql: Sql) {
        self.with_document(|d| d.sql = Some(Box::new(sql)));
    }

    /// Sets the namespace (`remote` for HTTP and SQL calls, `aws` for AWS calls).
    pub fn set_namespace(&self, namespace: Namespace) {
        self.with_document(|d| d.namespace = Some(namespace));
    }

    /// Opens a subsegment under this entity. Unsampled and missing entities give a subsegment
    /// that records nothing.
    pub fn begin_subsegment(&self, name: &str) -> Subsegment {
        let entity = match &self.0 {
            Repr::Node(parent) => Entity(Repr::Node(Node::new_child(parent, name))),
            other => Entity(other.clone()),
        };
        Subsegment::new(entity)
    }

    /// The open node of a sampled entity.
    pub(crate) fn node(&self) -> Option<&Arc<Node>> {
        match &self.0 {
            Repr::Node(n) => Some(n),
            _ => None,
        }
    }

    /// Ends a sampled entity (see [`Node::finish`]).
    pub(crate) fn finish(&self) {
        if let Repr::Node(n) = &self.0 {
            n.finish();
        }
    }
}

impl std::fmt::Debug for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Noop => f.write_str("Entity(noop)"),
            Repr::Unsampled(u) => write!(f, "Entity(unsampled {})", u.trace_id),
            Repr::Node(n) => write!(f, "Entity({} in {})", n.id, n.trace().trace_id),
        }
    }
}
