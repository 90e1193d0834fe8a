//! Emitting finished documents to the X-Ray daemon.
//!
//! The request path only hands a finished document to an [`Emitter`]; the [`UdpEmitter`]
//! queues it without a syscall and its own thread serializes, splits and sends in batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::model::SegmentDocument;

mod dropped;
mod encode;
mod gso;
pub(crate) mod handled;
mod health;
pub(crate) mod json;
#[cfg(feature = "test-util")]
mod memory;
mod pace;
mod receiver;
mod udp;

pub use crate::error::EmitterError;
pub use encode::{DAEMON_HEADER, MAX_DOCUMENT_BYTES, TRUNCATION_MARKER};
// For the benches, which measure the emitter thread's serialization on its own.
#[doc(hidden)]
pub use encode::{EncodeReport, Encoder};
#[cfg(feature = "test-util")]
pub use memory::MemoryEmitter;
pub use udp::{UdpEmitter, UdpEmitterBuilder};

/// Receives finished segments and independent subsegments.
pub trait Emitter: Send + Sync + 'static {
    /// Takes a finished document. Must not block or make a syscall on the caller's thread.
    fn emit(&self, document: SegmentDocument);

    /// Sends everything queued, waiting at most `timeout`; `true` when all of it was handled.
    fn flush(&self, timeout: Duration) -> bool {
        let _ = timeout;
        true
    }

    /// Sends everything queued, waiting at most `timeout`, and stops: documents handed over
    /// afterwards are dropped (and counted). `true` when everything queued was handled.
    /// Defaults to [`flush`](Self::flush), for emitters with nothing to stop.
    fn shutdown(&self, timeout: Duration) -> bool {
        self.flush(timeout)
    }

    /// Counters since the emitter started.
    fn stats(&self) -> EmitterStats {
        EmitterStats::default()
    }
}

impl<E: Emitter + ?Sized> Emitter for Arc<E> {
    fn emit(&self, document: SegmentDocument) {
        (**self).emit(document);
    }
    fn flush(&self, timeout: Duration) -> bool {
        (**self).flush(timeout)
    }
    fn shutdown(&self, timeout: Duration) -> bool {
        (**self).shutdown(timeout)
    }
    fn stats(&self) -> EmitterStats {
        (**self).stats()
    }
}

/// A snapshot of an emitter's counters. Every document is either emitted or counted in one of
/// the `dropped_*` fields: nothing is lost silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EmitterStats {
    /// Documents handed to the emitter.
    pub enqueued: u64,
    /// Documents (after splitting) sent to the daemon.
    pub emitted: u64,
    /// Datagrams sent.
    pub datagrams: u64,
    /// Bytes sent, headers included (and the spaces that pad segmented sends, see
    /// [`UdpEmitter`]).
    pub bytes: u64,
    /// Batches (system calls) sent.
    pub batches: u64,
    /// Documents dropped because the queue was full, including the later subsegments of a
    /// trace that already lost a document.
    pub dropped_queue_full: u64,
    /// Traces that lost at least one document to a full queue (each counted once).
    pub dropped_traces: u64,
    /// Documents handed over and not yet sent (or dropped): what an exit now would lose.
    pub queued: u64,
    /// Since when the daemon is known to be unreachable (its UDP port refuses datagrams, or
    /// its TCP port does not answer a probe); `None` while it is not known to be. Datagrams
    /// sent meanwhile count as sent, but nothing received them.
    pub daemon_unreachable_since: Option<std::time::SystemTime>,
    /// Datagrams the socket refused (daemon down, buffer full, network error).
    pub dropped_send_error: u64,
    /// Datagrams a daemon on this host dropped because its receive buffer was full, read from
    /// its socket's counter in `/proc/net/udp` (Linux, loopback daemons only; it counts other
    /// senders' datagrams to that daemon too), read at most every 100 ms while sending, so
    /// it may lag that much. The emitter slows its pace when it grows.
    pub dropped_receive_buffer: u64,
    /// Documents that could not be serialized.
    pub dropped_encode_error: u64,
    /// Documents split into several datagrams because they passed 64,000 bytes.
    pub split: u64,
    /// Documents with a field cut to fit a datagram.
    pub truncated: u64,
}

/// Shared atomic counters behind [`EmitterStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) enqueued: AtomicU64,
    pub(crate) emitted: AtomicU64,
    pub(crate) datagrams: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) dropped_send_error: AtomicU64,
    pub(crate) dropped_receive_buffer: AtomicU64,
    pub(crate) dropped_encode_error: AtomicU64,
    pub(crate) split: AtomicU64,
    pub(crate) truncated: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> EmitterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EmitterStats {
            enqueued: get(&self.enqueued),
            emitted: get(&self.emitted),
            datagrams: get(&self.datagrams),
            bytes: get(&self.bytes),
            batches: get(&self.batches),
            dropped_queue_full: get(&self.dropped_queue_full),
            dropped_send_error: get(&self.dropped_send_error),
            dropped_receive_buffer: get(&self.dropped_receive_buffer),
            dropped_encode_error: get(&self.dropped_encode_error),
            split: get(&self.split),
            truncated: get(&self.truncated),
            ..EmitterStats::default()
        }
    }
}

/// Drops every document, counting it as emitted (benchmarks, disabled SDK).
#[derive(Debug, Default)]
pub struct NullEmitter {
    counters: Counters,
}

impl Emitter for NullEmitter {
    fn emit(&self, document: SegmentDocument) {
        drop(document);
        Counters::add(&self.counters.enqueued, 1);
        Counters::add(&self.counters.emitted, 1);
    }

    fn stats(&self) -> EmitterStats {
        self.counters.snapshot()
    }
}
