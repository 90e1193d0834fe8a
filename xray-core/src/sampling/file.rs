//! The local rules file format, versions 1 and 2:
//!
//! ```json
//! {"version": 2,
//!  "rules": [{"description": "health", "host": "*", "http_method": "GET", "url_path": "/health",
//!             "fixed_target": 0, "rate": 0.01}],
//!  "default": {"fixed_target": 1, "rate": 0.05}}
//! ```
//!
//! Version 1 names the host pattern `service_name`. Every custom rule names all three matching
//! fields (`*` matches anything), as the Go, Python, Node and Java SDKs require; the default rule
//! names none. Validation is strict, because a typo in a rules file silently changes what is
//! recorded: missing or unknown keys, out-of-range numbers and misplaced fields are errors
//! naming rule and field.

use serde_json::{Map, Value};

use super::rules::{DefaultRule, LocalRule, LocalRules, RuleLocation, RulesError, check_rate};

const MATCH_FIELDS_V1: [&str; 3] = ["service_name", "http_method", "url_path"];
const MATCH_FIELDS_V2: [&str; 3] = ["host", "http_method", "url_path"];

fn invalid(location: &RuleLocation, field: &str, reason: impl Into<String>) -> RulesError {
    RulesError::Invalid { location: location.clone(), field: field.to_owned(), reason: reason.into() }
}

/// Parses and validates a rules file.
pub(crate) fn parse(text: &str) -> Result<LocalRules, RulesError> {
    let value: Value = serde_json::from_str(text).map_err(RulesError::Json)?;
    let top = RuleLocation::TopLevel;
    let Value::Object(doc) = value else {
        return Err(invalid(&top, "", "expected a JSON object with `version`, `rules` and `default`"));
    };
    if let Some(key) = doc.keys().find(|k| !matches!(k.as_str(), "version" | "rules" | "default")) {
        return Err(invalid(&top, key, "unknown key; expected `version`, `rules` or `default`"));
    }
    let version = match doc.get("version") {
        None => return Err(invalid(&top, "version", "missing; use 2")),
        Some(v) => match v.as_u64() {
            Some(n @ (1 | 2)) => n,
            _ => return Err(invalid(&top, "version", format!("{v} is not supported; use 1 or 2"))),
        },
    };
    let rules = match doc.get("rules") {
        None => Vec::new(),
        Some(Value::Array(rules)) => {
            rules.iter().enumerate().map(|(index, rule)| parse_rule(index, rule, version)).collect::<Result<_, _>>()?
        }
        Some(other) => return Err(invalid(&top, "rules", format!("expected an array, found {other}"))),
    };
    let default = match doc.get("default") {
        None => return Err(invalid(&top, "default", "missing; for example {\"fixed_target\": 1, \"rate\": 0.05}")),
        Some(rule) => parse_default(rule)?,
    };
    Ok(LocalRules { rules, default })
}

fn parse_rule(index: usize, rule: &Value, version: u64) -> Result<LocalRule, RulesError> {
    let description = rule.get("description").and_then(Value::as_str).map(str::to_owned);
    let at = RuleLocation::Rule { index, description: description.clone() };
    let Value::Object(fields) = rule else {
        return Err(invalid(&at, "", format!("expected an object, found {rule}")));
    };
    let match_fields = if version == 1 { MATCH_FIELDS_V1 } else { MATCH_FIELDS_V2 };
    for key in fields.keys() {
        let known = key == "description" || key == "fixed_target" || key == "rate" || match_fields.contains(&&**key);
        if known {
            continue;
        }
        let reason = match (key.as_str(), version) {
            ("service_name", 2) => "`service_name` is version 1 syntax; version 2 matches the host with `host`",
            ("host", 1) => "`host` needs version 2; version 1 matches the host with `service_name`",
            _ => "unknown key; expected `description`, `host`, `http_method`, `url_path`, `fixed_target` or `rate`",
        };
        return Err(invalid(&at, key, reason));
    }
    // A missing pattern is an error rather than `*`: the official SDKs reject such a file, so
    // accepting it here would sample differently from the same file elsewhere.
    let pattern = |name: &str| -> Result<String, RulesError> {
        match fields.get(name) {
            None => Err(invalid(&at, name, "missing; every rule of `rules` needs a pattern (`*` matches anything)")),
            Some(Value::String(s)) if s.is_empty() => {
                Err(invalid(&at, name, "empty; give a pattern (`*` matches anything)"))
            }
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(invalid(&at, name, format!("expected a string pattern, found {other}"))),
        }
    };
    if let Some(d) = fields.get("description").filter(|d| !d.is_string()) {
        return Err(invalid(&at, "description", format!("expected a string, found {d}")));
    }
    let host = pattern(if version == 1 { "service_name" } else { "host" })?;
    let http_method = pattern("http_method")?;
    let url_path = pattern("url_path")?;
    let (fixed_target, rate) = parse_target(&at, fields)?;
    Ok(LocalRule { description, host, http_method, url_path, fixed_target, rate })
}

fn parse_default(rule: &Value) -> Result<DefaultRule, RulesError> {
    let at = RuleLocation::Default;
    let Value::Object(fields) = rule else {
        return Err(invalid(&at, "", format!("expected an object, found {rule}")));
    };
    for key in fields.keys() {
        let reason = match key.as_str() {
            "fixed_target" | "rate" | "description" => continue,
            "host" | "service_name" | "http_method" | "url_path" => {
                "the default rule applies to every request no other rule matches; it cannot have matching fields \
                 (put this in a rule of `rules`)"
            }
            _ => "unknown key; the default rule takes `fixed_target` and `rate`",
        };
        return Err(invalid(&at, key, reason));
    }
    let (fixed_target, rate) = parse_target(&at, fields)?;
    Ok(DefaultRule { fixed_target, rate })
}

/// Reads `fixed_target` (a whole number, 0 to 2³²-1) and `rate` (0 to 1); both are required.
fn parse_target(at: &RuleLocation, fields: &Map<String, Value>) -> Result<(u32, f64), RulesError> {
    let fixed_target = match fields.get("fixed_target") {
        None => return Err(invalid(at, "fixed_target", "missing; the number of requests sampled per second")),
        Some(v) => {
            let n = v.as_f64().ok_or_else(|| invalid(at, "fixed_target", format!("expected a number, found {v}")))?;
            if n < 0.0 {
                return Err(invalid(at, "fixed_target", format!("{v} is negative")));
            }
            if n.fract() != 0.0 {
                return Err(invalid(at, "fixed_target", format!("{v} is not a whole number")));
            }
            if n > f64::from(u32::MAX) {
                return Err(invalid(at, "fixed_target", format!("{v} is larger than {}", u32::MAX)));
            }
            n as u32
        }
    };
    let rate = match fields.get("rate") {
        None => return Err(invalid(at, "rate", "missing; the share of further requests sampled, 0 to 1")),
        Some(v) => {
            let r = v.as_f64().ok_or_else(|| invalid(at, "rate", format!("expected a number, found {v}")))?;
            check_rate(r).map_err(|reason| invalid(at, "rate", reason))?;
            r
        }
    };
    Ok((fixed_target, rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> RulesError {
        parse(text).expect_err(text)
    }

    #[test]
    fn version_2() {
        let rules = parse(
            r#"{"version": 2, "rules": [
                {"description": "health", "host": "*", "http_method": "GET", "url_path": "/health", "fixed_target": 0, "rate": 0.01},
                {"host": "api.*", "http_method": "*", "url_path": "*", "fixed_target": 3, "rate": 0.5}
            ], "default": {"fixed_target": 1, "rate": 0.1}}"#,
        )
        .unwrap();
        assert_eq!(rules.rules().len(), 2);
        assert_eq!(rules.rules()[0].description.as_deref(), Some("health"));
        assert_eq!(rules.rules()[0].http_method, "GET");
        assert_eq!(rules.rules()[1].host, "api.*");
        assert_eq!(rules.rules()[1].fixed_target, 3);
        assert_eq!(rules.default_rule(), DefaultRule { fixed_target: 1, rate: 0.1 });
    }

    #[test]
    fn version_1_matches_the_host_through_service_name() {
        let rules = parse(
            r#"{"version": 1, "rules": [{"service_name": "www.*", "http_method": "POST", "url_path": "/x",
                "fixed_target": 2, "rate": 0}], "default": {"fixed_target": 0, "rate": 1}}"#,
        )
        .unwrap();
        assert_eq!(rules.rules()[0].host, "www.*");
        assert_eq!(rules.default_rule(), DefaultRule { fixed_target: 0, rate: 1.0 });
    }

    #[test]
    fn optional_parts() {
        let rules = parse(r#"{"version": 2, "default": {"fixed_target": 1.0, "rate": 0.05}}"#).unwrap();
        assert_eq!(rules, LocalRules::default(), "the built-in default is exactly this file");
        let rules = parse(r#"{"version":2,"rules":[],"default":{"fixed_target":1,"rate":0.05}}"#).unwrap();
        assert_eq!(rules, LocalRules::default(), "`rules` may be empty");
    }

    #[test]
    fn every_custom_rule_names_its_three_patterns() {
        let d = r#""default": {"fixed_target": 1, "rate": 0.05}"#;
        let rule =
            |index, description: Option<&str>| RuleLocation::Rule { index, description: description.map(Into::into) };
        #[rustfmt::skip]
        let cases: Vec<(String, RuleLocation, &str, &str)> = vec![
            (format!(r#"{{"version": 2, "rules": [{{"description": "a", "http_method": "*", "url_path": "/a", "fixed_target": 1, "rate": 1}}], {d}}}"#), rule(0, Some("a")), "host", "missing"),
            (format!(r#"{{"version": 2, "rules": [{{"host": "*", "http_method": "*", "url_path": "*", "fixed_target": 1, "rate": 1}}, {{"host": "*", "url_path": "/b", "fixed_target": 1, "rate": 1}}], {d}}}"#), rule(1, None), "http_method", "missing"),
            (format!(r#"{{"version": 2, "rules": [{{"description": "p", "host": "*", "http_method": "GET", "fixed_target": 1, "rate": 1}}], {d}}}"#), rule(0, Some("p")), "url_path", "missing"),
            (format!(r#"{{"version": 1, "rules": [{{"http_method": "*", "url_path": "*", "fixed_target": 1, "rate": 1}}], {d}}}"#), rule(0, None), "service_name", "missing"),
            (format!(r#"{{"version": 2, "rules": [{{"host": "*", "http_method": "*", "url_path": "", "fixed_target": 1, "rate": 1}}], {d}}}"#), rule(0, None), "url_path", "empty"),
            (format!(r#"{{"version": 2, "rules": [{{"url_path": "/a", "fixed_target": 1, "rate": 1}}], {d}}}"#), rule(0, None), "host", "`*` matches anything"),
        ];
        for (text, location, field, reason) in cases {
            let e = err(&text);
            assert_eq!(e.location(), Some((&location, field)), "{text}");
            let message = e.to_string();
            assert!(message.contains(reason) && message.contains(&format!("`{field}`")), "{text}: {message}");
            assert!(message.contains(&location.to_string()), "{message}");
        }
        let e = err(&format!(
            r#"{{"version": 2, "rules": [{{"description": "health", "url_path": "/h", "fixed_target": 0, "rate": 0}}], {d}}}"#
        ));
        assert_eq!(
            e.to_string(),
            r#"invalid sampling rules: rules[0] ("health"), `host`: missing; every rule of `rules` needs a pattern (`*` matches anything)"#
        );
    }

    #[test]
    fn errors_name_rule_and_field() {
        let rule =
            |index, description: Option<&str>| RuleLocation::Rule { index, description: description.map(Into::into) };
        let d = r#""default": {"fixed_target": 1, "rate": 0.05}"#;
        let m = r#""host": "*", "http_method": "*", "url_path": "*""#;
        #[rustfmt::skip]
        let cases: Vec<(String, RuleLocation, &str, &str)> = vec![
            (format!(r#"{{"version": 2, "rules": [{{"fixed_target": 1, "rate": 1.5, {m}}}], {d}}}"#), rule(0, None), "rate", "outside [0, 1]"),
            (format!(r#"{{"version": 2, "rules": [{{"fixed_target": 1, "rate": 0.1, {m}}}, {{"description": "b", "fixed_target": 1, "rate": -0.1, {m}}}], {d}}}"#), rule(1, Some("b")), "rate", "outside"),
            (format!(r#"{{"version": 2, "rules": [{{"description": "neg", "fixed_target": -1, "rate": 0.1, {m}}}], {d}}}"#), rule(0, Some("neg")), "fixed_target", "negative"),
            (format!(r#"{{"version": 2, "rules": [{{"fixed_target": 1.5, "rate": 0.1, {m}}}], {d}}}"#), rule(0, None), "fixed_target", "whole number"),
            (format!(r#"{{"version": 2, "rules": [{{"fixed_target": "1", "rate": 0.1, {m}}}], {d}}}"#), rule(0, None), "fixed_target", "expected a number"),
            (format!(r#"{{"version": 2, "rules": [{{"fixed_target": 5000000000, "rate": 0.1, {m}}}], {d}}}"#), rule(0, None), "fixed_target", "larger"),
            (format!(r#"{{"version": 2, "rules": [{{"rate": 0.1, {m}}}], {d}}}"#), rule(0, None), "fixed_target", "missing"),
            (format!(r#"{{"version": 2, "rules": [{{"fixed_target": 1, {m}}}], {d}}}"#), rule(0, None), "rate", "missing"),
            (format!(r#"{{"version": 2, "rules": [{{"service_name": "a", "fixed_target": 1, "rate": 0.1}}], {d}}}"#), rule(0, None), "service_name", "version 1"),
            (format!(r#"{{"version": 1, "rules": [{{"host": "a", "fixed_target": 1, "rate": 0.1}}], {d}}}"#), rule(0, None), "host", "version 2"),
            (format!(r#"{{"version": 2, "rules": [{{"description": "t", "url_pth": "/a", "fixed_target": 1, "rate": 0.1}}], {d}}}"#), rule(0, Some("t")), "url_pth", "unknown key"),
            (format!(r#"{{"version": 2, "rules": [{{"host": 7, "fixed_target": 1, "rate": 0.1}}], {d}}}"#), rule(0, None), "host", "string"),
            (format!(r#"{{"version": 2, "rules": [7], {d}}}"#), rule(0, None), "", "object"),
            (format!(r#"{{"version": 2, "rules": {{}}, {d}}}"#), RuleLocation::TopLevel, "rules", "array"),
            (r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.05, "url_path": "/x"}}"#.into(), RuleLocation::Default, "url_path", "matching fields"),
            (r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.05, "host": "x"}}"#.into(), RuleLocation::Default, "host", "matching fields"),
            (r#"{"version": 2, "default": {"fixed_target": 1, "rate": 2}}"#.into(), RuleLocation::Default, "rate", "outside"),
            (r#"{"version": 2, "default": {"rate": 0.1}}"#.into(), RuleLocation::Default, "fixed_target", "missing"),
            (r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.1, "reservoir": 3}}"#.into(), RuleLocation::Default, "reservoir", "unknown key"),
            (r#"{"version": 3, "default": {"fixed_target": 1, "rate": 0.1}}"#.into(), RuleLocation::TopLevel, "version", "use 1 or 2"),
            (r#"{"default": {"fixed_target": 1, "rate": 0.1}}"#.into(), RuleLocation::TopLevel, "version", "missing"),
            (r#"{"version": 2}"#.into(), RuleLocation::TopLevel, "default", "missing"),
            (r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.1}, "extra": true}"#.into(), RuleLocation::TopLevel, "extra", "unknown key"),
            ("[]".into(), RuleLocation::TopLevel, "", "JSON object"),
        ];
        for (text, location, field, reason) in cases {
            let e = err(&text);
            let RulesError::Invalid { location: l, field: f, reason: r } = &e else { panic!("{text}: {e:?}") };
            assert_eq!((l, f.as_str()), (&location, field), "{text}");
            assert!(r.contains(reason), "{text}: {r}");
            let message = e.to_string();
            assert!(message.contains(&location.to_string()) && message.contains(field), "{message}");
        }
    }

    #[test]
    fn messages_read_well() {
        let e =
            err(r#"{"version":2,"rules":[{"description":"health","host":"*","http_method":"*","url_path":"/health",
                "fixed_target":1,"rate":1.5}],"default":{"fixed_target":1,"rate":0.05}}"#);
        assert_eq!(e.to_string(), r#"invalid sampling rules: rules[0] ("health"), `rate`: 1.5 is outside [0, 1]"#);
        assert!(matches!(err("{"), RulesError::Json(_)));
        assert!(err("{").to_string().contains("line 1"));
    }

    #[test]
    fn builder_validates_rates() {
        let e = LocalRules::builder()
            .with_rule(LocalRule::new(1, 0.5))
            .with_rule(LocalRule::new(1, f64::NAN).with_description("bad"))
            .build()
            .unwrap_err();
        assert_eq!(e.location(), Some((&RuleLocation::Rule { index: 1, description: Some("bad".into()) }, "rate")));
        let e = LocalRules::builder().with_default(1, 1.01).build().unwrap_err();
        assert_eq!(e.location(), Some((&RuleLocation::Default, "rate")));
        assert_eq!(LocalRules::builder().build().unwrap(), LocalRules::default());
    }

    #[test]
    fn from_path_names_the_file() {
        let dir = std::env::temp_dir().join(format!("xray-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        std::fs::write(&good, r#"{"version":2,"default":{"fixed_target":2,"rate":0.5}}"#).unwrap();
        assert_eq!(LocalRules::from_path(&good).unwrap().default_rule(), DefaultRule { fixed_target: 2, rate: 0.5 });
        let bad = dir.join("bad.json");
        std::fs::write(&bad, r#"{"version":2,"default":{"fixed_target":2,"rate":5}}"#).unwrap();
        let e = LocalRules::from_path(&bad).unwrap_err();
        assert!(e.to_string().starts_with(&bad.display().to_string()), "{e}");
        assert_eq!(e.location(), Some((&RuleLocation::Default, "rate")));
        let missing = LocalRules::from_path(dir.join("missing.json")).unwrap_err();
        assert!(matches!(missing, RulesError::Read { .. }), "{missing:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
