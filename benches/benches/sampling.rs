//! `sampling/decide`: one sampling decision against 10 rules, the request matching none of
//! them (every rule is tried, then the default), local and centralized. Target: ≤ 100 ns and
//! no allocation (the allocation half is checked by `tests/sampling_alloc.rs`).
//!
//! Results (`cargo bench -p xray-benches --bench sampling`; 2 shared vCPUs (AMD EPYC, KVM guest,
//! x86_64 Linux), load average about 3 from other builds; the request matches none of the 10 rules, so
//! every rule is tried and the default rule's rate decides):
//!
//! | benchmark                            | time    |
//! |--------------------------------------|---------|
//! | sampling/decide/local_10_rules       | 54 ns   |
//! | sampling/decide/centralized_10_rules | 73 ns   |
//!
//! The centralized decision adds a shared read lock on the rule set and the request counter.

use std::hint::black_box;
use std::io::{Read, Write};

use criterion::{Criterion, criterion_group, criterion_main};
use xray_core::sampling::{CentralizedSampler, LocalRule, LocalRules, LocalSampler, Sampler, SamplingRequest};

const PATHS: [&str; 10] = [
    "/health",
    "/api/v1/users/*",
    "/api/v1/orders/*",
    "/api/v?/carts",
    "*.png",
    "/admin*",
    "/login",
    "/logout",
    "/static/*",
    "/metrics",
];

fn request() -> SamplingRequest<'static> {
    SamplingRequest {
        host: Some("shop.example.com"),
        method: Some("GET"),
        url_path: Some("/api/v2/checkout/confirm"),
        service_name: Some("shop"),
        service_type: Some("AWS::ECS::Container"),
    }
}

fn local() -> LocalSampler {
    let mut rules = LocalRules::builder().with_default(1, 0.05);
    for (i, path) in PATHS.iter().enumerate() {
        rules = rules.with_rule(
            LocalRule::new(1, 0.1).with_description(format!("rule-{i}")).with_http_method("GET").with_url_path(*path),
        );
    }
    LocalSampler::new(rules.build().unwrap())
}

/// A centralized sampler holding 10 rules plus `Default`, fetched from a one-shot canned answer.
fn centralized() -> CentralizedSampler {
    let mut records: Vec<serde_json::Value> = PATHS
        .iter()
        .enumerate()
        .map(|(i, path)| {
            serde_json::json!({"SamplingRule": {"RuleName": format!("rule-{i}"), "ResourceARN": "*", "Priority": i + 1,
                "FixedRate": 0.1, "ReservoirSize": 1, "ServiceName": "shop", "ServiceType": "*", "Host": "*",
                "HTTPMethod": "GET", "URLPath": path, "Version": 1, "Attributes": {}}})
        })
        .collect();
    records.push(serde_json::json!({"SamplingRule": {"RuleName": "Default", "ResourceARN": "*", "Priority": 10000,
        "FixedRate": 0.05, "ReservoirSize": 1, "ServiceName": "*", "ServiceType": "*", "Host": "*",
        "HTTPMethod": "*", "URLPath": "*", "Version": 1, "Attributes": {}}}));
    let body = serde_json::json!({"SamplingRuleRecords": records}).to_string();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).unwrap();
        write!(socket, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    });
    let sampler = CentralizedSampler::builder(addr).with_background_polling(false).build();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert_eq!(runtime.block_on(sampler.refresh_rules()).unwrap(), 11);
    server.join().unwrap();
    sampler
}

fn decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("sampling/decide");
    let local = local();
    let req = request();
    assert_eq!(local.should_sample(&req).rule_name.as_deref().map(|n| n == "Default"), Some(true));
    group.bench_function("local_10_rules", |b| b.iter(|| black_box(local.should_sample(black_box(&req)))));
    let centralized = centralized();
    group.bench_function("centralized_10_rules", |b| b.iter(|| black_box(centralized.should_sample(black_box(&req)))));
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
