//! The classic X-Ray walkthrough in Rust: a user-management service that stores users through
//! sqlx and calls a notification service with reqwest, both axum services traced by
//! `xray-tower`. One command runs everything and prints the traces and the service map:
//!
//! ```text
//! cargo run -p xray-examples --example microservices            # drive the traffic, print, exit
//! cargo run -p xray-examples --example microservices -- --serve # then keep the services and the console up
//! ```
//!
//! Segments go to an in-process `xray-local` unless `AWS_XRAY_DAEMON_ADDRESS` is set. Users are
//! stored in SQLite unless `DATABASE_URL` names a PostgreSQL or MySQL database. With
//! `AWS_ENDPOINT_URL` set (e.g. a moto server), the notification service sends its e-mail
//! through SES v2, recorded by `xray-aws-sdk` as an `SES` subsegment. The services log
//! through `tracing`; each line logged inside a request carries its `AWS-XRAY-TRACE-ID`, and
//! `#[instrument]`ed functions show as subsegments (`xray-tracing`).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use xray_core::{AlwaysSample, Recorder};
use xray_examples::Destination;
use xray_examples::services::{notification, user_management};
use xray_examples::store::Store;
use xray_local::Trace;

async fn serve(router: axum::Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

/// The walkthrough's traffic: (method, path, body, expected status).
fn traffic() -> Vec<(&'static str, &'static str, Option<Value>, u16)> {
    vec![
        ("POST", "/usermgmt/user", Some(json!({"name": "Alice", "email": "alice@example.com"})), 201),
        ("POST", "/usermgmt/user", Some(json!({"name": "Bob", "email": "bob@bounce.example"})), 201),
        ("POST", "/usermgmt/user", Some(json!({"name": "Mallory"})), 400),
        ("GET", "/usermgmt/users", None, 200),
        ("POST", "/usermgmt/notification", Some(json!({"userId": 1, "message": "Welcome, Alice"})), 200),
        ("POST", "/usermgmt/notification", Some(json!({"userId": 2, "message": "Welcome, Bob"})), 502),
        ("GET", "/usermgmt/health-status", None, 200),
    ]
}

/// Does some trace hold the whole path: the user-management segment with an SQL subsegment and
/// a traced call, and the notification segment it reached?
fn whole_path_traced(traces: &[Trace]) -> bool {
    traces.iter().any(|t| {
        let nodes = t.nodes();
        let has = |f: &dyn Fn(&xray_local::Node) -> bool| nodes.iter().any(|n| f(n));
        has(&|n| n.name() == "user-management" && n.parent_id().is_none())
            && has(&|n| n.doc.get("sql").is_some())
            && has(&|n| n.is_remote() && n.is_traced())
            && has(&|n| n.name() == "notification" && n.parent_id().is_some())
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keep_serving = std::env::args().any(|a| a == "--serve");
    // Log lines go to stderr with the X-Ray trace id; spans inside a request become subsegments.
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .event_format(xray_tracing::with_trace_ids())
                .with_filter(LevelFilter::INFO),
        )
        .with(xray_tracing::layer())
        .init();
    let destination = Destination::from_env().await?;
    println!("segments go to {}", destination.describe());
    // Every request is recorded in the demo; production keeps the default sampling rules.
    let xray = destination
        .configure(Recorder::from_env()?)
        .with_service_name("user-management")
        .with_sampler(AlwaysSample)
        .install()?;

    let users_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| Store::sqlite_url("users.db"));
    let users = Store::connect(&users_url).await?;
    let outbox = Store::connect(&Store::sqlite_url("outbox.db")).await?;
    let notification_addr = serve(notification(outbox)).await?;
    let users_addr = serve(user_management(users, format!("http://{notification_addr}"))).await?;
    println!("user-management on http://{users_addr}, notification on http://{notification_addr}");

    let client = reqwest::Client::new();
    let mut unexpected = 0;
    for (method, path, body, expected) in traffic() {
        let url = format!("http://{users_addr}{path}");
        let request = match method {
            "POST" => client.post(&url).json(&body.unwrap_or(Value::Null)),
            _ => client.get(&url),
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        let trace_header = response.headers().get("x-amzn-trace-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
        let mark = if status == expected { "" } else { "   <- unexpected" };
        unexpected += usize::from(status != expected);
        println!("{method:4} {path:26} -> {status}  {trace_header}{mark}");
    }

    if keep_serving {
        // The walkthrough's traces are in the console already; more requests add to them.
        xray.recorder().flush(Duration::from_secs(5));
        if let Some(url) = destination.console_url() {
            println!("\nconsole: {url}");
        }
        println!("try: curl -X POST http://{users_addr}/usermgmt/user -H 'content-type: application/json' \\");
        println!("          -d '{{\"name\":\"Carol\",\"email\":\"carol@example.com\"}}'");
        println!("     curl http://{users_addr}/usermgmt/users");
        println!("Ctrl-C stops.");
        tokio::signal::ctrl_c().await?;
        drop(xray);
        destination.report(0).await;
        return Ok(());
    }

    // 7 user-management segments plus 2 notification segments.
    let flushed = xray.recorder().flush(Duration::from_secs(5));
    let stats = xray.recorder().stats();
    println!(
        "\nflushed: {flushed}; emitter: {} segments, {} datagrams, {} dropped\n",
        stats.enqueued,
        stats.datagrams,
        stats.dropped_queue_full + stats.dropped_send_error
    );
    let local = matches!(destination, Destination::Local(_));
    let traces = destination.report(9).await;
    if local && !whole_path_traced(&traces) {
        eprintln!("demo check FAILED: no trace holds user-management, its SQL, the call and notification");
        std::process::exit(1);
    }
    if std::env::var_os("AWS_ENDPOINT_URL").is_some() && local {
        let ses_calls = traces
            .iter()
            .flat_map(|t| t.nodes())
            .filter(|n| n.name() == "SES" && n.doc["aws"]["operation"] == "SendEmail")
            .count();
        if ses_calls == 0 {
            eprintln!("demo check FAILED: no SES subsegment with aws.operation SendEmail");
            std::process::exit(1);
        }
        println!("demo check: {ses_calls} SES subsegment(s) with aws.operation SendEmail");
    }
    if unexpected > 0 {
        eprintln!("demo check FAILED: {unexpected} request(s) answered an unexpected status");
        std::process::exit(1);
    }
    println!("demo check: OK");
    Ok(())
}
