//! The crate's only unsafe code: system calls the standard library does not offer.
//!
//! - `sendmmsg`, to hand the kernel a batch of datagrams in one call (a loop elsewhere);
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
pub(crate) fn send_batch(socket: &UdpSocket, bufs: &[Vec<u8>]) -> (usize, Option<io::Error>) {
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
        iovecs[i].iov_base = bufs[i].as_ptr() as *mut libc::c_void;
        iovecs[i].iov_len = bufs[i].len();
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
pub(crate) fn send_batch(socket: &UdpSocket, bufs: &[Vec<u8>]) -> (usize, Option<io::Error>) {
    for (i, buf) in bufs.iter().take(MAX_BATCH).enumerate() {
        if let Err(e) = socket.send(buf) {
            return (i, Some(e));
        }
    }
    (bufs.len().min(MAX_BATCH), None)
}

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
