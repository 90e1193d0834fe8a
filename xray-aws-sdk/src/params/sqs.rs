//! SQS: the queue, counts, delays and attribute names (never a body or an attribute value),
//! and the message id.

use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityInput;
use aws_sdk_sqs::operation::create_queue::CreateQueueInput;
use aws_sdk_sqs::operation::delete_message::DeleteMessageInput;
use aws_sdk_sqs::operation::delete_message_batch::{DeleteMessageBatchInput, DeleteMessageBatchOutput};
use aws_sdk_sqs::operation::delete_queue::DeleteQueueInput;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesInput;
use aws_sdk_sqs::operation::get_queue_url::{GetQueueUrlInput, GetQueueUrlOutput};
use aws_sdk_sqs::operation::list_queues::{ListQueuesInput, ListQueuesOutput};
use aws_sdk_sqs::operation::purge_queue::PurgeQueueInput;
use aws_sdk_sqs::operation::receive_message::{ReceiveMessageInput, ReceiveMessageOutput};
use aws_sdk_sqs::operation::send_message::{SendMessageInput, SendMessageOutput};
use aws_sdk_sqs::operation::send_message_batch::{SendMessageBatchInput, SendMessageBatchOutput};
use aws_sdk_sqs::operation::set_queue_attributes::SetQueueAttributesInput;
use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};
use serde_json::Value;

use super::{Fields, names, put};

macro_rules! queue_url_of {
    ($input:expr, $out:expr, $($ty:ty),+) => {{
        $(if let Some(i) = $input.downcast_ref::<$ty>() {
            put($out, "queue_url", i.queue_url());
        })+
    }};
}

pub(super) fn request(operation: &str, input: &Input, out: &mut Fields) {
    match operation {
        "SendMessage" => {
            if let Some(i) = input.downcast_ref::<SendMessageInput>() {
                put(out, "queue_url", i.queue_url());
                put(out, "delay_seconds", i.delay_seconds());
                if let Some(attributes) = i.message_attributes().filter(|a| !a.is_empty()) {
                    out.insert("message_attribute_names".into(), names(attributes.keys()));
                }
            }
        }
        "SendMessageBatch" => {
            if let Some(i) = input.downcast_ref::<SendMessageBatchInput>() {
                put(out, "queue_url", i.queue_url());
                put(out, "message_count", Some(i.entries().len()));
            }
        }
        "ReceiveMessage" => {
            if let Some(i) = input.downcast_ref::<ReceiveMessageInput>() {
                put(out, "queue_url", i.queue_url());
                put(out, "max_number_of_messages", i.max_number_of_messages());
                put(out, "visibility_timeout", i.visibility_timeout());
                put(out, "wait_time_seconds", i.wait_time_seconds());
                let attributes: Vec<Value> =
                    i.message_system_attribute_names().iter().map(|n| Value::from(n.as_str())).collect();
                if !attributes.is_empty() {
                    out.insert("attribute_names".into(), Value::from(attributes));
                }
                if !i.message_attribute_names().is_empty() {
                    let list = i.message_attribute_names().iter().map(|n| Value::from(n.as_str())).collect::<Vec<_>>();
                    out.insert("message_attribute_names".into(), Value::from(list));
                }
            }
        }
        "ChangeMessageVisibility" => {
            if let Some(i) = input.downcast_ref::<ChangeMessageVisibilityInput>() {
                put(out, "queue_url", i.queue_url());
                put(out, "visibility_timeout", i.visibility_timeout());
            }
        }
        "SetQueueAttributes" => {
            if let Some(i) = input.downcast_ref::<SetQueueAttributesInput>() {
                put(out, "queue_url", i.queue_url());
                if let Some(attributes) = i.attributes().filter(|a| !a.is_empty()) {
                    let mut list: Vec<&str> = attributes.keys().map(|k| k.as_str()).collect();
                    list.sort_unstable();
                    out.insert("attribute_names".into(), Value::from(list));
                }
            }
        }
        "CreateQueue" => {
            if let Some(i) = input.downcast_ref::<CreateQueueInput>() {
                put(out, "queue_name", i.queue_name());
            }
        }
        "GetQueueUrl" => {
            if let Some(i) = input.downcast_ref::<GetQueueUrlInput>() {
                put(out, "queue_name", i.queue_name());
                put(out, "queue_owner_aws_account_id", i.queue_owner_aws_account_id());
            }
        }
        "ListQueues" => {
            if let Some(i) = input.downcast_ref::<ListQueuesInput>() {
                put(out, "queue_name_prefix", i.queue_name_prefix());
            }
        }
        _ => queue_url_of!(
            input,
            out,
            DeleteMessageInput,
            DeleteMessageBatchInput,
            DeleteQueueInput,
            PurgeQueueInput,
            GetQueueAttributesInput
        ),
    }
}

pub(super) fn response(operation: &str, output: &Output, out: &mut Fields) {
    match operation {
        "SendMessage" => {
            if let Some(o) = output.downcast_ref::<SendMessageOutput>() {
                put(out, "message_id", o.message_id());
            }
        }
        "SendMessageBatch" => {
            if let Some(o) = output.downcast_ref::<SendMessageBatchOutput>() {
                put(out, "failed_count", Some(o.failed().len()));
                put(out, "successful_count", Some(o.successful().len()));
            }
        }
        "DeleteMessageBatch" => {
            if let Some(o) = output.downcast_ref::<DeleteMessageBatchOutput>() {
                put(out, "failed_count", Some(o.failed().len()));
                put(out, "successful_count", Some(o.successful().len()));
            }
        }
        "ReceiveMessage" => {
            if let Some(o) = output.downcast_ref::<ReceiveMessageOutput>() {
                put(out, "message_count", Some(o.messages().len()));
            }
        }
        "GetQueueUrl" => {
            if let Some(o) = output.downcast_ref::<GetQueueUrlOutput>() {
                put(out, "queue_url", o.queue_url());
            }
        }
        "ListQueues" => {
            if let Some(o) = output.downcast_ref::<ListQueuesOutput>() {
                put(out, "queue_count", Some(o.queue_urls().len()));
            }
        }
        _ => {}
    }
}
