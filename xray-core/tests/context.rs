//! The current entity follows each task and nothing leaks between traces.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use xray_core::test::Capture;
use xray_core::{ContextMissing, Recorder, TraceFutureExt};
use xray_tests::assert_valid;

fn setup() -> (Capture, Recorder) {
    let capture = Capture::new();
    let rec = capture.recorder().clone();
    (capture, rec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_tasks_keep_their_own_trees() {
    let (emitter, rec) = setup();
    let mut tasks = Vec::new();
    for n in 0..1_000u32 {
        let rec = rec.clone();
        tasks.push(tokio::spawn(async move {
            let seg = rec.new_segment("task");
            async move {
                xray_core::current().annotate("n", n);
                xray_core::in_subsegment("outer", async move {
                    xray_core::current().annotate("n", n);
                    tokio::task::yield_now().await;
                    xray_core::in_subsegment("inner", async move {
                        tokio::time::sleep(Duration::from_micros(u64::from(n % 7) * 100)).await;
                        xray_core::current().annotate("n", n);
                    })
                    .await;
                    tokio::task::yield_now().await;
                    xray_core::current().annotate("after_inner", n);
                })
                .await;
                xray_core::current().annotate("after_outer", n);
            }
            .with_entity(seg.entity())
            .await;
            seg.end();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let docs = emitter.documents();
    assert_eq!(docs.len(), 1_000);
    let mut seen = HashMap::new();
    for doc in &docs {
        assert_valid(doc);
        let n = &doc["annotations"]["n"];
        assert_eq!(&doc["annotations"]["after_outer"], n);
        let outer = &doc["subsegments"].as_array().expect("one outer subsegment")[..];
        assert_eq!(outer.len(), 1);
        assert_eq!(outer[0]["name"], "outer");
        assert_eq!(&outer[0]["annotations"]["n"], n);
        assert_eq!(&outer[0]["annotations"]["after_inner"], n);
        let inner = outer[0]["subsegments"].as_array().unwrap();
        assert_eq!(inner.len(), 1);
        assert_eq!(&inner[0]["annotations"]["n"], n);
        assert!(inner[0].get("subsegments").is_none());
        assert!(seen.insert(n.as_u64().unwrap(), doc["trace_id"].clone()).is_none());
    }
    assert_eq!(seen.len(), 1_000);
}

#[tokio::test]
async fn context_crosses_spawn_only_when_asked() {
    let (emitter, rec) = setup();
    let seg = rec.new_segment("parent");
    async {
        let carried = tokio::spawn(async { xray_core::integration::current_quiet().is_sampled() }.in_current_trace());
        let bare = tokio::spawn(async { xray_core::integration::current_quiet().is_sampled() });
        assert!(carried.await.unwrap());
        assert!(!bare.await.unwrap());
        let entity = xray_core::current();
        let from_blocking = tokio::task::spawn_blocking(move || {
            entity.in_scope(|| xray_core::in_subsegment_sync("blocking-work", || xray_core::current().is_sampled()))
        })
        .await
        .unwrap();
        assert!(from_blocking);
        let entity = xray_core::current();
        std::thread::spawn(move || entity.in_scope(|| xray_core::in_subsegment_sync("thread-work", || ())))
            .join()
            .unwrap();
    }
    .with_entity(seg.entity())
    .await;
    seg.end();
    let docs = emitter.documents();
    let names: Vec<&Value> = docs[0]["subsegments"].as_array().unwrap().iter().map(|s| &s["name"]).collect();
    assert_eq!(names, ["blocking-work", "thread-work"]);
    // Back outside: nothing is current.
    assert!(xray_core::integration::current_quiet().is_noop());
}

#[tokio::test]
async fn a_dropped_future_ends_its_subsegment() {
    let (emitter, rec) = setup();
    let seg = rec.new_segment("parent");
    async {
        let slow = xray_core::in_subsegment("abandoned", tokio::time::sleep(Duration::from_secs(60)));
        let _ = tokio::time::timeout(Duration::from_millis(5), slow).await;
    }
    .with_entity(seg.entity())
    .await;
    seg.end();
    let doc = &emitter.documents()[0];
    assert_valid(doc);
    assert_eq!(doc["subsegments"][0]["name"], "abandoned");
}

#[test]
fn missing_context_is_a_no_op_or_an_error_never_a_panic() {
    // The process-wide strategy is set and restored within this one test.
    xray_core::set_context_missing(ContextMissing::RuntimeError);
    assert!(xray_core::try_current().is_err());
    let e = xray_core::current();
    e.annotate("k", 1);
    assert_eq!(xray_core::in_subsegment_sync("nothing", || 5), 5);
    xray_core::set_context_missing(ContextMissing::IgnoreError);
    assert!(xray_core::try_current().unwrap().is_noop());
    xray_core::set_context_missing(ContextMissing::LogError);
    assert!(xray_core::try_current().unwrap().is_noop());
}

#[test]
fn a_panic_inside_a_scope_restores_the_previous_entity() {
    let (_emitter, rec) = setup();
    let seg = rec.new_segment("outer");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        seg.in_scope(|| {
            assert!(xray_core::integration::current_quiet().is_sampled());
            panic!("handler bug");
        })
    }));
    assert!(caught.is_err());
    assert!(xray_core::integration::current_quiet().is_noop());
    seg.end();
}

#[test]
fn entered_guards_nest_and_put_back_what_was_current() {
    let (emitter, rec) = setup();
    let seg = rec.new_segment("sync");
    let sub = seg.begin_subsegment("step");
    assert!(xray_core::integration::current_quiet().is_noop());
    {
        let _outer = seg.entity().enter();
        {
            let _inner = sub.entity().enter();
            xray_core::current().annotate("where", "inner");
        }
        xray_core::current().annotate("where", "outer");
    }
    assert!(xray_core::integration::current_quiet().is_noop());
    sub.end();
    seg.end();
    let doc = &emitter.documents()[0];
    assert_valid(doc);
    assert_eq!(doc["annotations"]["where"], "outer");
    assert_eq!(doc["subsegments"][0]["annotations"]["where"], "inner");
}

#[test]
fn replace_current_swaps_in_and_hands_back_what_was_current() {
    use xray_core::integration::replace_current;
    let (emitter, rec) = setup();
    let seg = rec.new_segment("sync");
    let sub = seg.begin_subsegment("span");
    // What a tracing layer does on enter and exit, nested two deep.
    let before_seg = replace_current(seg.entity());
    assert!(before_seg.is_noop());
    let before_sub = replace_current(sub.entity());
    assert_eq!(before_sub.id(), seg.id());
    xray_core::current().annotate("where", "sub");
    let ours = replace_current(before_sub);
    assert_eq!(ours.id(), sub.id());
    xray_core::current().annotate("where", "seg");
    assert_eq!(replace_current(before_seg).id(), seg.id());
    assert!(xray_core::integration::current_quiet().is_noop());
    sub.end();
    seg.end();
    let doc = &emitter.documents()[0];
    assert_valid(doc);
    assert_eq!(doc["annotations"]["where"], "seg");
    assert_eq!(doc["subsegments"][0]["annotations"]["where"], "sub");
}
