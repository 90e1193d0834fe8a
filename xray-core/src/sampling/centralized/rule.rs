//! The rules X-Ray hands out, compiled for matching and ordered as X-Ray evaluates them.

use std::collections::{HashMap, HashSet};
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
    /// Starts the next rule set, remembering the live state of every rule in this one. Takes
    /// a moment proportional to the (capped) rule count: the caller holds only a read lock.
    pub(crate) fn successor(&self) -> RuleSetBuilder {
        let known = self.rules.iter().map(|r| (r.name.clone(), (r.state.clone(), r.fixed_rate.to_bits()))).collect();
        RuleSetBuilder { known, ..RuleSetBuilder::default() }
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

/// Rules kept besides `Default`, four times the 25 X-Ray allows an account. More only lengthen
/// every decision (each request tries the rules in order); the lowest-priority ones go first.
pub(crate) const MAX_RULES: usize = 100;

/// What one rebuild did with the fetched rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RebuildCounts {
    /// Rules kept, `Default` included.
    pub(crate) kept: usize,
    /// Rules this SDK cannot apply, missing a field, or repeating a name.
    pub(crate) skipped: usize,
    /// Applicable rules left out because of [`MAX_RULES`].
    pub(crate) over_limit: usize,
}

/// Collects fetched rules page by page into the next [`RuleCache`], without any lock: the
/// live state (quota, counts) of a rule already known by name carries over. It holds at most
/// twice [`MAX_RULES`] rules between pages, however many the daemon answers with.
#[derive(Debug, Default)]
pub(crate) struct RuleSetBuilder {
    /// The current rules' state and `FixedRate` bits, by name.
    known: HashMap<Arc<str>, (Arc<RuleState>, u64)>,
    /// Every name seen so far: the first rule of a name wins.
    seen: HashSet<Box<str>>,
    rules: Vec<CentralRule>,
    default: Option<CentralRule>,
    counts: RebuildCounts,
}

impl RuleSetBuilder {
    /// Adds one fetched rule (skipped if it cannot apply or repeats a name).
    pub(crate) fn add(&mut self, rule: &SamplingRule) {
        let Some(name) = rule.rule_name.as_deref().filter(|n| !n.is_empty()) else {
            self.counts.skipped += 1;
            return;
        };
        if self.seen.contains(name) {
            self.counts.skipped += 1;
            return;
        }
        let old = self.known.get(name);
        let state = old.map(|(state, _)| state.clone()).unwrap_or_default();
        let Some(compiled) = CentralRule::compile(rule, state) else {
            self.counts.skipped += 1;
            return;
        };
        // Only a rule that applies takes its name: one of another version does not shadow it.
        self.seen.insert(name.into());
        // A rate changed by the user wins over the target computed for the old one.
        if old.is_some_and(|(_, rate)| *rate != compiled.fixed_rate.to_bits()) {
            compiled.state.reset_rate();
        }
        if compiled.is_default() {
            self.default = Some(compiled);
        } else {
            self.rules.push(compiled);
            if self.rules.len() >= 2 * MAX_RULES {
                self.keep_first(MAX_RULES);
            }
        }
    }

    /// Counts records of a page that held no rule at all.
    pub(crate) fn skip(&mut self, records: usize) {
        self.counts.skipped += records;
    }

    /// Sorts the custom rules by priority then name and keeps the first `n`.
    fn keep_first(&mut self, n: usize) {
        self.rules.sort_unstable_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        if self.rules.len() > n {
            self.counts.over_limit += self.rules.len() - n;
            self.rules.truncate(n);
        }
    }

    /// The finished rule set, fetched at `now`: rules by priority then name, `Default` last.
    pub(crate) fn finish(mut self, now: u64) -> (RuleCache, RebuildCounts) {
        self.keep_first(MAX_RULES);
        self.rules.extend(self.default.take());
        self.counts.kept = self.rules.len();
        (RuleCache { rules: self.rules, fetched_at: Some(now) }, self.counts)
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

    /// The next rule set after `cache`, from `fetched`, and how many rules were left out.
    fn rebuild(cache: &RuleCache, fetched: &[SamplingRule], now: u64) -> (RuleCache, usize) {
        let mut next = cache.successor();
        fetched.iter().for_each(|rule| next.add(rule));
        let (cache, counts) = next.finish(now);
        (cache, counts.skipped + counts.over_limit)
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
        let (cache, skipped) = rebuild(&RuleCache::default(), &fetched, 0);
        assert_eq!(names(&cache), ["first", "a", "b", "Default"]);
        assert_eq!(skipped, 1);
    }

    #[test]
    fn at_most_max_rules_by_priority_and_default_whatever_the_order() {
        // 15,000 rules, the most important last, Default in the middle, some names twice.
        let mut fetched: Vec<SamplingRule> =
            (0..15_000).rev().map(|i| rule(&format!("r{i:05}"), i + 1, &format!("/r{i:05}"))).collect();
        fetched.insert(7_000, rule("Default", 10_000, "*"));
        fetched.push(rule("r00003", 0, "/shadowed"));
        let mut next = RuleCache::default().successor();
        for page in fetched.chunks(1_000) {
            page.iter().for_each(|r| next.add(r));
            assert!(next.rules.len() < 2 * MAX_RULES, "a page leaves at most {} rules", 2 * MAX_RULES);
        }
        let (cache, counts) = next.finish(5);
        let want: Vec<String> = (0..MAX_RULES).map(|i| format!("r{i:05}")).chain(["Default".to_owned()]).collect();
        assert_eq!(names(&cache), want);
        assert_eq!(counts, RebuildCounts { kept: MAX_RULES + 1, skipped: 1, over_limit: 15_000 - MAX_RULES });
        assert_eq!(cache.fetched_at, Some(5));
        // The next fetch keeps the state of the rules that stay, by name.
        let (again, counts) = {
            let mut next = cache.successor();
            next.add(&rule("r00000", 1, "/r00000"));
            next.finish(6)
        };
        assert!(Arc::ptr_eq(&again.rules[0].state, &cache.rules[0].state));
        assert_eq!(counts, RebuildCounts { kept: 1, skipped: 0, over_limit: 0 });
    }

    #[test]
    fn a_rule_that_cannot_apply_does_not_shadow_its_name() {
        let mut v2 = rule("same", 1, "/v2");
        v2.version = Some(2);
        let (cache, skipped) = rebuild(&RuleCache::default(), &[v2, rule("same", 2, "/v1")], 0);
        assert_eq!((names(&cache), skipped), (vec!["same"], 1));
        assert_eq!(cache.rules[0].priority, 2);
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
        let (cache, skipped) = rebuild(&RuleCache::default(), &fetched, 0);
        assert_eq!((cache.rules.len(), skipped), (1, 7));
    }

    #[test]
    fn matches_every_field() {
        let mut r = rule("svc", 1, "/api/*");
        r.service_name = Some("orders".into());
        r.service_type = Some("AWS::ECS::*".into());
        r.host = Some("*.example.com".into());
        r.http_method = Some("POST".into());
        let (cache, _) = rebuild(&RuleCache::default(), &[r, rule("Default", 10000, "*")], 0);
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
        let (cache, _) = rebuild(&RuleCache::default(), &[rule("keep", 1, "*"), rule("Default", 9, "*")], 1000);
        let coin = Coin::seeded(1);
        let keep = &cache.rules[0];
        assert!(keep.state.decide(1000, 1, 0.0, &coin));
        let (next, _) = rebuild(&cache, &[rule("keep", 5, "/changed"), rule("new", 1, "*")], 2000);
        assert!(Arc::ptr_eq(&next.rules[1].state, &keep.state));
        assert_eq!(names(&next), ["new", "keep"]);
        assert!(!cache.is_fresh(999 + RULES_TTL_SECS + 1));
        assert!(next.is_fresh(2000 + RULES_TTL_SECS - 1));
        assert!(!next.is_fresh(2000 + RULES_TTL_SECS));
        assert!(!RuleCache::default().is_fresh(0));
    }
}
