//! A development stand-in for the AWS X-Ray daemon that answers "why are my traces not
//! showing?".
//!
//! `xray-local` listens on UDP like the daemon (`127.0.0.1:2000` by default) and accepts
//! datagrams from any X-Ray SDK, in any language: a header line
//! `{"format":"json","version":1}`, a newline, and one segment document. Instead of
//! uploading them to AWS it
//!
//! - checks each document against the segment-document schema and the developer guide,
//!   and explains every problem with its fix ([`check`], [`Problem`]);
//! - assembles documents into traces, whatever order they arrive in: nested subsegments,
//!   subsegments sent on their own, in-progress segments replaced by finished ones
//!   ([`Collector`], [`Trace`]);
//! - finds problems between documents once a trace has gone quiet: orphan `parent_id`s,
//!   duplicate ids, children outside their parent's time span, traced calls whose
//!   downstream segment never arrived;
//! - shows each trace as a tree with a timeline, and a service map with request counts,
//!   error rates and latency percentiles ([`render`], [`ServiceMap`]);
//! - optionally relays every datagram unchanged to a real daemon, and appends every
//!   document to a JSON-lines file;
//! - serves, on the TCP port of its UDP address like the daemon, the web console, the X-Ray
//!   query API (`GetTraceSummaries` with filter expressions, `BatchGetTraces`,
//!   `GetServiceGraph`, `GetTraceGraph`) for the AWS CLI and SDKs pointed at it with an
//!   endpoint URL, and the daemon's sampling proxy (`GetSamplingRules`, `GetSamplingTargets`)
//!   from a local rules file or X-Ray's default rule. Completed traces are kept up to a trace
//!   count and a byte cap, the oldest evicted first. The README lists what each operation
//!   answers.
//!
//! The `xray-local` binary does this from the command line (`xray-local --help`). The
//! library runs the same daemon in-process, for tests and demos:
//!
//! ```
//! use std::net::UdpSocket;
//! use std::time::Duration;
//! use xray_local::{LocalDaemon, render};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let daemon = LocalDaemon::builder()
//!     .with_listen("127.0.0.1:0".parse()?)
//!     .with_quiet_period(Duration::from_millis(50))
//!     .start()
//!     .await?;
//!
//! // What an SDK pointed at AWS_XRAY_DAEMON_ADDRESS=<daemon.local_addr()> would send.
//! let trace_id = "1-581cf771-a006649127e371903a2de979";
//! let datagram = format!(
//!     "{{\"format\":\"json\",\"version\":1}}\n{{\"name\":\"checkout\",\"id\":\"70de5b6f19ff9a0a\",\
//!      \"trace_id\":\"{trace_id}\",\"start_time\":1478293361.271,\"end_time\":1478293361.449}}"
//! );
//! UdpSocket::bind("127.0.0.1:0")?.send_to(datagram.as_bytes(), daemon.local_addr())?;
//!
//! let trace = daemon.wait_for_trace(trace_id, Duration::from_secs(5)).await.expect("trace");
//! assert_eq!(trace.roots[0].name(), "checkout");
//! assert!(trace.problems.is_empty());
//! assert!(render::trace_tree(&trace).contains("178.0 ms"));
//!
//! let summary = daemon.shutdown().await;
//! assert_eq!((summary.documents, summary.traces), (1, 1));
//! # Ok(())
//! # }
//! ```
//!
//! The same traces through the X-Ray API, as an AWS SDK would ask for them:
//!
//! ```
//! # use std::net::UdpSocket;
//! # use std::time::Duration;
//! # use xray_local::LocalDaemon;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let daemon = LocalDaemon::builder()
//!     .with_listen("127.0.0.1:0".parse()?)
//!     .with_quiet_period(Duration::from_millis(50))
//!     .start()
//!     .await?;
//! # let trace_id = "1-581cf771-a006649127e371903a2de979";
//! # let datagram = format!(
//! #     "{{\"format\":\"json\",\"version\":1}}\n{{\"name\":\"checkout\",\"id\":\"70de5b6f19ff9a0a\",\
//! #      \"trace_id\":\"{trace_id}\",\"start_time\":1478293361.271,\"end_time\":1478293361.449,\
//! #      \"fault\":true}}"
//! # );
//! # UdpSocket::bind("127.0.0.1:0")?.send_to(datagram.as_bytes(), daemon.local_addr())?;
//! # daemon.wait_for_trace(trace_id, Duration::from_secs(5)).await.expect("trace");
//! // ... a faulty "checkout" trace arrived as above; the endpoint URL is the daemon's address.
//! let url = format!("{}TraceSummaries", daemon.http_url().expect("HTTP is on by default"));
//! let body = r#"{"StartTime": 1478293300, "EndTime": 1478293400, "FilterExpression": "fault"}"#;
//! let answer: serde_json::Value =
//!     serde_json::from_str(&reqwest::Client::new().post(url).body(body).send().await?.text().await?)?;
//! assert_eq!(answer["TraceSummaries"][0]["Id"], "1-581cf771-a006649127e371903a2de979");
//! assert_eq!(answer["TraceSummaries"][0]["HasFault"], true);
//! # Ok(())
//! # }
//! ```

pub mod check;
pub mod filter;
pub mod protocol;
pub mod render;

mod api;
mod collect;
mod console;
mod daemon;
mod fields;
mod http;
mod problem;
mod server;
mod service_map;
mod state;
mod store;
mod trace;
mod trace_check;
mod tree;

pub use api::SamplingRulesError;
pub use collect::Collector;
pub use daemon::{Builder, LocalDaemon, StartError};
pub use problem::{Problem, ProblemCounts, ProblemKind, Severity};
pub use service_map::{Edge, NodeKey, NodeKind, ServiceMap, ServiceNode};
pub use state::{Event, Summary};
pub use trace::{EntityKind, Node, Trace};
