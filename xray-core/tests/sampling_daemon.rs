//! Centralized sampling against a fake daemon: rules in pages, quotas, borrowing, updated
//! rules, a failing daemon and the local fallback, with the exact statistics reported.
//! Time is a hand-driven clock; nothing waits for the 10 s and 300 s intervals.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use support::{FakeSamplingDaemon, Mode, rule, statistics};
use xray_core::sampling::{
    CentralizedSampler, LocalRule, LocalRules, Sampler, SamplingError, SamplingRequest, TargetsUpdate,
};

const T0: u64 = 1_700_000_000;

fn path(p: &str) -> SamplingRequest<'_> {
    SamplingRequest {
        host: Some("shop.example.com"),
        method: Some("GET"),
        url_path: Some(p),
        service_name: Some("shop"),
        service_type: None,
    }
}

/// Sends `n` requests for `p`; returns how many were sampled and the rule names seen.
fn decide(sampler: &CentralizedSampler, p: &str, n: usize) -> (usize, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    let mut sampled = 0;
    for _ in 0..n {
        let d = sampler.should_sample(&path(p));
        if d.sampled {
            sampled += 1;
            let name = d.rule_name.expect("a sampled decision names its rule").to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        } else {
            assert_eq!(d.rule_name, None);
        }
    }
    (sampled, names)
}

fn fallback_rules() -> LocalRules {
    // Locally: one request per second, named so that the tests can tell it apart.
    LocalRules::builder().with_rule(LocalRule::new(1, 0.0).with_description("local")).build().unwrap()
}

struct Setup {
    daemon: FakeSamplingDaemon,
    sampler: CentralizedSampler,
    now: Arc<AtomicU64>,
}

fn setup() -> Setup {
    let daemon = FakeSamplingDaemon::start();
    let now = Arc::new(AtomicU64::new(T0));
    let clock = {
        let now = now.clone();
        move || now.load(Ordering::Relaxed)
    };
    let sampler = CentralizedSampler::builder(daemon.addr())
        .with_fallback_rules(fallback_rules())
        .with_clock(clock)
        .with_seed(11)
        .with_background_polling(false)
        .build();
    Setup { daemon, sampler, now }
}

#[tokio::test]
async fn quotas_borrowing_updates_failures_and_fallback() {
    let Setup { daemon, sampler, now } = setup();
    let at = |secs: u64| now.store(T0 + secs, Ordering::Relaxed);

    // No rules yet: the local fallback decides, and nothing was asked of the daemon.
    assert_eq!(decide(&sampler, "/api/x", 5), (1, vec!["local".to_owned()]));
    assert!(daemon.requests().is_empty());

    // Two pages of rules; two of them do not apply to this SDK.
    let mut with_attributes = rule("attributes", 5, "*", 100, 1.0);
    with_attributes["SamplingRule"]["Attributes"] = json!({"tenant": "a"});
    let mut version_2 = rule("version2", 5, "*", 100, 1.0);
    version_2["SamplingRule"]["Version"] = json!(2);
    daemon.set_rule_pages(vec![
        vec![rule("api", 10, "/api/*", 5, 0.0), with_attributes],
        vec![rule("health", 1, "/health", 0, 0.0), rule("Default", 10000, "*", 1, 0.0), version_2],
    ]);
    assert_eq!(sampler.refresh_rules().await.unwrap(), 3);
    let requests = daemon.take_requests();
    let bodies: Vec<_> = requests.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    assert_eq!(bodies, [("/GetSamplingRules", json!({})), ("/GetSamplingRules", json!({"NextToken": "page-1"}))]);

    // Second 0: no quota yet, so each rule with a reservoir borrows one request per second.
    at(0);
    assert_eq!(decide(&sampler, "/api/orders", 10), (1, vec!["api".to_owned()]));
    assert_eq!(decide(&sampler, "/health", 5), (0, vec![]));
    assert_eq!(decide(&sampler, "/other", 3), (1, vec!["Default".to_owned()]));

    // Report: the exact counts of every rule that saw requests.
    daemon.set_targets(json!({
        "SamplingTargetDocuments": [
            {"RuleName": "api", "FixedRate": 0.0, "ReservoirQuota": 3, "ReservoirQuotaTTL": (T0 + 20) as f64, "Interval": 10},
            {"RuleName": "Default", "FixedRate": 1.0},
            {"RuleName": "unknown", "ReservoirQuota": 50}
        ],
        "LastRuleModification": (T0 - 100) as f64,
        "UnprocessedStatistics": []
    }));
    let update = sampler.refresh_targets().await.unwrap();
    assert_eq!((update.reported, update.applied, update.rules_changed), (3, 2, false));
    let requests = daemon.take_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0, "/SamplingTargets");
    assert_eq!(
        statistics(&requests[0].1),
        [("Default".to_owned(), (3, 1, 1)), ("api".to_owned(), (10, 1, 1)), ("health".to_owned(), (5, 0, 0)),]
    );
    for doc in requests[0].1["SamplingStatisticsDocuments"].as_array().unwrap() {
        assert_eq!(doc["ClientID"], sampler.client_id());
        assert_eq!(doc["Timestamp"], T0);
    }

    // Second 1: the quota gives 3 per second; Default has no quota, borrows one, then its
    // new rate of 1 samples the rest.
    at(1);
    assert_eq!(decide(&sampler, "/api/orders", 10), (3, vec!["api".to_owned()]));
    assert_eq!(decide(&sampler, "/other", 4), (4, vec!["Default".to_owned()]));
    at(2);
    assert_eq!(decide(&sampler, "/api/orders", 10).0, 3);

    // Second 20: the quota has expired: back to borrowing one per second.
    at(20);
    assert_eq!(decide(&sampler, "/api/orders", 10).0, 1);

    // Nothing is due before a rule's interval is over (targets arrived at T0, interval 10 s),
    // and with nothing due the daemon is not called.
    at(5);
    assert_eq!(sampler.refresh_targets().await.unwrap(), TargetsUpdate::default());
    assert!(daemon.take_requests().is_empty());

    // Second 20: both rules with requests are due; X-Ray says the rules changed since.
    at(20);
    daemon.set_targets(json!({
        "SamplingTargetDocuments": [{"RuleName": "api", "ReservoirQuota": 2, "ReservoirQuotaTTL": (T0 + 100) as f64}],
        "LastRuleModification": (T0 + 15) as f64
    }));
    let update = sampler.refresh_targets().await.unwrap();
    assert_eq!((update.reported, update.applied, update.rules_changed), (2, 1, true));
    let requests = daemon.take_requests();
    assert_eq!(
        statistics(&requests[0].1),
        [("Default".to_owned(), (4, 4, 1)), ("api".to_owned(), (30, 7, 1))],
        "api: 10 + 10 + 10 requests, 3 + 3 + 1 sampled, 1 borrowed"
    );

    // The updated rules: api samples everything beyond its quota now, health is gone (its
    // requests fall to Default, whose target rate of 1 stays).
    daemon.set_rule_pages(vec![vec![rule("api", 10, "/api/*", 5, 1.0), rule("Default", 10000, "*", 1, 0.0)]]);
    assert_eq!(sampler.refresh_rules().await.unwrap(), 2);
    daemon.take_requests();
    at(21);
    assert_eq!(
        decide(&sampler, "/api/orders", 10),
        (10, vec!["api".to_owned()]),
        "quota 2, then the rule's new rate 1"
    );
    assert_eq!(decide(&sampler, "/health", 3), (3, vec!["Default".to_owned()]));

    // A failing daemon: errors, no lost counts.
    at(40);
    daemon.set_mode(Mode::Status(500));
    let error = sampler.refresh_targets().await.unwrap_err();
    assert!(matches!(error, SamplingError::Status { status: 500, .. }), "{error}");
    daemon.set_mode(Mode::Garbage);
    let error = sampler.refresh_targets().await.unwrap_err();
    assert!(matches!(error, SamplingError::Json { .. }), "{error}");
    let error = sampler.refresh_rules().await.unwrap_err();
    assert!(matches!(error, SamplingError::Json { .. }), "{error}");
    // Decisions go on with the rules in hand.
    assert_eq!(decide(&sampler, "/api/orders", 4), (4, vec!["api".to_owned()]));
    daemon.set_mode(Mode::Serve);
    daemon.take_requests();
    daemon.set_targets(json!({"SamplingTargetDocuments": []}));
    let update = sampler.refresh_targets().await.unwrap();
    assert_eq!((update.reported, update.applied, update.rules_changed), (2, 0, false));
    assert_eq!(
        statistics(&daemon.take_requests()[0].1),
        [("Default".to_owned(), (3, 3, 1)), ("api".to_owned(), (14, 14, 0))],
        "the counts of the failed reports come with the next one (Default borrowed at second 21)"
    );

    // Rules last fetched at T0 + 20 are stale an hour later: the local rules decide.
    at(20 + 3599);
    assert_eq!(decide(&sampler, "/api/orders", 1).1, ["api"]);
    at(20 + 3600);
    daemon.set_mode(Mode::Status(503));
    assert!(sampler.refresh_rules().await.is_err());
    assert_eq!(decide(&sampler, "/api/orders", 5), (1, vec!["local".to_owned()]));
    assert_eq!(decide(&sampler, "/other", 5), (0, vec![]), "the local rule's one request of this second is taken");
    // The daemon is back: X-Ray's rules again.
    daemon.set_mode(Mode::Serve);
    assert_eq!(sampler.refresh_rules().await.unwrap(), 2);
    assert_eq!(decide(&sampler, "/api/orders", 3), (3, vec!["api".to_owned()]));
}

#[tokio::test]
async fn statistics_go_in_batches_of_25() {
    let Setup { daemon, sampler, now: _ } = setup();
    let rules: Vec<_> = (0..30).map(|i| rule(&format!("r{i:02}"), i + 1, &format!("/r{i:02}"), 0, 0.0)).collect();
    daemon.set_rule_pages(vec![rules[..10].to_vec(), rules[10..20].to_vec(), rules[20..].to_vec()]);
    assert_eq!(sampler.refresh_rules().await.unwrap(), 30);
    assert_eq!(daemon.take_requests().len(), 3, "three pages");
    for i in 0..30 {
        decide(&sampler, &format!("/r{i:02}"), i + 1);
    }
    let update = sampler.refresh_targets().await.unwrap();
    assert_eq!(update.reported, 30);
    let requests = daemon.take_requests();
    let sizes: Vec<usize> =
        requests.iter().map(|(_, b)| b["SamplingStatisticsDocuments"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [25, 5]);
    let all: Vec<_> = requests.iter().flat_map(|(_, b)| statistics(b)).collect();
    for (i, (name, (requests, sampled, borrowed))) in all.iter().enumerate() {
        assert_eq!((name.as_str(), *requests, *sampled, *borrowed), (format!("r{i:02}").as_str(), i as u64 + 1, 0, 0));
    }
}

#[tokio::test]
async fn rules_match_service_name_and_type() {
    let Setup { daemon, sampler, now: _ } = setup();
    let mut orders = rule("orders-ecs", 1, "*", 0, 1.0);
    orders["SamplingRule"]["ServiceName"] = json!("shop");
    orders["SamplingRule"]["ServiceType"] = json!("AWS::ECS::Container");
    let mut by_host = rule("by-host", 2, "*", 0, 1.0);
    by_host["SamplingRule"]["Host"] = json!("*.internal");
    by_host["SamplingRule"]["HTTPMethod"] = json!("PUT");
    daemon.set_rule_pages(vec![vec![orders, by_host, rule("Default", 10000, "*", 0, 0.0)]]);
    sampler.refresh_rules().await.unwrap();
    let name = |req: SamplingRequest<'_>| sampler.should_sample(&req).rule_name.map(|n| n.to_string());
    let ecs = SamplingRequest { service_type: Some("AWS::ECS::Container"), ..path("/") };
    assert_eq!(name(ecs).as_deref(), Some("orders-ecs"));
    assert_eq!(name(SamplingRequest { service_name: Some("billing"), ..ecs }), None);
    assert_eq!(
        name(path("/")).as_deref(),
        Some("orders-ecs"),
        "no service type (no plugins): the rule's service type pattern lets it through"
    );
    let ec2 = SamplingRequest { service_type: Some("AWS::EC2::Instance"), ..path("/") };
    assert_eq!(name(ec2), None, "a service type that is there has to match");
    let job = SamplingRequest { host: None, method: None, url_path: None, ..ecs };
    assert_eq!(name(job).as_deref(), Some("orders-ecs"), "non-HTTP work: no host, method or path");
    let put = SamplingRequest { host: Some("db.internal"), method: Some("put"), ..ec2 };
    assert_eq!(name(put).as_deref(), Some("by-host"));
}

#[tokio::test]
async fn thousands_of_rules_keep_the_first_hundred_by_priority_and_odd_records_cost_only_themselves() {
    let Setup { daemon, sampler, now: _ } = setup();
    // 3 pages of 1,000 rules, the most important on the last page, Default on the first; a
    // record that is not an object, and one whose rule has a field of the wrong type.
    let mut rules: Vec<_> =
        (0..3_000).rev().map(|i| rule(&format!("r{i:04}"), i + 1, &format!("/r{i:04}"), 0, 1.0)).collect();
    rules[10] = rule("Default", 10_000, "*", 0, 0.0);
    let mut typed = rule("typed", 0, "*", 0, 1.0);
    typed["SamplingRule"]["Priority"] = json!("first");
    let mut pages: Vec<Vec<_>> = rules.chunks(1_000).map(<[_]>::to_vec).collect();
    pages[1].insert(0, json!(7));
    pages[1].insert(1, typed);
    daemon.set_rule_pages(pages);
    assert_eq!(sampler.refresh_rules().await.unwrap(), 101, "100 rules and Default");
    assert_eq!(daemon.take_requests().len(), 3, "every page is read");
    let name = |p: &str| sampler.should_sample(&path(p)).rule_name.map(|n| n.to_string());
    assert_eq!(name("/r0000").as_deref(), Some("r0000"));
    assert_eq!(name("/r0099").as_deref(), Some("r0099"));
    assert_eq!(name("/r0100"), None, "priority 101 is beyond the limit: Default (rate 0) decides");
    assert_eq!(name("/anything"), None, "not `typed`, which was skipped");
}
