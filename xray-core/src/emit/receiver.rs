//! Watching a loopback daemon's receive buffer for the datagrams its kernel dropped.
//!
//! A datagram that arrives at a full receive buffer is dropped by the receiving kernel, and the
//! sender is never told: pacing ([`super::pace`]) makes that unlikely, but a daemon starved of
//! CPU still falls behind. When the daemon listens on this host (a loopback address, as with a
//! sidecar or `xray-local`), its socket's drop counter is readable in `/proc/net/udp`
//! (`/proc/net/udp6`): the emitter thread reads it after sending (at most every 100 ms, and
//! at most 0.5 % of its time), counts what it grew by in
//! [`EmitterStats::dropped_receive_buffer`](super::EmitterStats::dropped_receive_buffer) and
//! slows its pace. Elsewhere (a daemon on another host, or not Linux) there is nothing to
//! read, and nothing is counted.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// The counter is read at most this often.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// And at most this share of the time: the kernel builds the table by walking every slot of
/// its UDP hash table, about 90 µs on a quiet host, more with many sockets.
const MAX_SHARE: u32 = 200;

/// The drop counter of the sockets that receive for a loopback daemon.
#[derive(Debug)]
pub(crate) struct ReceiverWatch {
    daemon: SocketAddr,
    /// The counter at the last read.
    seen: u64,
    checked: Instant,
    /// The least time between two reads: [`CHECK_EVERY`], or [`MAX_SHARE`] times what the last
    /// read took if that is longer.
    gap: Duration,
    /// Whether datagrams went out since the last read.
    sent: bool,
}

impl ReceiverWatch {
    /// A watch of `daemon`'s socket, when it is on this host and its counter can be read.
    pub(crate) fn new(daemon: SocketAddr) -> Option<Self> {
        if !cfg!(target_os = "linux") || !daemon.ip().is_loopback() {
            return None;
        }
        let seen = read_drops(daemon)?;
        Some(Self { daemon, seen, checked: Instant::now(), gap: CHECK_EVERY, sent: false })
    }

    /// Notes that datagrams went out, for the next [`check`](Self::check) to look.
    pub(crate) fn sent(&mut self) {
        self.sent = true;
    }

    /// The datagrams the daemon's socket dropped since the last look; `None` when nothing
    /// was sent since, the last look was too recent, or the counter cannot be read.
    pub(crate) fn check(&mut self) -> Option<u64> {
        if !self.sent || self.checked.elapsed() < self.gap {
            return None;
        }
        self.sent = false;
        let start = Instant::now();
        let drops = read_drops(self.daemon);
        self.checked = Instant::now();
        self.gap = CHECK_EVERY.max((self.checked - start) * MAX_SHARE);
        let drops = drops?;
        // A counter that went down belongs to a new socket (the daemon restarted).
        let grown = drops.saturating_sub(self.seen);
        self.seen = drops;
        Some(grown)
    }
}

/// The summed drop counters of the sockets bound to `daemon` (or to the wildcard address on
/// its port), from the kernel's table for its address family.
fn read_drops(daemon: SocketAddr) -> Option<u64> {
    let table = if daemon.is_ipv4() { "/proc/net/udp" } else { "/proc/net/udp6" };
    let text = std::fs::read_to_string(table).ok()?;
    drops_in_table(&text, daemon)
}

/// Parses a `/proc/net/udp{,6}` table: a header line, then one line per socket whose second
/// column is `ADDRESS:PORT` in hex (the address as the kernel's 32-bit words print) and whose
/// last column is the socket's drop count. `None` when no socket matches.
fn drops_in_table(text: &str, daemon: SocketAddr) -> Option<u64> {
    let mut found = None;
    for line in text.lines().skip(1) {
        let mut columns = line.split_ascii_whitespace();
        let Some(local) = columns.nth(1) else { continue };
        let Some((ip, port)) = local.split_once(':') else { continue };
        if u16::from_str_radix(port, 16).ok() != Some(daemon.port()) {
            continue;
        }
        let Some(ip) = parse_ip(ip) else { continue };
        if ip != daemon.ip() && !ip.is_unspecified() {
            continue;
        }
        let Some(drops) = columns.last().and_then(|d| d.parse::<u64>().ok()) else { continue };
        *found.get_or_insert(0) += drops;
    }
    found
}

/// An address as `/proc/net/udp{,6}` prints it: each 32-bit word in hex, in host byte order.
fn parse_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| hex.get(i * 8..i * 8 + 8).and_then(|w| u32::from_str_radix(w, 16).ok());
    let bytes = |w: u32| if cfg!(target_endian = "little") { w.to_le_bytes() } else { w.to_be_bytes() };
    match hex.len() {
        8 => Some(IpAddr::from(bytes(word(0)?))),
        32 => {
            let mut octets = [0u8; 16];
            for i in 0..4 {
                octets[i * 4..i * 4 + 4].copy_from_slice(&bytes(word(i)?));
            }
            Some(IpAddr::from(octets))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};

    use super::*;

    const HEADER: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";

    #[test]
    fn the_table_sums_the_drops_of_the_daemons_sockets() {
        let table = format!(
            "{HEADER}\n\
              1: 0100007F:07D0 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 1 2 0000000000000000 5\n\
              2: 00000000:07D0 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 2 2 0000000000000000 7\n\
              3: 0100007F:07D1 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 3 2 0000000000000000 100\n\
              4: 0200007F:07D0 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4 2 0000000000000000 100\n\
              garbage\n"
        );
        let daemon = SocketAddr::from((Ipv4Addr::LOCALHOST, 2000));
        if cfg!(target_endian = "little") {
            assert_eq!(drops_in_table(&table, daemon), Some(12));
        }
        assert_eq!(drops_in_table(&table, SocketAddr::from((Ipv4Addr::LOCALHOST, 2002))), None);
        assert_eq!(drops_in_table(HEADER, daemon), None);
    }

    #[test]
    fn ipv6_addresses_read_word_by_word() {
        if cfg!(target_endian = "little") {
            assert_eq!(parse_ip("00000000000000000000000001000000"), Some(IpAddr::from(Ipv6Addr::LOCALHOST)));
            assert_eq!(parse_ip("0100007F"), Some(IpAddr::from(Ipv4Addr::LOCALHOST)));
        }
        assert_eq!(parse_ip("00000000"), Some(IpAddr::from(Ipv4Addr::UNSPECIFIED)));
        assert_eq!(parse_ip("0100007"), None);
        assert_eq!(parse_ip("zz00007F"), None);
    }

    #[test]
    fn a_watch_counts_what_a_full_loopback_socket_drops() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let daemon = receiver.local_addr().unwrap();
        assert!(ReceiverWatch::new(SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 2000))).is_none());
        let mut watch = ReceiverWatch::new(daemon).expect("a loopback socket's counter");
        watch.gap = Duration::ZERO;
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        // Nobody reads: the default buffer holds some hundreds of these, the rest are dropped.
        let sent = 3_000u64;
        for _ in 0..sent {
            sender.send_to(&[b'x'; 700], daemon).unwrap();
        }
        assert_eq!(watch.check(), None, "nothing sent yet");
        watch.sent();
        let dropped = watch.check().expect("readable");
        receiver.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 1024];
        let mut kept = 0;
        while receiver.recv(&mut buf).is_ok() {
            kept += 1;
        }
        assert!(dropped > 0, "the buffer held all {sent}?");
        assert_eq!(kept + dropped, sent, "each datagram either kept or counted");
        assert!(watch.gap >= CHECK_EVERY, "reads are spaced by their cost");
        watch.sent();
        assert_eq!(watch.check(), None, "too soon");
        watch.gap = Duration::ZERO;
        assert_eq!(watch.check(), Some(0));
    }
}
