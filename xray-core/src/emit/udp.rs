//! [`UdpEmitter`]: a bounded in-memory queue drained by an emitter thread, which serializes
//! into reused buffers, and a sender thread, which hands the kernel up to 128 datagrams per call:
//! on Linux, datagrams of similar size go out as one segmented buffer (see [`super::gso`]), the
//! rest through `sendmmsg`.
//!
//! The request path locks the queue for a push and nothing more: no syscall, no wake-up, unless
//! its push fills a batch. The emitter thread wakes on a short timer (backing off while idle) or
//! on that batch signal. Serializing and sending run on two threads so that, with a core to
//! spare, encoding overlaps the system calls (the kernel's per-datagram cost dominates).

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::dropped::DroppedTraces;
use super::encode::Encoder;
use super::gso::Planner;
use super::health::Health;
use super::pace::{DEFAULT_BUDGET, DEFAULT_INTERVAL, Pacer, charge};
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
    /// Caps the memory queued documents hold (an upper-bound estimate of their heap, counted
    /// until they are sent). Independent subsegments may fill seven eighths of it; the last
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
    /// word. Only the emitter's own threads wait; the request path never does. Zero for
    /// either turns pacing off. Defaults to 96 KiB per 5 ms: under half of Linux's default
    /// 212,992-byte receive buffer per interval (about 8,000 small documents a second); raise
    /// it when the daemon's buffer is larger (`net.core.rmem_default`).
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
            handled: Mutex::new(0),
            handled_cv: Condvar::new(),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
            daemon: self.daemon,
        });
        // The emitter thread serializes while a sender thread makes the system calls, so on a
        // machine with a spare core encoding overlaps sending.
        let (to_sender, from_encoder) = std::sync::mpsc::sync_channel(4);
        let (recycle, recycled) = std::sync::mpsc::channel();
        let max_segment = if self.segmentation { max_segment_payload(&socket) } else { None };
        let pacer = Pacer::new(self.send_budget, self.send_interval);
        let sender =
            Sender { shared: shared.clone(), socket, recycle, max_segment, planner: Planner::default(), pacer };
        std::thread::Builder::new()
            .name("xray-sender".into())
            .spawn(move || sender.run(from_encoder))
            .map_err(EmitterError::Thread)?;
        let worker = Worker { shared: shared.clone(), to_sender, recycled, interval: self.flush_interval };
        let handle = std::thread::Builder::new()
            .name("xray-emitter".into())
            .spawn(move || worker.run())
            .map_err(EmitterError::Thread)?;
        let _ = shared.thread.set(handle.thread().clone());
        shared.health.probe_soon();
        Ok(UdpEmitter { shared })
    }
}

/// What producers touch: one mutex-protected cache line's worth of state, so that a push costs
/// a lock and a move and shares no counter with the emitter thread.
#[derive(Default)]
struct Queue {
    docs: Vec<SegmentDocument>,
    /// What the queued documents hold ([`SegmentDocument::queued_size`]).
    bytes: u64,
    /// What the documents the emitter thread took and has not finished with hold: they are
    /// still in memory, so they still count against the cap.
    in_flight: u64,
    enqueued: u64,
    dropped_queue_full: u64,
    dropped_traces: u64,
    dropped: DroppedTraces,
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
    handled: Mutex<u64>,
    handled_cv: Condvar,
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

    fn mark_handled(&self, n: u64) {
        let mut handled = self.handled.lock().unwrap_or_else(PoisonError::into_inner);
        *handled += n;
        self.handled_cv.notify_all();
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
/// Memory is bounded: the queue's cap ([`UdpEmitterBuilder::with_queue_bytes`]) counts what
/// documents hold on the heap until they are sent, and the emitter's own buffers stay under
/// about 4 MiB (a few batches of 128 datagram buffers, each kept only up to 4 KiB; larger
/// ones are freed once sent). When the queue is full, a trace that loses a document loses
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
        let s = &self.shared;
        let size = document.queued_size() as u64;
        let trace = document.trace_id;
        let subsegment = document.kind.is_some();
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
            log_limited!(Warn, "X-Ray emitter queue is full; segments are being dropped (see stats())");
            return;
        }
        if !subsegment && let Some(t) = trace {
            // The segment comes last: nothing more of its trace will.
            queue.dropped.remove(t);
        }
        queue.bytes += size;
        queue.docs.push(document);
        let len = queue.docs.len();
        drop(queue);
        if len == s.wake_batch {
            s.wake();
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let s = &self.shared;
        let deadline = Instant::now() + timeout;
        // Everything queued so far must be handled; documents dropped at the door never will be.
        let target = {
            let queue = s.lock_queue();
            queue.enqueued - queue.dropped_queue_full
        };
        s.wake();
        let mut handled = s.handled.lock().unwrap_or_else(PoisonError::into_inner);
        while *handled < target {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            handled = s
                .handled_cv
                .wait_timeout(handled, (deadline - now).min(Duration::from_millis(50)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            s.wake();
        }
        true
    }

    fn stats(&self) -> EmitterStats {
        let s = &self.shared;
        let mut stats = s.counters.snapshot();
        let queue = s.lock_queue();
        stats.enqueued = queue.enqueued;
        stats.dropped_queue_full = queue.dropped_queue_full;
        stats.dropped_traces = queue.dropped_traces;
        let accepted = queue.enqueued - queue.dropped_queue_full;
        drop(queue);
        let handled = *s.handled.lock().unwrap_or_else(PoisonError::into_inner);
        stats.queued = accepted.saturating_sub(handled);
        stats.daemon_unreachable_since = s.health.unreachable_since();
        stats
    }
}

impl Drop for UdpEmitter {
    fn drop(&mut self) {
        self.flush(Duration::from_secs(1));
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake();
    }
}

/// What the emitter thread hands the sender thread, in order.
enum ToSender {
    /// The first `usize` buffers are datagrams to send.
    Batch(Vec<Vec<u8>>, usize),
    /// This many documents are now fully sent (for `flush`).
    Handled(u64),
}

/// The emitter thread: takes the queue, serializes and splits, fills batches.
struct Worker {
    shared: Arc<Shared>,
    to_sender: std::sync::mpsc::SyncSender<ToSender>,
    recycled: std::sync::mpsc::Receiver<Vec<Vec<u8>>>,
    interval: Duration,
}

/// The emitter keeps room for this many queued documents between bursts, no more.
const KEEP_DOCS: usize = 1024;

/// Datagram buffers above this capacity are freed once sent rather than reused, so the
/// buffers a few large documents needed are not kept for every later batch.
const KEEP_BUFFER: usize = 4096;

/// An idle emitter sleeps up to this many flush intervals between looks at the queue.
const MAX_IDLE_BACKOFF: u32 = 32;

impl Worker {
    fn fresh_batch(&self) -> Vec<Vec<u8>> {
        self.recycled.try_recv().unwrap_or_else(|_| (0..MAX_BATCH).map(|_| Vec::with_capacity(2048)).collect())
    }

    fn run(self) {
        let mut encoder = Encoder::new();
        let mut taken: Vec<SegmentDocument> = Vec::new();
        let mut batch = self.fresh_batch();
        let mut used = 0usize;
        let mut backoff = 1u32;
        loop {
            std::thread::park_timeout(self.interval * backoff);
            let stopping = self.shared.stop.load(Ordering::Acquire);
            let taken_bytes = {
                let mut queue = self.shared.lock_queue();
                std::mem::swap(&mut queue.docs, &mut taken);
                let bytes = std::mem::take(&mut queue.bytes);
                queue.in_flight += bytes;
                bytes
            };
            let n = taken.len() as u64;
            backoff = if n == 0 { (backoff * 2).min(MAX_IDLE_BACKOFF) } else { 1 };
            for doc in taken.drain(..) {
                let mut docs = 0u64;
                let result = encoder.encode(doc, &mut |buf: &mut Vec<u8>| {
                    std::mem::swap(buf, &mut batch[used]);
                    used += 1;
                    docs += 1;
                    if used == MAX_BATCH {
                        let full = std::mem::replace(&mut batch, self.fresh_batch());
                        let _ = self.to_sender.send(ToSender::Batch(full, used));
                        used = 0;
                    }
                });
                let c = &self.shared.counters;
                match result {
                    Ok(report) => {
                        Counters::add(&c.emitted, docs);
                        Counters::add(&c.split, u64::from(report.split));
                        Counters::add(&c.truncated, u64::from(report.truncated));
                    }
                    Err(err) => {
                        Counters::add(&c.dropped_encode_error, 1);
                        log_limited!(Warn, %err, "X-Ray document could not be serialized and was dropped");
                    }
                }
            }
            if used > 0 {
                let full = std::mem::replace(&mut batch, self.fresh_batch());
                let _ = self.to_sender.send(ToSender::Batch(full, used));
                used = 0;
            }
            if n > 0 {
                let _ = self.to_sender.send(ToSender::Handled(n));
                self.shared.lock_queue().in_flight -= taken_bytes;
            }
            if taken.capacity() > KEEP_DOCS {
                // A burst's queue is not kept: its slack would escape the cap.
                taken = Vec::new();
            }
            if stopping && self.shared.lock_queue().docs.is_empty() {
                log_event!(Debug, "X-Ray emitter thread stopping");
                return;
            }
        }
    }
}

/// The sender thread: owns the socket and makes the system calls.
struct Sender {
    shared: Arc<Shared>,
    socket: UdpSocket,
    recycle: std::sync::mpsc::Sender<Vec<Vec<u8>>>,
    /// The largest datagram a segmented send may carry; `None` once segmentation has failed,
    /// or where it is not available.
    max_segment: Option<usize>,
    planner: Planner,
    /// `None` when sends are not paced.
    pacer: Option<Pacer>,
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
    /// Runs until the emitter thread is gone.
    fn run(mut self, from_encoder: std::sync::mpsc::Receiver<ToSender>) {
        for message in from_encoder {
            match message {
                ToSender::Batch(mut bufs, used) => {
                    self.send(&bufs[..used]);
                    for buf in &mut bufs[..used] {
                        if buf.capacity() > KEEP_BUFFER {
                            *buf = Vec::new();
                        }
                    }
                    let _ = self.recycle.send(bufs);
                }
                ToSender::Handled(n) => self.shared.mark_handled(n),
            }
        }
    }

    /// Sends every buffer, in slices the pacer lets through (each at most one budget).
    fn send(&mut self, bufs: &[Vec<u8>]) {
        let Some(budget) = self.pacer.as_ref().map(Pacer::budget) else {
            self.send_now(bufs);
            return;
        };
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
        }
    }

    /// Sends every buffer: runs of similar sizes segmented when the kernel can, the others
    /// one datagram each.
    fn send_now(&mut self, bufs: &[Vec<u8>]) {
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
            handled: Mutex::new(0),
            handled_cv: Condvar::new(),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
            daemon,
        });
        let max_segment = max_segment_payload(&socket);
        let recycle = std::sync::mpsc::channel().0;
        (Sender { shared, socket, recycle, max_segment, planner: Planner::default(), pacer: None }, receiver)
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
