//! End-to-end load over real loopback sockets: an axum server with and without xray-tower's
//! `XrayLayer`, driven by a keep-alive HTTP/1.1 client, measuring requests per second and the
//! server's CPU time per request. Run with `cargo bench -p xray-benches --bench load` (about
//! 40 s; under `cargo test` it runs a few hundred requests per scenario as a smoke test).
//!
//! Scenarios, each `GET /users/42` with a caller's `X-Amzn-Trace-Id: Root=…;Parent=…` (no
//! `Sampled`, so the sampler decides):
//!
//! | scenario | server | target |
//! |---|---|---|
//! | plain | hello-world handler, no layer | baseline |
//! | unsampled | + `XrayLayer`, recorder with `NeverSample` | ≥ 0.97 × plain req/s |
//! | sampled | + `XrayLayer`, `AlwaysSample`, `UdpEmitter` to a draining loopback receiver | ≥ 0.70 × plain req/s |
//! | plain_150us | handler spinning 150 µs on the worker, no layer | baseline |
//! | sampled_150us | the same + sampled `XrayLayer` | ≥ 0.97 × plain_150us req/s |
//!
//! The 150 µs handler busy-spins: it models 150 µs of CPU work on the worker, the case where
//! tracing overhead shows most in throughput. (A `tokio::time::sleep` would model I/O but
//! rounds up to tokio's 1 ms timer granularity, and would leave the worker idle, hiding any
//! overhead as long as the worker has spare time.)
//!
//! Set-up, for a 2-core machine: the server runs on a multi-threaded tokio runtime with **one**
//! worker thread; the client is the main thread (a current-thread runtime driving 8
//! connections, each one `hyper::client::conn::http1` connection with its own request loop:
//! the leanest keep-alive client). The worker and the client then have about a core each
//! (both spend about 7.5 µs of CPU per hello-world request and run at about 0.9 of a core), so
//! what the layer adds on the worker shows in the requests per second, and in the 150 µs
//! scenarios the worker is the bottleneck outright. The emitter thread and the receiver take
//! their CPU from the same two cores, as a daemon on the same host would. With two workers,
//! the workers, the client, the emitter and the receiver all time-share both cores and every
//! µs of any of them shows. `XRAY_LOAD_WORKERS` and `XRAY_LOAD_CONNECTIONS` override the two
//! numbers.
//!
//! Server CPU per request counts every server thread: the tokio workers and the emitter's
//! `xray-emitter` (serialization) and `xray-sender` (`sendmmsg`) threads, from `/proc/self/task/*/schedstat` (nanoseconds on
//! CPU). The receiver, standing in for the X-Ray daemon, and the client are reported on their
//! own. Scenarios are interleaved over 6 rounds of at most 1.25 s and 250,000 requests each
//! (after a 0.3 s warm-up per scenario); ratios are taken within each round, against the same
//! round's baseline, and the table shows medians over the rounds (other processes' load drifts
//! between rounds).
//!
//! Second session (2026-11-21, after the worker-side work): sampled 0.633× and 0.630× (server CPU
//! 7.35 → 12.21 µs/req: the emitter's threads 3.78 µs, the worker +1.08 µs); unsampled 0.993×,
//! 1.004×; 150 µs handler 0.993×, 0.989×. With perfect packing of all threads' CPU onto the two
//! cores the sampled bound here is about 0.74× (21.7 µs of CPU per request against 15.1 µs
//! plain), so about 15 % of the two cores sit idle in the sampled scenario; a wake batch of 16
//! or 256 instead of 64 measured lower (0.595×, 0.559×).
//!
//! Third session (2026-11-21, after the emitter's segmented sends, `UDP_SEGMENT`), two runs:
//! sampled **0.789×** and **0.796×** (server CPU 7.50 → 9.76 µs/req; the emitter's threads
//! 1.45–1.61 µs, down from 3.78); unsampled 0.992×, 1.018×; 150 µs handler 0.981×, 0.999×.
//! The receiver got 92 % and 96.7 % of the datagrams: its default-sized socket buffer
//! overflows while it waits for a core (the emitter counted no drop).
//! A third run, with `with_axum_body` (machine noisier: plain 100k req/s): sampled **0.805×**,
//! unsampled 1.133×, 150 µs handler 1.000×.
//!
//! Final run (2026-11-21, machine otherwise idle): plain 128k req/s; unsampled 1.012×; sampled
//! 0.615× (server CPU 7.20 → 12.39 µs/req, of which the emitter's two threads 4.06 µs: the
//! kernel's loopback `sendmmsg` alone is 3.2 µs per datagram here); 150 µs handler 0.997×. The
//! earlier table below is the first measurement.
//!
//! Results (`cargo bench -p xray-benches`, one run of the whole package; 2 shared vCPUs (AMD
//! EPYC, KVM guest, x86_64 Linux) with other builds running, so indicative; CPU columns in µs
//! per request, `emitter` is part of `server`):
//!
//! ```text
//! load: 1 server worker(s), 8 keep-alive connections, 6 round(s) of ≤ 1.25s / ≤ 250000 requests
//! scenario           req/s   ratio    server µs/req     ratio      emitter     receiver       client
//! plain              94888  1.000×             8.62    1.000×         0.05         0.00         9.80
//! unsampled          92510  0.962×             9.55    1.078×         0.05         0.00         9.67
//! sampled            65270  0.711×            14.38    1.642×         4.23         1.63        10.00
//! plain_150us         5869  1.000×           169.66    1.000×         0.82         0.05        27.00
//! sampled_150us       5869  1.000×           175.70    1.033×         6.51         2.59        27.25
//! ```
//!
//! Req/s ratios over 4 runs with one worker (8 or 32 connections): unsampled 0.955 … 1.021,
//! sampled 0.603 … 0.711, sampled_150us 0.987 … 1.000; server CPU ratios: unsampled
//! 1.04 … 1.08, sampled 1.60 … 1.67, sampled_150us 1.03 … 1.04. With two workers (2 runs):
//! unsampled 1.05 … 1.11, sampled 0.71, sampled_150us 0.957 … 0.961.
//!
//! So: the 150 µs target is met with one worker (not with two, where the emitter's and the
//! receiver's CPU comes out of the workers' share); unsampled is at the edge of 0.97 (the layer
//! adds 0.2–0.9 µs to a 7.3–8.6 µs request); sampled hello-world misses 0.70 in 3 runs of 4. A
//! sampled request costs the server 4.6–5.8 µs more, of which the emitter thread's 3.5–4.2 µs
//! per segment (serializing it, and the kernel's loopback UDP send, whose floor the core bench
//! puts at 3–4 µs per datagram on this machine) and the worker's 1.1–1.5 µs. The receiver got
//! 98.5 % of the datagrams sent (its socket buffer overflows under this load; the emitter
//! dropped none). The idle emitter wakes every 5 ms: 0.4–0.8 µs per request in the 150 µs
//! scenarios, 2–5 ms of CPU per second.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use xray_benches::{
    CALLER_HEADER, DrainingReceiver, bench_recorder, hello_router, serve, thread_cpu_time, threads_cpu_time,
};
use xray_core::{Emitter, UdpEmitter};
use xray_tower::XrayLayer;

const SERVER_THREAD: &str = "srv-worker";
/// The emitter's two threads: serialization and the `sendmmsg` calls.
const EMITTER_THREADS: [&str; 2] = ["xray-emitter", "xray-sender"];
const RECEIVER_THREAD: &str = "bench-receiver";

/// How long one scenario runs per round, and the most requests it may send.
struct Limits {
    rounds: usize,
    warm_up: Duration,
    time: Duration,
    requests: u64,
}

const BENCH: Limits =
    Limits { rounds: 6, warm_up: Duration::from_millis(300), time: Duration::from_millis(1250), requests: 250_000 };
const SMOKE: Limits =
    Limits { rounds: 1, warm_up: Duration::from_millis(50), time: Duration::from_millis(500), requests: 300 };

/// 150 µs of CPU work on the worker.
async fn work_150us() -> &'static str {
    let start = Instant::now();
    while start.elapsed() < Duration::from_micros(150) {
        std::hint::spin_loop();
    }
    "Hello, World!"
}

fn work_router() -> Router {
    Router::new().route("/users/{id}", axum::routing::get(work_150us))
}

struct Scenario {
    name: &'static str,
    addr: SocketAddr,
    /// Index of the scenario it is compared with.
    baseline: usize,
    rounds: Vec<Round>,
}

impl Scenario {
    fn new(name: &'static str, addr: SocketAddr, baseline: usize) -> Self {
        Self { name, addr, baseline, rounds: Vec::new() }
    }
}

#[derive(Clone, Copy)]
struct Round {
    requests: u64,
    elapsed: Duration,
    server_cpu: Duration,
    emitter_cpu: Duration,
    receiver_cpu: Duration,
    client_cpu: Duration,
}

impl Round {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn per_request_us(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }
}

/// One connection's request loop; returns the requests it completed.
async fn connection_loop(addr: SocketAddr, deadline: Instant, issued: Arc<AtomicU64>, limit: u64) -> u64 {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(connection);
    let host = addr.to_string();
    let mut done = 0;
    while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < limit {
        sender.ready().await.expect("connection ready");
        let request = Request::get("/users/42")
            .header(http::header::HOST, &host)
            .header("x-amzn-trace-id", CALLER_HEADER)
            .body(Empty::<Bytes>::new())
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.expect("body");
        done += 1;
    }
    done
}

/// Drives `addr` with `connections` for at most `time` and `requests`, and measures.
fn run(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    connections: usize,
    time: Duration,
    requests: u64,
) -> Round {
    let issued = Arc::new(AtomicU64::new(0));
    let cpu = || {
        (threads_cpu_time(&[SERVER_THREAD]), threads_cpu_time(&EMITTER_THREADS), threads_cpu_time(&[RECEIVER_THREAD]))
    };
    let (server0, emitter0, receiver0) = cpu();
    let client0 = thread_cpu_time();
    let start = Instant::now();
    let deadline = start + time;
    let completed: u64 = runtime.block_on(async {
        let loops: Vec<_> =
            (0..connections).map(|_| tokio::spawn(connection_loop(addr, deadline, issued.clone(), requests))).collect();
        let mut total = 0;
        for handle in loops {
            // Bounded even if the server stalls: one request never takes 10 s on loopback.
            let joined = tokio::time::timeout(time + Duration::from_secs(10), handle).await;
            total += joined.expect("request loop finished in time").expect("request loop");
        }
        total
    });
    let elapsed = start.elapsed();
    let client_cpu = thread_cpu_time() - client0;
    let (server1, emitter1, receiver1) = cpu();
    Round {
        requests: completed,
        elapsed,
        server_cpu: (server1 - server0) + (emitter1 - emitter0),
        emitter_cpu: emitter1 - emitter0,
        receiver_cpu: receiver1 - receiver0,
        client_cpu,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then only a smoke run.
    let limits = if std::env::args().any(|a| a == "--bench") { BENCH } else { SMOKE };
    let workers = env_usize("XRAY_LOAD_WORKERS", 1);
    let connections = env_usize("XRAY_LOAD_CONNECTIONS", 8);

    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .expect("server runtime");
    let receiver = DrainingReceiver::start();
    let emitter = Arc::new(UdpEmitter::builder(receiver.addr()).build().expect("emitter"));
    let layer = |sampled: bool| {
        XrayLayer::new("bench").with_recorder(bench_recorder(sampled, emitter.clone())).with_axum_body()
    };

    // Each scenario is compared with the plain one of its kind: index 0 or 3.
    let mut scenarios = vec![
        Scenario::new("plain", serve(&server, hello_router()), 0),
        Scenario::new("unsampled", serve(&server, hello_router().layer(layer(false))), 0),
        Scenario::new("sampled", serve(&server, hello_router().layer(layer(true))), 0),
        Scenario::new("plain_150us", serve(&server, work_router()), 3),
        Scenario::new("sampled_150us", serve(&server, work_router().layer(layer(true))), 3),
    ];

    let client = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("client runtime");
    for scenario in &scenarios {
        run(&client, scenario.addr, connections, limits.warm_up, limits.requests);
    }
    for _ in 0..limits.rounds {
        for scenario in &mut scenarios {
            let round = run(&client, scenario.addr, connections, limits.time, limits.requests);
            scenario.rounds.push(round);
        }
    }

    println!(
        "load: {workers} server worker(s), {connections} keep-alive connections, {} round(s) of ≤ {:?} / ≤ {} requests",
        limits.rounds, limits.time, limits.requests
    );
    println!(
        "{:<14} {:>9} {:>7} {:>16} {:>9} {:>12} {:>12} {:>12}",
        "scenario", "req/s", "ratio", "server µs/req", "ratio", "emitter", "receiver", "client"
    );
    for scenario in &scenarios {
        let base = &scenarios[scenario.baseline];
        // Ratios are taken round by round (the scenarios of one round run within seconds of
        // each other), then the median is shown: other processes' load drifts between rounds.
        let ratio = |value: fn(&Round) -> f64| {
            let per_round: Vec<f64> =
                scenario.rounds.iter().zip(&base.rounds).map(|(r, b)| value(r) / value(b)).collect();
            median(per_round)
        };
        let per_request =
            |cpu: fn(&Round) -> Duration| median(scenario.rounds.iter().map(|r| r.per_request_us(cpu(r))).collect());
        println!(
            "{:<14} {:>9.0} {:>6.3}× {:>16.2} {:>8.3}× {:>12.2} {:>12.2} {:>12.2}",
            scenario.name,
            median(scenario.rounds.iter().map(Round::per_second).collect()),
            ratio(Round::per_second),
            per_request(|r| r.server_cpu),
            ratio(|r| r.per_request_us(r.server_cpu)),
            per_request(|r| r.emitter_cpu),
            per_request(|r| r.receiver_cpu),
            per_request(|r| r.client_cpu),
        );
    }
    println!("(CPU columns: µs per request; emitter is part of server; receiver stands in for the daemon)");
    println!(
        "req/s per round: {}",
        scenarios
            .iter()
            .map(|s| format!("{} {:?}", s.name, s.rounds.iter().map(|r| r.per_second().round()).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
            .join("; ")
    );

    let flushed = emitter.flush(Duration::from_secs(30));
    let stats = emitter.stats();
    println!("emitter: flushed {flushed}, {stats:?}, receiver got {} datagrams", receiver.received());
    assert!(stats.emitted > 0, "sampled scenarios emitted nothing: {stats:?}");
    server.shutdown_timeout(Duration::from_secs(1));
}
