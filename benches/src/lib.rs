//! Shared pieces of the workspace benchmarks: a draining UDP receiver and a raw `sendmmsg`
//! loop, the floors the emitter is measured against; the hello-world service and loopback
//! server the adapter benches call; paired A/B totals, CPU-time readers and CPU pinning for
//! measurements on a small shared machine.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::serve::ListenerExt;
use xray_core::{AlwaysSample, Emitter, NeverSample, Recorder};

/// A UDP socket on loopback whose thread reads and discards every datagram.
pub struct DrainingReceiver {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl DrainingReceiver {
    /// Binds `127.0.0.1:0` and starts draining.
    pub fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind loopback");
        socket.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
        let addr = socket.local_addr().expect("addr");
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        // Named, so that the load bench can tell its CPU time from the server's.
        let thread = std::thread::Builder::new().name("bench-receiver".into());
        thread
            .spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !s.load(Ordering::Relaxed) {
                    if socket.recv(&mut buf).is_ok() {
                        r.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .expect("spawn receiver");
        Self { addr, received, stop }
    }

    /// Where to send.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Datagrams received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for DrainingReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A connected, non-blocking UDP socket to `addr`.
pub fn connected_socket(addr: SocketAddr) -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.connect(addr).expect("connect");
    s
}

/// The floor for batched sending: `datagrams` sent with `sendmmsg`, 128 per call, retrying
/// whatever the kernel did not take.
pub fn raw_sendmmsg(socket: &UdpSocket, datagrams: &[Vec<u8>]) {
    use std::os::fd::AsRawFd;
    for chunk in datagrams.chunks(128) {
        let mut iov: Vec<libc::iovec> =
            chunk.iter().map(|d| libc::iovec { iov_base: d.as_ptr() as *mut libc::c_void, iov_len: d.len() }).collect();
        // SAFETY: all-zero mmsghdr values are valid; each is pointed at one live iovec below.
        let mut msgs: Vec<libc::mmsghdr> = (0..chunk.len()).map(|_| unsafe { std::mem::zeroed() }).collect();
        for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
        }
        let mut start = 0;
        while start < msgs.len() {
            // SAFETY: msgs[start..] point at iovecs that point at buffers alive for this call.
            let rc = unsafe {
                libc::sendmmsg(socket.as_raw_fd(), msgs[start..].as_mut_ptr(), (msgs.len() - start) as u32, 0)
            };
            if rc > 0 {
                start += rc as usize;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// The floor for unbatched sending: one `send` per datagram.
pub fn raw_send_loop(socket: &UdpSocket, datagrams: &[Vec<u8>]) {
    for d in datagrams {
        while socket.send(d).is_err() {
            std::thread::yield_now();
        }
    }
}

/// An incoming header as a calling X-Ray service sends it when it leaves the decision to us:
/// `Root` and `Parent`, no `Sampled`, so the sampler is asked.
pub const CALLER_HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8";

/// The hello-world handler the adapter benches serve.
pub async fn hello() -> &'static str {
    "Hello, World!"
}

/// The hello-world router: `GET /users/{id}`.
pub fn hello_router() -> axum::Router {
    axum::Router::new().route("/users/{id}", axum::routing::get(hello))
}

/// Serves `app` on `127.0.0.1:0` (with `TCP_NODELAY`, as production servers set it) from a task
/// on `runtime`, and returns the address.
pub fn serve(runtime: &tokio::runtime::Runtime, app: axum::Router) -> SocketAddr {
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    runtime.spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A one-worker runtime for a loopback server that shares the calling thread's CPU: the
/// thread is pinned first ([`pin_to_current_cpu`]), so the worker inherits the mask. Prints
/// the CPU under `bench`'s name.
pub fn pinned_server_runtime(bench: &str) -> tokio::runtime::Runtime {
    let cpu = pin_to_current_cpu();
    println!("{bench}: client and server pinned to CPU {cpu:?}");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-server")
        .enable_all()
        .build()
        .expect("server runtime")
}

/// The recorder of the benched service `bench`: it samples every request (`sampled`) or
/// none, and hands what it records to `emitter`.
pub fn bench_recorder(sampled: bool, emitter: impl Emitter) -> Recorder {
    let builder = Recorder::builder().with_service_name("bench").with_emitter(emitter);
    let builder = if sampled { builder.with_sampler(AlwaysSample) } else { builder.with_sampler(NeverSample) };
    builder.build().expect("recorder")
}

/// Runs `run(n)` for rounds of at most `round` of the `iters` iterations and sums the times it
/// returns: for `iter_custom` benches that set something up per round, untimed.
pub fn in_rounds(iters: u64, round: u64, mut run: impl FnMut(u64) -> Duration) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(round);
        total += run(n);
        left -= n;
    }
    total
}

/// Running totals of interleaved A/B measurements, summed over every bench that samples the
/// pair: a paired comparison that holds when the machine changes speed between benches.
#[derive(Debug, Default)]
pub struct PairTotals {
    a: Cell<Duration>,
    b: Cell<Duration>,
    pairs: Cell<u64>,
}

impl PairTotals {
    /// Adds `pairs` measurements of each side.
    pub fn add(&self, a: Duration, b: Duration, pairs: u64) {
        self.a.set(self.a.get() + a);
        self.b.set(self.b.get() + b);
        self.pairs.set(self.pairs.get() + pairs);
    }

    /// `label: N pairs, A x µs, B y µs, B − A = d µs (B/A = r)`.
    pub fn summary(&self, label: &str, a: &str, b: &str) -> String {
        let n = self.pairs.get().max(1) as f64;
        let (ta, tb) = (self.a.get().as_secs_f64() * 1e6 / n, self.b.get().as_secs_f64() * 1e6 / n);
        format!(
            "{label}: {} pairs, {a} {ta:.3} µs, {b} {tb:.3} µs, {b} − {a} = {:.3} µs ({b}/{a} = {:.3})",
            self.pairs.get(),
            tb - ta,
            tb / ta
        )
    }
}

/// What a bench reads its time from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Elapsed time, as criterion's `iter` measures.
    Wall,
    /// The calling thread's CPU time: leaves out the time the thread spends descheduled or
    /// waiting, so that helper threads (an emitter, a database worker) and other processes
    /// on the shared cores do not count. One syscall per reading.
    ThreadCpu,
}

impl Clock {
    /// A reading; only differences between readings of one clock mean anything.
    pub fn read(self) -> Duration {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        match self {
            Self::Wall => ORIGIN.get_or_init(std::time::Instant::now).elapsed(),
            Self::ThreadCpu => thread_cpu_time(),
        }
    }
}

/// Pins the calling thread, and the threads it starts afterwards (which inherit the mask), to
/// the CPU it is running on; returns that CPU.
///
/// For benches whose work hops between threads (a database worker, a loopback server): on the
/// project's KVM guest a wake-up that crosses vCPUs costs tens of µs, so without pinning a
/// round trip takes 15 µs or 150 µs depending on where the scheduler happens to put the threads.
pub fn pin_to_current_cpu() -> Option<usize> {
    // SAFETY: `sched_getcpu` takes no arguments and only returns a number.
    let cpu = unsafe { libc::sched_getcpu() };
    let cpu = usize::try_from(cpu).ok()?;
    // SAFETY: an all-zero `cpu_set_t` is an empty set; CPU_SET writes within it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` came from the kernel, so it is below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size given; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    (rc == 0).then_some(cpu)
}

/// The calling thread's CPU time so far (`CLOCK_THREAD_CPUTIME_ID`; one syscall).
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The CPU time so far of this process's threads whose names start with one of `prefixes`,
/// from `/proc/self/task/*/schedstat` (nanoseconds on CPU, first field). Threads that have
/// exited are not counted, so take differences over spans in which the threads live.
pub fn threads_cpu_time(prefixes: &[&str]) -> Duration {
    let mut total = Duration::ZERO;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return total;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let Ok(name) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if !prefixes.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let on_cpu = std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()));
        if let Some(ns) = on_cpu {
            total += Duration::from_nanos(ns);
        }
    }
    total
}
