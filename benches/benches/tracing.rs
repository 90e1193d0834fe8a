//! xray-tracing: what `xray_tracing::layer()` adds to a `tracing` span, beside the same span
//! under `tracing_subscriber::Registry` alone.
//!
//! Each iteration creates, enters, exits and closes one INFO span with one field
//! (`info_span!("work", n).in_scope(..)`). Inside a trace, every 100 spans run under a new
//! sampled segment (entered, then ended into a `NullEmitter`), in both the measured and the
//! floor case, so that the segment does not grow without bound; its cost is in both figures.
//! Run with `cargo bench -p xray-benches --bench tracing`.
//!
//! Results: one run of `cargo bench -p xray-benches --bench tracing`, 2026-12-08 01:06 UTC, the
//! project's 2-core KVM guest (2 shared AMD EPYC vCPUs, x86_64 Linux), with other builds running
//! (load average 3.0 to 3.1 on the 2 cores: `registry_in_trace`'s interval was 205 to 777 ns,
//! so the wall ratios are rough). The instructions column is one
//! `valgrind --tool=callgrind` run per bench (`--profile-time 10`, 111,000 to 1,410,000 spans),
//! instructions per span inside the timed loop (`--toggle-collect` on `spans_in_trace`, or on
//! `span` outside a trace, where the loop is inlined), divided by the calls of `Span::new`:
//! immune to the load, and the figure to compare.
//!
//! | bench | measured | floor (same run) | ratio | instructions (ratio) | target |
//! |---|---|---|---|---|---|
//! | tracing/span/sampled | 1.28 µs | tracing/span/registry_in_trace 386 ns | 3.3× | 6,993 / 958 (7.3×) | ≤ 2× (missed) |
//! | tracing/span/outside_trace | 165 ns | tracing/span/registry_outside 205 ns | 0.80× | 1,068 / 953 (1.12×) | ≤ 1.1× (missed) |
//!
//! Inside a trace the span's cost is a subsegment's (8,096 instructions before the metadata kept
//! its namespace borrowed in a list sized for one, the document was copied twice rather than
//! three times on finish, and the layer's span state and field visitor
//! shrank). Of its ~6,000 instructions over the floor (callgrind, per span): the field's metadata
//! ~1,300 inserted (the key `String`, a one-slot namespace list, and the map: in this bench
//! serde_json's `preserve_order` is on, unified in from `aws-smithy-http-client`'s `test-util`,
//! so the map is an `IndexMap` whose hashing and two allocations are ~850 of it; without the
//! feature it is a `BTreeMap` leaf) and ~400 dropped with the document; beginning the
//! subsegment ~630 (its `Arc` node, into which the ~450-byte document is still copied once, its
//! name `String`, id, clock); ending it ~780 (the parent's `Vec<SegmentDocument>` growing by
//! doubling ~330 with 100 children, two copies of the document ~150, sizing ~130, the locks);
//! the document's drop ~740 in all; the span's extension box ~200. glibc's malloc/free pay
//! ~2,000 of it (7 allocations per span), as a segment frees its 100 subsegments at once.
//! What the layer itself does (context read, filter, field visit, enter/exit swaps) is a few
//! hundred. Reaching 2× needs fewer allocations per subsegment than the model's types allow
//! (a `String` name and key, a `serde_json::Map`, a `Vec` of documents). Outside a trace the
//! layer reads the context first and returns, before its target filter is compared.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;
use xray_core::{AlwaysSample, NullEmitter, Recorder};

const SPANS_PER_SEGMENT: u64 = 100;

fn span() {
    tracing::info_span!("work", n = 1u64).in_scope(|| black_box(()));
}

/// `iters` spans, a new sampled segment current for every 100 of them.
fn spans_in_trace(recorder: &Recorder, iters: u64) -> Duration {
    let start = Instant::now();
    let mut done = 0;
    while done < iters {
        let segment = recorder.new_segment("bench");
        let batch = SPANS_PER_SEGMENT.min(iters - done);
        segment.in_scope(|| {
            for _ in 0..batch {
                span();
            }
        });
        segment.end();
        done += batch;
    }
    start.elapsed()
}

fn spans_outside(iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        span();
    }
    start.elapsed()
}

fn bench_span(c: &mut Criterion) {
    let recorder =
        Recorder::builder().with_sampler(AlwaysSample).with_emitter(NullEmitter::default()).build().expect("recorder");
    let registry = Dispatch::new(tracing_subscriber::registry());
    let with_xray = Dispatch::new(tracing_subscriber::registry().with(xray_tracing::layer()));

    let mut group = c.benchmark_group("tracing/span");
    tracing::dispatcher::with_default(&registry, || {
        group.bench_function("registry_in_trace", |b| b.iter_custom(|iters| spans_in_trace(&recorder, iters)));
        group.bench_function("registry_outside", |b| b.iter_custom(spans_outside));
    });
    tracing::dispatcher::with_default(&with_xray, || {
        group.bench_function("sampled", |b| b.iter_custom(|iters| spans_in_trace(&recorder, iters)));
        group.bench_function("outside_trace", |b| b.iter_custom(spans_outside));
    });
    group.finish();
}

criterion_group!(benches, bench_span);
criterion_main!(benches);
