//! Open segments and subsegments, and [`Entity`], the handle code uses to record on them.
//!
//! An open entity keeps its document behind its own mutex. When a subsegment ends, its finished
//! document moves into its parent's `subsegments`; if the parent has already ended, or the trace
//! already keeps more than the streaming threshold in memory, it is sent on its own as an
//! independent subsegment instead. When the segment ends, the whole tree goes to the emitter.
//! Unsampled and missing entities carry no document: every operation on them is a no-op that
//! costs a branch.

use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;

use crate::context;
use crate::header::{SamplingFlag, TraceHeader};
use crate::id::{EntityId, TraceId};
use crate::log::{log_event, log_limited};
use crate::model::{
    AnnotationOutcome, AnnotationValue, Cause, DEFAULT_NAMESPACE, DocumentType, Exception, Http, HttpRequest,
    HttpResponse, Namespace, SegmentDocument, Sql,
};
use crate::recorder::Recorder;
use crate::time::Timestamp;

/// What one trace shares between its open entities in this process.
pub(crate) struct Trace {
    pub(crate) recorder: Recorder,
    pub(crate) trace_id: TraceId,
    pub(crate) extra: Box<str>,
    kept_bytes: AtomicUsize,
}

impl Trace {
    pub(crate) fn new(recorder: Recorder, trace_id: TraceId, extra: &str) -> Self {
        Self { recorder, trace_id, extra: extra.into(), kept_bytes: AtomicUsize::new(0) }
    }

    /// Reserves room for `bytes` more in memory, unless that passes the streaming threshold.
    fn keep(&self, bytes: usize) -> bool {
        let limit = self.recorder.streaming_threshold();
        let before = self.kept_bytes.fetch_add(bytes, Ordering::Relaxed);
        if before + bytes <= limit {
            true
        } else {
            self.kept_bytes.fetch_sub(bytes, Ordering::Relaxed);
            false
        }
    }

    fn release(&self, bytes: usize) {
        let _ = self.kept_bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(bytes)));
    }
}

/// Where a node finds its trace's shared data.
enum TraceLink {
    /// A segment (or facade) holds it inline, saving an allocation per segment.
    Own(Trace),
    /// A subsegment reaches it through its segment's node, which its `parent` chain keeps
    /// alive anyway.
    Root(Arc<Node>),
}

/// One open segment or subsegment.
pub(crate) struct Node {
    link: TraceLink,
    parent: Option<Arc<Node>>,
    id: EntityId,
    /// `None` once the entity has ended.
    doc: Mutex<Option<SegmentDocument>>,
}

impl Node {
    /// A segment's node. The document is built inside the node and completed by `fill`
    /// there, rather than built first and then moved in (it is some 450 bytes).
    pub(crate) fn new_segment(trace: Trace, name: &str, fill: impl FnOnce(&mut SegmentDocument)) -> Arc<Self> {
        let id = EntityId::new();
        let mut node = Arc::new(Self {
            id,
            link: TraceLink::Own(trace),
            parent: None,
            doc: Mutex::new(Some(SegmentDocument::new(name, id, Timestamp::now()))),
        });
        // Nothing else holds the new node yet, so `get_mut` always succeeds.
        if let Some(node) = Arc::get_mut(&mut node)
            && let Some(doc) = node.doc.get_mut().unwrap_or_else(PoisonError::into_inner)
        {
            fill(doc);
        }
        node
    }

    /// A segment recorded elsewhere (AWS Lambda's function segment): it has an id that
    /// children name as their parent, and no document, so it is never emitted and every
    /// subsegment under it is sent on its own.
    pub(crate) fn new_facade(trace: Trace, id: EntityId) -> Arc<Self> {
        Arc::new(Self { id, link: TraceLink::Own(trace), parent: None, doc: Mutex::new(None) })
    }

    /// The trace this node belongs to.
    fn trace(&self) -> &Trace {
        match &self.link {
            TraceLink::Own(trace) => trace,
            // A root node always owns its trace, so this recursion is one step deep.
            TraceLink::Root(root) => root.trace(),
        }
    }

    /// The node that owns this node's trace: what a new child links to.
    fn trace_owner(self: &Arc<Self>) -> &Arc<Self> {
        match &self.link {
            TraceLink::Own(_) => self,
            TraceLink::Root(root) => root,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<SegmentDocument>> {
        self.doc.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn root(self: &Arc<Self>) -> &Arc<Self> {
        let mut node = self;
        while let Some(parent) = &node.parent {
            node = parent;
        }
        node
    }

    /// Ends the entity: a segment goes to the emitter, a subsegment into its parent.
    fn finish(&self) {
        let Some(mut doc) = self.lock().take() else {
            return;
        };
        doc.end_time = Some(Timestamp::now());
        let Some(parent) = &self.parent else {
            self.trace().recorder.emit(doc);
            return;
        };
        // Size the node without its children, then the children, so that no subtree is sized twice.
        let children = std::mem::take(&mut doc.subsegments);
        let own = doc.estimated_size();
        let total = own + children.iter().map(SegmentDocument::estimated_size).sum::<usize>();
        doc.subsegments = children;
        {
            let mut parent_doc = parent.lock();
            if let Some(parent_doc) = parent_doc.as_mut()
                && self.trace().keep(own)
            {
                parent_doc.subsegments.push(doc);
                return;
            }
        }
        // The parent is gone, or the trace holds enough: send this subtree on its own.
        self.trace().release(total - own);
        doc.kind = Some(DocumentType::Subsegment);
        doc.trace_id = Some(self.trace().trace_id);
        doc.parent_id = Some(parent.id);
        self.trace().recorder.emit(doc);
    }
}

/// An unsampled trace: enough to propagate its id downstream, and nothing to record.
#[derive(Clone)]
pub(crate) struct Unsampled {
    pub(crate) trace_id: TraceId,
    pub(crate) id: Option<EntityId>,
    pub(crate) extra: Option<Arc<str>>,
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

    /// The recorder of a sampled entity.
    pub fn recorder(&self) -> Option<&Recorder> {
        match &self.0 {
            Repr::Node(n) => Some(&n.trace().recorder),
            _ => None,
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
                d.cause = Some(Box::new(Cause::Details(crate::model::CauseDetails {
                    exceptions: vec![exception],
                    ..Default::default()
                })))
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
            Repr::Node(parent) => {
                let doc = SegmentDocument::new(name, EntityId::new(), Timestamp::now());
                Entity(Repr::Node(Arc::new(Node {
                    id: doc.id,
                    link: TraceLink::Root(parent.trace_owner().clone()),
                    parent: Some(parent.clone()),
                    doc: Mutex::new(Some(doc)),
                })))
            }
            other => Entity(other.clone()),
        };
        Subsegment { entity }
    }

    /// Runs synchronous `f` with this entity as the current one (for threads and
    /// `spawn_blocking`).
    ///
    /// ```
    /// # use xray_core::Entity;
    /// let e = Entity::noop();
    /// let n = std::thread::spawn(move || e.in_scope(|| 1 + 1)).join().unwrap();
    /// assert_eq!(n, 2);
    /// ```
    #[inline]
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        context::with_entity(self.clone(), f)
    }

    /// Makes this entity the current one until the guard is dropped, for synchronous code
    /// where a closure is awkward; [`in_scope`](Self::in_scope) is the closure form. Guards
    /// must be dropped in the reverse order of entering.
    ///
    /// ```
    /// # use xray_core::{AlwaysSample, NullEmitter, Recorder};
    /// let recorder = Recorder::builder().with_sampler(AlwaysSample).with_emitter(NullEmitter::default()).build().unwrap();
    /// let segment = recorder.new_segment("svc");
    /// {
    ///     let _entered = segment.entity().enter();
    ///     assert_eq!(xray_core::current_quiet().id(), segment.entity().id());
    /// }
    /// assert!(xray_core::current_quiet().is_noop());
    /// ```
    ///
    /// The guard is not `Send`, so a spawned future cannot hold it across an `.await`:
    ///
    /// ```compile_fail
    /// # use xray_core::Entity;
    /// fn spawn<F: std::future::Future + Send + 'static>(_: F) {}
    /// spawn(async {
    ///     let _entered = Entity::noop().enter();
    ///     std::future::ready(()).await;
    /// });
    /// ```
    #[inline]
    pub fn enter(&self) -> context::Entered {
        context::Entered::new(self.clone())
    }

    fn finish(&self) {
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

/// An open segment. It ends, and goes to the emitter, when [`end`](Self::end) is called or
/// when it is dropped. Derefs to [`Entity`] for recording.
#[must_use = "a segment ends when dropped"]
#[derive(Debug)]
pub struct Segment {
    entity: Entity,
}

impl Segment {
    pub(crate) fn new(entity: Entity) -> Self {
        Self { entity }
    }

    /// A handle to put in context or pass around.
    pub fn entity(&self) -> Entity {
        self.entity.clone()
    }

    /// Sends the segment as it is now with `in_progress: true` (no subsegments), so that X-Ray
    /// shows a long request before it completes. The complete segment replaces it later.
    pub fn send_in_progress(&self) {
        if let Repr::Node(n) = &self.entity.0 {
            let snapshot = n.lock().as_ref().map(|d| {
                let mut copy = SegmentDocument::new(&d.name, d.id, d.start_time);
                copy.trace_id = d.trace_id;
                copy.parent_id = d.parent_id;
                copy.in_progress = true;
                copy.aws = d.aws.clone();
                copy.http = d.http.clone();
                copy.origin = d.origin.clone();
                copy
            });
            if let Some(doc) = snapshot {
                log_event!(Debug, id = %doc.id, "sending in-progress segment");
                n.trace().recorder.emit(doc);
            }
        }
    }

    /// Ends the segment now.
    pub fn end(self) {}
}

impl Deref for Segment {
    type Target = Entity;
    fn deref(&self) -> &Entity {
        &self.entity
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        self.entity.finish();
    }
}

/// An open subsegment. It ends when [`end`](Self::end) is called or when it is dropped.
/// Derefs to [`Entity`] for recording.
#[must_use = "a subsegment ends when dropped"]
#[derive(Debug)]
pub struct Subsegment {
    entity: Entity,
}

impl Subsegment {
    /// A handle to put in context or pass around.
    pub fn entity(&self) -> Entity {
        self.entity.clone()
    }

    /// Ends the subsegment now.
    pub fn end(self) {}
}

impl Deref for Subsegment {
    type Target = Entity;
    fn deref(&self) -> &Entity {
        &self.entity
    }
}

impl Drop for Subsegment {
    fn drop(&mut self) {
        self.entity.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AlwaysSample, MemoryEmitter, SamplingRequest};

    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1";

    #[test]
    fn grandchildren_reach_the_trace_through_the_segment() {
        let emitter = Arc::new(MemoryEmitter::new());
        let recorder = Recorder::builder().with_emitter(emitter.clone()).with_sampler(AlwaysSample).build().unwrap();
        let incoming = TraceHeader::parse(HEADER);
        let segment = recorder.begin_segment("api", Some(&incoming), &SamplingRequest::default());
        let child = segment.begin_subsegment("child");
        let grandchild = child.begin_subsegment("grandchild");
        assert_eq!(grandchild.trace_id(), incoming.root());
        let down = grandchild.downstream_header().unwrap();
        assert_eq!(down.extra(), "Lineage=a:1");
        assert_eq!(down.parent(), Some(grandchild.id().unwrap()));

        // The segment ends first: the open subtree is sent on its own, still with the trace id.
        segment.end();
        grandchild.end();
        child.end();
        let docs = emitter.documents();
        assert_eq!(docs.len(), 2, "{docs:#?}");
        for doc in &docs {
            xray_tests::assert_valid(doc);
            assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        }
        assert_eq!(docs[0]["name"], "api");
        assert_eq!(docs[0]["aws"]["xray"]["sdk"], crate::model::SDK_NAME);
        assert_eq!(docs[1]["name"], "child");
        assert_eq!(docs[1]["type"], "subsegment");
        assert_eq!(docs[1]["subsegments"][0]["name"], "grandchild");
    }
}
