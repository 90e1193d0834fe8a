//! [`UdpEmitter`]: documents serialized on the thread that finishes them, into buffers that
//! circulate between the producers and one emitter thread, which hands the kernel up to 128
//! datagrams per call: on Linux, datagrams of similar size go out as one segmented buffer
//! (see [`super::gso`]), the rest through `sendmmsg`.
//!
//! Why the request path serializes: a document is a tree of small heap allocations, and
//! freeing them on another thread than the one that made them sends the allocator down its
//! slow path (glibc's remote frees took about half of the request thread's time). Serialized
//! where it was built, a document is freed where it was allocated, and what crosses threads is
//! a byte buffer that comes back: the emitter thread returns every sent buffer to a free list
//! under the queue's lock, and producers take their spares from it, so that in steady state
//! nothing is allocated or freed at all. The queue's cap then counts real bytes (the buffers'
//! capacity), not an estimate of a tree's heap.
//!
//! The request path locks the queue for a push and nothing more: no syscall, no wake-up,
//! unless its push fills a batch. The emitter thread wakes on a short timer (backing off while
//! idle) or on that batch signal. One thread: with serialization gone from it, what is left is
//! the system calls, and a second thread would only add a hand-off per batch.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use std::cell::RefCell;

use super::dropped::DroppedTraces;
use super::encode::{EncodeReport, Encoder};
use super::gso::Planner;
use super::handled::Handled;
use super::health::Health;
use super::pace::{DEFAULT_BUDGET, DEFAULT_INTERVAL, Pacer, charge};
use super::receiver::ReceiverWatch;
use super::{Counters, Emitter, EmitterStats};
use crate::error::EmitterError;
use crate::log::{log_event, log_limited};
use crate::model::SegmentDocument;
use crate::sys::{MAX_BATCH, max_segment_payload, segmentation_unsupported, send_batch, send_segmented};

/// Configures a [`UdpEmitter`].
#[derive(Debug, Clone)]
pub struct UdpEmitterBuilder {
    daemon: SocketAddr,
    queue_bytes: usize,
    flush_interval: Duration,
    wake_batch: usize,
    segmentation: bool,
    tcp_probe: Option<SocketAddr>,
    send_budget: usize,
    send_interval: Duration,
}

impl UdpEmitterBuilder {
    /// Caps the memory queued documents hold: the capacity of the buffers their datagrams are
    /// serialized into, counted until they are sent. Independent subsegments may fill seven eighths of it; the last
    /// eighth is kept for segments, so that a full queue rather drops a trace's subsegments
    /// than the segment they belong to. Defaults to 16 MiB.
    #[must_use]
    pub fn with_queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// How long the emitter thread sleeps between sends. Defaults to 5 ms.
    #[must_use]
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Wakes the emitter early once this many documents are queued. Defaults to 64.
    #[must_use]
    pub fn with_wake_batch(mut self, documents: usize) -> Self {
        self.wake_batch = documents.max(1);
        self
    }

    /// Sends datagrams of similar size together as one segmented send where the kernel can
    /// (see [`UdpEmitter`]); with `false`, every datagram goes through `sendmmsg` unpadded.
    /// Defaults to `true`.
    #[must_use]
    pub fn with_segmentation(mut self, enabled: bool) -> Self {
        self.segmentation = enabled;
        self
    }

    /// Probes the daemon's TCP port (the one it serves sampling on) at start-up and, at most
    /// every two seconds, while datagrams are refused or after a failed probe, on a thread of
    /// its own; [`EmitterStats::daemon_unreachable_since`] reports the result. Without it,
    /// only refused datagrams mark the daemon unreachable. Defaults to no probe.
    #[must_use]
    pub fn with_tcp_probe(mut self, tcp: SocketAddr) -> Self {
        self.tcp_probe = Some(tcp);
        self
    }

    /// Paces the sender: at most `bytes` per `interval`, in bytes as the receiving kernel
    /// charges them (a datagram of 700 bytes costs about 2,300 there), so that a burst
    /// never overflows the daemon's receive buffer, which drops what does not fit without a
    /// word. Only the emitter's thread waits; the request path never does. Zero for either
    /// turns pacing off.
    ///
    /// Defaults to 96 KiB per 500 µs. The X-Ray daemon leaves its socket at the kernel's
    /// default receive buffer (Linux: `net.core.rmem_default`, 212,992 bytes, about 90
    /// datagrams of 700 bytes), so one burst takes under half of it; and the rate, about
    /// 80,000 such documents a second, is above what one core of a service produces with
    /// every request sampled (the axum load bench's one worker: about 70,000), so pacing does
    /// not turn a busy service's segments into queue drops. The price: a daemon that stops
    /// reading for over a millisecond while the service sends at that full rate loses
    /// datagrams. For a daemon on this host (loopback: a sidecar, `xray-local`) the emitter
    /// reads its socket's drop counter, counts the losses in
    /// [`EmitterStats::dropped_receive_buffer`](crate::EmitterStats::dropped_receive_buffer)
    /// and halves its rate after each growth (read at most every 100 ms; down to 1/64,
    /// recovering after a second without);
    /// a remote daemon's losses cannot be seen. Lower the rate for a daemon that shares a
    /// starved CPU, raise it when its buffer is larger.
    #[must_use]
    pub fn with_send_budget(mut self, bytes: usize, interval: Duration) -> Self {
        self.send_budget = bytes;
        self.send_interval = interval;
        self
    }

    /// Opens the socket and starts the emitter thread.
    pub fn build(self) -> Result<UdpEmitter, EmitterError> {
        let socket_err = |source| EmitterError::Socket { addr: self.daemon, source };
        let local: SocketAddr =
            if self.daemon.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
        let socket = UdpSocket::bind(local).map_err(socket_err)?;
        socket.connect(self.daemon).map_err(socket_err)?;
        socket.set_nonblocking(true).map_err(socket_err)?;

        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            queue_bytes: self.queue_bytes as u64,
            subsegment_bytes: subsegment_bytes(self.queue_bytes),
            health: Health::new(self.daemon, self.tcp_probe),
            wake_batch: self.wake_batch,
            counters: WorkerCounters::default(),
            handled: Handled::default(),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
            daemon: self.daemon,
        });
        let max_segment = if self.segmentation { max_segment_payload(&socket) } else { None };
        let pacer = Pacer::new(self.send_budget, self.send_interval);
        let watch = ReceiverWatch::new(self.daemon);
        let sender = Sender { shared: shared.clone(), socket, max_segment, planner: Planner::default(), pacer, watch };
        let worker = Worker { shared: shared.clone(), sender, interval: self.flush_interval };
        let handle = std::thread::Builder::new()
            .name("xray-emitter".into())
            .spawn(move || worker.run())
            .map_err(EmitterError::Thread)?;
        let _ = shared.thread.set(handle.thread().clone());
        shared.health.probe_soon();
        Ok(UdpEmitter { shared })
    }
}

/// What producers touch: one mutex-protected block of state, so that a push costs a lock and
/// a few moves and shares no counter with the emitter thread.
#[derive(Default)]
struct Queue {
    /// Serialized datagrams, header line included, in the order documents arrived.
    datagrams: Vec<Vec<u8>>,
    /// Documents whose datagrams are in `datagrams` (a document's are pushed together).
    docs: u64,
    /// The capacity of the queued buffers ([`buffer_bytes`]).
    bytes: u64,
    /// What the buffers the emitter thread took and has not sent yet hold: they are still in
    /// memory, so they still count against the cap.
    in_flight: u64,
    /// Sent buffers, cleared, for producers to serialize into.
    free: Vec<Vec<u8>>,
    enqueued: u64,
    /// Documents taken into the queue (what `flush` waits for).
    accepted: u64,
    emitted: u64,
    split: u64,
    truncated: u64,
    dropped_queue_full: u64,
    dropped_traces: u64,
    dropped_encode_error: u64,
    dropped: DroppedTraces,
}

/// What a datagram buffer counts against the queue's cap: its capacity and its allocation's
/// bookkeeping.
fn buffer_bytes(buf: &Vec<u8>) -> u64 {
    (buf.capacity() + 32) as u64
}

/// At most this many sent buffers wait in the free list (each at most [`KEEP_BUFFER`]
/// bytes, so at most 4 MiB); the rest are freed.
const MAX_FREE: usize = 1024;

/// A producer thread keeps at most this many spare buffers of its own.
const MAX_SPARES: usize = 4;

/// A fresh buffer's capacity: a typical segment fits.
const NEW_BUFFER: usize = 1024;

/// What a producer thread keeps between documents: an encoder with its buffer, the datagrams
/// of the document being handed over, and spare buffers from the free list.
struct Local {
    encoder: Encoder,
    ready: Vec<Vec<u8>>,
    spares: Vec<Vec<u8>>,
}

impl Local {
    fn new() -> Self {
        Self { encoder: Encoder::new(), ready: Vec::with_capacity(4), spares: Vec::with_capacity(MAX_SPARES) }
    }

    /// Serializes `doc` into `self.ready`, one buffer per datagram. The encoder keeps its own
    /// buffer (and the capacity large documents gave it); each datagram is copied into a spare
    /// that fits, or a new buffer of its exact size, a copy far cheaper than the writing.
    fn encode(&mut self, doc: SegmentDocument) -> Result<EncodeReport, serde_json::Error> {
        let Self { encoder, ready, spares } = self;
        encoder.encode(doc, &mut |buf: &mut Vec<u8>| {
            let mut out = match spares.pop() {
                Some(spare) if spare.capacity() >= buf.len() => spare,
                other => {
                    if let Some(small) = other {
                        spares.push(small);
                    }
                    Vec::with_capacity(buf.len().max(NEW_BUFFER))
                }
            };
            out.extend_from_slice(buf);
            ready.push(out);
        })
    }
}

thread_local! {
    /// Per producer thread: shared by every `UdpEmitter` the thread hands documents to.
    static LOCAL: RefCell<Local> = RefCell::new(Local::new());
}

/// The part of the cap independent subsegments may fill: the last eighth is for segments.
fn subsegment_bytes(queue_bytes: usize) -> u64 {
    (queue_bytes - queue_bytes / 8) as u64
}

/// Counters only the emitter thread writes, kept off the producers' cache lines.
#[derive(Default)]
#[repr(align(128))]
struct WorkerCounters(Counters);

impl std::ops::Deref for WorkerCounters {
    type Target = Counters;
    fn deref(&self) -> &Counters {
        &self.0
    }
}

struct Shared {
    queue: Mutex<Queue>,
    queue_bytes: u64,
    subsegment_bytes: u64,
    health: Arc<Health>,
    wake_batch: usize,
    counters: WorkerCounters,
    /// Documents taken off the queue and sent or dropped; flush waits on it.
    handled: Handled,
    stop: AtomicBool,
    thread: OnceLock<Thread>,
    daemon: SocketAddr,
}

impl Shared {
    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }
}

/// Sends documents to the X-Ray daemon over UDP in batches, from its own thread.
///
/// On Linux, datagrams of similar size go out together as one segmented send (`UDP_SEGMENT`),
/// which the kernel cuts into equal slices: all but the last of such a run are padded to the
/// run's size with spaces before the document's closing `}`, which JSON ignores. The daemon
/// receives one datagram per document as always. Where segmentation is unavailable (another
/// OS, an old kernel, a path without checksum offload), or switched off with
/// [`UdpEmitterBuilder::with_segmentation`], every datagram goes through `sendmmsg`.
///
/// A document is serialized on the thread that hands it over (the work is linear in its size;
/// one of over 64,000 bytes is split there too), so that its memory is freed where it was
/// allocated; its datagrams wait in the queue as bytes.
///
/// Memory is bounded: the queue's cap ([`UdpEmitterBuilder::with_queue_bytes`]) counts the
/// buffers of queued datagrams until they are sent, and sent buffers kept for reuse stay
/// under about 4 MiB (each kept only up to 4 KiB; larger ones are freed once sent), plus a
/// few per producer thread. When the queue is full, a trace that loses a document loses
/// its later subsegments too, and is counted once in [`EmitterStats::dropped_traces`].
///
/// Sends are paced ([`UdpEmitterBuilder::with_send_budget`]) so that a burst does not
/// overflow the daemon's receive buffer, and the daemon's reachability is tracked
/// ([`EmitterStats::daemon_unreachable_since`]; a UDP send succeeds whether or not anything
/// listens).
///
/// What is queued lives in memory only: dropping the emitter sends it (waiting up to a
/// second), but a process that ends abruptly (`std::process::exit`, an abort, a signal that
/// kills it) loses it without a word. Flush before such an exit;
/// [`EmitterStats::queued`] tells how many documents a flush that timed out left behind.
///
/// ```
/// use xray_core::{Emitter, UdpEmitter};
/// let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// let emitter = UdpEmitter::builder(receiver.local_addr().unwrap()).build().unwrap();
/// assert_eq!(emitter.stats().emitted, 0);
/// ```
pub struct UdpEmitter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for UdpEmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpEmitter").field("daemon", &self.shared.daemon).field("stats", &self.stats()).finish()
    }
}

impl UdpEmitter {
    /// A builder sending to `daemon`.
    pub fn builder(daemon: SocketAddr) -> UdpEmitterBuilder {
        UdpEmitterBuilder {
            daemon,
            queue_bytes: 16 << 20,
            flush_interval: Duration::from_millis(5),
            wake_batch: 64,
            segmentation: true,
            tcp_probe: None,
            send_budget: DEFAULT_BUDGET,
            send_interval: DEFAULT_INTERVAL,
        }
    }

    /// The daemon address datagrams go to.
    pub fn daemon(&self) -> SocketAddr {
        self.shared.daemon
    }
}

impl Emitter for UdpEmitter {
    fn emit(&self, document: SegmentDocument) {
        // A thread being torn down has no thread-local left: it serializes with a fresh one.
        let mut document = Some(document);
        let _ = LOCAL.try_with(|local| {
            if let (Ok(mut local), Some(doc)) = (local.try_borrow_mut(), document.take()) {
                self.push(&mut local, doc);
            }
        });
        if let Some(doc) = document {
            self.push(&mut Local::new(), doc);
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let s = &self.shared;
        let deadline = Instant::now() + timeout;
        // Everything queued so far must be handled; documents dropped at the door never will be.
        let target = s.lock_queue().accepted;
        s.wake();
        s.handled.wait_for(target, deadline, || s.wake())
    }

    fn stats(&self) -> EmitterStats {
        let s = &self.shared;
        let mut stats = s.counters.snapshot();
        let queue = s.lock_queue();
        stats.enqueued = queue.enqueued;
        stats.emitted = queue.emitted;
        stats.split = queue.split;
        stats.truncated = queue.truncated;
        stats.dropped_queue_full = queue.dropped_queue_full;
        stats.dropped_traces = queue.dropped_traces;
        stats.dropped_encode_error = queue.dropped_encode_error;
        let accepted = queue.accepted;
        drop(queue);
        let handled = s.handled.get();
        stats.queued = accepted.saturating_sub(handled);
        stats.daemon_unreachable_since = s.health.unreachable_since();
        stats
    }
}

impl UdpEmitter {
    /// Serializes `doc` with `local` and queues its datagrams, or drops and counts it.
    fn push(&self, local: &mut Local, doc: SegmentDocument) {
        let s = &self.shared;
        let trace = doc.trace_id;
        let subsegment = doc.kind.is_some();
        // The document is freed inside `encode`, on this thread, where it was built.
        let report = match local.encode(doc) {
            Ok(report) => report,
            Err(err) => {
                {
                    let mut queue = s.lock_queue();
                    queue.enqueued += 1;
                    queue.dropped_encode_error += 1;
                }
                local.ready.clear();
                log_limited!(Warn, %err, "X-Ray document could not be serialized and was dropped");
                return;
            }
        };
        let size: u64 = local.ready.iter().map(buffer_bytes).sum();
        let mut queue = s.lock_queue();
        queue.enqueued += 1;
        let limit = if subsegment { s.subsegment_bytes } else { s.queue_bytes };
        // A subsegment of a trace that already lost a document goes too: the trace is
        // incomplete, and its room is better kept for other traces' segments.
        let incomplete = subsegment && queue.dropped.contains(trace);
        if incomplete || queue.bytes + queue.in_flight + size > limit {
            queue.dropped_queue_full += 1;
            if let Some(t) = trace
                && !incomplete
                && queue.dropped.insert(t)
            {
                queue.dropped_traces += 1;
            }
            drop(queue);
            for mut buf in local.ready.drain(..) {
                if local.spares.len() < MAX_SPARES && buf.capacity() <= KEEP_BUFFER {
                    buf.clear();
                    local.spares.push(buf);
                }
            }
            log_limited!(Warn, "X-Ray emitter queue is full; segments are being dropped (see stats())");
            return;
        }
        if !subsegment && let Some(t) = trace {
            // The segment comes last: nothing more of its trace will.
            queue.dropped.remove(t);
        }
        let before = queue.datagrams.len();
        queue.datagrams.append(&mut local.ready);
        let after = queue.datagrams.len();
        queue.bytes += size;
        queue.docs += 1;
        queue.accepted += 1;
        queue.emitted += u64::from(report.datagrams);
        queue.split += u64::from(report.split);
        queue.truncated += u64::from(report.truncated);
        while local.spares.len() < MAX_SPARES
            && let Some(buf) = queue.free.pop()
        {
            local.spares.push(buf);
        }
        drop(queue);
        if before < s.wake_batch && after >= s.wake_batch {
            s.wake();
        }
    }
}

impl Drop for UdpEmitter {
    fn drop(&mut self) {
        self.flush(Duration::from_secs(1));
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake();
    }
}

/// The emitter thread: takes the queue's datagrams, sends them, returns their buffers.
struct Worker {
    shared: Arc<Shared>,
    sender: Sender,
    interval: Duration,
}

/// The emitter keeps room for this many queued datagrams between bursts, no more.
const KEEP_DOCS: usize = 1024;

/// Datagram buffers above this capacity are freed once sent rather than reused, so the
/// buffers a few large documents needed are not kept for every later batch.
const KEEP_BUFFER: usize = 4096;

/// An idle emitter sleeps up to this many flush intervals between looks at the queue.
const MAX_IDLE_BACKOFF: u32 = 32;

impl Worker {
    fn run(mut self) {
        let mut taken: Vec<Vec<u8>> = Vec::new();
        let mut backoff = 1u32;
        loop {
            std::thread::park_timeout(self.interval * backoff);
            let stopping = self.shared.stop.load(Ordering::Acquire);
            let (docs, bytes) = {
                let mut queue = self.shared.lock_queue();
                std::mem::swap(&mut queue.datagrams, &mut taken);
                let bytes = std::mem::take(&mut queue.bytes);
                queue.in_flight += bytes;
                (std::mem::take(&mut queue.docs), bytes)
            };
            backoff = if taken.is_empty() { (backoff * 2).min(MAX_IDLE_BACKOFF) } else { 1 };
            if taken.is_empty() {
                // The last look of a burst may have come too soon after the one before.
                self.sender.watch_receiver();
            } else {
                for batch in taken.chunks(MAX_BATCH) {
                    self.sender.send(batch);
                }
                self.recycle(&mut taken, bytes);
                self.shared.handled.mark(docs);
            }
            if taken.capacity() > KEEP_DOCS {
                // A burst's queue is not kept: its slack would escape the cap.
                taken = Vec::new();
            }
            if stopping && self.shared.lock_queue().datagrams.is_empty() {
                log_event!(Debug, "X-Ray emitter thread stopping");
                return;
            }
        }
    }

    /// Returns the sent buffers to the free list (large ones, and those past [`MAX_FREE`],
    /// are freed, outside the lock) and releases their bytes from the cap.
    fn recycle(&self, sent: &mut Vec<Vec<u8>>, bytes: u64) {
        sent.retain(|buf| buf.capacity() <= KEEP_BUFFER);
        sent.iter_mut().for_each(Vec::clear);
        let mut queue = self.shared.lock_queue();
        queue.in_flight -= bytes;
        let room = MAX_FREE.saturating_sub(queue.free.len()).min(sent.len());
        queue.free.extend(sent.drain(sent.len() - room..));
        drop(queue);
        sent.clear();
    }
}

/// The emitter thread's socket and what it needs to make the system calls.
struct Sender {
    shared: Arc<Shared>,
    socket: UdpSocket,
    /// The largest datagram a segmented send may carry; `None` once segmentation has failed,
    /// or where it is not available.
    max_segment: Option<usize>,
    planner: Planner,
    /// `None` when sends are not paced.
    pacer: Option<Pacer>,
    /// The daemon's drop counter, when the daemon is on this host.
    watch: Option<ReceiverWatch>,
}

/// How often, per batch, a full socket buffer is waited out before datagrams are dropped.
const FULL_RETRIES: u32 = 20;

/// `true` after a short sleep when `err` says the socket buffer is full and this batch may
/// still wait for it to drain; the caller then tries the same send again.
fn wait_out_full(err: &std::io::Error, full_retries: &mut u32) -> bool {
    if err.kind() != ErrorKind::WouldBlock || *full_retries >= FULL_RETRIES {
        return false;
    }
    *full_retries += 1;
    std::thread::sleep(Duration::from_micros(500));
    true
}

impl Sender {
    /// Sends every buffer, in slices the pacer lets through (each at most one budget).
    fn send(&mut self, bufs: &[Vec<u8>]) {
        // Unpaced, the whole batch is one slice.
        let budget = self.pacer.as_ref().map_or(u64::MAX, Pacer::budget);
        let mut start = 0;
        while start < bufs.len() {
            let (mut end, mut cost) = (start, 0);
            while end < bufs.len() {
                let c = charge(bufs[end].len());
                if end > start && cost + c > budget {
                    break;
                }
                cost += c;
                end += 1;
            }
            if let Some(pacer) = &mut self.pacer {
                pacer.take(cost);
            }
            self.send_now(&bufs[start..end]);
            start = end;
            self.watch_receiver();
        }
    }

    /// Reads a loopback daemon's drop counter (when it is time to), counts what it grew by,
    /// and paces to it.
    fn watch_receiver(&mut self) {
        let Some(dropped) = self.watch.as_mut().and_then(ReceiverWatch::check) else { return };
        let interval = self.pacer.as_mut().map(|p| p.adapt(dropped > 0));
        if dropped > 0 {
            self.shared.counters.dropped_receive_buffer.fetch_add(dropped, Ordering::Relaxed);
            log_limited!(
                Warn,
                dropped,
                ?interval,
                "the X-Ray daemon's receive buffer overflowed and dropped datagrams; sending slower (see stats().dropped_receive_buffer)"
            );
        }
    }

    /// Sends every buffer: runs of similar sizes segmented when the kernel can, the others
    /// one datagram each.
    fn send_now(&mut self, bufs: &[Vec<u8>]) {
        if let Some(watch) = &mut self.watch {
            watch.sent();
        }
        let mut full_retries = 0;
        let Some(max_segment) = self.max_segment else {
            self.send_each(bufs, &mut full_retries);
            return;
        };
        let mut planner = std::mem::take(&mut self.planner);
        let (order, runs) = planner.plan(bufs, max_segment);
        let (mut singles, mut members): (Vec<&[u8]>, Vec<&[u8]>) = (Vec::new(), Vec::new());
        for run in runs {
            let run_members = order[run.start..run.end].iter().map(|&i| bufs[i].as_slice());
            if !run.is_segmented() {
                singles.extend(run_members);
                continue;
            }
            members.clear();
            members.extend(run_members);
            let done = self.send_run(&members, run.size, &mut full_retries);
            singles.extend_from_slice(&members[done..]);
        }
        self.planner = planner;
        self.send_each(&singles, &mut full_retries);
    }

    /// Sends `members` as one segmented buffer. Returns how many are done with: all when the
    /// send went out, the first when it was refused as a plain send would refuse it (that one
    /// is dropped), none when segmentation cannot be used. The rest go out one by one.
    fn send_run(&mut self, members: &[&[u8]], size: usize, full_retries: &mut u32) -> usize {
        loop {
            let Err(err) = send_segmented(&self.socket, members, size) else {
                // Every member but the last went out padded to `size`.
                self.count_sent(members.len(), size * (members.len() - 1) + members[members.len() - 1].len());
                return members.len();
            };
            if wait_out_full(&err, full_retries) {
                continue;
            }
            if segmentation_unsupported(&err) {
                // No offload on this path (an old kernel, no checksum offload, a smaller MTU):
                // the datagrams go out one by one from now on.
                self.max_segment = None;
                log_event!(Debug, %err, "UDP segmentation offload unavailable; sending datagrams one by one");
                return 0;
            }
            // A pending error (the daemon's port refused an earlier datagram) is reported on
            // the next send, which it stops: the same as in `send_each`.
            self.refused(&err);
            return 1;
        }
    }

    /// Sends every buffer as its own datagram, retrying briefly when the socket buffer is full
    /// and skipping a datagram the kernel refuses (counted and logged, rate-limited).
    fn send_each<B: AsRef<[u8]>>(&self, bufs: &[B], full_retries: &mut u32) {
        let mut start = 0;
        while start < bufs.len() {
            let (sent, err) = send_batch(&self.socket, &bufs[start..]);
            if sent > 0 {
                self.count_sent(sent, bufs[start..start + sent].iter().map(|b| b.as_ref().len()).sum());
                start += sent;
            }
            let Some(err) = err else { continue };
            if wait_out_full(&err, full_retries) {
                continue;
            }
            self.refused(&err);
            start += 1;
        }
    }

    /// Counts one system call that sent `datagrams` datagrams of `bytes` bytes in all.
    fn count_sent(&self, datagrams: usize, bytes: usize) {
        let c = &self.shared.counters;
        Counters::add(&c.datagrams, datagrams as u64);
        Counters::add(&c.bytes, bytes as u64);
        Counters::add(&c.batches, 1);
        self.shared.health.sent();
    }

    /// Counts and logs (rate-limited) a datagram the kernel would not send.
    fn refused(&self, err: &std::io::Error) {
        let c = &self.shared.counters;
        Counters::add(&c.dropped_send_error, 1);
        if err.kind() == ErrorKind::ConnectionRefused {
            self.shared.health.refused();
        }
        log_limited!(
            Warn,
            daemon = %self.shared.daemon,
            %err,
            dropped = c.dropped_send_error.load(Ordering::Relaxed),
            "X-Ray daemon did not take a datagram; is the daemon running at this address?"
        );
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    //! The sender thread's choice between segmented sends and one datagram each, against real
    //! loopback sockets.

    use std::net::{SocketAddr, UdpSocket};

    use super::*;

    /// A sender on a fresh socket connected to a fresh receiver.
    fn sender() -> (Sender, UdpSocket) {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let daemon: SocketAddr = receiver.local_addr().unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(daemon).unwrap();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            queue_bytes: 1 << 20,
            subsegment_bytes: subsegment_bytes(1 << 20),
            health: Health::new(daemon, None),
            wake_batch: 64,
            counters: WorkerCounters::default(),
            handled: Handled::default(),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
            daemon,
        });
        let max_segment = max_segment_payload(&socket);
        (Sender { shared, socket, max_segment, planner: Planner::default(), pacer: None, watch: None }, receiver)
    }

    /// A JSON-like datagram of `n` bytes, `fill` repeated inside braces.
    fn datagram(n: usize, fill: u8) -> Vec<u8> {
        let mut d = vec![fill; n];
        d[0] = b'{';
        d[n - 1] = b'}';
        d
    }

    fn receive(receiver: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
        let mut buf = vec![0u8; 65_536];
        (0..n)
            .map(|_| {
                let len = receiver.recv(&mut buf).unwrap();
                buf[..len].to_vec()
            })
            .collect()
    }

    #[test]
    fn similar_datagrams_go_out_in_one_call() {
        let (mut sender, receiver) = sender();
        let batch = vec![datagram(300, b'a'), datagram(290, b'b'), datagram(305, b'c'), datagram(40, b'd')];
        sender.send(&batch);
        let stats = sender.shared.counters.snapshot();
        assert_eq!((stats.datagrams, stats.batches, stats.dropped_send_error), (4, 1, 0), "{stats:?}");
        let mut got = receive(&receiver, 4);
        got.sort_by_key(|d| d[1]);
        // Largest first and unpadded, the last unpadded, the middle ones padded to 305 bytes.
        let padded = |d: &[u8]| [&d[..d.len() - 1], &vec![b' '; 305 - d.len()], b"}"].concat();
        assert_eq!(got, [padded(&batch[0]), padded(&batch[1]), batch[2].clone(), batch[3].clone()]);
    }

    #[test]
    fn a_refused_segmented_send_falls_back_to_one_datagram_each() {
        let (mut sender, receiver) = sender();
        // Three 30,000-byte datagrams are more than one send may carry (the planner never asks
        // for this; the kernel refuses it with EMSGSIZE, as it refuses segmentation it lacks).
        let members: Vec<Vec<u8>> = (0..3).map(|i| datagram(30_000, b'0' + i)).collect();
        let slices: Vec<&[u8]> = members.iter().map(Vec::as_slice).collect();
        let mut retries = 0;
        assert_eq!(sender.send_run(&slices, 30_000, &mut retries), 0, "nothing sent segmented");
        assert_eq!(sender.max_segment, None, "segmentation is off from now on");
        // The next batch goes out one datagram each, whole and unpadded.
        sender.send(&members);
        let stats = sender.shared.counters.snapshot();
        assert_eq!((stats.datagrams, stats.dropped_send_error), (3, 0), "{stats:?}");
        let mut got = receive(&receiver, 3);
        got.sort();
        assert_eq!(got, members);
    }
}
