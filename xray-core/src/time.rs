//! Wall-clock timestamps with microsecond precision, as X-Ray documents carry them.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time as microseconds since the Unix epoch; serialized as floating-point seconds
/// (`1480615200.010001`), the form X-Ray's `start_time` and `end_time` take.
///
/// ```
/// use xray_core::integration::Timestamp;
/// let t = Timestamp::from_micros(1_480_615_200_010_001);
/// assert_eq!(serde_json::to_string(&t).unwrap(), "1480615200.010001");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The current wall-clock time.
    #[inline]
    pub fn now() -> Self {
        Self(crate::sys::now_micros())
    }

    /// A timestamp from microseconds since the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// A timestamp from floating-point seconds since the epoch (negative or non-finite gives 0).
    pub fn from_secs_f64(secs: f64) -> Self {
        if secs.is_finite() && secs > 0.0 { Self((secs * 1e6).round() as u64) } else { Self(0) }
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(&self) -> u64 {
        self.0
    }

    /// Seconds since the epoch, as written into documents.
    pub fn as_secs_f64(&self) -> f64 {
        (self.0 / 1_000_000) as f64 + (self.0 % 1_000_000) as f64 / 1e6
    }

    /// The time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Self(t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_micros() as u64)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({:.6})", self.as_secs_f64())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_secs_f64())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        f64::deserialize(deserializer).map(Self::from_secs_f64)
    }
}

/// Seconds since the epoch, for trace ids; a coarse clock is precise enough there.
pub(crate) fn epoch_seconds() -> u32 {
    crate::sys::epoch_seconds()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_microseconds_exactly() {
        let cases = [
            (1_480_615_200_010_001u64, "1480615200.010001"),
            (1_480_615_200_000_000, "1480615200.0"),
            (1_700_000_000_999_999, "1700000000.999999"),
        ];
        for (micros, text) in cases {
            let t = Timestamp::from_micros(micros);
            assert_eq!(serde_json::to_string(&t).unwrap(), text);
            let back: Timestamp = serde_json::from_str(text).unwrap();
            assert_eq!(back, t);
        }
    }

    #[test]
    fn now_is_recent_and_monotone_enough() {
        let a = Timestamp::now();
        let b = Timestamp::now();
        assert!(b >= a);
        assert!(a.as_micros() > 1_600_000_000_000_000);
        assert_eq!(Timestamp::from_secs_f64(f64::NAN), Timestamp::from_micros(0));
    }
}
