//! [`MessageTrace`]: processing one queued message as part of its producer's trace (an SQS
//! record's `AWSTraceHeader` attribute). It lives in [`xray_core::integration`], shared with
//! `xray-aws-sdk`'s consumer helper, and is re-exported here.

pub use xray_core::integration::{MessageTrace, in_message_trace};
