//! A daemon that answers garbage, then one that is gone: the poller keeps retrying, each
//! failure kind costs one rate-limited log line, and every decision is made locally at once.
//! (Its own test binary: the log rate limits are per process.)

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::eventually;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber, span};
use xray_core::sampling::{CentralizedSampler, LocalRules, Sampler, SamplingRequest};

/// Collects the messages of the SDK's `tracing` events.
struct Collect(Arc<Mutex<Vec<String>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Collect {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "xray"
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push(message.0);
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

/// A TCP server answering every connection with `answer`, counting connections.
async fn garbage_server(answer: &'static [u8]) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(answer).await;
        }
    });
    (addr, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_silence_cost_one_log_line_and_local_decisions() {
    let messages = Arc::new(Mutex::new(Vec::new()));
    tracing::subscriber::set_global_default(Collect(messages.clone())).unwrap();
    let started = Instant::now();
    let count = |needle: &str| messages.lock().unwrap().iter().filter(|m| m.contains(needle)).count();

    // Garbage: an HTTP answer whose body is not JSON, then bytes that are not HTTP at all.
    for answer in [&b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n<html>oops"[..], b"\x00\x01\x02 no http here\r\n\r\n"]
    {
        let (addr, connections) = garbage_server(answer).await;
        let sampler = CentralizedSampler::builder(addr)
            .with_fallback_rules(LocalRules::builder().with_default(0, 1.0).build().unwrap())
            .with_rules_interval(Duration::from_millis(10))
            .with_targets_interval(Duration::from_millis(10))
            .build();
        let decision = sampler.should_sample(&SamplingRequest::default());
        assert!(decision.sampled, "decided locally, without waiting");
        assert_eq!(decision.rule_name.as_deref(), Some("Default"));
        assert!(sampler.is_polling());
        // The poller retries (every 10 ms here) and every try fails.
        assert!(eventually(|| connections.load(Ordering::SeqCst) >= 5).await);
        assert!(sampler.should_sample(&SamplingRequest::default()).sampled);
        assert!(sampler.is_polling(), "failures do not end the poller");
    }

    // Silence: nobody listens at the address any more.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let sampler = CentralizedSampler::builder(gone)
        .with_fallback_rules(LocalRules::builder().with_default(0, 1.0).build().unwrap())
        .with_rules_interval(Duration::from_millis(10))
        .with_targets_interval(Duration::from_millis(10))
        .build();
    for _ in 0..50 {
        assert!(sampler.should_sample(&SamplingRequest::default()).sampled);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(sampler.is_polling());

    // Dozens of failures, one line per 10 s.
    let allowed = 1 + (started.elapsed().as_secs() / 10) as usize;
    let lines = count("sampling rules unavailable");
    assert!((1..=allowed).contains(&lines), "{lines} lines: {:?}", messages.lock().unwrap());
}
