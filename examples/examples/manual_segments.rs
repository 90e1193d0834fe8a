//! Segments by hand in a plain program: the "create a segment, add metadata, add a
//! subsegment" snippet every X-Ray user tries first.
//!
//! ```text
//! cargo run -p xray-examples --example manual_segments
//! ```

use std::time::Duration;

use xray_core::{AlwaysSample, Recorder};
use xray_examples::Destination;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let destination = Destination::from_env().await?;
    println!("sending to {}", destination.describe());
    let recorder = destination
        .configure(Recorder::from_env()?)
        .with_service_name("nightly-report")
        .with_sampler(AlwaysSample)
        .build()?;

    // A segment for a unit of work that did not arrive as an HTTP request.
    let segment = recorder.new_segment("nightly-report");
    segment.annotate("report", "sales");
    segment.add_metadata("parameters", serde_json::json!({"region": "eu-west-1", "days": 7}));

    // A subsegment for one step, recorded explicitly...
    let fetch = segment.begin_subsegment("fetch-orders");
    fetch.annotate("orders", 1_250);
    std::thread::sleep(Duration::from_millis(15));
    fetch.end();

    // ...and one through the context, as library code would record it.
    segment.in_scope(|| {
        xray_core::in_subsegment_sync("render-pdf", || {
            xray_core::current().add_metadata("pages", 12);
            std::thread::sleep(Duration::from_millis(10));
        })
    });
    segment.end();

    recorder.flush(Duration::from_secs(2));
    let traces = destination.report(1).await;
    println!("{} trace(s) received", traces.len());
    Ok(())
}
