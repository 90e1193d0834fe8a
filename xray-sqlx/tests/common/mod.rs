//! Test support shared by the per-database test files: a recorder that captures documents, a
//! way to run work inside a segment, and unique names.

#![allow(dead_code)]

use std::future::Future;
use std::hash::{BuildHasher, RandomState};

use serde_json::Value;
use xray_core::{AlwaysSample, NeverSample, Recorder, TraceFutureExt};

/// A recorder whose documents stay in memory ([`xray_core::test::Capture`]), with the runs the
/// SQL tests need.
pub struct Capture(xray_core::test::Capture);

impl Capture {
    fn build(sampled: bool, collect_sql: bool) -> Self {
        Self(xray_core::test::Capture::with(|builder| {
            let builder = builder.with_service_name("user-management").with_collect_sql_queries(collect_sql);
            if sampled { builder.with_sampler(AlwaysSample) } else { builder.with_sampler(NeverSample) }
        }))
    }

    /// The recorder.
    pub fn recorder(&self) -> &Recorder {
        self.0.recorder()
    }

    /// Takes the documents emitted so far.
    pub fn take(&self) -> Vec<Value> {
        self.0.take()
    }

    /// Samples everything; query text off (the default).
    pub fn new() -> Self {
        Self::build(true, false)
    }

    /// Samples everything; the recorder collects SQL text (`AWS_XRAY_COLLECT_SQL_QUERIES`).
    pub fn collecting_sql() -> Self {
        Self::build(true, true)
    }

    /// Samples nothing.
    pub fn unsampled() -> Self {
        Self::build(false, false)
    }

    /// Runs `work` inside a new segment, ends the segment, and returns the work's output and
    /// the one document emitted (validated against the schema).
    pub async fn run<F: Future>(&self, work: F) -> (F::Output, Value) {
        let segment = self.recorder().begin_segment("user-management", None, &Default::default());
        let out = work.with_entity(segment.entity()).await;
        segment.end();
        let docs = self.take();
        assert_eq!(docs.len(), 1, "one segment document, with embedded subsegments: {docs:#?}");
        xray_tests::assert_valid(&docs[0]);
        if std::env::var_os("XRAY_SQLX_DUMP").is_some() {
            eprintln!("{:#}", docs[0]);
        }
        (out, docs.into_iter().next().unwrap())
    }
}

/// Runs `work` inside a segment that is not sampled, and checks that nothing is emitted.
pub async fn run_unsampled<F: Future>(capture: &Capture, work: F) -> F::Output {
    let segment = capture.recorder().begin_segment("user-management", None, &Default::default());
    assert!(!segment.is_sampled());
    let out = work.with_entity(segment.entity()).await;
    segment.end();
    assert!(capture.take().is_empty(), "an unsampled trace emits nothing");
    out
}

/// The subsegments of a segment document.
pub fn subsegments(doc: &Value) -> Vec<Value> {
    doc["subsegments"].as_array().cloned().unwrap_or_default()
}

/// The `sql.sanitized_query` of each subsegment (`None` where absent).
pub fn queries(doc: &Value) -> Vec<Option<String>> {
    subsegments(doc).iter().map(|s| s["sql"]["sanitized_query"].as_str().map(str::to_owned)).collect()
}

/// The number of subsegments the current entity holds (ended subsegments move into their
/// parent, so this counts the ended ones).
pub fn ended_subsegments() -> usize {
    xray_core::integration::current_quiet().with_document(|d| d.subsegments.len()).expect("inside a sampled segment")
}

/// A name no other test or earlier run uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{:016x}", RandomState::new().hash_one(std::time::SystemTime::now()))
}

/// The parts of a `scheme://user:password@host:port/database?params` URL, as the test
/// variables give them.
#[derive(Debug, Clone, Default)]
pub struct UrlParts {
    pub scheme: String,
    pub user: String,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub params: Option<String>,
}

impl UrlParts {
    pub fn parse(url: &str) -> Self {
        let (scheme, rest) = url.split_once("://").expect("scheme://");
        let (rest, params) = match rest.split_once('?') {
            Some((rest, params)) => (rest, Some(params.to_owned())),
            None => (rest, None),
        };
        let (authority, database) = match rest.split_once('/') {
            Some((a, d)) => (a, Some(d.to_owned()).filter(|d| !d.is_empty())),
            None => (rest, None),
        };
        let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u.to_owned(), Some(p.to_owned()).filter(|p| !p.is_empty())),
            None => (userinfo.to_owned(), None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p.parse().expect("port"))),
            None => (hostport.to_owned(), None),
        };
        Self { scheme: scheme.to_owned(), user, password, host, port, database, params }
    }

    /// The URL again, with `password`.
    pub fn with_password(&self, password: &str) -> String {
        let mut url = format!("{}://{}:{password}@{}", self.scheme, self.user, self.host);
        if let Some(port) = self.port {
            url.push_str(&format!(":{port}"));
        }
        if let Some(database) = &self.database {
            url.push_str(&format!("/{database}"));
        }
        if let Some(params) = &self.params {
            url.push_str(&format!("?{params}"));
        }
        url
    }
}

/// The URL of a server database from `var`. The suite's tests for that database are ignored
/// when `var` was unset at build time; run anyway (`--ignored`) without it, they fail.
pub fn server_url(var: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("{var} is not set: set it to the URL of a test database to run this test"),
    }
}
