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
prints each one as a tree with its problems. On the same address over TCP it serves the web
console (http://HOST:PORT/), the X-Ray query API for the AWS CLI and SDKs (endpoint_url
http://HOST:PORT) and the daemon's sampling proxy. Ctrl-C prints a summary and the service map.

usage: xray-local [options]

options:
  --listen HOST:PORT   UDP address to listen on (default 127.0.0.1:2000)
  --forward HOST:PORT  also relay every datagram, unchanged, to a real daemon
  --jsonl FILE         append every document to FILE, one JSON line each
  --quiet-ms N         a trace is complete after N ms without new documents (default 1000)
  --filter EXPR        print only traces matching an X-Ray filter expression, such as
                       'fault OR responsetime > 2' or 'service(\"api\") { error }'
  --no-ui              serve the APIs but not the web console
  --no-http            no TCP side at all: no console, query API or sampling proxy
  --sampling-rules FILE  answer SDKs' sampling requests from FILE (the X-Ray API's rule
                       JSON, as `aws xray get-sampling-rules` prints it; default: X-Ray's
                       default rule, 1 request a second then 5%)
  --load FILE          replay a JSON-lines file (as --jsonl writes) into the console at start
  --max-traces N       completed traces kept, oldest evicted first (default 10000)
  --max-bytes N        bytes of documents kept, oldest traces evicted first; takes k, M
                       and G suffixes (default 100M)
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
    serve: Serve,
}

/// What the TCP side serves, and how much it keeps.
#[derive(Debug, PartialEq)]
struct Serve {
    http: bool,
    ui: bool,
    sampling_rules: Option<PathBuf>,
    load: Vec<PathBuf>,
    max_traces: Option<usize>,
    max_bytes: Option<usize>,
}

impl Default for Serve {
    fn default() -> Self {
        Serve { http: true, ui: true, sampling_rules: None, load: Vec::new(), max_traces: None, max_bytes: None }
    }
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
    #[error("{0} takes a whole number (--max-bytes also 64k, 100M, 1G), not {1:?}")]
    BadSize(String, String),
}

/// A count, with an optional `k`, `M` or `G` suffix (powers of 1000).
fn parse_size(text: &str) -> Option<usize> {
    let (digits, scale) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (&text[..at], 1_000),
        Some((at, 'm' | 'M')) => (&text[..at], 1_000_000),
        Some((at, 'g' | 'G')) => (&text[..at], 1_000_000_000),
        _ => (text, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(scale)
}

/// Parses options given as `--name value` or `--name=value`.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, ArgsError> {
    let mut options = Options {
        listen: "127.0.0.1:2000".to_owned(),
        forward: None,
        jsonl: None,
        quiet_ms: 1000,
        filter: None,
        serve: Serve::default(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value.to_owned())),
            _ => (arg, None),
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--no-ui" => {
                options.serve.ui = false;
                continue;
            }
            "--no-http" => {
                options.serve.http = false;
                continue;
            }
            "--listen" | "--forward" | "--jsonl" | "--quiet-ms" | "--filter" | "--sampling-rules" | "--load"
            | "--max-traces" | "--max-bytes" => {}
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
            "--sampling-rules" => options.serve.sampling_rules = Some(PathBuf::from(value)),
            "--load" => options.serve.load.push(PathBuf::from(value)),
            "--max-traces" => {
                options.serve.max_traces =
                    Some(value.parse().map_err(|_| ArgsError::BadSize(name.clone(), value.clone()))?);
            }
            "--max-bytes" => {
                options.serve.max_bytes = Some(parse_size(&value).ok_or(ArgsError::BadSize(name.clone(), value))?);
            }
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
    let serve = &options.serve;
    builder = builder.with_http(serve.http).with_console(serve.ui);
    if let Some(path) = &serve.sampling_rules {
        builder = builder.with_sampling_rules(path);
    }
    for path in &serve.load {
        builder = builder.with_load(path);
    }
    if let Some(max) = serve.max_traces {
        builder = builder.with_max_traces(max);
    }
    if let Some(max) = serve.max_bytes {
        builder = builder.with_max_bytes(max);
    }
    let daemon = builder.start().await.map_err(|e| e.to_string())?;
    let addr = daemon.local_addr();
    say(&format!("xray-local listening on udp://{addr}"));
    match daemon.http_url() {
        Some(url) if daemon.has_console() => {
            say(&format!("console: {url} (X-Ray API and sampling proxy on tcp://{addr})"))
        }
        Some(_) => say(&format!("X-Ray API and sampling proxy on tcp://{addr} (console off)")),
        None => {}
    }
    if !addr.ip().is_loopback() {
        say(&format!(
            "warning: listening on {}, not loopback: anyone who can reach it can send traces{}",
            addr.ip(),
            if daemon.http_url().is_some() {
                " and read every trace (URLs, annotations, SQL) through the console and API"
            } else {
                ""
            }
        ));
    }
    for path in &serve.load {
        say(&format!("replayed {}", path.display()));
    }
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
                serve: Serve::default(),
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
                    serve: Serve::default(),
                })),
            ),
            (
                &[
                    "--no-ui",
                    "--load",
                    "a.jsonl",
                    "--load=b.jsonl",
                    "--max-traces",
                    "5",
                    "--max-bytes=2M",
                    "--sampling-rules",
                    "rules.json",
                ],
                Ok(Command::Run(Options {
                    listen: "127.0.0.1:2000".into(),
                    forward: None,
                    jsonl: None,
                    quiet_ms: 1000,
                    filter: None,
                    serve: Serve {
                        http: true,
                        ui: false,
                        sampling_rules: Some("rules.json".into()),
                        load: vec!["a.jsonl".into(), "b.jsonl".into()],
                        max_traces: Some(5),
                        max_bytes: Some(2_000_000),
                    },
                })),
            ),
            (&["--max-traces", "many"], Err(ArgsError::BadSize("--max-traces".into(), "many".into()))),
            (&["--max-bytes", "2T"], Err(ArgsError::BadSize("--max-bytes".into(), "2T".into()))),
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
