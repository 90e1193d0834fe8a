//! Sending a batch of datagrams in one system call (`sendmmsg` on Linux, a loop elsewhere).
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
