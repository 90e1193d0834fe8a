//! A background job whose work fans out over `tokio::spawn`: the trace context crosses task
//! boundaries only where the code says so, with `.in_current_trace()`.
//!
//! ```text
//! cargo run -p xray-examples --example background_job
//! ```

use std::time::Duration;

use xray_core::{AlwaysSample, Recorder, TraceFutureExt};
use xray_examples::Destination;

async fn resize(image: u32) -> u32 {
    xray_core::in_subsegment("resize", async move {
        xray_core::current().annotate("image", image);
        tokio::time::sleep(Duration::from_millis(5 + u64::from(image) * 3)).await;
        image * 2
    })
    .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let destination = Destination::from_env().await?;
    println!("sending to {}", destination.describe());
    let recorder = destination
        .configure(Recorder::from_env()?)
        .with_service_name("thumbnailer")
        .with_sampler(AlwaysSample)
        .build()?;

    let job = recorder.new_segment("thumbnailer");
    let total = async {
        xray_core::current().annotate("batch", "2026-11-21");
        // Each spawned task carries the job's context explicitly.
        let tasks: Vec<_> = (1..=4).map(|i| tokio::spawn(resize(i).in_current_trace())).collect();
        let mut total = 0;
        for t in tasks {
            total += t.await?;
        }
        // Blocking work on the blocking pool, in the same trace.
        let entity = xray_core::current();
        tokio::task::spawn_blocking(move || {
            entity.in_scope(|| {
                xray_core::in_subsegment_sync("write-index", || std::thread::sleep(Duration::from_millis(8)))
            })
        })
        .await?;
        Ok::<_, tokio::task::JoinError>(total)
    }
    .with_entity(job.entity())
    .await?;
    job.add_metadata("pixels", total);
    job.end();

    recorder.flush(Duration::from_secs(2));
    destination.report(1).await;
    Ok(())
}
