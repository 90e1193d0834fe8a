//! [`FanOutEmitter`]: every document to several emitters, for a migration period.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::emit::{Emitter, EmitterStats};
use crate::model::SegmentDocument;

/// Hands every document to each of its emitters: X-Ray's daemon by UDP and a collector by
/// OTLP at once, while a fleet moves from one to the other (`OTEL_TRACES_EXPORTER=xray,otlp`).
///
/// Each emitter gets its own copy (the last one the original), so each keeps its own queue,
/// cap and counters: a collector that is down costs nothing on the daemon's side.
/// [`stats`](Emitter::stats) adds the emitters' counters up, except `enqueued`, which counts the
/// documents handed to the fan-out once; [`emitters`](Self::emitters) gives each one's own.
///
/// ```
/// use std::sync::Arc;
/// use xray_core::{AlwaysSample, Emitter, MemoryEmitter, Recorder, otlp::FanOutEmitter};
/// let (a, b) = (Arc::new(MemoryEmitter::new()), Arc::new(MemoryEmitter::new()));
/// let both = FanOutEmitter::new(vec![a.clone(), b.clone()]);
/// let recorder = Recorder::builder().with_emitter(both).with_sampler(AlwaysSample).build().unwrap();
/// recorder.new_segment("svc").end();
/// assert_eq!((a.documents().len(), b.documents().len()), (1, 1));
/// assert_eq!(recorder.stats().enqueued, 1);
/// ```
pub struct FanOutEmitter {
    emitters: Vec<Arc<dyn Emitter>>,
    enqueued: AtomicU64,
}

impl std::fmt::Debug for FanOutEmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanOutEmitter").field("emitters", &self.emitters.len()).field("stats", &self.stats()).finish()
    }
}

impl FanOutEmitter {
    /// A fan-out to `emitters`, in order.
    pub fn new(emitters: Vec<Arc<dyn Emitter>>) -> Self {
        Self { emitters, enqueued: AtomicU64::new(0) }
    }

    /// The emitters, in order.
    pub fn emitters(&self) -> &[Arc<dyn Emitter>] {
        &self.emitters
    }

    /// Runs `f` on each emitter with the time left before `deadline`; `true` when all said so.
    fn each_until(&self, timeout: Duration, f: impl Fn(&dyn Emitter, Duration) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut all = true;
        for e in &self.emitters {
            all &= f(&**e, deadline.saturating_duration_since(Instant::now()));
        }
        all
    }
}

impl Emitter for FanOutEmitter {
    fn emit(&self, document: SegmentDocument) {
        self.enqueued.fetch_add(1, Ordering::Relaxed);
        if let Some((last, rest)) = self.emitters.split_last() {
            for e in rest {
                e.emit(document.clone());
            }
            last.emit(document);
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        self.each_until(timeout, |e, left| e.flush(left))
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        self.each_until(timeout, |e, left| e.shutdown(left))
    }

    fn stats(&self) -> EmitterStats {
        let mut sum = EmitterStats::default();
        for s in self.emitters.iter().map(|e| e.stats()) {
            sum.emitted += s.emitted;
            sum.datagrams += s.datagrams;
            sum.bytes += s.bytes;
            sum.batches += s.batches;
            sum.dropped_queue_full += s.dropped_queue_full;
            sum.dropped_traces += s.dropped_traces;
            sum.queued += s.queued;
            sum.dropped_send_error += s.dropped_send_error;
            sum.dropped_encode_error += s.dropped_encode_error;
            sum.split += s.split;
            sum.truncated += s.truncated;
            sum.daemon_unreachable_since = match (sum.daemon_unreachable_since, s.daemon_unreachable_since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        sum.enqueued = self.enqueued.load(Ordering::Relaxed);
        sum
    }
}
