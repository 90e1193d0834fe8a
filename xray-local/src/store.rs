//! The bounded trace store: completed traces with the documents they came from, oldest evicted
//! first once either the trace count or the byte cap is reached.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::problem::Problem;
use crate::trace::Trace;

/// One completed trace as the store holds it; shared, so readers copy a pointer, not the trace.
#[derive(Clone, Debug)]
pub(crate) struct StoredTrace {
    /// Position in completion order: larger is newer. Never reused.
    pub seq: u64,
    /// The assembled trace.
    pub trace: Trace,
    /// Every document of the trace, as received (an in-progress copy replaced by the finished
    /// one only inside [`Trace`], not here).
    pub docs: Vec<Value>,
    /// Problems found in single documents, kept to rebuild the trace when late documents arrive.
    pub doc_problems: Vec<Problem>,
    /// The documents' size as JSON text, what the byte cap counts.
    pub bytes: usize,
}

/// The documents of a trace that has not completed yet.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    pub docs: Vec<Value>,
    pub doc_problems: Vec<Problem>,
    pub bytes: usize,
}

/// Completed traces in completion order, bounded by count and bytes.
#[derive(Debug)]
pub(crate) struct Store {
    max_traces: usize,
    max_bytes: usize,
    by_seq: BTreeMap<u64, Arc<StoredTrace>>,
    by_id: HashMap<String, u64>,
    bytes: usize,
    evicted: u64,
    next_seq: u64,
}

impl Store {
    pub fn new(max_traces: usize, max_bytes: usize) -> Self {
        Store {
            max_traces: max_traces.max(1),
            max_bytes: max_bytes.max(1),
            by_seq: BTreeMap::new(),
            by_id: HashMap::new(),
            bytes: 0,
            evicted: 0,
            next_seq: 1,
        }
    }

    /// Adds a completed trace with its documents. A trace id already held (late documents
    /// completed it a second time) is rebuilt from all its documents and moves to the newest
    /// place. Returns the trace as stored.
    pub fn insert(&mut self, trace: Trace, gathered: Gathered) -> Arc<StoredTrace> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let stored = match self.by_id.remove(&trace.trace_id).and_then(|old| self.by_seq.remove(&old)) {
            None => StoredTrace {
                seq,
                trace,
                docs: gathered.docs,
                doc_problems: gathered.doc_problems,
                bytes: gathered.bytes,
            },
            Some(old) => {
                self.bytes -= old.bytes;
                let old = Arc::unwrap_or_clone(old);
                let mut docs = old.docs;
                docs.extend(gathered.docs);
                let mut doc_problems = old.doc_problems;
                doc_problems.extend(gathered.doc_problems);
                let mut rebuilt = Trace::from_documents(&trace.trace_id, &docs);
                let mut problems = doc_problems.clone();
                problems.append(&mut rebuilt.problems);
                rebuilt.problems = problems;
                StoredTrace { seq, trace: rebuilt, docs, doc_problems, bytes: old.bytes + gathered.bytes }
            }
        };
        let stored = Arc::new(stored);
        self.bytes += stored.bytes;
        self.by_id.insert(stored.trace.trace_id.clone(), seq);
        self.by_seq.insert(seq, Arc::clone(&stored));
        // The newest trace always stays, even alone over the byte cap: it is the one being looked at.
        while self.by_seq.len() > 1 && (self.by_seq.len() > self.max_traces || self.bytes > self.max_bytes) {
            self.evict_oldest();
        }
        stored
    }

    fn evict_oldest(&mut self) {
        if let Some((_, oldest)) = self.by_seq.pop_first() {
            self.bytes -= oldest.bytes;
            self.by_id.remove(&oldest.trace.trace_id);
            self.evicted += 1;
        }
    }

    /// The trace with this id.
    pub fn get(&self, trace_id: &str) -> Option<Arc<StoredTrace>> {
        self.by_id.get(trace_id).and_then(|seq| self.by_seq.get(seq)).cloned()
    }

    /// Every trace, oldest first: pointers only, so the lock is held for a copy of them.
    pub fn snapshot(&self) -> Vec<Arc<StoredTrace>> {
        self.by_seq.values().cloned().collect()
    }

    /// Traces held.
    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    /// Bytes of documents held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Traces evicted so far to stay within the caps.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The caps: traces and bytes.
    pub fn caps(&self) -> (usize, usize) {
        (self.max_traces, self.max_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trace(id: &str, docs: &[Value]) -> (Trace, Gathered) {
        let bytes = docs.iter().map(|d| d.to_string().len()).sum();
        let gathered = Gathered { docs: docs.to_vec(), doc_problems: Vec::new(), bytes };
        (Trace::from_documents(id, docs), gathered)
    }

    fn seg(id: &str, parent: Option<&str>) -> Value {
        let mut doc = json!({"name": "a", "id": id, "start_time": 1.0, "end_time": 2.0});
        if let Some(parent) = parent {
            doc["parent_id"] = json!(parent);
        }
        doc
    }

    fn ids(store: &Store) -> Vec<String> {
        store.snapshot().iter().map(|t| t.trace.trace_id.clone()).collect()
    }

    #[test]
    fn the_oldest_traces_go_first_at_the_count_cap() {
        let mut store = Store::new(2, usize::MAX);
        for id in ["t1", "t2", "t3"] {
            let (t, g) = trace(id, &[seg("a000000000000001", None)]);
            store.insert(t, g);
        }
        assert_eq!(ids(&store), ["t2", "t3"]);
        assert_eq!(store.evicted(), 1);
        assert!(store.get("t1").is_none());
        assert_eq!(store.get("t3").map(|t| t.seq), Some(3));
    }

    #[test]
    fn the_byte_cap_evicts_but_keeps_the_newest() {
        let doc = seg("a000000000000001", None);
        let size = doc.to_string().len();
        let mut store = Store::new(100, size * 2);
        for id in ["t1", "t2", "t3"] {
            let (t, g) = trace(id, std::slice::from_ref(&doc));
            store.insert(t, g);
        }
        assert_eq!(ids(&store), ["t2", "t3"]);
        assert_eq!(store.bytes(), size * 2);
        let big = json!({"name": "a", "id": "a000000000000009", "start_time": 1.0, "end_time": 2.0,
                         "metadata": {"x": "y".repeat(size * 5)}});
        let (t, g) = trace("t4", &[big]);
        store.insert(t, g);
        assert_eq!(ids(&store), ["t4"]);
        assert_eq!(store.evicted(), 3);
    }

    #[test]
    fn late_documents_rebuild_the_trace_and_make_it_newest() {
        let mut store = Store::new(10, usize::MAX);
        let (t, g) = trace("t1", &[seg("a000000000000001", None)]);
        store.insert(t, g);
        let (t, g) = trace("t2", &[seg("a000000000000001", None)]);
        store.insert(t, g);
        let (t, g) = trace("t1", &[seg("b000000000000001", Some("a000000000000001"))]);
        store.insert(t, g);
        assert_eq!(ids(&store), ["t2", "t1"]);
        let t1 = store.get("t1").unwrap();
        assert_eq!(t1.docs.len(), 2);
        assert_eq!(t1.trace.roots.len(), 1, "the late segment joins its parent");
        assert_eq!(t1.trace.roots[0].children.len(), 1);
        assert_eq!(store.len(), 2);
        assert_eq!(store.bytes(), 3 * seg("a000000000000001", None).to_string().len() + 31);
    }
}
