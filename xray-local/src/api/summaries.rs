//! `GetTraceSummaries` (`POST /TraceSummaries`): the traces of a time window that match a
//! filter expression, newest first, a page at a time.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiError, Ctx, Input, facts, json, now_secs, read_token, token};
use crate::filter::Filter;
use crate::store::StoredTrace;

/// Summaries per page.
pub(crate) const PAGE: usize = 100;

const TOKEN: &str = "summaries-";

/// `POST /TraceSummaries`.
pub(crate) async fn handle(State(ctx): Ctx, body: Bytes) -> Result<Response, ApiError> {
    let input = Input::parse("GetTraceSummaries", &body)?;
    let query = Query::read(&input)?;
    let traces = ctx.shared.with_state(|s| s.traces());
    Ok(json(&query.answer(&traces)))
}

/// A parsed `GetTraceSummaries` request.
pub(crate) struct Query {
    start: f64,
    end: f64,
    filter: Filter,
    /// The share of matching traces to return (`SamplingStrategy` `FixedRate`), when sampling.
    rate: Option<f64>,
    /// Only traces completed before this one (a page token), newest first.
    before: Option<u64>,
}

impl Query {
    pub(crate) fn read(input: &Input) -> Result<Query, ApiError> {
        let op = input.operation();
        let start = input.required_time("StartTime")?;
        let end = input.required_time("EndTime")?;
        if end < start {
            return Err(ApiError::invalid(format!("{op}: EndTime ({end}) is before StartTime ({start})")));
        }
        if let Some(kind) = input.string("TimeRangeType")?
            && !matches!(kind, "TraceId" | "Event" | "Service")
        {
            return Err(ApiError::invalid(format!(
                "{op}: TimeRangeType must be TraceId, Event or Service, not {kind:?}"
            )));
        }
        let expression = input.string("FilterExpression")?.unwrap_or("");
        let filter = Filter::parse(expression)
            .map_err(|e| ApiError::invalid(format!("{op}: FilterExpression {expression:?} is invalid {e}")))?;
        let mut rate = None;
        if input.bool("Sampling")? == Some(true)
            && let Some(strategy) = input.object("SamplingStrategy")?
            && strategy.get("Name").and_then(Value::as_str) == Some("FixedRate")
        {
            let value = strategy.get("Value").and_then(Value::as_f64);
            match value {
                Some(v) if (0.0..=1.0).contains(&v) => rate = Some(v),
                _ => {
                    return Err(ApiError::invalid(format!(
                        "{op}: SamplingStrategy FixedRate needs a Value from 0 to 1"
                    )));
                }
            }
        }
        let before = match input.string("NextToken")? {
            Some(text) => Some(read_token(op, TOKEN, text)?),
            None => None,
        };
        Ok(Query { start, end, filter, rate, before })
    }

    fn in_window(&self, stored: &StoredTrace) -> bool {
        let start = stored.trace.start_time().or_else(|| id_epoch(&stored.trace.trace_id));
        start.is_some_and(|t| self.start <= t && t <= self.end)
    }

    /// One page of the answer, from every stored trace (oldest first).
    pub(crate) fn answer(&self, traces: &[std::sync::Arc<StoredTrace>]) -> Value {
        let mut summaries = Vec::new();
        let mut processed = 0u64;
        let mut next = None;
        let candidates = (traces.iter().rev()).filter(|t| self.before.is_none_or(|before| t.seq < before));
        for stored in candidates {
            if !self.in_window(stored) {
                continue;
            }
            if summaries.len() == PAGE {
                // One more trace in the window: say there is another page.
                next = summaries.last().map(|(seq, _)| token(TOKEN, *seq));
                break;
            }
            processed += 1;
            if self.rate.is_some_and(|rate| sample_point(&stored.trace.trace_id) >= rate) {
                continue;
            }
            if self.filter.matches(&stored.trace) {
                summaries.push((stored.seq, facts::summary(&stored.trace)));
            }
        }
        let mut answer = json!({
            "TraceSummaries": summaries.into_iter().map(|(_, s)| s).collect::<Vec<_>>(),
            "ApproximateTime": now_secs().floor(),
            "TracesProcessedCount": processed,
        });
        if let Some(next) = next {
            answer["NextToken"] = json!(next);
        }
        answer
    }
}

/// The epoch seconds in a trace id (`1-{8 hex}-...`).
pub(crate) fn id_epoch(trace_id: &str) -> Option<f64> {
    let hex = trace_id.strip_prefix("1-")?.get(..8)?;
    u32::from_str_radix(hex, 16).ok().map(f64::from)
}

/// Where a trace falls in [0, 1): the same for the same id, spread evenly over ids.
fn sample_point(trace_id: &str) -> f64 {
    // FNV-1a: fixed across runs, so a sampled query is repeatable.
    let hash = trace_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    // A finalizer spreads ids that differ only in their last characters.
    let mixed = (hash ^ (hash >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    let mixed = mixed ^ (mixed >> 33);
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_epochs() {
        assert_eq!(id_epoch("1-581cf771-a006649127e371903a2de979"), Some(1_478_293_361.0));
        assert_eq!(id_epoch("1-xyz"), None);
        assert_eq!(id_epoch("2-581cf771-a006649127e371903a2de979"), None);
    }

    #[test]
    fn sample_points_spread_over_ids() {
        let below = (0..1000).filter(|i| sample_point(&format!("1-581cf771-{i:024x}")) < 0.25).count();
        assert!((180..320).contains(&below), "{below}");
        assert_eq!(sample_point("x"), sample_point("x"));
    }
}
