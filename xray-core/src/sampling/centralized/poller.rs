//! Talking to the daemon: fetching rules, reporting statistics for quotas, and the background
//! task that does both on a schedule.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::api::{
    GetSamplingRulesInput, GetSamplingRulesOutput, GetSamplingTargetsInput, GetSamplingTargetsOutput,
    SamplingStatisticsDocument,
};
use super::rule::MAX_RULES;
use super::target::{Counts, RuleState};
use super::{Inner, SamplingError, client_id};
use crate::id::fast_random_u64;
use crate::log::{log_event, log_limited};

const RULES_PATH: &str = "/GetSamplingRules";
const TARGETS_PATH: &str = "/SamplingTargets";
/// The API takes at most this many statistics documents per call.
const MAX_DOCUMENTS: usize = 25;
/// A bound on `NextToken` pages, so a confused proxy cannot keep the poller busy forever.
const MAX_PAGES: usize = 100;

/// What one [`refresh_targets`](super::CentralizedSampler::refresh_targets) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetsUpdate {
    /// Rules whose statistics were reported.
    pub reported: usize,
    /// Targets applied to rules in use.
    pub applied: usize,
    /// X-Ray's rules changed after they were fetched (`LastRuleModification`); the polling
    /// task then fetches them at once.
    pub rules_changed: bool,
}

/// Flags shared by the sampler and its polling task.
#[derive(Debug, Default)]
pub(crate) struct Control {
    wake: Notify,
    shut_down: AtomicBool,
    running: AtomicBool,
}

impl Control {
    pub(crate) fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Tells the task to end now (it may be sleeping for minutes).
    pub(crate) fn shut_down(&self) {
        self.shut_down.store(true, Ordering::Release);
        // `notify_one` keeps a permit if the task is not waiting yet, so the signal is not lost.
        self.wake.notify_one();
    }
}

/// Clears `running` when the task ends, also when the runtime drops it unpolled.
struct Running(Arc<Control>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

/// Spawns the polling task on the current runtime, unless there is none or it runs already.
#[cold]
pub(super) fn start(inner: &Arc<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let control = &inner.control;
    if control.is_shut_down()
        || control.running.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_err()
    {
        return;
    }
    let running = Running(control.clone());
    let weak = Arc::downgrade(inner);
    let (rules_every, targets_every) = (inner.rules_interval, inner.targets_interval);
    runtime.spawn(async move {
        let _running = running;
        run(weak, rules_every, targets_every).await;
    });
}

/// Up to `max` of random delay, so a fleet started together does not poll together.
fn jitter(max: Duration) -> Duration {
    let max_ms = max.as_millis() as u64;
    if max_ms == 0 { Duration::ZERO } else { Duration::from_millis(fast_random_u64() % max_ms) }
}

/// The polling loop: rules at once and then every `rules_every`, statistics every
/// `targets_every`. Holds the sampler only weakly, and only while it works.
async fn run(inner: Weak<Inner>, rules_every: Duration, targets_every: Duration) {
    let Some(control) = inner.upgrade().map(|i| i.control.clone()) else { return };
    let start = Instant::now();
    let mut next_rules = start;
    let mut next_targets = start + targets_every + jitter(targets_every / 100);
    loop {
        if control.is_shut_down() {
            return;
        }
        let wake_at = next_rules.min(next_targets);
        if tokio::time::timeout_at(wake_at, control.wake.notified()).await.is_ok() || control.is_shut_down() {
            return;
        }
        let Some(inner) = inner.upgrade() else { return };
        let now = Instant::now();
        if now >= next_rules {
            next_rules = match inner.refresh_rules().await {
                Ok(_) => now + rules_every + jitter(rules_every / 50),
                Err(error) => {
                    log_limited!(Warn, %error, "X-Ray sampling rules unavailable; deciding by local rules");
                    // Retry sooner than the rules interval: the daemon may just be starting.
                    now + targets_every.min(rules_every)
                }
            };
        }
        if now >= next_targets {
            match inner.refresh_targets().await {
                Ok(update) if update.rules_changed => {
                    if inner.refresh_rules().await.is_ok() {
                        next_rules = now + rules_every + jitter(rules_every / 50);
                    }
                }
                Ok(_) => {}
                Err(error) => log_limited!(Warn, %error, "X-Ray sampling targets unavailable"),
            }
            next_targets = now + targets_every + jitter(targets_every / 100);
        }
    }
}

impl Inner {
    /// Fetches every page of rules and swaps them in, keeping the state of known rules.
    ///
    /// The new rule set is built page by page without any lock (holding at most twice
    /// `MAX_RULES` rules, whatever the daemon answers), then swapped in under the write lock,
    /// which decisions wait for only that long; the old set is dropped after the lock.
    pub(super) async fn refresh_rules(&self) -> Result<usize, SamplingError> {
        let mut next = self.read_cache().successor();
        let mut token: Option<String> = None;
        for page in 0.. {
            if page == MAX_PAGES {
                let reason = format!("more than {MAX_PAGES} pages of rules");
                return Err(SamplingError::Malformed { path: RULES_PATH, reason });
            }
            let input = GetSamplingRulesInput { next_token: token.as_deref() };
            let mut output: GetSamplingRulesOutput = self.client.post(RULES_PATH, &input).await?;
            let (rules, unusable) = output.rules();
            rules.iter().for_each(|rule| next.add(rule));
            next.skip(unusable);
            match output.next_token.filter(|t| !t.is_empty()) {
                // A token repeated is a proxy going round in circles: stop there.
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                _ => break,
            }
        }
        let (fresh, counts) = next.finish(self.clock.now_secs());
        let old = std::mem::replace(&mut *self.cache.write().unwrap_or_else(PoisonError::into_inner), fresh);
        drop(old);
        if counts.over_limit > 0 {
            log_limited!(
                Warn,
                kept = MAX_RULES,
                ignored = counts.over_limit,
                "X-Ray answered more sampling rules than this SDK keeps (X-Ray allows 25 an account); \
                 the lowest-priority ones are ignored"
            );
        }
        log_event!(Debug, rules = counts.kept, skipped = counts.skipped, "X-Ray sampling rules fetched");
        Ok(counts.kept)
    }

    /// Reports due statistics (in batches of 25) and applies the targets of the answers.
    /// Counts of a batch that could not be delivered are kept for the next report.
    pub(super) async fn refresh_targets(&self) -> Result<TargetsUpdate, SamplingError> {
        let now = self.clock.now_secs();
        let (due, fetched_at) = {
            let cache = self.read_cache();
            let due: Vec<(Arc<RuleState>, Counts, SamplingStatisticsDocument)> = cache
                .rules
                .iter()
                .filter_map(|rule| {
                    let counts = rule.state.take_report(now)?;
                    let document = SamplingStatisticsDocument {
                        rule_name: rule.name.to_string(),
                        client_id: client_id(),
                        request_count: counts.requests,
                        sampled_count: counts.sampled,
                        borrow_count: counts.borrowed,
                        timestamp: now,
                    };
                    Some((rule.state.clone(), counts, document))
                })
                .collect();
            (due, cache.fetched_at)
        };
        let mut update = TargetsUpdate::default();
        let mut batches = due.chunks(MAX_DOCUMENTS);
        while let Some(batch) = batches.next() {
            let documents: Vec<SamplingStatisticsDocument> = batch.iter().map(|(_, _, d)| d.clone()).collect();
            let input = GetSamplingTargetsInput { sampling_statistics_documents: &documents };
            let output: GetSamplingTargetsOutput = match self.client.post(TARGETS_PATH, &input).await {
                Ok(output) => output,
                Err(error) => {
                    for (state, counts, _) in batch.iter().chain(batches.by_ref().flatten()) {
                        state.restore(*counts);
                    }
                    return Err(error);
                }
            };
            update.reported += batch.len();
            let applied_at = self.clock.now_secs();
            {
                let cache = self.read_cache();
                for target in &output.sampling_target_documents {
                    if let Some(state) = target.rule_name.as_deref().and_then(|name| cache.state_of(name)) {
                        state.apply(target, applied_at);
                        update.applied += 1;
                    }
                }
            }
            for unprocessed in &output.unprocessed_statistics {
                log_limited!(
                    Warn,
                    rule = unprocessed.rule_name.as_deref().unwrap_or_default(),
                    code = unprocessed.error_code.as_deref().unwrap_or_default(),
                    message = unprocessed.message.as_deref().unwrap_or_default(),
                    "X-Ray did not process sampling statistics"
                );
            }
            if let (Some(modified), Some(fetched)) = (output.last_rule_modification, fetched_at) {
                update.rules_changed |= modified.is_finite() && modified > fetched as f64;
            }
        }
        Ok(update)
    }
}
