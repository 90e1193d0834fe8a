//! The `xray-local` binary, run as a user would run it.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_xray-local");
const WAIT: Duration = Duration::from_secs(10);

/// A running binary whose stdout lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(args: &[&str]) -> Self {
        let mut child =
            Command::new(BIN).args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// Reads lines until one contains `text`; panics with everything seen after `WAIT`.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {text:?} in:\n{}", self.seen.join("\n"));
    }

    /// Waits (bounded) for the process to exit and returns every line it printed.
    fn wait_for_exit(&mut self) -> String {
        let deadline = Instant::now() + WAIT;
        while self.child.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "binary did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn help_lists_the_options() {
    let out = Command::new(BIN).arg("--help").output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for option in ["--listen HOST:PORT", "--forward HOST:PORT", "--jsonl FILE", "--quiet-ms N"] {
        assert!(text.contains(option), "{option} missing from:\n{text}");
    }
}

#[test]
fn unknown_options_fail_with_usage_status() {
    let out = Command::new(BIN).arg("--port").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("unknown option \"--port\""), "{text}");
}

#[test]
fn prints_traces_and_problems_then_a_summary() {
    let mut daemon = Running::start(&["--listen", "127.0.0.1:0", "--quiet-ms", "100"]);
    let first = daemon.wait_for("xray-local listening on udp://");
    let addr: SocketAddr = first
        .rsplit("udp://")
        .next()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    assert!(addr.ip().is_loopback() && addr.port() != 0);

    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
    let doc = r#"{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449}"#;
    socket.send_to(doc.as_bytes(), addr).expect("send");
    daemon.wait_for("! error[no-header]: from 127.0.0.1:");
    let datagram = format!("{{\"format\":\"json\",\"version\":1}}\n{doc}");
    socket.send_to(datagram.as_bytes(), addr).expect("send");
    daemon.wait_for("trace 1-581cf771-a006649127e371903a2de979  178.0 ms");
    let row = daemon.wait_for("checkout [segment]");
    assert!(row.contains("178.0 ms") && row.ends_with('|'), "{row}");

    #[cfg(unix)]
    {
        // Ctrl-C, as a user would press it: the binary prints its summary and exits.
        let pid = daemon.child.id().to_string();
        let status = Command::new("kill").args(["-INT", &pid]).status().expect("kill runs");
        assert!(status.success());
        let out = daemon.wait_for_exit();
        assert!(out.contains("summary: 2 datagrams") && out.contains("1 document, 1 trace, 1 problem"), "{out}");
        assert!(out.contains("service map: 1 node, 0 edges"), "{out}");
    }
}
