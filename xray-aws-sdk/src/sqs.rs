//! The SQS consumer side (feature `sqs`): a received message's processing as part of its
//! producer's trace.
//!
//! A message sent inside a trace through a client with the [`XrayInterceptor`](crate::XrayInterceptor)
//! carries the sender's `X-Amzn-Trace-Id`, which SQS keeps as the message's `AWSTraceHeader`
//! system attribute. SQS returns it only when the receiver asks for it:
//!
//! ```no_run
//! # async fn example(sqs: aws_sdk_sqs::Client, queue_url: &str) -> Result<(), aws_sdk_sqs::Error> {
//! use aws_sdk_sqs::types::MessageSystemAttributeName;
//! let received = sqs
//!     .receive_message()
//!     .queue_url(queue_url)
//!     .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
//!     .send()
//!     .await?;
//! for message in received.messages() {
//!     xray_aws_sdk::sqs::in_message_trace("order-worker", message, async {
//!         // process message.body(); AWS calls made here are subsegments of this segment
//!     })
//!     .await;
//! }
//! # Ok(()) }
//! ```
//!
//! The segment or subsegment is `xray_core`'s [`MessageTrace`], the same as `xray-lambda`'s
//! for SQS-triggered functions (whose event records carry the attribute as a string).

use std::future::Future;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use xray_core::Recorder;
pub use xray_core::integration::MessageTrace;

/// The message's `AWSTraceHeader` system attribute, if the receive asked for it and the
/// sender's request carried a trace header.
pub fn trace_header(message: &Message) -> Option<&str> {
    message.attributes()?.get(&MessageSystemAttributeName::AwsTraceHeader).map(String::as_str)
}

/// Begins the processing of `message`, named `name` (empty: the recorder's service name):
/// a segment in the producer's trace whose parent is the sender's subsegment when the
/// message carries `AWSTraceHeader`, otherwise a subsegment of the current entity.
pub fn begin(recorder: &Recorder, name: &str, message: &Message) -> MessageTrace {
    MessageTrace::begin(recorder, name, trace_header(message))
}

/// Runs `work`, the processing of `message`, as [`begin`] records it, with the global
/// recorder; without one, `work` runs untraced.
pub async fn in_message_trace<F: Future>(name: &str, message: &Message, work: F) -> F::Output {
    xray_core::integration::in_message_trace(name, trace_header(message), work).await
}
