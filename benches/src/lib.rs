//! Shared pieces of the workspace benchmarks: a draining UDP receiver and a raw `sendmmsg`
//! loop, the floors the emitter is measured against.
#![allow(unsafe_code)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

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
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !s.load(Ordering::Relaxed) {
                if socket.recv(&mut buf).is_ok() {
                    r.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
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
