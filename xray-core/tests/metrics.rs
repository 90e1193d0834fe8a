//! Feature `metrics`: a recorder publishes its emitter's counters through the `metrics` facade
//! on its own thread, read here from a real `metrics` recorder (metrics-util's debugging one)
//! while a real UDP emitter sends to a fake daemon.
#![cfg(feature = "metrics")]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use xray_core::{AlwaysSample, Recorder, UdpEmitter};
use xray_tests::FakeDaemon;

const WAIT: Duration = Duration::from_secs(5);

/// The process's `metrics` recorder: one for the whole test binary.
fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().expect("no other metrics recorder in this test binary");
        snapshotter
    })
}

/// Every metric's value now, keyed by `name` or `name{label=value}`. Taking a snapshot resets
/// the debugging recorder's counters: each publication sets them again.
fn values() -> BTreeMap<String, f64> {
    snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (name, labels) = key.key().clone().into_parts();
            let mut id = name.as_str().to_owned();
            for label in labels {
                id.push_str(&format!("{{{}={}}}", label.key(), label.value()));
            }
            let value = match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(_) => f64::NAN,
            };
            (id, value)
        })
        .collect()
}

/// Waits (bounded) until `metric` has `value`; the values last seen.
fn wait_for(metric: &str, value: f64) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = values();
        if now.get(metric) == Some(&value) || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How many threads of this process are named `xray-metrics` (Linux: `/proc/self/task`).
fn publisher_threads() -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim_end() == "xray-metrics")
            .count(),
    )
}

/// Waits (bounded) until `expected` publisher threads run (a new thread names itself once it
/// runs); how many run then.
fn wait_threads(expected: usize) -> Option<usize> {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = publisher_threads()?;
        if now == expected || Instant::now() >= deadline {
            return Some(now);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

// One test: the `metrics` recorder is global, and two recorders would set the same metrics.
#[test]
fn the_recorder_publishes_its_emitters_counters_until_it_shuts_down() {
    let _ = snapshotter();
    let daemon = FakeDaemon::start();
    let threads_before = publisher_threads();
    // A small queue, so that one large document is dropped as the queue's overflow.
    let emitter = UdpEmitter::builder(daemon.addr()).with_queue_bytes(16 * 1024).build().unwrap();
    let recorder = Recorder::builder()
        .with_sampler(AlwaysSample)
        .with_emitter(emitter)
        .with_metrics_interval(Some(Duration::from_millis(10)))
        .build()
        .unwrap();
    if let Some(before) = threads_before {
        assert_eq!(wait_threads(before + 1), Some(before + 1), "the recorder starts one publisher thread");
    }

    // Published periodically, while the recorder runs: no user code, no shutdown needed.
    for i in 0..3 {
        let segment = recorder.new_segment("orders");
        segment.annotate("n", i);
        segment.end();
    }
    assert!(recorder.flush(WAIT));
    let datagrams = daemon.wait_for(3, WAIT);
    assert_eq!(datagrams.len(), 3);
    let bytes: usize = datagrams.iter().map(|d| d.bytes.len()).sum();
    let seen = wait_for("xray_bytes_sent_total", bytes as f64);
    assert_eq!(seen.get("xray_segments_enqueued_total"), Some(&3.0), "{seen:#?}");
    assert_eq!(seen.get("xray_segments_emitted_total"), Some(&3.0), "{seen:#?}");
    assert_eq!(seen.get("xray_datagrams_sent_total"), Some(&3.0), "{seen:#?}");
    assert_eq!(seen.get("xray_bytes_sent_total"), Some(&(bytes as f64)), "{seen:#?}");
    assert_eq!(seen.get("xray_queue_depth"), Some(&0.0), "{seen:#?}");
    assert_eq!(seen.get("xray_daemon_unreachable"), Some(&0.0), "{seen:#?}");
    for reason in ["queue_full", "send_error", "encode_error"] {
        // Published as zero from the start, so that an alert on it has a series.
        assert_eq!(seen.get(&format!("xray_segments_dropped_total{{reason={reason}}}")), Some(&0.0), "{seen:#?}");
    }

    // A document larger than the whole queue is dropped, and the drop shows by its reason.
    let big = recorder.new_segment("orders");
    big.add_metadata("blob", "x".repeat(64 * 1024));
    big.end();
    let stats = recorder.stats();
    assert_eq!(stats.dropped_queue_full, 1, "{stats:?}");
    let seen = wait_for("xray_segments_dropped_total{reason=queue_full}", 1.0);
    assert_eq!(seen.get("xray_segments_dropped_total{reason=queue_full}"), Some(&1.0), "{seen:#?}");
    assert_eq!(seen.get("xray_traces_dropped_total"), Some(&(stats.dropped_traces as f64)), "{seen:#?}");
    assert_eq!(seen.get("xray_segments_enqueued_total"), Some(&(stats.enqueued as f64)), "{seen:#?}");

    // Shutdown publishes once more and stops the publisher's thread.
    assert!(recorder.shutdown(WAIT));
    if let (Some(before), Some(now)) = (threads_before, publisher_threads()) {
        assert_eq!(now, before, "the publisher thread ended with the shutdown");
    }
    // The last publication (a snapshot of the debugging recorder also resets its counters).
    let last = values();
    let enqueued = recorder.stats().enqueued;
    assert_eq!(last.get("xray_segments_enqueued_total"), Some(&(enqueued as f64)), "{last:#?}");
    // What happens afterwards is counted by the emitter but no longer published: five
    // publisher intervals later, no counter was set again.
    recorder.new_segment("late").end();
    assert!(recorder.flush(WAIT));
    assert_eq!(recorder.stats().enqueued, enqueued + 1);
    std::thread::sleep(Duration::from_millis(50));
    let after = values();
    assert_eq!(after.get("xray_segments_enqueued_total"), Some(&0.0), "{after:#?}");
    assert_eq!(after.get("xray_datagrams_sent_total"), Some(&0.0), "{after:#?}");

    // A recorder dropped without a shutdown stops its publisher too.
    let other = Recorder::builder()
        .with_sampler(AlwaysSample)
        .with_emitter(xray_core::NullEmitter::default())
        .with_metrics_interval(Some(Duration::from_secs(3600)))
        .build()
        .unwrap();
    if let Some(before) = threads_before {
        assert_eq!(wait_threads(before + 1), Some(before + 1));
        drop(other);
        assert_eq!(publisher_threads(), Some(before));
    }
    // And `None` starts no thread at all.
    let quiet = Recorder::builder()
        .with_sampler(AlwaysSample)
        .with_emitter(xray_core::NullEmitter::default())
        .with_metrics_interval(None)
        .build()
        .unwrap();
    assert_eq!(publisher_threads(), threads_before);
    drop(quiet);
}
