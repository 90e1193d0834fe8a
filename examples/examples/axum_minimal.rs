//! The smallest traced axum service: one layer, one annotation, one subsegment.
//!
//! ```text
//! cargo run -p xray-examples --example axum_minimal            # serves three requests, prints the traces
//! cargo run -p xray-examples --example axum_minimal -- --serve # keeps serving on a free port
//! ```

use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use xray_core::{AlwaysSample, Recorder};
use xray_examples::Destination;
use xray_tower::XrayLayer;

async fn hello(Path(name): Path<String>) -> String {
    xray_core::current().annotate("name", name.as_str());
    xray_core::in_subsegment("compose-greeting", async move { format!("Hello, {name}!") }).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let destination = Destination::from_env().await?;
    let xray = destination.configure(Recorder::from_env()?).with_sampler(AlwaysSample).install()?;

    let app = Router::new().route("/hello/{name}", get(hello)).layer(XrayLayer::new("hello-service").with_axum_body());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("hello-service on http://{addr}/hello/<name>; segments go to {}", destination.describe());

    if std::env::args().any(|a| a == "--serve") {
        tokio::signal::ctrl_c().await?;
    } else {
        for name in ["ada", "grace", "barbara"] {
            let body = reqwest::get(format!("http://{addr}/hello/{name}")).await?.text().await?;
            println!("{body}");
        }
    }
    xray.recorder().flush(Duration::from_secs(2));
    destination.report(3).await;
    Ok(())
}
