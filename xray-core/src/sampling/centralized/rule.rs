//! The rules X-Ray hands out, compiled for matching and ordered as X-Ray evaluates them.

use std::sync::Arc;

use super::api::SamplingRule;
use super::target::RuleState;
use crate::sampling::SamplingRequest;
use crate::sampling::wildcard::Pattern;

/// Rules fetched longer ago than this are stale: decisions fall back to local rules.
pub(crate) const RULES_TTL_SECS: u64 = 3600;

/// The name of X-Ray's catch-all rule, which is always evaluated last.
const DEFAULT_RULE: &str = "Default";

/// One centralized rule, ready to match.
#[derive(Debug)]
pub(crate) struct CentralRule {
    pub(crate) name: Arc<str>,
    priority: i64,
    service_name: Pattern,
    service_type: Pattern,
    host: Pattern,
    method: Pattern,
    path: Pattern,
    pub(crate) reservoir_size: u64,
    pub(crate) fixed_rate: f64,
    pub(crate) state: Arc<RuleState>,
}

impl CentralRule {
    /// Compiles a rule this SDK can apply: version 1, for any resource (`ResourceARN` `*`)
    /// and without attribute conditions, which the SDK has no request attributes to test.
    /// `None` for any other rule or for one missing a field.
    fn compile(rule: &SamplingRule, state: Arc<RuleState>) -> Option<Self> {
        if rule.version != Some(1) || rule.resource_arn.as_deref() != Some("*") {
            return None;
        }
        if rule.attributes.as_ref().is_some_and(|a| !a.is_empty()) {
            return None;
        }
        let name = rule.rule_name.as_deref().filter(|n| !n.is_empty())?;
        let fixed_rate = rule.fixed_rate.filter(|r| (0.0..=1.0).contains(r))?;
        let pattern = |field: &Option<String>| field.as_deref().map(Pattern::new);
        Some(Self {
            name: Arc::from(name),
            priority: rule.priority?,
            service_name: pattern(&rule.service_name)?,
            service_type: pattern(&rule.service_type)?,
            host: pattern(&rule.host)?,
            method: pattern(&rule.http_method)?,
            path: pattern(&rule.url_path)?,
            reservoir_size: u64::try_from(rule.reservoir_size?).ok()?,
            fixed_rate,
            state,
        })
    }

    #[inline]
    fn matches(&self, request: &SamplingRequest<'_>) -> bool {
        self.path.matches_opt(request.url_path)
            && self.method.matches_opt(request.method)
            && self.host.matches_opt(request.host)
            && self.service_name.matches_opt(request.service_name)
            && self.service_type.matches_opt(request.service_type)
    }

    fn is_default(&self) -> bool {
        &*self.name == DEFAULT_RULE
    }
}

/// The rule set in use, and when it was fetched.
#[derive(Debug, Default)]
pub(crate) struct RuleCache {
    pub(crate) rules: Vec<CentralRule>,
    /// Epoch seconds of the last successful fetch; `None` before the first.
    pub(crate) fetched_at: Option<u64>,
}

impl RuleCache {
    /// A new cache from fetched rules, keeping the live state (quota, counts) of every rule
    /// already known by name. Returns the cache and how many rules were left out.
    pub(crate) fn rebuild(&self, fetched: &[SamplingRule], now: u64) -> (Self, usize) {
        let mut rules: Vec<CentralRule> = Vec::with_capacity(fetched.len());
        for rule in fetched {
            let name = rule.rule_name.as_deref().unwrap_or_default();
            if rules.iter().any(|r| &*r.name == name) {
                continue;
            }
            let old = self.rules.iter().find(|r| &*r.name == name);
            let state = old.map(|r| r.state.clone()).unwrap_or_default();
            if let Some(compiled) = CentralRule::compile(rule, state) {
                // A rate changed by the user wins over the target computed for the old one.
                if old.is_some_and(|old| old.fixed_rate.to_bits() != compiled.fixed_rate.to_bits()) {
                    compiled.state.reset_rate();
                }
                rules.push(compiled);
            }
        }
        rules.sort_by(|a, b| (a.is_default(), a.priority, &a.name).cmp(&(b.is_default(), b.priority, &b.name)));
        let skipped = fetched.len() - rules.len();
        (Self { rules, fetched_at: Some(now) }, skipped)
    }

    /// Whether the rules may decide at `now` (fetched, and less than an hour ago).
    #[inline]
    pub(crate) fn is_fresh(&self, now: u64) -> bool {
        self.fetched_at.is_some_and(|at| now < at.saturating_add(RULES_TTL_SECS))
    }

    /// The first rule matching `request`.
    #[inline]
    pub(crate) fn find(&self, request: &SamplingRequest<'_>) -> Option<&CentralRule> {
        self.rules.iter().find(|rule| rule.matches(request))
    }

    /// The live state of the rule named `name`.
    pub(crate) fn state_of(&self, name: &str) -> Option<&Arc<RuleState>> {
        self.rules.iter().find(|r| &*r.name == name).map(|r| &r.state)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::sampling::reservoir::Coin;

    pub(crate) fn rule(name: &str, priority: i64, path: &str) -> SamplingRule {
        SamplingRule {
            rule_name: Some(name.into()),
            priority: Some(priority),
            fixed_rate: Some(0.0),
            reservoir_size: Some(1),
            service_name: Some("*".into()),
            service_type: Some("*".into()),
            host: Some("*".into()),
            http_method: Some("*".into()),
            url_path: Some(path.into()),
            resource_arn: Some("*".into()),
            version: Some(1),
            attributes: Some(HashMap::new()),
        }
    }

    fn names(cache: &RuleCache) -> Vec<&str> {
        cache.rules.iter().map(|r| &*r.name).collect()
    }

    #[test]
    fn ordered_by_priority_then_name_default_last() {
        let fetched = [
            rule("Default", 1, "*"),
            rule("b", 10, "*"),
            rule("a", 10, "*"),
            rule("first", 2, "*"),
            rule("b", 1, "/duplicate"),
        ];
        let (cache, skipped) = RuleCache::default().rebuild(&fetched, 0);
        assert_eq!(names(&cache), ["first", "a", "b", "Default"]);
        assert_eq!(skipped, 1);
    }

    #[test]
    fn only_applicable_rules() {
        let with = |f: fn(&mut SamplingRule)| {
            let mut r = rule("x", 1, "*");
            f(&mut r);
            r
        };
        let fetched = [
            with(|r| r.version = Some(2)),
            with(|r| r.resource_arn = Some("arn:aws:ecs:*".into())),
            with(|r| r.attributes = Some(HashMap::from([("k".into(), "v".into())]))),
            with(|r| r.fixed_rate = Some(1.5)),
            with(|r| r.url_path = None),
            with(|r| r.reservoir_size = Some(-1)),
            with(|r| r.rule_name = None),
            with(|r| r.attributes = None),
        ];
        let (cache, skipped) = RuleCache::default().rebuild(&fetched, 0);
        assert_eq!((cache.rules.len(), skipped), (1, 7));
    }

    #[test]
    fn matches_every_field() {
        let mut r = rule("svc", 1, "/api/*");
        r.service_name = Some("orders".into());
        r.service_type = Some("AWS::ECS::*".into());
        r.host = Some("*.example.com".into());
        r.http_method = Some("POST".into());
        let (cache, _) = RuleCache::default().rebuild(&[r, rule("Default", 10000, "*")], 0);
        let full = SamplingRequest {
            host: Some("shop.example.com"),
            method: Some("post"),
            url_path: Some("/api/orders"),
            service_name: Some("Orders"),
            service_type: Some("AWS::ECS::Container"),
        };
        assert_eq!(&*cache.find(&full).unwrap().name, "svc");
        let variants = [
            SamplingRequest { host: Some("shop.example.org"), ..full },
            SamplingRequest { method: Some("GET"), ..full },
            SamplingRequest { url_path: Some("/health"), ..full },
            SamplingRequest { service_name: Some("billing"), ..full },
            SamplingRequest { service_type: Some("AWS::EC2::Instance"), ..full },
        ];
        for request in variants {
            assert_eq!(&*cache.find(&request).unwrap().name, "Default", "{request:?}");
        }
        // A field the request lacks (no plugins, so no service type; non-HTTP work, so no
        // host, method or path) matches every pattern, as in the Go, Python and Node SDKs.
        let lacking = [
            SamplingRequest { service_type: None, ..full },
            SamplingRequest { host: None, method: None, ..full },
            SamplingRequest { url_path: None, service_type: Some(""), ..full },
            SamplingRequest { service_name: Some("orders"), ..SamplingRequest::default() },
        ];
        for request in lacking {
            assert_eq!(&*cache.find(&request).unwrap().name, "svc", "{request:?}");
        }
    }

    #[test]
    fn state_survives_a_refresh_and_freshness_ends_after_an_hour() {
        let (cache, _) = RuleCache::default().rebuild(&[rule("keep", 1, "*"), rule("Default", 9, "*")], 1000);
        let coin = Coin::seeded(1);
        let keep = &cache.rules[0];
        assert!(keep.state.decide(1000, 1, 0.0, &coin));
        let (next, _) = cache.rebuild(&[rule("keep", 5, "/changed"), rule("new", 1, "*")], 2000);
        assert!(Arc::ptr_eq(&next.rules[1].state, &keep.state));
        assert_eq!(names(&next), ["new", "keep"]);
        assert!(!cache.is_fresh(999 + RULES_TTL_SECS + 1));
        assert!(next.is_fresh(2000 + RULES_TTL_SECS - 1));
        assert!(!next.is_fresh(2000 + RULES_TTL_SECS));
        assert!(!RuleCache::default().is_fresh(0));
    }
}
