//! Whether the daemon is reachable, honestly: a UDP send "succeeds" whether or not anything
//! listens, and the kernel reports a closed port only now and then (a refusal on a later send,
//! a few hundred a second at most). So the emitter keeps a state, "unreachable since", set by
//! refusals and by failed probes of the daemon's TCP port, and cleared by a successful probe
//! (or, without a probe address, by [`RECOVERY`] of sends without a refusal). Probes run on a
//! short-lived thread of their own, at start-up and then at most every [`PROBE_INTERVAL`]
//! while the state is in doubt; the state is logged once each time it changes.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::log::log_event;

/// Probes run at most this often.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// A probe gives up after this long (a filtered port never answers).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Without a probe address, this long without a refusal (while sending) means reachable.
pub(crate) const RECOVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct State {
    unreachable_since: Option<SystemTime>,
    last_refusal: Option<Instant>,
    last_probe: Option<Instant>,
}

/// The daemon's reachability, shared by the sender thread, probes and `stats()`.
#[derive(Debug)]
pub(crate) struct Health {
    daemon: SocketAddr,
    probe: Option<SocketAddr>,
    state: Mutex<State>,
    /// Mirrors `state.unreachable_since.is_some()` so the sender's fast path takes no lock.
    down: AtomicBool,
    probing: AtomicBool,
}

impl Health {
    pub(crate) fn new(daemon: SocketAddr, probe: Option<SocketAddr>) -> Arc<Self> {
        Arc::new(Self {
            daemon,
            probe,
            state: Mutex::new(State::default()),
            down: AtomicBool::new(false),
            probing: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Since when the daemon is known to be unreachable; `None` when it is not known to be.
    pub(crate) fn unreachable_since(&self) -> Option<SystemTime> {
        self.lock().unreachable_since
    }

    /// Marks the daemon unreachable (logging once) for `why`.
    fn mark_down(&self, state: &mut State, why: &str) {
        if state.unreachable_since.is_some() {
            return;
        }
        state.unreachable_since = Some(SystemTime::now());
        self.down.store(true, Ordering::Relaxed);
        let probe = self.probe.map_or_else(|| "not probed".to_owned(), |p| p.to_string());
        log_event!(
            Warn,
            daemon = %self.daemon,
            tcp = %probe,
            "X-Ray daemon unreachable: {why}; segments sent now are lost. Start the X-Ray daemon (or the \
             CloudWatch agent) at this address, or set AWS_XRAY_DAEMON_ADDRESS to where it listens"
        );
    }

    fn mark_up(&self, state: &mut State) {
        let Some(since) = state.unreachable_since.take() else { return };
        self.down.store(false, Ordering::Relaxed);
        let down_for = SystemTime::now().duration_since(since).unwrap_or_default();
        log_event!(Warn, daemon = %self.daemon, ?down_for, "X-Ray daemon reachable again");
    }

    /// The kernel refused a datagram: nothing listens on the daemon's UDP port.
    pub(crate) fn refused(self: &Arc<Self>) {
        let mut state = self.lock();
        state.last_refusal = Some(Instant::now());
        self.mark_down(&mut state, "the daemon's UDP port refuses datagrams (nothing listens there)");
        drop(state);
        self.probe_soon();
    }

    /// Datagrams went out without a refusal. Cheap while the daemon is reachable.
    pub(crate) fn sent(self: &Arc<Self>) {
        if !self.down.load(Ordering::Relaxed) {
            return;
        }
        if self.probe.is_some() {
            self.probe_soon();
            return;
        }
        let mut state = self.lock();
        if state.last_refusal.is_none_or(|t| t.elapsed() >= RECOVERY) {
            self.mark_up(&mut state);
        }
    }

    /// Probes the daemon's TCP port on a thread of its own, unless a probe runs or ran
    /// less than [`PROBE_INTERVAL`] ago.
    pub(crate) fn probe_soon(self: &Arc<Self>) {
        let Some(addr) = self.probe else { return };
        {
            let mut state = self.lock();
            if state.last_probe.is_some_and(|t| t.elapsed() < PROBE_INTERVAL) {
                return;
            }
            if self.probing.swap(true, Ordering::AcqRel) {
                return;
            }
            state.last_probe = Some(Instant::now());
        }
        let health = self.clone();
        let spawned = std::thread::Builder::new().name("xray-probe".into()).spawn(move || {
            let started = Instant::now();
            let result = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT);
            health.probed(started, result.map(drop));
        });
        if spawned.is_err() {
            self.probing.store(false, Ordering::Release);
        }
    }

    /// Records a probe's result. A refusal seen since the probe started outweighs its success:
    /// the TCP port may be up while the UDP port is wrong.
    fn probed(&self, started: Instant, result: std::io::Result<()>) {
        let mut state = self.lock();
        match result {
            Ok(()) if state.last_refusal.is_none_or(|t| t < started) => self.mark_up(&mut state),
            Ok(()) => {}
            Err(err) => {
                let why = format!("its TCP port does not accept connections ({err})");
                self.mark_down(&mut state, &why);
            }
        }
        drop(state);
        self.probing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed_port() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
    }

    fn wait_until(what: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn a_closed_tcp_port_marks_the_daemon_unreachable_and_an_open_one_clears_it() {
        let addr = closed_port();
        let health = Health::new(addr, Some(addr));
        health.probe_soon();
        assert!(wait_until(|| health.unreachable_since().is_some()));
        let listener = std::net::TcpListener::bind(addr).unwrap();
        // Sends without refusals probe again (after the interval) and clear the state.
        assert!(
            wait_until(|| {
                health.sent();
                health.unreachable_since().is_none()
            }) || {
                std::thread::sleep(PROBE_INTERVAL);
                wait_until(|| {
                    health.sent();
                    health.unreachable_since().is_none()
                })
            }
        );
        drop(listener);
    }

    #[test]
    fn without_a_probe_refusals_mark_it_and_only_time_without_them_clears_it() {
        let health = Health::new(closed_port(), None);
        assert_eq!(health.unreachable_since(), None);
        health.refused();
        let since = health.unreachable_since().unwrap();
        health.refused();
        health.sent();
        assert_eq!(health.unreachable_since(), Some(since), "the first refusal dates the state");
        health.lock().last_refusal = Instant::now().checked_sub(RECOVERY);
        health.sent();
        assert_eq!(health.unreachable_since(), None);
    }
}
