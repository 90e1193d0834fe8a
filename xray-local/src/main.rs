//! `xray-local`: a development stand-in for the AWS X-Ray daemon.
//!
//! Run it, point `AWS_XRAY_DAEMON_ADDRESS` at it, and see each trace as a tree with the
//! problems that would keep it from showing up in X-Ray. Ctrl-C prints a summary.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use xray_local::filter::Filter;
use xray_local::{Event, LocalDaemon, render};

const USAGE: &str = "\
xray-local: a development stand-in for the AWS X-Ray daemon

Receives segment documents over UDP like the daemon, checks them, assembles traces and
prints each one as a tree with its problems. Ctrl-C prints a summary and the service map.

usage: xray-local [options]

options:
  --listen HOST:PORT   UDP address to listen on (default 127.0.0.1:2000)
  --forward HOST:PORT  also relay every datagram, unchanged, to a real daemon
  --jsonl FILE         append every document to FILE, one JSON line each
  --quiet-ms N         a trace is complete after N ms without new documents (default 1000)
  --filter EXPR        print only traces matching an X-Ray filter expression, such as
                       'fault OR responsetime > 2' or 'service(\"api\") { error }'
  -h, --help           print this help
  -V, --version        print the version

Point your application at it with AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2000.
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Run(Options),
    Help,
    Version,
}

/// Options for running the daemon.
#[derive(Debug, PartialEq)]
struct Options {
    listen: String,
    forward: Option<String>,
    jsonl: Option<PathBuf>,
    quiet_ms: u64,
    filter: Option<String>,
}

/// A command line that cannot be understood.
#[derive(Debug, PartialEq, thiserror::Error)]
enum ArgsError {
    #[error("unknown option {0:?}: see xray-local --help")]
    Unknown(String),
    #[error("{0} needs a value: see xray-local --help")]
    MissingValue(String),
    #[error("--quiet-ms takes a whole number of milliseconds, not {0:?}")]
    BadNumber(String),
}

/// Parses options given as `--name value` or `--name=value`.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, ArgsError> {
    let mut options =
        Options { listen: "127.0.0.1:2000".to_owned(), forward: None, jsonl: None, quiet_ms: 1000, filter: None };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value.to_owned())),
            _ => (arg, None),
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--listen" | "--forward" | "--jsonl" | "--quiet-ms" | "--filter" => {}
            _ => return Err(ArgsError::Unknown(name)),
        }
        let value = match inline.or_else(|| args.next()) {
            Some(value) => value,
            None => return Err(ArgsError::MissingValue(name)),
        };
        match name.as_str() {
            "--listen" => options.listen = value,
            "--forward" => options.forward = Some(value),
            "--jsonl" => options.jsonl = Some(PathBuf::from(value)),
            "--filter" => options.filter = Some(value),
            _ => options.quiet_ms = value.parse().map_err(|_| ArgsError::BadNumber(value))?,
        }
    }
    Ok(Command::Run(options))
}

/// Resolves `host:port`, taking the first address.
async fn resolve(text: &str) -> Result<SocketAddr, String> {
    match tokio::net::lookup_host(text).await {
        Ok(mut addrs) => addrs.next().ok_or_else(|| format!("{text} resolves to no address")),
        Err(e) => Err(format!("cannot resolve {text:?} (expected HOST:PORT): {e}")),
    }
}

/// Prints without panicking when stdout is closed.
fn say(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn print_event(event: &Event, filter: &Filter) {
    match event {
        Event::Trace(trace) if filter.matches(trace) => say(&render::trace_tree(trace)),
        Event::Problem(problem) => say(&render::problem(problem)),
        _ => {}
    }
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one (containers stop with it).
async fn stop_requested() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // Without a signal handler the daemon runs until killed.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    ctrl_c.await;
}

async fn run(options: Options) -> Result<(), String> {
    let expr = options.filter.as_deref().unwrap_or_default();
    let filter = Filter::parse(expr).map_err(|e| format!("--filter {expr:?}: {e}"))?;
    let mut builder = LocalDaemon::builder()
        .with_listen(resolve(&options.listen).await?)
        .with_quiet_period(Duration::from_millis(options.quiet_ms))
        .on_event(move |event| print_event(event, &filter));
    let forward = match &options.forward {
        Some(text) => Some(resolve(text).await?),
        None => None,
    };
    if let Some(addr) = forward {
        builder = builder.with_forward(addr);
    }
    if let Some(path) = &options.jsonl {
        builder = builder.with_jsonl(path);
    }
    let daemon = builder.start().await.map_err(|e| e.to_string())?;
    let addr = daemon.local_addr();
    say(&format!("xray-local listening on udp://{addr}"));
    if let Some(forward) = forward {
        say(&format!("forwarding every datagram to udp://{forward}"));
    }
    if let Some(path) = &options.jsonl {
        say(&format!("appending documents to {}", path.display()));
    }
    if let Some(expr) = &options.filter {
        say(&format!("printing only traces matching {expr}"));
    }
    say(&format!("point your application at it: AWS_XRAY_DAEMON_ADDRESS={addr}; Ctrl-C for the summary\n"));
    stop_requested().await;
    let summary = daemon.shutdown().await;
    say(&format!("\n{}", render::summary(&summary)));
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            say(concat!("xray-local ", env!("CARGO_PKG_VERSION")));
            ExitCode::SUCCESS
        }
        Ok(Command::Run(options)) => match run(options).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("xray-local: {message}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("xray-local: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, ArgsError> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_options() {
        let run = |listen: &str, forward: Option<&str>, jsonl: Option<&str>, quiet_ms| {
            Ok(Command::Run(Options {
                listen: listen.to_owned(),
                forward: forward.map(str::to_owned),
                jsonl: jsonl.map(PathBuf::from),
                quiet_ms,
                filter: None,
            }))
        };
        let cases: Vec<(&[&str], Result<Command, ArgsError>)> = vec![
            (&[], run("127.0.0.1:2000", None, None, 1000)),
            (&["--listen", "127.0.0.1:0"], run("127.0.0.1:0", None, None, 1000)),
            (&["--listen=127.0.0.1:0"], run("127.0.0.1:0", None, None, 1000)),
            (
                &["--forward", "daemon:2000", "--jsonl", "out.jsonl", "--quiet-ms=50"],
                run("127.0.0.1:2000", Some("daemon:2000"), Some("out.jsonl"), 50),
            ),
            (&["--quiet-ms", "50", "--help"], Ok(Command::Help)),
            (
                &["--filter", "fault OR error"],
                Ok(Command::Run(Options {
                    listen: "127.0.0.1:2000".into(),
                    forward: None,
                    jsonl: None,
                    quiet_ms: 1000,
                    filter: Some("fault OR error".into()),
                })),
            ),
            (&["--filter"], Err(ArgsError::MissingValue("--filter".into()))),
            (&["-V"], Ok(Command::Version)),
            (&["--listen"], Err(ArgsError::MissingValue("--listen".into()))),
            (&["--quiet-ms", "soon"], Err(ArgsError::BadNumber("soon".into()))),
            (&["--quiet-ms", "-1"], Err(ArgsError::BadNumber("-1".into()))),
            (&["--port", "2000"], Err(ArgsError::Unknown("--port".into()))),
            (&["2000"], Err(ArgsError::Unknown("2000".into()))),
        ];
        for (args, want) in cases {
            assert_eq!(parse(args), want, "{args:?}");
        }
    }

    #[tokio::test]
    async fn resolves_addresses() {
        assert_eq!(resolve("127.0.0.1:2000").await, Ok(SocketAddr::from(([127, 0, 0, 1], 2000))));
        assert!(resolve("no-port").await.is_err());
    }
}
