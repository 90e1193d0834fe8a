//! The UDP loop: receive, relay, append to the JSON-lines file, check, assemble, report.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::fs::File;
use tokio::io::AsyncWriteExt;
use tokio::net::UdpSocket;
use tokio::sync::{oneshot, watch};

use crate::protocol::MAX_DATAGRAM_BYTES;
use crate::state::{Event, Received, State};

/// A callback that sees every [`Event`].
pub(crate) type EventHook = Arc<dyn Fn(&Event) + Send + Sync>;

/// State shared by the loop and the [`LocalDaemon`](crate::LocalDaemon) handle.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Bumped after every change, so waiters wake up and look again.
    changed: watch::Sender<u64>,
    on_event: Option<EventHook>,
}

impl Shared {
    pub fn new(state: State, on_event: Option<EventHook>) -> Self {
        Shared { state: Mutex::new(state), changed: watch::Sender::new(0), on_event }
    }

    /// Runs `f` on the state; a panic elsewhere never makes the state unreadable.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut state)
    }

    /// Hands events to the callback (outside the lock) and wakes waiters.
    pub fn publish(&self, events: &[Event]) {
        if let Some(hook) = &self.on_event {
            for event in events {
                hook(event);
            }
        }
        self.changed.send_modify(|version| *version += 1);
    }

    /// Waits until `check` returns something, or the timeout passes.
    pub async fn wait_for<T>(&self, timeout: Duration, mut check: impl FnMut(&State) -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribing before looking means no change can slip in between.
        let mut changes = self.changed.subscribe();
        loop {
            if let Some(found) = self.with_state(|s| check(s)) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return self.with_state(|s| check(s)),
            }
        }
    }
}

/// Where received datagrams go besides the checks.
pub(crate) struct Outputs {
    /// A socket and the real daemon to relay every datagram to.
    pub forward: Option<(UdpSocket, SocketAddr)>,
    /// The file every document is appended to, one JSON line each.
    pub jsonl: Option<File>,
}

/// Binds a socket for relaying to `target`, on loopback when the target is.
pub(crate) async fn forward_socket(target: SocketAddr) -> std::io::Result<UdpSocket> {
    let ip = match (target.ip(), target.ip().is_loopback()) {
        (IpAddr::V4(_), true) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        (IpAddr::V4(_), false) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        (IpAddr::V6(_), true) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        (IpAddr::V6(_), false) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    UdpSocket::bind(SocketAddr::new(ip, 0)).await
}

/// How often quiet traces are looked for: a quarter of the quiet period, within bounds.
fn tick_for(quiet: Duration) -> Duration {
    (quiet / 4).clamp(Duration::from_millis(5), Duration::from_millis(250))
}

/// Serves until `stop` fires (or its sender is dropped), then completes every pending trace.
pub(crate) async fn run(
    socket: UdpSocket,
    shared: Arc<Shared>,
    mut outputs: Outputs,
    quiet: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    // One byte more than a daemon reads, so an oversized datagram shows as such.
    let mut buf = vec![0u8; MAX_DATAGRAM_BYTES + 1];
    let mut ticker = tokio::time::interval(tick_for(quiet));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            received = socket.recv_from(&mut buf) => {
                let Ok((len, peer)) = received else {
                    // ICMP errors from earlier sends surface here on some systems; they
                    // concern no datagram, so they are skipped after a breath.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                };
                handle(&buf[..len], peer, &shared, &mut outputs).await;
            }
            _ = ticker.tick() => {
                let events = shared.with_state(|s| s.sweep(Instant::now()));
                if !events.is_empty() {
                    shared.publish(&events);
                }
            }
        }
    }
    let events = shared.with_state(State::flush);
    shared.publish(&events);
}

async fn handle(datagram: &[u8], peer: SocketAddr, shared: &Shared, outputs: &mut Outputs) {
    if let Some((socket, target)) = &outputs.forward {
        let sent = socket.send_to(datagram, *target).await;
        let ok = matches!(sent, Ok(n) if n == datagram.len());
        shared.with_state(|s| s.count_forward(ok));
    }
    let received = Received::read(datagram, Some(peer));
    // Written before the state changes, so whoever sees the document counted can read it.
    if let (Some(file), Some(line)) = (&mut outputs.jsonl, received.json_line()) {
        let written = async {
            file.write_all(line.as_bytes()).await?;
            file.write_all(b"\n").await?;
            // Flushed per line so that readers see each document as soon as it arrives.
            file.flush().await
        };
        if written.await.is_err() {
            shared.with_state(State::count_jsonl_failure);
        }
    }
    let events = shared.with_state(|s| s.ingest(received, Instant::now()));
    shared.publish(&events);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_follow_the_quiet_period_within_bounds() {
        let cases = [(0, 5), (40, 10), (1000, 250), (60_000, 250)];
        for (quiet_ms, tick_ms) in cases {
            let tick = tick_for(Duration::from_millis(quiet_ms));
            assert_eq!(tick, Duration::from_millis(tick_ms), "quiet {quiet_ms} ms");
        }
    }

    #[tokio::test]
    async fn forward_socket_stays_on_loopback_for_loopback_targets() {
        let socket = forward_socket("127.0.0.1:9".parse().unwrap()).await.unwrap();
        assert!(socket.local_addr().unwrap().ip().is_loopback());
    }
}
