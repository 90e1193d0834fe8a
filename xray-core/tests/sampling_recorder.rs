//! Sampling through the recorder: the centralized default starts polling with the first
//! decision on a runtime and stops with the recorder; never when the SDK is disabled; local
//! rules when centralized sampling is off; an explicit sampler overrides both; and only
//! requests without a decision in their header reach the sampler.

mod support;

use support::eventually;

use std::sync::Arc;

use support::{FakeSamplingDaemon, rule, statistics};
use xray_core::sampling::{CentralizedSampler, LocalRule, LocalRules, SamplingRequest};
use xray_core::{DaemonAddress, MemoryEmitter, NeverSample, Recorder, TraceHeader, TraceId};

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

fn nothing_locally() -> LocalRules {
    LocalRules::builder().with_default(0, 0.0).build().unwrap()
}

fn recorder(daemon: &FakeSamplingDaemon, emitter: &Arc<MemoryEmitter>) -> xray_core::RecorderBuilder {
    Recorder::builder()
        .with_service_name("shop")
        .with_daemon_address(DaemonAddress::from(daemon.addr()))
        .with_emitter(emitter.clone())
}

fn header(sampled: &str) -> TraceHeader {
    TraceHeader::parse(&format!("Root={};Parent=53995c3f42cd8ad8;Sampled={sampled}", TraceId::new()))
}

#[tokio::test(flavor = "current_thread")]
async fn centralized_by_default_polls_lazily_and_stops_with_the_recorder() {
    let daemon = FakeSamplingDaemon::start();
    daemon.set_rule_pages(vec![vec![rule("everything", 1, "*", 0, 1.0), rule("Default", 10000, "*", 0, 0.0)]]);
    let emitter = Arc::new(MemoryEmitter::new());
    let recorder = recorder(&daemon, &emitter).with_sampling_rules(nothing_locally()).build().unwrap();

    // Building starts nothing.
    tokio::task::yield_now().await;
    assert_eq!(alive_tasks(), 0);
    assert!(daemon.requests().is_empty());

    // The first decision is local (the rules are not there yet) and starts the poller.
    let first = recorder.new_segment("shop");
    assert!(!first.is_sampled());
    drop(first);
    assert_eq!(alive_tasks(), 1);
    assert!(eventually(|| daemon.requests().iter().any(|(path, _)| path == "/GetSamplingRules")).await);

    // Once the rules are in, X-Ray's rule decides and is named in the segment.
    assert!(
        eventually(|| {
            let segment = recorder.new_segment("shop");
            let sampled = segment.is_sampled();
            segment.end();
            sampled
        })
        .await
    );
    let doc = emitter.take().pop().unwrap();
    assert_eq!(doc["aws"]["xray"]["sampling_rule_name"], "everything");
    xray_tests::assert_valid(&doc);

    // Only a header without a decision asks the sampler.
    let req = SamplingRequest::default();
    assert!(!recorder.begin_segment("shop", Some(&header("0")), &req).is_sampled(), "Sampled=0 is obeyed");
    let forced = recorder.begin_segment("shop", Some(&header("1")), &req);
    assert!(forced.is_sampled());
    forced.end();
    let asked = recorder.begin_segment("shop", Some(&header("?")), &req);
    assert!(asked.is_sampled());
    asked.end();
    let docs = emitter.take();
    assert_eq!(docs.len(), 2);
    assert!(docs[0]["aws"]["xray"].get("sampling_rule_name").is_none(), "the caller decided: {}", docs[0]);
    assert_eq!(docs[1]["aws"]["xray"]["sampling_rule_name"], "everything");
    docs.iter().for_each(xray_tests::assert_valid);

    // Dropping the recorder (the sampler's last owner) ends the poller, which was sleeping
    // for minutes.
    assert_eq!(alive_tasks(), 1);
    drop(recorder);
    assert!(eventually(|| alive_tasks() == 0).await, "the poller outlived the recorder");
}

#[tokio::test(flavor = "current_thread")]
async fn a_disabled_sdk_never_polls() {
    let daemon = FakeSamplingDaemon::start();
    let emitter = Arc::new(MemoryEmitter::new());
    let recorder = recorder(&daemon, &emitter).with_enabled(false).build().unwrap();
    for _ in 0..100 {
        let segment = recorder.new_segment("shop");
        assert!(segment.is_noop());
        segment.end();
        tokio::task::yield_now().await;
    }
    assert_eq!(alive_tasks(), 0);
    assert!(daemon.requests().is_empty());
    assert!(emitter.documents().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn local_rules_when_centralized_sampling_is_off() {
    let daemon = FakeSamplingDaemon::start();
    let emitter = Arc::new(MemoryEmitter::new());
    let rules = LocalRules::builder()
        .with_rule(LocalRule::new(0, 1.0).with_description("checkout").with_url_path("/checkout"))
        .with_default(0, 0.0)
        .build()
        .unwrap();
    let recorder =
        recorder(&daemon, &emitter).with_centralized_sampling(false).with_sampling_rules(rules).build().unwrap();
    let checkout = SamplingRequest { url_path: Some("/checkout"), method: Some("POST"), ..Default::default() };
    let segment = recorder.begin_segment("shop", None, &checkout);
    assert!(segment.is_sampled());
    segment.end();
    let other = SamplingRequest { url_path: Some("/"), ..checkout };
    assert!(!recorder.begin_segment("shop", None, &other).is_sampled());
    let doc = emitter.take().pop().unwrap();
    assert_eq!(doc["aws"]["xray"]["sampling_rule_name"], "checkout");
    xray_tests::assert_valid(&doc);
    tokio::task::yield_now().await;
    assert_eq!(alive_tasks(), 0);
    assert!(daemon.requests().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn an_explicit_sampler_overrides_rules() {
    let daemon = FakeSamplingDaemon::start();
    let emitter = Arc::new(MemoryEmitter::new());
    let everything = LocalRules::builder().with_default(1000, 1.0).build().unwrap();
    let recorder =
        recorder(&daemon, &emitter).with_sampling_rules(everything).with_sampler(NeverSample).build().unwrap();
    assert!(!recorder.new_segment("shop").is_sampled());
    tokio::task::yield_now().await;
    assert_eq!(alive_tasks(), 0);
    assert!(daemon.requests().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn header_decisions_are_not_counted() {
    let daemon = FakeSamplingDaemon::start();
    daemon.set_rule_pages(vec![vec![rule("Default", 10000, "*", 0, 1.0)]]);
    let sampler = Arc::new(CentralizedSampler::builder(daemon.addr()).with_background_polling(false).build());
    sampler.refresh_rules().await.unwrap();
    let emitter = Arc::new(MemoryEmitter::new());
    let recorder = recorder(&daemon, &emitter).with_shared_sampler(sampler.clone()).build().unwrap();
    let req = SamplingRequest::default();
    for flag in ["1", "1", "1", "0", "0", "?", "?"] {
        recorder.begin_segment("shop", Some(&header(flag)), &req).end();
    }
    recorder.begin_segment("shop", None, &req).end();
    recorder.new_segment("shop").end();
    // Without a Root the header's flag is still obeyed (a new trace), as the official SDKs do.
    recorder.begin_segment("shop", Some(&TraceHeader::parse("Sampled=1")), &req).end();
    assert_eq!(emitter.take().len(), 3 + 2 + 3);
    daemon.take_requests();
    let update = sampler.refresh_targets().await.unwrap();
    assert_eq!(update.reported, 1);
    let requests = daemon.take_requests();
    assert_eq!(statistics(&requests[0].1), [("Default".to_owned(), (4, 4, 0))]);
}
