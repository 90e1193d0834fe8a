//! [`MemoryEmitter`]: captures documents for tests, exactly as they would go on the wire.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::encode::{DAEMON_HEADER, Encoder};
use super::{Counters, Emitter, EmitterStats};
use crate::model::SegmentDocument;

/// Keeps every document it is given, encoded and split as the UDP emitter would, and parsed
/// back into JSON for assertions.
///
/// ```
/// use std::sync::Arc;
/// use xray_core::{AlwaysSample, MemoryEmitter, Recorder};
/// let emitter = Arc::new(MemoryEmitter::new());
/// let recorder = Recorder::builder()
///     .with_emitter(emitter.clone())
///     .with_sampler(AlwaysSample)
///     .build()
///     .unwrap();
/// recorder.new_segment("svc").end();
/// assert_eq!(emitter.documents()[0]["name"], "svc");
/// ```
#[derive(Debug, Default)]
pub struct MemoryEmitter {
    documents: Mutex<(Encoder, Vec<Value>)>,
    arrived: Condvar,
    counters: Counters,
}

impl MemoryEmitter {
    /// An empty emitter.
    pub fn new() -> Self {
        Self::default()
    }

    /// The documents so far, in the order they were emitted.
    pub fn documents(&self) -> Vec<Value> {
        self.documents.lock().unwrap_or_else(PoisonError::into_inner).1.clone()
    }

    /// Takes the documents so far, leaving none.
    pub fn take(&self) -> Vec<Value> {
        std::mem::take(&mut self.documents.lock().unwrap_or_else(PoisonError::into_inner).1)
    }

    /// Waits until at least `n` documents arrived or `timeout` passed; returns what is there.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut guard = self.documents.lock().unwrap_or_else(PoisonError::into_inner);
        while guard.1.len() < n {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            guard = self.arrived.wait_timeout(guard, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
        guard.1.clone()
    }
}

impl Emitter for MemoryEmitter {
    fn emit(&self, document: SegmentDocument) {
        Counters::add(&self.counters.enqueued, 1);
        let mut guard = self.documents.lock().unwrap_or_else(PoisonError::into_inner);
        let (encoder, docs) = &mut *guard;
        let mut parsed = Vec::new();
        let result = encoder.encode(document, &mut |buf: &mut Vec<u8>| {
            if let Ok(v) = serde_json::from_slice::<Value>(&buf[DAEMON_HEADER.len()..]) {
                parsed.push(v);
            }
        });
        match result {
            Ok(report) => {
                Counters::add(&self.counters.emitted, parsed.len() as u64);
                Counters::add(&self.counters.split, u64::from(report.split));
                Counters::add(&self.counters.truncated, u64::from(report.truncated));
                docs.extend(parsed);
            }
            Err(_) => Counters::add(&self.counters.dropped_encode_error, 1),
        }
        self.arrived.notify_all();
    }

    fn stats(&self) -> EmitterStats {
        self.counters.snapshot()
    }
}
