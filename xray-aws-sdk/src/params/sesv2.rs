//! SES v2: how many destinations an e-mail has (never the addresses), and its message id.

use aws_sdk_sesv2::operation::send_bulk_email::SendBulkEmailInput;
use aws_sdk_sesv2::operation::send_email::{SendEmailInput, SendEmailOutput};
use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};

use super::{Fields, put};

pub(super) fn request(operation: &str, input: &Input, out: &mut Fields) {
    match operation {
        "SendEmail" => {
            if let Some(i) = input.downcast_ref::<SendEmailInput>() {
                let count =
                    i.destination().map(|d| d.to_addresses().len() + d.cc_addresses().len() + d.bcc_addresses().len());
                put(out, "destination_count", count);
            }
        }
        "SendBulkEmail" => {
            if let Some(i) = input.downcast_ref::<SendBulkEmailInput>() {
                put(out, "destination_count", Some(i.bulk_email_entries().len()));
            }
        }
        _ => {}
    }
}

pub(super) fn response(operation: &str, output: &Output, out: &mut Fields) {
    if operation == "SendEmail"
        && let Some(o) = output.downcast_ref::<SendEmailOutput>()
    {
        put(out, "message_id", o.message_id());
    }
}
