//! A fake X-Ray daemon: a UDP socket on `127.0.0.1:0` that keeps every datagram it receives,
//! and a TCP listener on the same port (the real daemon serves sampling there), which accepts
//! the emitter's reachability probes.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One received datagram, split into the header line and the document.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// The whole datagram as received.
    pub bytes: Vec<u8>,
    /// The header line parsed as JSON (`None` when there was no valid header line).
    pub header: Option<Value>,
    /// The document parsed as JSON (`None` when it was not JSON).
    pub document: Option<Value>,
}

impl Datagram {
    fn parse(bytes: Vec<u8>) -> Self {
        let split = bytes.iter().position(|b| *b == b'\n');
        let (header, document) = match split {
            Some(i) => (serde_json::from_slice(&bytes[..i]).ok(), serde_json::from_slice(&bytes[i + 1..]).ok()),
            None => (None, None),
        };
        Self { bytes, header, document }
    }

    /// The size of the document part in bytes.
    pub fn document_len(&self) -> usize {
        match self.bytes.iter().position(|b| *b == b'\n') {
            Some(i) => self.bytes.len() - i - 1,
            None => self.bytes.len(),
        }
    }
}

/// Receives datagrams on a thread until dropped.
#[derive(Debug)]
pub struct FakeDaemon {
    addr: SocketAddr,
    /// The reachability probe's target: the same port, over TCP.
    _tcp: Option<TcpListener>,
    received: Arc<Mutex<Vec<Datagram>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl FakeDaemon {
    /// Binds `127.0.0.1:0` (UDP and TCP) and starts receiving, with a 4 MiB receive buffer.
    pub fn start() -> Self {
        Self::start_at("127.0.0.1:0".parse().expect("address"), true)
    }

    /// Like [`start`](Self::start), but with the kernel's default receive buffer (212,992
    /// bytes on Linux), as the real daemon has unless configured otherwise.
    pub fn start_with_default_buffer() -> Self {
        Self::start_at("127.0.0.1:0".parse().expect("address"), false)
    }

    /// Binds `addr` (port 0 for any), UDP and, where the port is free, TCP; starts receiving.
    pub fn start_at(addr: SocketAddr, large_buffer: bool) -> Self {
        let (socket, tcp) = (0..20)
            .find_map(|_| {
                let socket = UdpSocket::bind(addr).ok()?;
                let tcp = TcpListener::bind(socket.local_addr().ok()?).ok();
                // On port 0, try another port until TCP gets the same one too.
                (tcp.is_some() || addr.port() != 0).then_some((socket, tcp))
            })
            .expect("bind loopback");
        socket.set_read_timeout(Some(Duration::from_millis(20))).expect("timeout");
        if large_buffer {
            enlarge_receive_buffer(&socket);
        }
        let addr = socket.local_addr().expect("local addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    r.lock().unwrap().push(Datagram::parse(buf[..n].to_vec()));
                }
            }
        });
        Self { addr, _tcp: tcp, received, stop }
    }

    /// The address to send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Everything received so far.
    pub fn datagrams(&self) -> Vec<Datagram> {
        self.received.lock().unwrap().clone()
    }

    /// The documents received so far.
    pub fn documents(&self) -> Vec<Value> {
        self.datagrams().into_iter().filter_map(|d| d.document).collect()
    }

    /// Waits until `n` datagrams arrived or `timeout` passed; returns what arrived.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Datagram> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.datagrams();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Asks for a 4 MiB receive buffer (the kernel caps it at `net.core.rmem_max`), so that a
/// burst of datagrams from one flush is not dropped by the kernel before this thread reads it.
#[allow(unsafe_code)]
fn enlarge_receive_buffer(socket: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 4 << 20;
    // SAFETY: a valid socket descriptor, a pointer to a live c_int and its exact size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}
