//! The daemon's sampling proxy: `GetSamplingRules` (`POST /GetSamplingRules`) and
//! `GetSamplingTargets` (`POST /SamplingTargets`), answered from a local rules file or X-Ray's
//! default rule instead of the X-Ray service.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ApiError, Ctx, Input, json, now_secs, read_token, token};

/// Rule records per page of `GetSamplingRules`.
const PAGE: usize = 100;

const TOKEN: &str = "rules-";

/// How long a client that stopped reporting still gets a share of a rule's reservoir, in seconds.
const CLIENT_TTL: f64 = 60.0;

/// Seconds a reservoir quota stays valid, as the developer guide says of the service's.
const QUOTA_TTL: f64 = 300.0;

/// Seconds between a client's reports.
const INTERVAL: u64 = 10;

/// Why a sampling rules file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SamplingRulesError(String);

/// The rules the proxy hands out, as `SamplingRuleRecord`s, with `Default` last.
#[derive(Debug, Clone)]
pub(crate) struct SamplingRules {
    records: Vec<Value>,
    /// Epoch seconds the rules were loaded: `ModifiedAt` and `LastRuleModification`.
    loaded_at: f64,
}

impl Default for SamplingRules {
    fn default() -> Self {
        SamplingRules::from_rules(Vec::new(), now_secs())
    }
}

/// X-Ray's default rule: one request a second, then 5 %.
fn default_rule() -> Map<String, Value> {
    rule_fields(json!({"RuleName": "Default", "Priority": 10000, "FixedRate": 0.05, "ReservoirSize": 1}))
}

fn rule_fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl SamplingRules {
    fn from_rules(mut rules: Vec<Map<String, Value>>, loaded_at: f64) -> Self {
        if !rules.iter().any(|r| r.get("RuleName").and_then(Value::as_str) == Some("Default")) {
            rules.push(default_rule());
        }
        let key = |r: &Map<String, Value>| {
            let name = r.get("RuleName").and_then(Value::as_str).unwrap_or_default().to_owned();
            (name == "Default", r.get("Priority").and_then(Value::as_i64).unwrap_or(i64::MAX), name)
        };
        rules.sort_by_key(key);
        let records = (rules.into_iter())
            .map(|mut rule| {
                let name = rule.get("RuleName").and_then(Value::as_str).unwrap_or_default().to_owned();
                for field in ["ResourceARN", "ServiceName", "ServiceType", "Host", "HTTPMethod", "URLPath"] {
                    rule.entry(field).or_insert(json!("*"));
                }
                rule.entry("Version").or_insert(json!(1));
                rule.entry("Attributes").or_insert(json!({}));
                rule.entry("RuleARN")
                    .or_insert(json!(format!("arn:aws:xray:us-east-1:000000000000:sampling-rule/{name}")));
                json!({"SamplingRule": rule, "CreatedAt": loaded_at.floor(), "ModifiedAt": loaded_at.floor()})
            })
            .collect();
        SamplingRules { records, loaded_at: loaded_at.floor() }
    }

    /// Reads rules in the X-Ray API's JSON shape: the output of `aws xray get-sampling-rules`
    /// (`{"SamplingRuleRecords": [{"SamplingRule": {...}}]}`), a list of `SamplingRule`
    /// objects (or records), `{"SamplingRules": [...]}`, or one `{"SamplingRule": {...}}`.
    /// X-Ray's `Default` rule is added when the file has none.
    pub(crate) fn parse(text: &str) -> Result<Self, SamplingRulesError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| SamplingRulesError(format!("not valid JSON: {e}")))?;
        let list = match value {
            Value::Array(list) => list,
            Value::Object(mut map) => {
                match ["SamplingRuleRecords", "SamplingRules"].iter().find_map(|k| map.remove(*k)) {
                    Some(Value::Array(list)) => list,
                    Some(_) => return Err(SamplingRulesError("SamplingRuleRecords must be a list".into())),
                    None if map.contains_key("SamplingRule") || map.contains_key("RuleName") => {
                        vec![Value::Object(map)]
                    }
                    None => {
                        return Err(SamplingRulesError(
                            "expected the X-Ray API's rule JSON: {\"SamplingRuleRecords\": [{\"SamplingRule\": \
                         {\"RuleName\": ..., \"Priority\": ..., \"FixedRate\": ..., \"ReservoirSize\": ...}}]} \
                         (what `aws xray get-sampling-rules` prints), or a list of SamplingRule objects"
                                .into(),
                        ));
                    }
                }
            }
            _ => return Err(SamplingRulesError("expected a JSON object or list of sampling rules".into())),
        };
        let mut rules = Vec::new();
        for (i, item) in list.into_iter().enumerate() {
            let item = match item {
                Value::Object(mut record) if record.contains_key("SamplingRule") => record.remove("SamplingRule"),
                other => Some(other),
            };
            let Some(Value::Object(rule)) = item else {
                return Err(SamplingRulesError(format!("rule {} is not a JSON object", i + 1)));
            };
            check_rule(&rule).map_err(|why| SamplingRulesError(format!("rule {}: {why}", i + 1)))?;
            rules.push(rule);
        }
        let mut names: Vec<&str> = rules.iter().filter_map(|r| r.get("RuleName").and_then(Value::as_str)).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(SamplingRulesError(format!("two rules are named {:?}: rule names must be unique", w[0])));
        }
        Ok(SamplingRules::from_rules(rules, now_secs()))
    }

    fn find(&self, name: &str) -> Option<&Map<String, Value>> {
        (self.records.iter())
            .filter_map(|r| r.get("SamplingRule").and_then(Value::as_object))
            .find(|r| r.get("RuleName").and_then(Value::as_str) == Some(name))
    }
}

/// Checks the fields the service requires of a rule, with the service's bounds.
fn check_rule(rule: &Map<String, Value>) -> Result<(), String> {
    let name = match rule.get("RuleName") {
        Some(Value::String(name)) if (1..=32).contains(&name.chars().count()) => name.as_str(),
        Some(_) => return Err("RuleName must be a string of 1 to 32 characters".into()),
        None => return Err("RuleName is required".into()),
    };
    let number = |field: &str| rule.get(field).and_then(Value::as_f64);
    match rule.get("Priority").and_then(Value::as_i64) {
        Some(p) if (1..=9999).contains(&p) || (name == "Default" && p == 10000) => {}
        None if name == "Default" => {}
        _ => return Err(format!("rule {name:?}: Priority must be a whole number from 1 to 9999")),
    }
    match number("FixedRate") {
        Some(rate) if (0.0..=1.0).contains(&rate) => {}
        _ => return Err(format!("rule {name:?}: FixedRate must be a number from 0 to 1")),
    }
    match rule.get("ReservoirSize").and_then(Value::as_u64) {
        Some(_) => {}
        None => return Err(format!("rule {name:?}: ReservoirSize must be a whole number, 0 or more")),
    }
    for field in ["ResourceARN", "ServiceName", "ServiceType", "Host", "HTTPMethod", "URLPath"] {
        if let Some(v) = rule.get(field)
            && !v.is_string()
        {
            return Err(format!("rule {name:?}: {field} must be a string pattern"));
        }
    }
    Ok(())
}

/// Which clients reported each rule lately, to split its reservoir among them as the service does.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    clients: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Targets {
    /// Notes a report and returns this client's share of `reservoir`.
    fn quota(&mut self, rule: &str, client: &str, now: f64, reservoir: u64) -> u64 {
        let clients = self.clients.entry(rule.to_owned()).or_default();
        clients.insert(client.to_owned(), now);
        clients.retain(|_, seen| now - *seen <= CLIENT_TTL);
        let n = clients.len() as u64;
        let position = clients.keys().position(|c| c == client).unwrap_or(0) as u64;
        reservoir / n + u64::from(position < reservoir % n)
    }
}

/// `POST /GetSamplingRules`.
pub(crate) async fn rules(State(ctx): Ctx, body: Bytes) -> Result<Response, ApiError> {
    let input = Input::parse("GetSamplingRules", &body)?;
    let skip = match input.string("NextToken")? {
        Some(text) => usize::try_from(read_token(input.operation(), TOKEN, text)?).unwrap_or(usize::MAX),
        None => 0,
    };
    let records = &ctx.rules.records;
    let page: Vec<&Value> = records.iter().skip(skip).take(PAGE).collect();
    let mut answer = json!({"SamplingRuleRecords": page});
    if skip + PAGE < records.len() {
        answer["NextToken"] = json!(token(TOKEN, (skip + PAGE) as u64));
    }
    Ok(json(&answer))
}

/// `POST /SamplingTargets`.
pub(crate) async fn targets(State(ctx): Ctx, body: Bytes) -> Result<Response, ApiError> {
    let input = Input::parse("GetSamplingTargets", &body)?;
    let docs = input.required_list("SamplingStatisticsDocuments")?;
    if docs.len() > 25 {
        return Err(ApiError::invalid(format!(
            "GetSamplingTargets: at most 25 SamplingStatisticsDocuments per call, not {}",
            docs.len()
        )));
    }
    let now = now_secs();
    let mut targets = Vec::new();
    let mut unprocessed = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let field = |name: &str| doc.get(name);
        let (Some(rule), Some(client)) =
            (field("RuleName").and_then(Value::as_str), field("ClientID").and_then(Value::as_str))
        else {
            return Err(ApiError::invalid(format!(
                "GetSamplingTargets: SamplingStatisticsDocuments[{i}] needs RuleName and ClientID strings"
            )));
        };
        for count in ["RequestCount", "SampledCount"] {
            if field(count).and_then(Value::as_u64).is_none() {
                return Err(ApiError::invalid(format!(
                    "GetSamplingTargets: SamplingStatisticsDocuments[{i}].{count} must be a whole number, 0 or more"
                )));
            }
        }
        match ctx.rules.find(rule) {
            None => unprocessed.push(json!({
                "RuleName": rule,
                "ErrorCode": "404",
                "Message": format!("no sampling rule named {rule:?}: xray-local serves the rules of its --sampling-rules file"),
            })),
            Some(found) => {
                let reservoir = found.get("ReservoirSize").and_then(Value::as_u64).unwrap_or(0);
                let quota = {
                    let mut book = ctx.targets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    book.quota(rule, client, now, reservoir)
                };
                targets.push(json!({
                    "RuleName": rule,
                    "FixedRate": found.get("FixedRate").and_then(Value::as_f64).unwrap_or(0.0),
                    "ReservoirQuota": quota,
                    "ReservoirQuotaTTL": (now + QUOTA_TTL).floor(),
                    "Interval": INTERVAL,
                }));
            }
        }
    }
    Ok(json(&json!({
        "SamplingTargetDocuments": targets,
        "LastRuleModification": ctx.rules.loaded_at,
        "UnprocessedStatistics": unprocessed,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(rules: &SamplingRules) -> Vec<&str> {
        (rules.records.iter()).map(|r| r["SamplingRule"]["RuleName"].as_str().unwrap()).collect()
    }

    #[test]
    fn rules_files_in_the_api_shapes() {
        let records = r#"{"SamplingRuleRecords": [{"SamplingRule": {"RuleName": "b", "Priority": 20,
            "FixedRate": 0.5, "ReservoirSize": 2, "ServiceName": "api"}, "CreatedAt": 0}]}"#;
        let list = r#"[{"RuleName": "b", "Priority": 20, "FixedRate": 0.5, "ReservoirSize": 2},
                       {"RuleName": "a", "Priority": 10, "FixedRate": 1, "ReservoirSize": 0},
                       {"RuleName": "Default", "Priority": 10000, "FixedRate": 0.1, "ReservoirSize": 0}]"#;
        let one = r#"{"SamplingRule": {"RuleName": "b", "Priority": 20, "FixedRate": 0.5, "ReservoirSize": 2}}"#;
        assert_eq!(names(&SamplingRules::parse(records).unwrap()), ["b", "Default"]);
        let parsed = SamplingRules::parse(list).unwrap();
        assert_eq!(names(&parsed), ["a", "b", "Default"]);
        assert_eq!(parsed.find("Default").unwrap()["FixedRate"], 0.1);
        assert_eq!(parsed.find("a").unwrap()["URLPath"], "*");
        assert_eq!(names(&SamplingRules::parse(one).unwrap()), ["b", "Default"]);
        assert_eq!(names(&SamplingRules::default()), ["Default"]);
        assert_eq!(SamplingRules::default().find("Default").unwrap()["ReservoirSize"], 1);
    }

    #[test]
    fn bad_rules_files_say_what_is_wrong() {
        let cases = [
            ("{", "not valid JSON"),
            ("{}", "SamplingRuleRecords"),
            ("[1]", "rule 1 is not a JSON object"),
            (r#"[{"Priority": 1, "FixedRate": 1, "ReservoirSize": 1}]"#, "RuleName is required"),
            (r#"[{"RuleName": "a", "Priority": 0, "FixedRate": 1, "ReservoirSize": 1}]"#, "Priority"),
            (r#"[{"RuleName": "a", "Priority": 1, "FixedRate": 2, "ReservoirSize": 1}]"#, "FixedRate"),
            (r#"[{"RuleName": "a", "Priority": 1, "FixedRate": 1, "ReservoirSize": -1}]"#, "ReservoirSize"),
            (r#"[{"RuleName": "a", "Priority": 1, "FixedRate": 1, "ReservoirSize": 1, "Host": 3}]"#, "Host"),
            (
                r#"[{"RuleName": "a", "Priority": 1, "FixedRate": 1, "ReservoirSize": 1},
                    {"RuleName": "a", "Priority": 2, "FixedRate": 1, "ReservoirSize": 1}]"#,
                "unique",
            ),
        ];
        for (text, want) in cases {
            let err = SamplingRules::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn reservoirs_split_among_active_clients() {
        let mut book = Targets::default();
        assert_eq!(book.quota("r", "c1", 100.0, 3), 3);
        assert_eq!(book.quota("r", "c2", 101.0, 3), 1, "c2 sorts second of two: 3 = 2 + 1");
        assert_eq!(book.quota("r", "c1", 102.0, 3), 2);
        // c2 went quiet for longer than CLIENT_TTL: c1 has it all again.
        assert_eq!(book.quota("r", "c1", 200.0, 3), 3);
        assert_eq!(book.quota("other", "c1", 200.0, 0), 0);
    }
}
