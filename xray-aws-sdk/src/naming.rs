//! How X-Ray names a service, and which error codes are throttling.

/// The subsegment name of a call to the service whose SDK service id is `service_id` (the
/// `service` of the operation's `Metadata`, as each `aws-sdk-*` crate sets it): the id itself
/// (`DynamoDB`, `S3`, `SQS`, `SNS`, `Lambda`), except where X-Ray shows one service under
/// another name: SES v2 is `SES`, as the service map's `AWS::SES` node.
///
/// ```
/// assert_eq!(xray_aws_sdk::service_name("DynamoDB"), "DynamoDB");
/// assert_eq!(xray_aws_sdk::service_name("SESv2"), "SES");
/// ```
pub fn service_name(service_id: &str) -> &str {
    match service_id {
        "SESv2" => "SES",
        other => other,
    }
}

/// Error codes that mean the caller was throttled, beside HTTP 429: the codes the official
/// SDKs' retry logic treats as throttling.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// `true` for an error code that means throttled.
pub(crate) fn is_throttling(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes() {
        for (id, name) in [("DynamoDB", "DynamoDB"), ("SQS", "SQS"), ("SESv2", "SES"), ("Lambda", "Lambda")] {
            assert_eq!(service_name(id), name);
        }
        assert!(is_throttling("ThrottlingException"));
        assert!(is_throttling("SlowDown"));
        assert!(!is_throttling("ResourceNotFoundException"));
    }
}
