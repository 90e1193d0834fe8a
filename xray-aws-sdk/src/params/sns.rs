//! SNS: the topic a message is published to.

use aws_sdk_sns::operation::publish::PublishInput;
use aws_sdk_sns::operation::publish_batch::PublishBatchInput;
use aws_smithy_runtime_api::client::interceptors::context::Input;

use super::{Fields, put};

pub(super) fn request(operation: &str, input: &Input, out: &mut Fields) {
    match operation {
        "Publish" => {
            if let Some(i) = input.downcast_ref::<PublishInput>() {
                put(out, "topic_arn", i.topic_arn());
                put(out, "target_arn", i.target_arn());
            }
        }
        "PublishBatch" => {
            if let Some(i) = input.downcast_ref::<PublishBatchInput>() {
                put(out, "topic_arn", i.topic_arn());
                put(out, "message_count", Some(i.publish_batch_request_entries().len()));
            }
        }
        _ => {}
    }
}
