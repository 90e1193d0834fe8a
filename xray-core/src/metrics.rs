//! The emitter's counters through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`), so that a Prometheus (or any other) exporter shows how many segments were sent
//! and how many were lost, without code of the application's own.
//!
//! With the feature on, every recorder that [`RecorderBuilder::build`](crate::RecorderBuilder::build)
//! makes (and that is enabled) starts a low-frequency publisher on a thread of its own: every
//! [`DEFAULT_INTERVAL`] (see [`with_metrics_interval`](crate::RecorderBuilder::with_metrics_interval))
//! it reads [`Recorder::stats`](crate::Recorder::stats) and sets the metrics below to those absolute
//! values. It never touches the request path: a segment's end still only hands the document to the
//! emitter's queue. The publisher stops, after a last publication, when the recorder shuts down
//! ([`Recorder::shutdown`](crate::Recorder::shutdown), dropping the
//! [`RecorderGuard`](crate::RecorderGuard)) or when the last clone of the recorder is dropped.
//!
//! | metric | kind | from [`EmitterStats`] |
//! |---|---|---|
//! | `xray_segments_enqueued_total` | counter | `enqueued`: documents handed to the emitter |
//! | `xray_segments_emitted_total` | counter | `emitted`: documents sent (after splitting) |
//! | `xray_segments_dropped_total{reason="queue_full"}` | counter | `dropped_queue_full` |
//! | `xray_segments_dropped_total{reason="send_error"}` | counter | `dropped_send_error` (datagrams the socket refused) |
//! | `xray_segments_dropped_total{reason="encode_error"}` | counter | `dropped_encode_error` |
//! | `xray_segments_dropped_total{reason="receive_buffer"}` | counter | `dropped_receive_buffer` (datagrams a loopback daemon's full buffer dropped) |
//! | `xray_traces_dropped_total` | counter | `dropped_traces`: traces that lost a document |
//! | `xray_segments_split_total` | counter | `split`: documents sent as several datagrams |
//! | `xray_segments_truncated_total` | counter | `truncated`: documents with a field cut to fit |
//! | `xray_datagrams_sent_total` | counter | `datagrams` |
//! | `xray_bytes_sent_total` | counter | `bytes`, headers included |
//! | `xray_batches_sent_total` | counter | `batches` (system calls) |
//! | `xray_queue_depth` | gauge | `queued`: documents waiting to be sent |
//! | `xray_daemon_unreachable` | gauge | `1` while `daemon_unreachable_since` is set, else `0` |
//!
//! "Segments" counts documents: segments, and subsegments sent on their own. Nothing is ever
//! dropped for its size (an oversized document is split or cut, counted in `split` and
//! `truncated`). The metrics carry no labels besides `reason`: one recorder per process is
//! expected; with several, each sets the same metrics.
//!
//! Any `metrics` recorder works (`metrics-exporter-prometheus`, a StatsD or CloudWatch one);
//! install it before the X-Ray recorder, or at any time: the next publication finds it.
//!
//! ```
//! use std::time::Duration;
//! use xray_core::{AlwaysSample, MemoryEmitter, Recorder};
//!
//! // metrics_exporter_prometheus::PrometheusBuilder::new().install()?; // for example
//! let recorder = Recorder::builder()
//!     .with_sampler(AlwaysSample)
//!     .with_emitter(MemoryEmitter::new())
//!     .with_metrics_interval(Some(Duration::from_secs(15))) // Defaults to 10 s
//!     .build()
//!     .unwrap();
//! recorder.new_segment("checkout").end();
//! recorder.shutdown(Duration::from_secs(1)); // publishes once more, then the publisher stops
//!
//! // Publishing by hand, for a setup of one's own:
//! xray_core::metrics::publish(&recorder.stats());
//! ```

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, gauge};

use crate::emit::{Emitter, EmitterStats};
use crate::log::log_limited;

/// How often a recorder publishes its counters unless told otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// `xray_segments_enqueued_total`: documents handed to the emitter.
pub const SEGMENTS_ENQUEUED: &str = "xray_segments_enqueued_total";
/// `xray_segments_emitted_total`: documents sent to the daemon.
pub const SEGMENTS_EMITTED: &str = "xray_segments_emitted_total";
/// `xray_segments_dropped_total`, labelled `reason` (`queue_full`, `send_error`, `encode_error`,
/// `receive_buffer`).
pub const SEGMENTS_DROPPED: &str = "xray_segments_dropped_total";
/// `xray_traces_dropped_total`: traces that lost at least one document to a full queue.
pub const TRACES_DROPPED: &str = "xray_traces_dropped_total";
/// `xray_segments_split_total`: documents sent as several datagrams.
pub const SEGMENTS_SPLIT: &str = "xray_segments_split_total";
/// `xray_segments_truncated_total`: documents with a field cut to fit a datagram.
pub const SEGMENTS_TRUNCATED: &str = "xray_segments_truncated_total";
/// `xray_datagrams_sent_total`: datagrams sent.
pub const DATAGRAMS_SENT: &str = "xray_datagrams_sent_total";
/// `xray_bytes_sent_total`: bytes sent, headers included.
pub const BYTES_SENT: &str = "xray_bytes_sent_total";
/// `xray_batches_sent_total`: batches (system calls) sent.
pub const BATCHES_SENT: &str = "xray_batches_sent_total";
/// `xray_queue_depth`: documents handed over and not yet sent or dropped.
pub const QUEUE_DEPTH: &str = "xray_queue_depth";
/// `xray_daemon_unreachable`: `1` while the daemon is known to be unreachable, else `0`.
pub const DAEMON_UNREACHABLE: &str = "xray_daemon_unreachable";

/// The label of [`SEGMENTS_DROPPED`].
pub const REASON: &str = "reason";

/// Sets every metric of the table above to the value in `stats` (counters to the absolute
/// count), through the `metrics` recorder installed now (none: nothing happens).
pub fn publish(stats: &EmitterStats) {
    counter!(SEGMENTS_ENQUEUED).absolute(stats.enqueued);
    counter!(SEGMENTS_EMITTED).absolute(stats.emitted);
    counter!(SEGMENTS_DROPPED, REASON => "queue_full").absolute(stats.dropped_queue_full);
    counter!(SEGMENTS_DROPPED, REASON => "send_error").absolute(stats.dropped_send_error);
    counter!(SEGMENTS_DROPPED, REASON => "encode_error").absolute(stats.dropped_encode_error);
    counter!(SEGMENTS_DROPPED, REASON => "receive_buffer").absolute(stats.dropped_receive_buffer);
    counter!(TRACES_DROPPED).absolute(stats.dropped_traces);
    counter!(SEGMENTS_SPLIT).absolute(stats.split);
    counter!(SEGMENTS_TRUNCATED).absolute(stats.truncated);
    counter!(DATAGRAMS_SENT).absolute(stats.datagrams);
    counter!(BYTES_SENT).absolute(stats.bytes);
    counter!(BATCHES_SENT).absolute(stats.batches);
    gauge!(QUEUE_DEPTH).set(stats.queued as f64);
    gauge!(DAEMON_UNREACHABLE).set(if stats.daemon_unreachable_since.is_some() { 1.0 } else { 0.0 });
}

/// Describes the metrics (unit and help text) to the installed `metrics` recorder.
pub fn describe() {
    describe_counter!(SEGMENTS_ENQUEUED, Unit::Count, "X-Ray documents handed to the emitter");
    describe_counter!(SEGMENTS_EMITTED, Unit::Count, "X-Ray documents sent to the daemon");
    describe_counter!(SEGMENTS_DROPPED, Unit::Count, "X-Ray documents lost, by reason");
    describe_counter!(TRACES_DROPPED, Unit::Count, "X-Ray traces that lost a document to a full queue");
    describe_counter!(SEGMENTS_SPLIT, Unit::Count, "X-Ray documents sent as several datagrams");
    describe_counter!(SEGMENTS_TRUNCATED, Unit::Count, "X-Ray documents with a field cut to fit a datagram");
    describe_counter!(DATAGRAMS_SENT, Unit::Count, "UDP datagrams sent to the X-Ray daemon");
    describe_counter!(BYTES_SENT, Unit::Bytes, "bytes sent to the X-Ray daemon");
    describe_counter!(BATCHES_SENT, Unit::Count, "batches (system calls) sent to the X-Ray daemon");
    describe_gauge!(QUEUE_DEPTH, Unit::Count, "X-Ray documents waiting to be sent");
    describe_gauge!(DAEMON_UNREACHABLE, "1 while the X-Ray daemon is known to be unreachable");
}

/// The stop flag the publisher's thread waits on.
#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// A recorder's publisher thread; stops (after publishing once more) on [`stop`](Self::stop)
/// or when dropped.
pub(crate) struct Publisher {
    stop: Arc<Stop>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Publisher {
    /// Starts publishing `emitter`'s counters every `interval`; `None` when the thread could
    /// not be started (logged; the recorder works on without metrics).
    pub(crate) fn start(emitter: Arc<dyn Emitter>, interval: Duration) -> Option<Self> {
        let stop = Arc::new(Stop::default());
        let flag = stop.clone();
        let spawned = std::thread::Builder::new().name("xray-metrics".into()).spawn(move || {
            describe();
            publish(&emitter.stats());
            let mut stopped = flag.stopped.lock().unwrap_or_else(PoisonError::into_inner);
            while !*stopped {
                stopped = flag.wake.wait_timeout(stopped, interval).unwrap_or_else(PoisonError::into_inner).0;
                // Published without the flag's lock held: `stop` never waits on a slow recorder.
                drop(stopped);
                publish(&emitter.stats());
                stopped = flag.stopped.lock().unwrap_or_else(PoisonError::into_inner);
            }
            // One last publication that surely follows `stop` (and so the emitter's shutdown).
            drop(stopped);
            publish(&emitter.stats());
        });
        match spawned {
            Ok(thread) => Some(Self { stop, thread: Mutex::new(Some(thread)) }),
            Err(err) => {
                log_limited!(Warn, %err, "X-Ray metrics are not published: the publisher thread did not start");
                None
            }
        }
    }

    /// Publishes once more and stops the thread (waiting for it); later calls do nothing.
    pub(crate) fn stop(&self) {
        *self.stop.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.stop.wake.notify_all();
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread
            && thread.thread().id() != std::thread::current().id()
        {
            // The thread only publishes and returns; a panic in a metrics recorder ended it already.
            let _ = thread.join();
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use metrics_util::MetricKind;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    /// Every metric's value in a snapshot, keyed by `name` or `name{reason}`.
    fn values(recorder: &DebuggingRecorder) -> std::collections::BTreeMap<String, (MetricKind, f64)> {
        recorder
            .snapshotter()
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let (kind, key) = key.into_parts();
                let (name, labels) = key.into_parts();
                let mut id = name.as_str().to_owned();
                for label in labels {
                    id.push_str(&format!("{{{}={}}}", label.key(), label.value()));
                }
                let value = match value {
                    DebugValue::Counter(n) => n as f64,
                    DebugValue::Gauge(g) => g.into_inner(),
                    DebugValue::Histogram(_) => f64::NAN,
                };
                (id, (kind, value))
            })
            .collect()
    }

    #[test]
    fn publish_sets_each_metric_from_its_field() {
        let recorder = DebuggingRecorder::new();
        // `..default()` so that a counter added to EmitterStats does not break this test before
        // it is published here.
        #[allow(clippy::needless_update)]
        let stats = EmitterStats {
            enqueued: 1,
            emitted: 2,
            datagrams: 3,
            bytes: 4,
            batches: 5,
            dropped_queue_full: 6,
            dropped_traces: 7,
            queued: 8,
            daemon_unreachable_since: Some(SystemTime::now()),
            dropped_send_error: 9,
            dropped_encode_error: 10,
            split: 11,
            truncated: 12,
            dropped_receive_buffer: 13,
            ..EmitterStats::default()
        };
        metrics::with_local_recorder(&recorder, || publish(&stats));
        let c = MetricKind::Counter;
        let g = MetricKind::Gauge;
        let expected = [
            ("xray_batches_sent_total", (c, 5.0)),
            ("xray_bytes_sent_total", (c, 4.0)),
            ("xray_daemon_unreachable", (g, 1.0)),
            ("xray_datagrams_sent_total", (c, 3.0)),
            ("xray_queue_depth", (g, 8.0)),
            ("xray_segments_dropped_total{reason=encode_error}", (c, 10.0)),
            ("xray_segments_dropped_total{reason=queue_full}", (c, 6.0)),
            ("xray_segments_dropped_total{reason=receive_buffer}", (c, 13.0)),
            ("xray_segments_dropped_total{reason=send_error}", (c, 9.0)),
            ("xray_segments_emitted_total", (c, 2.0)),
            ("xray_segments_enqueued_total", (c, 1.0)),
            ("xray_segments_split_total", (c, 11.0)),
            ("xray_segments_truncated_total", (c, 12.0)),
            ("xray_traces_dropped_total", (c, 7.0)),
        ];
        let got = values(&recorder);
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for (name, value) in expected {
            assert_eq!(got.get(name), Some(&value), "{name}: {got:#?}");
        }

        // Counters are absolute: publishing the same or a later snapshot sets, never adds.
        let later = EmitterStats { emitted: 20, queued: 0, daemon_unreachable_since: None, ..stats };
        metrics::with_local_recorder(&recorder, || {
            publish(&stats);
            publish(&later);
        });
        let got = values(&recorder);
        assert_eq!(got["xray_segments_emitted_total"], (c, 20.0));
        assert_eq!(got["xray_segments_enqueued_total"], (c, 1.0));
        assert_eq!(got["xray_queue_depth"], (g, 0.0));
        assert_eq!(got["xray_daemon_unreachable"], (g, 0.0));
    }
}
