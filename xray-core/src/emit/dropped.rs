//! Traces that lost a document to a full queue, remembered so that their later subsegments
//! are dropped too (the trace is incomplete anyway, and their room is better kept for
//! segments). A fixed table of [`SLOTS`] trace ids, one per hash slot: constant memory, one
//! comparison per lookup, and a collision just forgets the older trace.

use crate::id::TraceId;

/// How many dropped traces are remembered at once.
pub(crate) const SLOTS: usize = 256;

/// The table; allocated once, when the emitter is built.
pub(crate) struct DroppedTraces {
    slots: Box<[Option<TraceId>; SLOTS]>,
    used: usize,
}

impl Default for DroppedTraces {
    fn default() -> Self {
        Self { slots: Box::new([None; SLOTS]), used: 0 }
    }
}

/// A trace id's slot: its random part is random, so its low bits are a fine hash.
fn slot(trace: &TraceId) -> usize {
    use std::hash::{Hash, Hasher};
    struct Fold(u64);
    impl Hasher for Fold {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut h = Fold(0xcbf2_9ce4_8422_2325);
    trace.hash(&mut h);
    (h.finish() as usize) % SLOTS
}

impl DroppedTraces {
    /// Whether `trace` lost a document and is still remembered. Free while nothing was dropped.
    pub(crate) fn contains(&self, trace: Option<TraceId>) -> bool {
        match trace {
            Some(t) if self.used > 0 => self.slots[slot(&t)] == Some(t),
            _ => false,
        }
    }

    /// Remembers `trace`; `true` when it was not remembered yet (a newly incomplete trace).
    pub(crate) fn insert(&mut self, trace: TraceId) -> bool {
        let entry = &mut self.slots[slot(&trace)];
        if *entry == Some(trace) {
            return false;
        }
        if entry.is_none() {
            self.used += 1;
        }
        *entry = Some(trace);
        true
    }

    /// Forgets `trace` (its segment arrived: nothing more of it will come).
    pub(crate) fn remove(&mut self, trace: TraceId) {
        if self.used == 0 {
            return;
        }
        let entry = &mut self.slots[slot(&trace)];
        if *entry == Some(trace) {
            *entry = None;
            self.used -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_forgets_and_stays_bounded() {
        let mut d = DroppedTraces::default();
        let t = TraceId::new();
        assert!(!d.contains(Some(t)));
        assert!(d.insert(t));
        assert!(!d.insert(t), "counted once");
        assert!(d.contains(Some(t)) && !d.contains(None));
        d.remove(t);
        assert!(!d.contains(Some(t)));
        for _ in 0..10 * SLOTS {
            d.insert(TraceId::new());
        }
        assert!(d.used <= SLOTS);
    }
}
