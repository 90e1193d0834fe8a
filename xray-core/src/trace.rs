//! The open part of a trace in this process: its tree of open segments and subsegments, and
//! what happens when one of them ends.
//!
//! An open entity keeps its document behind its own mutex. When a subsegment ends, its finished
//! document moves into its parent's `subsegments`; if the parent has already ended, or the trace
//! already keeps more than the streaming threshold in memory, it is sent on its own as an
//! independent subsegment instead. When the segment ends, the whole tree goes to the emitter.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::emit::Emitter;
use crate::id::{EntityId, TraceId};
use crate::model::{DocumentType, SegmentDocument};
use crate::time::Timestamp;
use crate::w3c::Propagation;

/// What a recorder lends every trace it begins: where finished documents go, how much a trace
/// keeps in memory, and the settings integrations read from the current entity. One per
/// recorder, shared by its traces, so that a trace does not hold the whole recorder.
pub(crate) struct TraceSettings {
    pub(crate) emitter: Arc<dyn Emitter>,
    /// Kept bytes per trace after which finished subsegments stream out early.
    pub(crate) streaming_threshold: usize,
    /// Whether SQL text may be recorded (`AWS_XRAY_COLLECT_SQL_QUERIES`).
    pub(crate) collect_sql_queries: bool,
    /// Which trace headers outgoing calls carry (`OTEL_PROPAGATORS`, `with_propagation`).
    pub(crate) propagation: Propagation,
}

/// What one trace shares between its open entities in this process.
pub(crate) struct Trace {
    pub(crate) settings: Arc<TraceSettings>,
    pub(crate) trace_id: TraceId,
    /// The incoming header's keys besides Root, Parent and Sampled (such as `Lineage`).
    pub(crate) extra: Box<str>,
    /// The incoming W3C `tracestate` (already bounded), passed on beside `traceparent`.
    pub(crate) tracestate: Option<Box<str>>,
    kept_bytes: AtomicUsize,
}

impl Trace {
    pub(crate) fn new(settings: Arc<TraceSettings>, trace_id: TraceId, extra: &str, tracestate: Option<&str>) -> Self {
        Self {
            settings,
            trace_id,
            extra: extra.into(),
            tracestate: tracestate.map(Box::from),
            kept_bytes: AtomicUsize::new(0),
        }
    }

    pub(crate) fn emit(&self, document: SegmentDocument) {
        self.settings.emitter.emit(document);
    }

    /// Reserves room for `bytes` more in memory, unless that passes the streaming threshold.
    fn keep(&self, bytes: usize) -> bool {
        let limit = self.settings.streaming_threshold;
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
    pub(crate) id: EntityId,
    /// `None` once the entity has ended (and always for a facade).
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

    /// A subsegment's node under `parent`.
    pub(crate) fn new_child(parent: &Arc<Self>, name: &str) -> Arc<Self> {
        let doc = SegmentDocument::new(name, EntityId::new(), Timestamp::now());
        Arc::new(Self {
            id: doc.id,
            link: TraceLink::Root(parent.trace_owner().clone()),
            parent: Some(parent.clone()),
            doc: Mutex::new(Some(doc)),
        })
    }

    /// The trace this node belongs to.
    pub(crate) fn trace(&self) -> &Trace {
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

    /// The open document; `None` once the entity has ended.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Option<SegmentDocument>> {
        self.doc.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The segment (or facade) at the top of this node's tree.
    pub(crate) fn root(self: &Arc<Self>) -> &Arc<Self> {
        let mut node = self;
        while let Some(parent) = &node.parent {
            node = parent;
        }
        node
    }

    /// Ends the entity: a segment goes to the emitter, a subsegment into its parent (or on its
    /// own, when the parent has ended or the trace keeps enough in memory).
    pub(crate) fn finish(&self) {
        let Some(parent) = &self.parent else {
            let Some(mut doc) = self.lock().take() else { return };
            doc.end_time = Some(Timestamp::now());
            self.trace().emit(doc);
            return;
        };
        // The document is completed and sized where it is, then moved once to the stack and once
        // into its parent. It is sized without its children, then the children, so that no
        // subtree is sized twice.
        let mut slot = self.lock();
        let Some(d) = slot.as_mut() else { return };
        d.end_time = Some(Timestamp::now());
        let children = std::mem::take(&mut d.subsegments);
        let own = d.estimated_size();
        let total = own + children.iter().map(SegmentDocument::estimated_size).sum::<usize>();
        d.subsegments = children;
        let Some(mut doc) = slot.take() else { return };
        drop(slot);
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
        self.trace().emit(doc);
    }
}
