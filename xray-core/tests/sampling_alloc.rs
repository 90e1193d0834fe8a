//! A sampling decision allocates nothing: local rules, centralized rules (quota, borrow and
//! rate paths) and the fallback, each against 10 rules.
//!
//! Counting needs a global allocator, hence the one `unsafe` block of this test binary: it
//! only forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use xray_core::sampling::{CentralizedSampler, LocalRule, LocalRules, LocalSampler, Sampler, SamplingRequest};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract; the
// counter is an atomic and the flag a const-initialized thread-local (neither allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
///
/// The per-thread random generator allocates its state on a thread's first use; that happens
/// once per thread, not per decision, so it is done before counting.
fn allocations(f: impl FnOnce()) -> u64 {
    let coin = LocalSampler::new(LocalRules::builder().with_default(0, 0.5).build().unwrap());
    coin.should_sample(&SamplingRequest::default());
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

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

fn requests() -> Vec<SamplingRequest<'static>> {
    ["/api/v2/checkout", "/health", "/api/v1/users/7", "/static/app.js", "/img/logo.PNG"]
        .into_iter()
        .map(|path| SamplingRequest {
            host: Some("shop.example.com"),
            method: Some("GET"),
            url_path: Some(path),
            service_name: Some("shop"),
            service_type: Some("AWS::ECS::Container"),
        })
        .collect()
}

fn local_rules() -> LocalRules {
    let mut rules = LocalRules::builder().with_default(1, 0.05);
    for (i, path) in PATHS.iter().enumerate() {
        rules = rules.with_rule(LocalRule::new(1, 0.5).with_description(format!("r{i}")).with_url_path(*path));
    }
    rules.build().unwrap()
}

#[test]
fn local_decisions_allocate_nothing() {
    let now = std::sync::Arc::new(AtomicU64::new(1_000));
    let clock = {
        let now = now.clone();
        move || now.load(Ordering::Relaxed)
    };
    let sampler = LocalSampler::new(local_rules()).with_clock(clock);
    let requests = requests();
    let (mut sampled, mut total) = (0, 0);
    let n = allocations(|| {
        for second in 0..20 {
            now.store(1_000 + second, Ordering::Relaxed);
            for req in &requests {
                for _ in 0..10 {
                    total += 1;
                    sampled += usize::from(sampler.should_sample(req).sampled);
                }
            }
        }
    });
    assert_eq!(n, 0);
    assert!(sampled > 0 && sampled < total, "both paths taken: {sampled} of {total}");
}

#[test]
fn centralized_decisions_allocate_nothing() {
    let mut records: Vec<serde_json::Value> = PATHS
        .iter()
        .enumerate()
        .map(|(i, path)| {
            serde_json::json!({"SamplingRule": {"RuleName": format!("r{i}"), "ResourceARN": "*", "Priority": i + 1,
                "FixedRate": 0.5, "ReservoirSize": 1, "ServiceName": "shop", "ServiceType": "*", "Host": "*",
                "HTTPMethod": "GET", "URLPath": path, "Version": 1, "Attributes": {}}})
        })
        .collect();
    records.push(serde_json::json!({"SamplingRule": {"RuleName": "Default", "ResourceARN": "*", "Priority": 10000,
        "FixedRate": 0.05, "ReservoirSize": 1, "ServiceName": "*", "ServiceType": "*", "Host": "*",
        "HTTPMethod": "*", "URLPath": "*", "Version": 1, "Attributes": {}}}));
    let targets = serde_json::json!({"SamplingTargetDocuments": (0..10).map(|i| serde_json::json!(
        {"RuleName": format!("r{i}"), "ReservoirQuota": 2, "ReservoirQuotaTTL": 1_010.0, "FixedRate": 0.3, "Interval": 10}
    )).collect::<Vec<_>>()});
    let answers = [serde_json::json!({"SamplingRuleRecords": records}).to_string(), targets.to_string()];
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        for body in answers {
            let (mut socket, _) = listener.accept().unwrap();
            let mut buf = [0u8; 8192];
            let _ = socket.read(&mut buf).unwrap();
            write!(socket, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        }
    });
    let now = std::sync::Arc::new(AtomicU64::new(1_000));
    let clock = {
        let now = now.clone();
        move || now.load(Ordering::Relaxed)
    };
    let sampler = CentralizedSampler::builder(addr)
        .with_fallback_rules(local_rules())
        .with_clock(clock)
        .with_background_polling(false)
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let requests = requests();
    let run = |seconds: std::ops::Range<u64>| {
        allocations(|| {
            for second in seconds {
                now.store(second, Ordering::Relaxed);
                for req in &requests {
                    for _ in 0..10 {
                        std::hint::black_box(sampler.should_sample(req));
                    }
                }
            }
        })
    };
    assert_eq!(run(1_000..1_005), 0, "fallback: no rules yet");
    now.store(1_005, Ordering::Relaxed);
    assert_eq!(runtime.block_on(sampler.refresh_rules()).unwrap(), 11);
    assert_eq!(run(1_005..1_010), 0, "borrowing and rates");
    now.store(1_010, Ordering::Relaxed);
    runtime.block_on(sampler.refresh_targets()).unwrap();
    server.join().unwrap();
    assert_eq!(run(1_000..1_010), 0, "quotas");
    assert_eq!(run(1_010..1_020), 0, "expired quotas");
    assert_eq!(run(1_005 + 3_600..1_005 + 3_610), 0, "stale rules: fallback");
}
