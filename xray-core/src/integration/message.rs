//! [`MessageTrace`]: processing one queued message as part of its producer's trace (an SQS
//! record's `AWSTraceHeader` attribute, or any header a message carried).

use std::future::Future;
use std::ops::Deref;

use crate::context::current_quiet;
use crate::sampling::SamplingRequest;
use crate::{Entity, Recorder, Segment, Subsegment, TraceFutureExt, TraceHeader};

/// The entity a message's processing records on; ends when dropped.
///
/// - When the message carried a trace header with a `Root` (SQS puts the producer's header in
///   the record's `AWSTraceHeader` system attribute), a **segment** in the producer's trace:
///   its parent is the producer's entity that sent the message (`Parent`), it obeys the
///   producer's `Sampled`, and its `Lineage` and other keys go on downstream. In X-Ray the
///   processing then appears in the producer's trace, after the queue.
/// - Otherwise, a **subsegment** of the current entity (in a Lambda function, the `invocation`
///   subsegment of `xray-lambda`'s `XrayLambdaLayer`).
///
/// The header is taken as a string so that any consumer can use it: an SQS-triggered Lambda
/// (`record.attributes["AWSTraceHeader"]`), or a consumer loop reading from the AWS SDK
/// (`xray-aws-sdk`'s `sqs::in_message_trace` reads a received message's attribute). It lives
/// here so that both `xray-lambda` and `xray-aws-sdk` share it; `xray-lambda` re-exports it.
///
/// ```
/// # use xray_core::integration::MessageTrace;
/// let capture = xray_core::test::Capture::new();
/// let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// let record = MessageTrace::begin(capture.recorder(), "order-worker", Some(header));
/// record.annotate("order_id", 42);
/// drop(record);
/// let doc = &capture.take()[0];
/// assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
/// assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
/// assert_eq!(doc["annotations"]["order_id"], 42);
/// ```
#[must_use = "the message's entity ends when dropped"]
#[derive(Debug)]
pub struct MessageTrace {
    owner: Owner,
}

#[derive(Debug)]
enum Owner {
    Segment(Segment),
    Subsegment(Subsegment),
}

impl MessageTrace {
    /// Begins the processing of one message named `name` (empty: the recorder's [service
    /// name](Recorder::service_name)), from the header it carried, if any.
    pub fn begin(recorder: &Recorder, name: &str, header: Option<&str>) -> Self {
        let header = header.map(TraceHeader::parse).filter(|h| h.root().is_some());
        let owner = match header {
            Some(header) => Owner::Segment(recorder.begin_segment(name, Some(&header), &SamplingRequest::default())),
            None => {
                let name = if name.is_empty() { recorder.service_name() } else { name };
                Owner::Subsegment(current_quiet().begin_subsegment(name))
            }
        };
        Self { owner }
    }

    /// A handle to the entity, to make it current or pass around.
    pub fn entity(&self) -> Entity {
        (**self).clone()
    }

    /// `true` when the entity is a segment in the producer's trace (the header had a `Root`).
    pub fn is_linked(&self) -> bool {
        matches!(self.owner, Owner::Segment(_))
    }

    /// Runs `work` with this entity as the current one, and ends the entity when it completes.
    pub async fn run<F: Future>(self, work: F) -> F::Output {
        let output = work.with_entity(self.entity()).await;
        drop(self);
        output
    }
}

impl Deref for MessageTrace {
    type Target = Entity;

    fn deref(&self) -> &Entity {
        match &self.owner {
            Owner::Segment(s) => s,
            Owner::Subsegment(s) => s,
        }
    }
}

/// Runs `work`, the processing of one message named `name`, as part of the trace of the header
/// the message carried ([`MessageTrace`]), with the global recorder; without one, `work` runs
/// untraced.
///
/// ```no_run
/// # async fn handle(_body: &str) {}
/// # async fn example(records: Vec<(String, Option<String>)>) {
/// // In an SQS-triggered function: for record in event.payload.records { ... }
/// for (body, aws_trace_header) in records {
///     xray_core::integration::in_message_trace("order-worker", aws_trace_header.as_deref(), handle(&body)).await;
/// }
/// # }
/// ```
pub async fn in_message_trace<F: Future>(name: &str, header: Option<&str>, work: F) -> F::Output {
    match Recorder::global().filter(|r| r.is_enabled()) {
        Some(recorder) => MessageTrace::begin(recorder, name, header).run(work).await,
        None => work.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn a_header_with_a_root_links_into_the_producers_trace() {
        let capture = crate::test::Capture::with(|b| b.with_service_name("worker"));
        let header = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1");
        let message = MessageTrace::begin(capture.recorder(), "", Some(&header));
        assert!(message.is_linked());
        assert_eq!(message.downstream_header().unwrap().extra(), "Lineage=a87bd80c:1");
        drop(message);
        let doc = &capture.take()[0];
        xray_tests::assert_valid(doc);
        assert_eq!(doc["name"], "worker");
        assert_eq!(doc["trace_id"], ROOT);
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert!(doc.get("type").is_none(), "a segment: {doc}");
    }

    #[test]
    fn the_producers_decision_is_obeyed() {
        let capture = crate::test::Capture::new();
        let header = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0");
        let message = MessageTrace::begin(capture.recorder(), "worker", Some(&header));
        assert!(!message.is_sampled());
        assert_eq!(message.trace_id().unwrap().to_string(), ROOT);
        drop(message);
        assert!(capture.take().is_empty());
    }

    #[tokio::test]
    async fn without_a_root_the_work_is_a_subsegment_of_the_current_entity() {
        let capture = crate::test::Capture::new();
        let invocation = capture.recorder().new_segment("fn");
        let work = async {
            for header in [None, Some("garbage"), Some("Sampled=1")] {
                let message = MessageTrace::begin(capture.recorder(), "record", header);
                assert!(!message.is_linked());
                message.run(async { crate::current().annotate("seen", true) }).await;
            }
        };
        work.with_entity(invocation.entity()).await;
        invocation.end();
        let docs = capture.take();
        assert_eq!(docs.len(), 1);
        let subs = docs[0]["subsegments"].as_array().unwrap();
        assert_eq!(subs.len(), 3);
        assert!(subs.iter().all(|s| s["name"] == "record" && s["annotations"]["seen"] == true));
    }
}
