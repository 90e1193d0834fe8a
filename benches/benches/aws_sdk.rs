//! xray-aws-sdk's `XrayInterceptor` on a DynamoDB client against the same client without it.
//! Run with `cargo bench -p xray-benches --bench aws_sdk`.
//!
//! - `aws_sdk/overhead`: `GetItem` through the real `aws-sdk-dynamodb` client (SigV4 signing,
//!   JSON (de)serialization, the SDK's retry machinery) to a local stub server on
//!   `127.0.0.1:0` answering as DynamoDB would, on one kept-alive plain-HTTP connection per
//!   client; client and server pinned to one CPU. `plain` has no interceptor; `xray_sampled`
//!   and `xray_unsampled` have it, inside a sampled or unsampled trace.
//! - `aws_sdk/own_work`: the same clients with an in-process HTTP client that answers at once
//!   (no socket), so that the difference is the interceptor's own work, not loopback noise.
//!
//! The caller runs inside a segment of a recorder with a `NullEmitter`. Each iteration makes
//! one call through every client of the group, in a rotating order; the paired totals printed
//! after each group are the figures to read.
//!
//! Results: one run of `cargo bench -p xray-benches --bench aws_sdk`, 2026-12-03, the
//! project's 2-core KVM guest (2 shared AMD EPYC vCPUs, x86_64 Linux), other helpers' builds
//! running at the same time (compare ratios within the run).
//!
//! | figure | measured | floor (same run) | ratio / added | target |
//! |---|---|---|---|---|
//! | RESULTS PENDING | | | | |

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Builder, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use xray_benches::{PairTotals, bench_recorder, in_rounds, pin_to_current_cpu, serve};
use xray_core::{NullEmitter, Recorder, TraceFutureExt};

/// Calls per segment.
const ROUND: u64 = 100;

/// DynamoDB's answer to the `GetItem`.
const ITEM: &str = r#"{"Item":{"id":{"S":"1"},"name":{"S":"Ada"}}}"#;

fn client(endpoint: &str, http: SharedHttpClient, traced: bool) -> Client {
    let builder = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "bench"))
        .endpoint_url(endpoint)
        .http_client(http);
    let builder = if traced { xray_aws_sdk::instrument(builder) } else { builder };
    Client::from_conf(builder.build())
}

async fn get_item(client: &Client) {
    let output = client.get_item().table_name("users").key("id", AttributeValue::S("1".into())).send().await;
    black_box(output.expect("GetItem"));
}

/// Clients compared call by call, as in the reqwest bench: each iteration calls every client
/// once in a rotating order, and the totals over all benches of the trial compare any two.
struct Trial<'a> {
    runtime: &'a Runtime,
    recorder: &'a Recorder,
    clients: Vec<&'a Client>,
    totals: RefCell<(Vec<Duration>, u64)>,
}

impl<'a> Trial<'a> {
    fn new(runtime: &'a Runtime, recorder: &'a Recorder, clients: Vec<&'a Client>) -> Self {
        let totals = RefCell::new((vec![Duration::ZERO; clients.len()], 0));
        Self { runtime, recorder, clients, totals }
    }

    fn time(&self, iters: u64, side: usize) -> Duration {
        let m = self.clients.len();
        in_rounds(iters, ROUND / m as u64, |n| {
            let segment = self.recorder.new_segment("bench");
            let times = self.runtime.block_on(
                async {
                    let mut times = vec![Duration::ZERO; m];
                    for k in 0..n as usize {
                        for i in (0..m).map(|j| (k + j) % m) {
                            let start = Instant::now();
                            get_item(self.clients[i]).await;
                            times[i] += start.elapsed();
                        }
                    }
                    times
                }
                .with_entity(segment.entity()),
            );
            segment.end();
            let mut totals = self.totals.borrow_mut();
            for (total, time) in totals.0.iter_mut().zip(&times) {
                *total += *time;
            }
            totals.1 += n;
            times[side]
        })
    }

    fn bench(&self, group: &mut BenchmarkGroup<'_, WallTime>, name: &str, side: usize) {
        group.bench_function(name, |b| b.iter_custom(|iters| self.time(iters, side)));
    }

    fn summary(&self, label: &str) -> String {
        let totals = self.totals.borrow();
        let pair = PairTotals::default();
        pair.add(totals.0[0], totals.0[1], totals.1);
        pair.summary(label, "plain", "xray")
    }
}

/// The subsegments one call records in a fresh sampled segment (to check the set-up).
fn recorded(runtime: &Runtime, client: &Client) -> usize {
    let capture = xray_core::test::Capture::new();
    let segment = capture.recorder().new_segment("check");
    runtime.block_on(get_item(client).with_entity(segment.entity()));
    segment.end();
    capture.take()[0]["subsegments"].as_array().map_or(0, Vec::len)
}

/// Runs the three benches of `name` over a plain and a traced client.
fn compare(c: &mut Criterion, name: &str, runtime: &Runtime, plain: &Client, traced: &Client) {
    assert_eq!(recorded(runtime, plain), 0);
    assert_eq!(recorded(runtime, traced), 1);
    let (sampled, unsampled) =
        (bench_recorder(true, NullEmitter::default()), bench_recorder(false, NullEmitter::default()));
    let in_sampled = Trial::new(runtime, &sampled, vec![plain, traced]);
    let in_unsampled = Trial::new(runtime, &unsampled, vec![plain, traced]);
    let mut group = c.benchmark_group(name);
    in_sampled.bench(&mut group, "plain", 0);
    in_sampled.bench(&mut group, "xray_sampled", 1);
    in_unsampled.bench(&mut group, "xray_unsampled", 1);
    group.finish();
    println!("{}", in_sampled.summary(&format!("{name}, sampled (wall)")));
    println!("{}", in_unsampled.summary(&format!("{name}, unsampled (wall)")));
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");

    // In process: an HTTP client that answers at once.
    let instant = || {
        aws_smithy_http_client::test_util::infallible_client_fn(|_| {
            http::Response::builder()
                .header("x-amzn-requestid", "R1")
                .header("content-type", "application/x-amz-json-1.0")
                .body(ITEM)
                .expect("response")
        })
    };
    let endpoint = "http://127.0.0.1:9";
    let (plain, traced) = (client(endpoint, instant(), false), client(endpoint, instant(), true));
    compare(c, "aws_sdk/own_work", &runtime, &plain, &traced);

    // A stub DynamoDB on loopback, sharing this thread's CPU (see `pin_to_current_cpu`).
    let cpu = pin_to_current_cpu();
    println!("aws_sdk/overhead: client and server pinned to CPU {cpu:?}");
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let stub = axum::Router::new()
        .fallback(|| async { ([("x-amzn-requestid", "R1"), ("content-type", "application/x-amz-json-1.0")], ITEM) });
    let endpoint = format!("http://{}", serve(&server, stub));
    let http = || aws_smithy_http_client::Builder::new().build_http();
    let (plain, traced) = (client(&endpoint, http(), false), client(&endpoint, http(), true));
    compare(c, "aws_sdk/overhead", &runtime, &plain, &traced);
}

criterion_group!(group, benches);
criterion_main!(group);
