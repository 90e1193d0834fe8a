//! [`Segment`] and [`Subsegment`]: the owners of open entities, which end them when dropped.

use std::ops::Deref;

use crate::entity::Entity;
use crate::log::log_event;
use crate::model::SegmentDocument;

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
        if let Some(n) = self.entity.node() {
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
                n.trace().emit(doc);
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
    pub(crate) fn new(entity: Entity) -> Self {
        Self { entity }
    }

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
    use std::sync::Arc;

    use crate::integration::SamplingRequest;
    use crate::{AlwaysSample, MemoryEmitter, Recorder, TraceHeader};

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
