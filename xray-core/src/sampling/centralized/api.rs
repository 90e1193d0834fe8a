//! The JSON of the two sampling calls the daemon proxies to the X-Ray API,
//! `GetSamplingRules` and `GetSamplingTargets`.
//!
//! Everything the answer holds is optional here: a rule or target missing a field we need is
//! skipped on its own, so one odd record never costs the others.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// `POST /GetSamplingRules` request body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetSamplingRulesInput<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_token: Option<&'a str>,
}

/// `POST /GetSamplingRules` answer: one page of rules.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct GetSamplingRulesOutput {
    /// The records as they came, read one by one in [`rules`](Self::rules): a record that is
    /// not an object, or has a field of the wrong type, costs only itself.
    pub(crate) sampling_rule_records: Vec<serde_json::Value>,
    pub(crate) next_token: Option<String>,
}

impl GetSamplingRulesOutput {
    /// The page's rules, and how many records held none (not an object, a field of the wrong
    /// type, or no `SamplingRule`).
    pub(crate) fn rules(&mut self) -> (Vec<SamplingRule>, usize) {
        let records = std::mem::take(&mut self.sampling_rule_records);
        let total = records.len();
        let rules: Vec<SamplingRule> = records
            .into_iter()
            .filter_map(|record| SamplingRuleRecord::deserialize(record).ok()?.sampling_rule)
            .collect();
        let unusable = total - rules.len();
        (rules, unusable)
    }
}

/// A rule with its metadata (`CreatedAt`, `ModifiedAt`), which sampling does not need.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct SamplingRuleRecord {
    pub(crate) sampling_rule: Option<SamplingRule>,
}

/// A sampling rule as the X-Ray API defines it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct SamplingRule {
    pub(crate) rule_name: Option<String>,
    pub(crate) priority: Option<i64>,
    pub(crate) fixed_rate: Option<f64>,
    pub(crate) reservoir_size: Option<i64>,
    pub(crate) service_name: Option<String>,
    pub(crate) service_type: Option<String>,
    pub(crate) host: Option<String>,
    #[serde(rename = "HTTPMethod")]
    pub(crate) http_method: Option<String>,
    #[serde(rename = "URLPath")]
    pub(crate) url_path: Option<String>,
    #[serde(rename = "ResourceARN")]
    pub(crate) resource_arn: Option<String>,
    pub(crate) version: Option<i64>,
    pub(crate) attributes: Option<HashMap<String, String>>,
}

/// `POST /SamplingTargets` request body (at most 25 documents).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetSamplingTargetsInput<'a> {
    pub(crate) sampling_statistics_documents: &'a [SamplingStatisticsDocument],
}

/// What one rule decided since its last report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SamplingStatisticsDocument {
    pub(crate) rule_name: String,
    #[serde(rename = "ClientID")]
    pub(crate) client_id: &'static str,
    pub(crate) request_count: u64,
    pub(crate) sampled_count: u64,
    pub(crate) borrow_count: u64,
    /// Epoch seconds.
    pub(crate) timestamp: u64,
}

/// `POST /SamplingTargets` answer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct GetSamplingTargetsOutput {
    pub(crate) sampling_target_documents: Vec<SamplingTargetDocument>,
    /// Epoch seconds of the last change to any rule.
    pub(crate) last_rule_modification: Option<f64>,
    pub(crate) unprocessed_statistics: Vec<UnprocessedStatistics>,
}

/// The quota X-Ray hands this process for one rule.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct SamplingTargetDocument {
    pub(crate) rule_name: Option<String>,
    pub(crate) fixed_rate: Option<f64>,
    pub(crate) reservoir_quota: Option<i64>,
    /// Epoch seconds when the quota expires.
    #[serde(rename = "ReservoirQuotaTTL")]
    pub(crate) reservoir_quota_ttl: Option<f64>,
    /// Seconds to wait before reporting this rule again.
    pub(crate) interval: Option<i64>,
}

/// Statistics the service could not use.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct UnprocessedStatistics {
    pub(crate) rule_name: Option<String>,
    pub(crate) error_code: Option<String>,
    pub(crate) message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shapes() {
        let rules: GetSamplingRulesOutput = serde_json::from_str(
            r#"{"SamplingRuleRecords": [{"SamplingRule": {"RuleName": "Default",
                "RuleARN": "arn:aws:xray:us-east-1::sampling-rule/Default", "ResourceARN": "*",
                "Priority": 10000, "FixedRate": 0.01, "ReservoirSize": 0, "ServiceName": "*",
                "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1,
                "Attributes": {}, "SamplingRateBoost": {"MaxRate": 0.5, "CooldownWindowMinutes": 1}},
                "CreatedAt": 0.0, "ModifiedAt": 1530558121.0}], "NextToken": "p2"}"#,
        )
        .unwrap();
        let mut rules = rules;
        let (fetched, unusable) = rules.rules();
        assert_eq!(unusable, 0);
        let rule = &fetched[0];
        assert_eq!(rule.rule_name.as_deref(), Some("Default"));
        assert_eq!((rule.priority, rule.reservoir_size, rule.version), (Some(10000), Some(0), Some(1)));
        assert_eq!((rule.http_method.as_deref(), rule.url_path.as_deref()), (Some("*"), Some("*")));
        assert_eq!(rule.resource_arn.as_deref(), Some("*"));
        assert_eq!(rules.next_token.as_deref(), Some("p2"));

        let targets: GetSamplingTargetsOutput = serde_json::from_str(
            r#"{"SamplingTargetDocuments": [{"RuleName": "base", "FixedRate": 0.1, "ReservoirQuota": 2,
                "ReservoirQuotaTTL": 1530923107.0, "Interval": 10}], "LastRuleModification": 1530920505.0,
                "UnprocessedStatistics": [{"RuleName": "x", "ErrorCode": "400", "Message": "no"}]}"#,
        )
        .unwrap();
        let t = &targets.sampling_target_documents[0];
        assert_eq!((t.reservoir_quota, t.reservoir_quota_ttl, t.interval), (Some(2), Some(1530923107.0), Some(10)));
        assert_eq!(targets.last_rule_modification, Some(1530920505.0));
        assert_eq!(targets.unprocessed_statistics[0].error_code.as_deref(), Some("400"));
    }

    #[test]
    fn an_odd_record_costs_only_itself() {
        let mut page: GetSamplingRulesOutput = serde_json::from_str(
            r#"{"SamplingRuleRecords": [7, null, "rule", [], {"SamplingRule": {"RuleName": "ok", "Priority": 1}},
                {"SamplingRule": {"RuleName": "typed", "Priority": "high"}}, {"SamplingRule": 3}, {},
                {"CreatedAt": 0.0, "SamplingRule": {"RuleName": "second"}}], "NextToken": "p3"}"#,
        )
        .unwrap();
        let (rules, unusable) = page.rules();
        let names: Vec<_> = rules.iter().map(|r| r.rule_name.as_deref().unwrap()).collect();
        assert_eq!((names, unusable), (vec!["ok", "second"], 7));
        assert_eq!(rules[0].priority, Some(1));
        assert_eq!(page.next_token.as_deref(), Some("p3"), "the page itself is read");
    }

    #[test]
    fn writes_the_documented_shapes() {
        let docs = [SamplingStatisticsDocument {
            rule_name: "base".into(),
            client_id: "0123456789abcdef01234567",
            request_count: 10,
            sampled_count: 3,
            borrow_count: 1,
            timestamp: 1_700_000_000,
        }];
        let body = serde_json::to_value(GetSamplingTargetsInput { sampling_statistics_documents: &docs }).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"SamplingStatisticsDocuments": [{"RuleName": "base",
                "ClientID": "0123456789abcdef01234567", "RequestCount": 10, "SampledCount": 3,
                "BorrowCount": 1, "Timestamp": 1_700_000_000u64}]})
        );
        assert_eq!(serde_json::to_string(&GetSamplingRulesInput { next_token: None }).unwrap(), "{}");
        assert_eq!(
            serde_json::to_string(&GetSamplingRulesInput { next_token: Some("t") }).unwrap(),
            r#"{"NextToken":"t"}"#
        );
    }
}
