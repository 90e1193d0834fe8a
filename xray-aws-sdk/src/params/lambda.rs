//! Lambda: the function invoked and how, and its response's status.

use aws_sdk_lambda::operation::invoke::{InvokeInput, InvokeOutput};
use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};

use super::{Fields, put};

pub(super) fn request(operation: &str, input: &Input, out: &mut Fields) {
    if operation == "Invoke"
        && let Some(i) = input.downcast_ref::<InvokeInput>()
    {
        put(out, "function_name", i.function_name());
        put(out, "invocation_type", i.invocation_type().map(|t| t.as_str()));
        put(out, "log_type", i.log_type().map(|t| t.as_str()));
        put(out, "qualifier", i.qualifier());
    }
}

pub(super) fn response(operation: &str, output: &Output, out: &mut Fields) {
    if operation == "Invoke"
        && let Some(o) = output.downcast_ref::<InvokeOutput>()
    {
        put(out, "function_error", o.function_error());
        put(out, "status_code", Some(o.status_code()));
    }
}
