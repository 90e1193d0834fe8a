//! The crate's only unsafe code: system calls the standard library does not offer.
//!
//! - `sendmmsg`, to hand the kernel a batch of datagrams in one call (a loop elsewhere);
//! - `sendmsg` with `UDP_SEGMENT` (generic segmentation offload), to hand it many datagrams of
//!   one size as a single buffer, and `IP_MTU`, to learn the largest size it will segment;
//! - `clock_gettime`, to read the wall clock without `SystemTime`'s `Duration` detour, and the
//!   coarse clock for trace-id seconds.
#![allow(unsafe_code)]

use std::io;
use std::net::UdpSocket;

/// The most datagrams handed to the kernel in one call.
pub(crate) const MAX_BATCH: usize = 128;

/// Sends `bufs[..]` as datagrams on a connected socket. Returns how many were sent from the
/// front, and the error that stopped it before the end, if any.
#[cfg(target_os = "linux")]
pub(crate) fn send_batch<B: AsRef<[u8]>>(socket: &UdpSocket, bufs: &[B]) -> (usize, Option<io::Error>) {
    use std::os::fd::AsRawFd;

    let n = bufs.len().min(MAX_BATCH);
    if n == 0 {
        return (0, None);
    }
    let mut iovecs: [libc::iovec; MAX_BATCH] = [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; MAX_BATCH];
    // SAFETY: mmsghdr is a plain C struct for which all-zero bytes are a valid value
    // (null pointers, zero lengths and flags).
    let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for i in 0..n {
        let buf = bufs[i].as_ref();
        iovecs[i].iov_base = buf.as_ptr() as *mut libc::c_void;
        iovecs[i].iov_len = buf.len();
        msgs[i].msg_hdr.msg_iov = &mut iovecs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `msgs[..n]` point at `iovecs[..n]`, which point at the live, unmodified buffers
    // in `bufs` for the duration of the call; the socket is connected, so msg_name stays null;
    // the kernel only reads the buffers and writes `msg_len` fields inside `msgs`.
    let rc = unsafe { libc::sendmmsg(socket.as_raw_fd(), msgs.as_mut_ptr(), n as libc::c_uint, 0) };
    if rc < 0 { (0, Some(io::Error::last_os_error())) } else { (rc as usize, None) }
}

/// Sends `bufs[..]` as datagrams on a connected socket, one call each.
#[cfg(not(target_os = "linux"))]
pub(crate) fn send_batch<B: AsRef<[u8]>>(socket: &UdpSocket, bufs: &[B]) -> (usize, Option<io::Error>) {
    for (i, buf) in bufs.iter().take(MAX_BATCH).enumerate() {
        if let Err(e) = socket.send(buf.as_ref()) {
            return (i, Some(e));
        }
    }
    (bufs.len().min(MAX_BATCH), None)
}

/// The most datagrams one segmented send may carry (the kernel's `UDP_MAX_SEGMENTS`, 64 before
/// Linux 6.9 and 128 since: the older limit holds everywhere).
pub(crate) const MAX_SEGMENTS: usize = 64;

/// Spaces to pad datagrams with: [`send_segmented`] pads by at most this many bytes.
pub(crate) const MAX_PADDING: usize = 1024;

static SPACES: [u8; MAX_PADDING] = [b' '; MAX_PADDING];

/// The largest datagram payload the kernel will cut a segmented send into on this connected
/// socket: the path MTU less the IP and UDP headers. `None` where that is unknown (and
/// segmentation is then not used).
#[cfg(target_os = "linux")]
pub(crate) fn max_segment_payload(socket: &UdpSocket) -> Option<usize> {
    use std::os::fd::AsRawFd;

    let (level, option, headers) = match socket.peer_addr().ok()? {
        std::net::SocketAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_MTU, 20 + 8),
        std::net::SocketAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_MTU, 40 + 8),
    };
    let mut mtu: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `mtu` and `len` are valid for writes and `len` holds `mtu`'s size.
    let rc = unsafe {
        libc::getsockopt(socket.as_raw_fd(), level, option, (&raw mut mtu).cast::<libc::c_void>(), &raw mut len)
    };
    (rc == 0).then(|| usize::try_from(mtu).ok()?.checked_sub(headers)).flatten()
}

/// Segmentation is not used off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn max_segment_payload(_socket: &UdpSocket) -> Option<usize> {
    None
}

/// Sends `datagrams` in one system call that the kernel cuts into one datagram each (`UDP_SEGMENT`).
///
/// The kernel cuts every `size` bytes, so each datagram but the last is padded to `size` with
/// spaces inserted before its last byte (inside the closing `}` of a JSON document, where
/// whitespace means nothing). Callers ensure each is at most `size` bytes long and at most
/// [`MAX_PADDING`] shorter (the last may be shorter still), that there are at most
/// [`MAX_SEGMENTS`] of them, and that they end with `}`.
#[cfg(target_os = "linux")]
pub(crate) fn send_segmented<B: AsRef<[u8]>>(socket: &UdpSocket, datagrams: &[B], size: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;

    const PARTS: usize = 3 * MAX_SEGMENTS;
    let segment = u16::try_from(size).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut iovecs = [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; PARTS];
    let mut used = 0;
    let last = datagrams.len().saturating_sub(1);
    for (i, datagram) in datagrams.iter().take(MAX_SEGMENTS).enumerate() {
        let bytes = datagram.as_ref();
        let padding = if i == last { 0 } else { size.saturating_sub(bytes.len()).min(MAX_PADDING) };
        let (body, end) = bytes.split_at(if padding > 0 { bytes.len().saturating_sub(1) } else { bytes.len() });
        for part in [body, &SPACES[..padding], end] {
            if !part.is_empty() {
                iovecs[used] = libc::iovec { iov_base: part.as_ptr() as *mut libc::c_void, iov_len: part.len() };
                used += 1;
            }
        }
    }
    // Room for one cmsghdr and a u16, aligned as a cmsghdr must be.
    let mut control = [0u64; 4];
    // SAFETY: msghdr is a plain C struct for which all-zero bytes are a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iovecs.as_mut_ptr();
    msg.msg_iovlen = used as _;
    msg.msg_control = control.as_mut_ptr().cast::<libc::c_void>();
    // SAFETY (both blocks): CMSG_SPACE and CMSG_LEN only compute sizes; `msg_controllen` (24
    // bytes for a u16 payload) fits in the 32 aligned bytes of `control`, so CMSG_FIRSTHDR
    // returns an aligned pointer to its start and CMSG_DATA one inside it.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) } as _;
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        header.write(libc::cmsghdr {
            cmsg_len: libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _,
            cmsg_level: libc::SOL_UDP,
            cmsg_type: UDP_SEGMENT,
        });
        libc::CMSG_DATA(header).cast::<u16>().write_unaligned(segment);
    }
    // SAFETY: `msg` points at `iovecs[..used]`, which point into `datagrams` and `SPACES`, all
    // alive and unmodified for the call, and at `control`; the socket is connected, so
    // msg_name stays null; the kernel only reads them.
    let rc = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, 0) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Segmentation is not used off Linux ([`max_segment_payload`] is `None` there).
#[cfg(not(target_os = "linux"))]
pub(crate) fn send_segmented<B: AsRef<[u8]>>(_socket: &UdpSocket, _datagrams: &[B], _size: usize) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// `true` for the errors of [`send_segmented`] that say segmentation cannot be used on the
/// socket's path: a kernel without it, a device without checksum offload, a smaller MTU.
#[cfg(target_os = "linux")]
pub(crate) fn segmentation_unsupported(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Unsupported
        || matches!(
            err.raw_os_error(),
            Some(libc::EIO | libc::EINVAL | libc::EMSGSIZE | libc::ENOPROTOOPT | libc::EOPNOTSUPP)
        )
}

/// Segmentation is never used off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn segmentation_unsupported(_err: &io::Error) -> bool {
    true
}

/// `UDP_SEGMENT` from `<linux/udp.h>`: the cmsg type that carries the segment size.
#[cfg(target_os = "linux")]
const UDP_SEGMENT: libc::c_int = 103;

/// Microseconds since the epoch from `CLOCK_REALTIME`.
#[cfg(target_os = "linux")]
pub(crate) fn now_micros() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME always exists.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } == 0 && ts.tv_sec >= 0 {
        ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
    } else {
        0
    }
}

/// Microseconds since the epoch.
#[cfg(not(target_os = "linux"))]
pub(crate) fn now_micros() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Seconds since the epoch from the coarse clock (a few milliseconds behind at most).
#[cfg(target_os = "linux")]
pub(crate) fn epoch_seconds() -> u32 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME_COARSE exists on Linux.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
        ts.tv_sec as u32
    } else {
        (now_micros() / 1_000_000) as u32
    }
}

/// Seconds since the epoch.
#[cfg(not(target_os = "linux"))]
pub(crate) fn epoch_seconds() -> u32 {
    (now_micros() / 1_000_000) as u32
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_segmented_send_arrives_as_padded_datagrams() {
        for loopback in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(receiver) = UdpSocket::bind(loopback) else {
                // A machine without IPv6.
                continue;
            };
            segmented_send_over(&receiver, UdpSocket::bind(loopback).unwrap());
        }
    }

    fn segmented_send_over(receiver: &UdpSocket, sender: UdpSocket) {
        receiver.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        sender.connect(receiver.local_addr().unwrap()).unwrap();
        // Loopback's MTU is 64 KiB.
        assert!(max_segment_payload(&sender).is_some_and(|n| n > 60_000), "{:?}", max_segment_payload(&sender));

        let datagrams: [&[u8]; 3] = [b"{\"a\":12}", b"{\"a\":1}", b"{}"];
        send_segmented(&sender, &datagrams, 8).unwrap();
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        for _ in 0..3 {
            let n = receiver.recv(&mut buf).unwrap();
            got.push(buf[..n].to_vec());
        }
        // Each but the last is padded to the segment size inside its closing brace.
        assert_eq!(got, [&b"{\"a\":12}"[..], b"{\"a\":1 }", b"{}"]);
    }
}
